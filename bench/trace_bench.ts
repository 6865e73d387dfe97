/**
 * Trace-format benchmarks: size (bytes/event) of a realistic synthetic stream, of port polls
 * (the `clock` scenario) and of the reference traces in `traces/reference/*.pvt` if present,
 * encode (deflate levels 1 and 6, port polls) and decode throughput,
 * diff throughput on 1M-event streams (identical, with one altered event, and busy-wait loops
 * of different lengths: repeat collapsing), inspect statistics throughput.
 *
 * Run: `npx --yes deno@2.9.6 bench --allow-read --allow-write bench/trace_bench.ts`
 *
 * @module
 */

import { diffTraces } from "../traces/analysis/diff.ts";
import { StatsCollector } from "../traces/analysis/inspect.ts";
import { TraceReader } from "../traces/format/reader.ts";
import { encodeTrace } from "../traces/format/writer.ts";
import type { TraceEvent } from "../vocabulary/event.ts";
import { mulberry32, portPolls, syntheticEvents, testHeader } from "../tests/traces/synthetic.ts";

const N = 1_000_000;
const events = [...syntheticEvents(N, 42)];
const compressed = encodeTrace(testHeader(), events, { finalDigest: "00" });
const raw = encodeTrace(testHeader(), events, { finalDigest: "00" }, { compress: false });
const k = events.findIndex((e, i) => i > N / 2 && e.op === "write_cr3");
const altered = encodeTrace(
  testHeader(),
  events.map((e, i) => (i === k ? { ...e, opArgs: [e.opArgs[0] + 1] } : e)),
  { finalDigest: "00" },
);

const polls = [...portPolls(N)];
const level6 = encodeTrace(testHeader(), events, { finalDigest: "00" }, { deflateLevel: 6 });
const pollBytes = encodeTrace(testHeader(), polls, { finalDigest: "00" }).length;

console.log(`synthetic stream, ${N} events:`);
console.log(`  deflate chunks: ${(compressed.length / N).toFixed(2)} bytes/event`);
console.log(`  deflate level 6: ${(level6.length / N).toFixed(2)} bytes/event`);
console.log(`  raw chunks:     ${(raw.length / N).toFixed(2)} bytes/event`);
console.log(`port polls (clock scenario), ${N} events: ${(pollBytes / N).toFixed(3)} bytes/event`);
try {
  for (const entry of Deno.readDirSync(new URL("../traces/reference/", import.meta.url))) {
    if (!entry.name.endsWith(".pvt")) continue;
    const path = new URL(`../traces/reference/${entry.name}`, import.meta.url).pathname;
    const r = TraceReader.open(path);
    let n = 0;
    for (const _ of r.events()) n++;
    r.close();
    console.log(
      `  ${entry.name}: ${n} events, ${(r.byteLength / Math.max(n, 1)).toFixed(2)} bytes/event`,
    );
  }
} catch (e) {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}

Deno.bench({ name: "encode 1M events (deflate)", n: 3, warmup: 1 }, () => {
  encodeTrace(testHeader(), events, { finalDigest: "00" });
});

Deno.bench({ name: "encode 1M events (deflate level 6)", n: 3, warmup: 1 }, () => {
  encodeTrace(testHeader(), events, { finalDigest: "00" }, { deflateLevel: 6 });
});

Deno.bench({ name: "encode 1M port polls (clock scenario)", n: 3, warmup: 1 }, () => {
  encodeTrace(testHeader(), polls, { finalDigest: "00" });
});

Deno.bench({ name: "decode 1M events (deflate)", n: 3, warmup: 1 }, () => {
  let n = 0;
  for (const _ of TraceReader.fromBytes(compressed).events()) n++;
  if (n !== N) throw new Error("short read");
});

Deno.bench({ name: "diff 1M vs 1M identical (ops)", n: 3, warmup: 1 }, () => {
  if (!diffTraces(compressed, compressed).report.same) throw new Error("differs");
});

Deno.bench({ name: "diff 1M vs 1M identical (--all-events)", n: 3, warmup: 1 }, () => {
  if (!diffTraces(compressed, compressed, { allEvents: true }).report.same) {
    throw new Error("differs");
  }
});

Deno.bench({ name: "diff 1M vs 1M one altered event (--all-events)", n: 3, warmup: 1 }, () => {
  const r = diffTraces(compressed, altered, { allEvents: true }).report;
  if (r.divergences.length !== 1) throw new Error("expected one divergence");
});

/**
 * About `n` events (times `stretch`) of busy-waits: `irq_enable`, a loop of TSC reads until a
 * deadline, `write_cr3`. Loop lengths are seeded; `stretch` multiplies every loop's iterations
 * (a cheaper clock read per iteration, as kvmclock vs native `sched_clock`).
 */
function* busyWaits(n: number, stretch: number): Generator<TraceEvent> {
  const rnd = mulberry32(7);
  let seq = 0;
  for (let loop = 0; loop < Math.round(n / 121.5); loop++) {
    const iterations = Math.round((20 + Math.floor(rnd() * 200)) * stretch);
    const at = loop * 100_000;
    const ev = (op: string, opArgs: number[], ret: number | null = null): TraceEvent => ({
      seq: seq++,
      icount: at + seq,
      vcpu: 0,
      kind: "exit",
      nr: 1,
      name: op,
      args: [],
      ret,
      vector: null,
      errorCode: null,
      cr2: null,
      eip: 0xc0100000,
      op,
      opArgs,
      state: [],
    });
    yield ev("irq_enable", []);
    for (let i = 0; i < iterations; i++) yield ev("read_tsc", [at + 60 * i, 0], at + 60 * i);
    yield ev("write_cr3", [0x100000 + 0x1000 * (loop % 16)]);
  }
}
const loopsA = encodeTrace(testHeader(), busyWaits(N, 1), { finalDigest: "00" });
const loopsB = encodeTrace(testHeader(), busyWaits(N, 1.8), { finalDigest: "00" });

Deno.bench({ name: "diff 1M-event busy-waits vs 1.8x longer loops (repeats)", n: 3 }, () => {
  const r = diffTraces(loopsA, loopsB).report;
  if (!r.same || r.totals.repeats === 0) throw new Error("expected only repeat-count differences");
});

Deno.bench({ name: "inspect --stats 1M events", n: 3, warmup: 1 }, () => {
  const s = new StatsCollector();
  for (const e of TraceReader.fromBytes(compressed).events()) s.add(e);
  if (s.result().events !== N) throw new Error("short read");
});
