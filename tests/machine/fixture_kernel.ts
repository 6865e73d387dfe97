/**
 * Builds the test kernels in tests/machine/fixtures/ (NAME.S, linked by kernel.ld) with GNU
 * as/ld (installed per the team brief) into a temporary directory, once per kernel and test
 * process.
 */

import { encodeTrace } from "../../traces/format/writer.ts";
import { Recorder } from "../../traces/session/recorder.ts";
import { openSession } from "../../traces/session/session.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";

const DIR = new URL("./fixtures/", import.meta.url).pathname;
const cache = new Map<string, Uint8Array>();

async function tool(cmd: string, args: string[]): Promise<void> {
  const r = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!r.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(r.stderr)}`);
}

/** The ELF image of fixtures/`name`.S. */
export async function assembleFixture(name: string): Promise<Uint8Array> {
  const hit = cache.get(name);
  if (hit) return hit;
  const tmp = await Deno.makeTempDir({ prefix: `pvreplay-${name}-` });
  try {
    await tool("as", ["--32", "-I", DIR, "-o", `${tmp}/k.o`, `${DIR}${name}.S`]);
    await tool("ld", [
      "-m",
      "elf_i386",
      "--no-warn-rwx-segments",
      "-T",
      `${DIR}kernel.ld`,
      "-o",
      `${tmp}/k.elf`,
      `${tmp}/k.o`,
    ]);
    const image = await Deno.readFile(`${tmp}/k.elf`);
    cache.set(name, image);
    return image;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** The Multiboot tick kernel as ELF bytes. */
export function tickKernel(): Promise<Uint8Array> {
  return assembleFixture("tick_kernel");
}

/** Records `image` on `backend` with two CPUs and 4 MiB: the run, its events and trace bytes. */
export function recordSmp(image: Uint8Array, backend: string) {
  const events: TraceEvent[] = [];
  const s = openSession(
    { image, imageName: "smp.elf", cmdline: "", backend, memMiB: 4, cpus: 2 },
    new Recorder({ append: (e) => events.push(e) }),
  );
  const r = s.run(5_000_000);
  const trace = encodeTrace(s.header, events, { finalDigest: s.digest() });
  return { r, s, events, trace };
}
