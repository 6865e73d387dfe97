/**
 * Ctrl-C on a real `pvreplay record` process: the run stops within a slice, the trace is marked
 * aborted and readable to its last event, and the process exits with EXIT_INTERRUPTED.
 */

import assert from "node:assert/strict";
import { EXIT_INTERRUPTED } from "../../core/exit_status.ts";
import { readTrace } from "../../traces/format/reader.ts";
import { buildElf, concat, multibootHeader } from "../loaders/elf_fixture.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

Deno.test("SIGINT to a running record leaves an aborted trace readable to its last event", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvreplay-sigint-" });
  try {
    const out = `${dir}/x.pvt`;
    // A guest that never ends (`out %al,$0x80; jmp .-2`), so the run is still going when the
    // signal arrives however fast the CPU is.
    const kernel = `${dir}/spin.elf`;
    const spin = Uint8Array.of(0xe6, 0x80, 0xeb, 0xfc);
    await Deno.writeFile(
      kernel,
      buildElf({
        entry: 0x10000c,
        segments: [{ paddr: 0x100000, data: concat(multibootHeader(3), spin), memSize: 0x1000 }],
      }),
    );
    const child = new Deno.Command("deno", {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        CLI,
        "record",
        "--kernel",
        kernel,
        "--max-insns",
        "100000000000",
        "--backend",
        "kvm",
        "--out",
        out,
        "--serial",
        "none",
        "--progress",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // The first progress line (after half a second of host time) says the guest is running.
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let err = "";
    while (!err.includes("insns")) {
      const { value, done } = await reader.read();
      if (done) break;
      err += value;
    }
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      err += value;
    }
    const status = await child.status;
    assert.equal(status.code, EXIT_INTERRUPTED, err);
    assert.match(err, /interrupted/);
    const t = readTrace(out);
    assert.equal(t.error, null);
    assert.ok(t.truncation?.aborted, "abort record written");
    assert.match(t.truncation!.reason, /SIGINT/);
    assert.ok(t.events.length > 0);
    assert.equal(t.truncation!.validEvents, t.events.length);
    assert.equal(t.events.at(-1)!.seq, t.events.length - 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
