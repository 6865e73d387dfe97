import assert from "node:assert/strict";
import { diffCommand } from "../../cli/diff.ts";
import { memoryIo } from "../../cli/io.ts";
import {
  type DiffOptions,
  diffStreams,
  diffTraces,
  parseTolerance,
  unitFactors,
} from "../../traces/analysis/diff.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";
import { encodeTrace, TraceWriter } from "../../traces/format/writer.ts";
import { mulberry32, syntheticEvents, testHeader } from "./synthetic.ts";

function op(name: string, opArgs: number[] = [], more: Partial<TraceEvent> = {}): TraceEvent {
  return {
    seq: 0,
    icount: 0,
    vcpu: 0,
    kind: "exit",
    nr: 1,
    name: "x",
    args: [],
    ret: null,
    vector: null,
    errorCode: null,
    cr2: null,
    eip: 0xc0100000,
    op: name,
    opArgs,
    state: [],
    ...more,
  };
}

function trap(name: string, vector: number, errorCode: number | null = null): TraceEvent {
  return op("", [], { kind: "exception", op: null, name, nr: vector, vector, errorCode });
}

function seq(events: TraceEvent[]): TraceEvent[] {
  return events.map((e, i) => ({ ...e, seq: i, icount: 100 * i }));
}

const BASE = () => [
  op("irq_disable"),
  op("write_cr3", [0x1000]),
  op("set_timer", [0, 5_000_000]),
  op("irq_enable"),
];

function only(a: TraceEvent[], b: TraceEvent[], options: DiffOptions = {}) {
  const r = diffStreams(seq(a), seq(b), options);
  assert.equal(r.same, false);
  const nonzero = Object.entries(r.totals).filter(([, n]) => n > 0);
  assert.equal(nonzero.length, 1, JSON.stringify(r.totals));
  return r;
}

Deno.test("identical streams are the same", () => {
  const r = diffStreams(seq(BASE()), seq(BASE()));
  assert.equal(r.same, true);
  assert.equal(r.matched, 4);
  assert.equal(r.first, null);
});

Deno.test("class missing / extra", () => {
  const b = BASE();
  b.splice(1, 1);
  let r = only(BASE(), b);
  assert.equal(r.totals.missing, 1);
  assert.equal(r.first!.divergence.a!.op, "write_cr3");
  r = only(b, BASE());
  assert.equal(r.totals.extra, 1);
  assert.equal(r.first!.divergence.b!.op, "write_cr3");
});

Deno.test("class reordered", () => {
  const a = [op("a"), op("p"), op("q"), op("r"), op("z")];
  const b = [op("a"), op("q"), op("r"), op("p"), op("z")];
  const r = only(a, b);
  assert.equal(r.totals.reordered, 1);
  assert.equal(r.first!.divergence.key, "p");
  assert.equal(r.matched, 4);
});

Deno.test("class arguments, units, result, state", () => {
  const b = BASE();
  b[1] = op("write_cr3", [0x2000]);
  assert.equal(only(BASE(), b).first!.divergence.class, "arguments");
  const c = BASE();
  c[2] = op("set_timer", [0, 5_000]); // microseconds instead of nanoseconds
  const u = only(BASE(), c, { units: unitFactors(testHeader()) }).first!.divergence;
  assert.equal(u.class, "units");
  assert.match(u.note!, /ns vs us/);
  const d = BASE();
  d[2] = op("set_timer", [0, 500_000]); // TSC ticks at 100 MHz
  assert.match(
    only(BASE(), d, { units: unitFactors(testHeader()) }).first!.divergence.note!,
    /TSC/,
  );
  const e = BASE().map((x) => ({ ...x, ret: 0 }));
  const f = BASE().map((x) => ({ ...x, ret: 0 }));
  f[3].ret = -22;
  assert.equal(only(e, f).first!.divergence.class, "result");
  // A side without a return value is not a result divergence (ABIs differ in what they return).
  assert.equal(diffStreams(seq(BASE()), seq(f)).same, true);
  const g = BASE().map((x) => ({ ...x, state: [["IF", 1]] as TraceEvent["state"] }));
  const h = BASE().map((x) => ({ ...x, state: [["IF", 1]] as TraceEvent["state"] }));
  h[0].state = [["IF", 0]];
  const s = only(g, h).first!.divergence;
  assert.equal(s.class, "state");
  assert.deepStrictEqual(s.fields, ["state.IF"]);
});

Deno.test("class trap: another vector at the same place, or another error code", () => {
  const a = [op("irq_disable"), trap("page_fault", 14, 2), op("irq_enable")];
  const b = [op("irq_disable"), trap("general_protection", 13, 0), op("irq_enable")];
  const r = only(a, b, { allEvents: true });
  assert.equal(r.totals.trap, 1);
  assert.equal(r.first!.divergence.a!.vector, 14);
  assert.equal(r.first!.divergence.b!.vector, 13);
  const c = [op("irq_disable"), trap("page_fault", 14, 6), op("irq_enable")];
  assert.deepStrictEqual(only(a, c, { allEvents: true }).first!.divergence.fields, ["errorCode"]);
  // Without --all-events, traps are not aligned at all.
  assert.equal(diffStreams(seq(a), seq(b)).same, true);
});

Deno.test("class timing only with an icount tolerance; time and addr tolerances", () => {
  const a = seq(BASE());
  const b = seq(BASE()).map((e) => ({ ...e, icount: e.icount + 50 }));
  assert.equal(diffStreams(a, b).same, true);
  assert.equal(diffStreams(a, b, { tolerances: { icount: 50 } }).same, true);
  assert.equal(diffStreams(a, b, { tolerances: { icount: 10 } }).totals.timing, 4);
  const c = BASE();
  c[2] = op("set_timer", [0, 5_000_900]);
  c[1] = op("write_cr3", [0x1008]);
  assert.equal(diffStreams(seq(BASE()), seq(c)).same, false);
  assert.equal(
    diffStreams(seq(BASE()), seq(c), { tolerances: { time: 1000, addr: 8 } }).same,
    true,
  );
  assert.deepStrictEqual(parseTolerance("time=1us"), ["time", 1000]);
  assert.deepStrictEqual(parseTolerance("addr=0x1000"), ["addr", 4096]);
  assert.throws(() => parseTolerance("speed=3"), RangeError);
});

Deno.test("one altered event in a long stream is reported exactly, first, with context", () => {
  const events = [...syntheticEvents(60000, 21)];
  const k = events.findIndex((e, i) => i > 40000 && e.op === "write_cr3");
  const altered = events.map((e, i) => (i === k ? { ...e, opArgs: [e.opArgs[0] + 1] } : e));
  const r = diffStreams(events, altered, { context: 2 });
  assert.equal(r.first!.divergence.a!.seq, k);
  assert.equal(r.first!.divergence.class, "arguments");
  assert.equal(r.divergences.length, 1);
  assert.equal(r.first!.beforeA.length, 2);
  assert.equal(r.first!.afterB.length, 2);
  assert.ok(r.first!.beforeA[1].seq < k && r.first!.afterA[0].seq > k);
  // A deleted event, with all events aligned.
  const deleted = events.filter((_, i) => i !== 30000);
  const d = diffStreams(events, deleted, { allEvents: true, window: 256 });
  assert.equal(d.totals.missing, 1);
  assert.equal(d.first!.divergence.a!.seq, 30000);
  assert.equal(d.matched, events.length - 1);
});

Deno.test("long unrelated stretches beyond the window stay consistent", () => {
  const rnd = mulberry32(77);
  for (let round = 0; round < 30; round++) {
    // No two consecutive events alike, so that every event is a run of one.
    const mk = (n: number) => {
      const out: TraceEvent[] = [];
      while (out.length < n) {
        const e = op(`o${Math.floor(rnd() * (2 + round % 5))}`, [Math.floor(rnd() * 2)]);
        const p = out[out.length - 1];
        if (!p || p.op !== e.op || p.opArgs[0] !== e.opArgs[0]) out.push(e);
      }
      return out;
    };
    const a = mk(Math.floor(rnd() * 300)), b = mk(Math.floor(rnd() * 300));
    const r = diffStreams(seq(a), seq(b), { window: 32 });
    const t = r.totals;
    const paired = r.matched + t.arguments + t.units + t.result + t.trap + t.state + t.timing;
    assert.equal(paired + t.missing + t.reordered, a.length);
    assert.equal(paired + t.extra + t.reordered, b.length);
    assert.equal(t.repeats, 0);
  }
});

Deno.test("diff CLI: exit status, JSON, HTML escaping, truncated side", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const events = [...syntheticEvents(3000, 5)];
    const k = events.findIndex((e) => e.op === "set_timer");
    const a = `${dir}/a.pvt`, b = `${dir}/b.pvt`, html = `${dir}/r.html`;
    Deno.writeFileSync(a, encodeTrace(testHeader(), events, { finalDigest: "01" }));
    const evil = events.map((
      e,
      i,
    ) => (i === k ? { ...e, opArgs: [1], name: "<script>x</script>" } : e));
    Deno.writeFileSync(b, encodeTrace(testHeader(), evil, { finalDigest: "01" }));
    let io = memoryIo();
    assert.equal(await diffCommand([a, a], io), 0);
    assert.match(io.stdout(), /equivalent/);
    io = memoryIo();
    assert.equal(await diffCommand([a, b, "--json", "--html", html], io), 1);
    const j = JSON.parse(io.stdout());
    assert.equal(j.first.divergence.class, "arguments");
    assert.equal(j.first.divergence.a.seq, k);
    assert.equal(j.totals.arguments, 1);
    const page = Deno.readTextFileSync(html);
    assert.ok(!page.includes("<script>") && page.includes("&lt;script&gt;"));
    io = memoryIo();
    assert.equal(await diffCommand([a, `${dir}/nope.pvt`], io), 2);
    assert.match(io.stderr(), /nope\.pvt/);
    assert.equal(await diffCommand([a], memoryIo()), 2);
    assert.equal(await diffCommand([a, b, "--tolerance", "bogus=1"], memoryIo()), 2);
    // B stops early (crash): the rest of A is not compared, not reported as missing.
    const w = TraceWriter.create(b, testHeader(), { chunkEvents: 64 });
    for (const e of events.slice(0, 2000)) w.append(e);
    w.abort("interrupted");
    const r = diffTraces(a, b);
    assert.equal(r.report.same, true);
    assert.ok(r.report.uncomparedA > 0);
    io = memoryIo();
    assert.equal(await diffCommand([a, b], io), 0);
    assert.match(io.stderr(), /truncated/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
