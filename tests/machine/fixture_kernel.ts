/**
 * Builds tests/machine/fixtures/tick_kernel.S with GNU as/ld (installed per the team brief) into
 * a temporary directory, once per test process.
 */

const DIR = new URL("./fixtures/", import.meta.url).pathname;
let cached: Uint8Array | null = null;

async function tool(cmd: string, args: string[]): Promise<void> {
  const r = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!r.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(r.stderr)}`);
}

/** The Multiboot tick kernel as ELF bytes. */
export async function tickKernel(): Promise<Uint8Array> {
  if (cached) return cached;
  const tmp = await Deno.makeTempDir({ prefix: "pvreplay-tick-" });
  try {
    await tool("as", ["--32", "-o", `${tmp}/tick.o`, `${DIR}tick_kernel.S`]);
    await tool("ld", [
      "-m",
      "elf_i386",
      "--no-warn-rwx-segments",
      "-T",
      `${DIR}kernel.ld`,
      "-o",
      `${tmp}/tick.elf`,
      `${tmp}/tick.o`,
    ]);
    cached = await Deno.readFile(`${tmp}/tick.elf`);
    return cached;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
