/**
 * The progress of `diff` on big traces: `diffTraces` reports events read against the total
 * both footers state, and `pvreplay diff --progress` draws the line (events, rate, ETA) on
 * stderr while stdout keeps only the report.
 */

import assert from "node:assert/strict";
import { diffTraces } from "../../traces/analysis/diff.ts";
import { encodeTrace } from "../../traces/format/writer.ts";
import type { TraceHeader } from "../../traces/format/header.ts";
import { makeEvent, type TraceEvent } from "../../vocabulary/event.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

const HEADER: TraceHeader = {
  toolVersion: "0.1.0",
  guest: { name: "g.elf", sha256: "0".repeat(64), cmdline: "" },
  backend: { name: "native", profile: "p6" },
  machine: { memMiB: 128, ips: 1e8, tscHz: 1e8, apicHz: 1e8, epoch: 0, serialInput: "" },
  cpu: { cpuid: [] },
  seed: 0,
  quirks: [],
};

/** `n` hypercall-like events whose arguments vary (no polling runs to fold). */
function trace(n: number, salt = 0): Uint8Array {
  const events: TraceEvent[] = [];
  for (let i = 0; i < n; i++) {
    events.push({
      ...makeEvent({ icount: 10 * i, kind: "hypercall", name: "h", eip: 0x1000, args: [i, salt] }),
      seq: i,
    });
  }
  return encodeTrace(HEADER, events, { finalDigest: "00" });
}

Deno.test("diffTraces reports progress every 65536 events and once at the end", () => {
  const a = trace(100_000), b = trace(100_000);
  const calls: Array<[number, number]> = [];
  const { report } = diffTraces(a, b, { onProgress: (n, t) => void calls.push([n, t]) });
  assert.equal(report.same, true);
  assert.deepEqual(calls, [
    [65536, 200_000],
    [131072, 200_000],
    [196608, 200_000],
    [200_000, 200_000],
  ]);
});

Deno.test("diff --progress: the line on stderr with events, rate and ETA; stdout the report", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvreplay-diff-progress-" });
  try {
    // Big enough that the diff outlasts the first redraw (half a second).
    await Deno.writeFile(`${dir}/a.pvt`, trace(1_500_000));
    await Deno.writeFile(`${dir}/b.pvt`, trace(1_500_000));
    const r = await new Deno.Command("deno", {
      args: ["run", "--allow-read", CLI, "diff", "--progress", `${dir}/a.pvt`, `${dir}/b.pvt`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr), out = new TextDecoder().decode(r.stdout);
    assert.equal(r.code, 0, err + out);
    assert.match(err, /\[pvreplay diff\] \d+ \/ 3000000 events, [\d.]+\/s, ETA \d+ s/);
    assert.doesNotMatch(out, /pvreplay diff\]/);
    const quiet = await new Deno.Command("deno", {
      args: ["run", "--allow-read", CLI, "diff", "--no-progress", `${dir}/a.pvt`, `${dir}/b.pvt`],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(quiet.code, 0);
    assert.doesNotMatch(new TextDecoder().decode(quiet.stderr), /events/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
