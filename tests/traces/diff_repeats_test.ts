import assert from "node:assert/strict";
import { diffCommand } from "../../cli/diff.ts";
import { memoryIo } from "../../cli/io.ts";
import {
  CROSS_BACKEND_TIME_TOLERANCE_NS,
  defaultArgKind,
  defaultResultKind,
  defaultTolerances,
  diffStreams,
  diffTraces,
  unitFactors,
} from "../../traces/analysis/diff.ts";
import { readTrace } from "../../traces/format/reader.ts";
import { REFERENCE_DIR } from "../../traces/session/reference.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";
import type { TraceHeader } from "../../traces/format/header.ts";
import { encodeTrace } from "../../traces/format/writer.ts";
import { testHeader } from "./synthetic.ts";

function ev(op: string | null, opArgs: number[] = [], more: Partial<TraceEvent> = {}): TraceEvent {
  return {
    seq: 0,
    icount: 0,
    vcpu: 0,
    kind: "exit",
    nr: 1,
    name: op ?? "x",
    args: [],
    ret: null,
    vector: null,
    errorCode: null,
    cr2: null,
    eip: 0xc0100000,
    op,
    opArgs,
    state: [],
    ...more,
  };
}

/** `rdtsc` at `ticks` (100 MHz TSC in {@link testHeader}): op read_tsc(lo, hi), ret = lo. */
function tsc(ticks: number): TraceEvent {
  const lo = ticks % 2 ** 32, hi = Math.floor(ticks / 2 ** 32);
  return ev("read_tsc", [lo, hi], { ret: lo });
}

function numbered(events: TraceEvent[]): TraceEvent[] {
  return events.map((e, i) => ({ ...e, seq: i, icount: 10 * i }));
}

/** A busy-wait: `n` TSC reads 70 ticks apart from `start`, between two fixed operations. */
function pollingLoop(n: number, start = 1_000_000): TraceEvent[] {
  const loop = Array.from({ length: n }, (_, i) => tsc(start + 70 * i));
  return numbered([ev("irq_enable"), ...loop, ev("write_cr3", [0x5000])]);
}

Deno.test("a polling loop of 100 vs 137 iterations is one repeats divergence", () => {
  const r = diffStreams(pollingLoop(100), pollingLoop(137));
  assert.equal(r.totals.repeats, 1);
  assert.equal(r.totals.extra + r.totals.missing + r.totals.result + r.totals.arguments, 0);
  assert.equal(r.same, true, "repeat counts do not make traces differ by default");
  assert.equal(r.first, null);
  const d = r.divergences[0];
  assert.deepStrictEqual([d.class, d.key, d.countA, d.countB], ["repeats", "read_tsc", 100, 137]);
  assert.deepStrictEqual(d.fields, ["count"]);
  assert.equal(d.note, "A x100, B x137");
  assert.equal([r.runsA, r.runsB, r.eventsA, r.eventsB].join(), "3,3,102,139");
  assert.equal(r.matched, 102);
  const exact = diffStreams(pollingLoop(100), pollingLoop(137), { exactRepeats: true });
  assert.equal(exact.same, false);
  assert.equal(exact.first!.divergence.class, "repeats");
  // The same with raw port polling (no op): `in` returning the same status until it changes.
  const port = (n: number) =>
    numbered([
      ...Array.from(
        { length: n },
        () => ev(null, [], { kind: "io", name: "in", nr: 0x61, ret: 0 }),
      ),
      ev(null, [], { kind: "io", name: "in", nr: 0x61, ret: 0x20 }),
    ]);
  const p = diffStreams(port(40), port(75), { allEvents: true });
  assert.equal(p.totals.repeats, 1);
  assert.equal(p.divergences.length, 1);
});

Deno.test("runs break on any non-time-valued difference", () => {
  // Two different CR3 values in a row are two runs: x2 of 0x1000 vs x1 then 0x2000.
  const a = numbered([ev("write_cr3", [0x1000]), ev("write_cr3", [0x1000]), ev("irq_enable")]);
  const b = numbered([ev("write_cr3", [0x1000]), ev("write_cr3", [0x2000]), ev("irq_enable")]);
  const r = diffStreams(a, b);
  assert.equal(r.runsA, 2);
  assert.equal(r.runsB, 3);
  assert.equal(r.same, false);
  assert.deepStrictEqual(r.divergences.map((d) => d.class), ["repeats", "extra"]);
  assert.deepStrictEqual(r.first!.divergence.b!.opArgs, [0x2000]);
  // set_timer: the mode is plain, the delta time-valued; TIMER state time-valued.
  const t = (mode: number, delta: number) =>
    ev("set_timer", [mode, delta], { state: [["TIMER", 1000 + delta]] });
  const same = diffStreams(numbered([t(0, 5), t(0, 9)]), numbered([t(0, 5), t(0, 9)]));
  assert.equal(same.runsA, 1);
  assert.equal(diffStreams(numbered([t(0, 5), t(1, 9)]), []).eventsA, 2);
  assert.equal(diffStreams(numbered([t(0, 5), t(1, 9)]), []).runsA, 2);
});

Deno.test("runs of equal length: first and last events compared, exactly on one backend", () => {
  const a = pollingLoop(50);
  const b = pollingLoop(50);
  b[50] = { ...tsc(1_000_000 + 70 * 49 + 3), seq: 50, icount: 500 }; // last read 3 ticks later
  const r = diffStreams(a, b);
  assert.equal(r.same, false);
  const d = r.first!.divergence;
  assert.equal(d.class, "result");
  assert.equal(d.a!.seq, 50, "the last events of the runs are reported");
  assert.match(d.note!, /last of 50/);
  // Within a tolerance (3 ticks at 1 GHz default = 3 ns) they are equal.
  assert.equal(diffStreams(a, b, { tolerances: { time: 3 } }).same, true);
});

Deno.test("a million-event loop streams in bounded memory", () => {
  function* loop(n: number): Generator<TraceEvent> {
    yield { ...ev("irq_enable"), seq: 0 };
    for (let i = 1; i <= n; i++) yield { ...tsc(1000 + 70 * i), seq: i, icount: 10 * i };
    yield { ...ev("halt"), seq: n + 1, icount: 10 * n + 10 };
  }
  const r = diffStreams(loop(1_000_000), loop(1_300_000), { tolerances: { time: 1e6 } });
  assert.equal(r.same, true);
  assert.equal(r.totals.repeats, 1);
  assert.equal(r.runsA, 3);
  assert.equal(r.eventsB, 1_300_002);
});

function header(backend: string, tscHz = 100_000_000): TraceHeader {
  const h = testHeader({ backend: { name: backend, profile: "p" } });
  return { ...h, machine: { ...h.machine, tscHz } };
}

function trace(h: TraceHeader, events: TraceEvent[]): Uint8Array {
  return encodeTrace(h, numbered(events), { finalDigest: "00" });
}

Deno.test("argument and result kinds follow the canonical catalogue", () => {
  assert.equal(defaultArgKind("read_tsc", 0), "tsc");
  assert.equal(defaultArgKind("get_wallclock", 0), "seconds");
  assert.equal(defaultArgKind("get_wallclock", 1), "time");
  assert.equal(defaultArgKind("set_timer", 0), "plain");
  assert.equal(defaultArgKind("set_timer", 1), "time");
  assert.equal(defaultArgKind("sched_clock", 0), "time");
  assert.equal(defaultArgKind("write_cr3", 0), "addr");
  assert.equal(defaultArgKind("load_gdt", 1), "plain");
  assert.equal(defaultArgKind("write_msr", 1), "plain");
  assert.equal(defaultArgKind("my_timer_op", 0), "time", "name heuristic outside the catalogue");
  assert.equal(defaultResultKind("read_tsc"), "tsc");
  assert.equal(defaultResultKind("sched_clock"), "time");
  assert.equal(defaultResultKind("read_cr0"), "plain");
});

Deno.test("time tolerance: 1 ms across backends, exact on one backend, TSC in ns", () => {
  const at = (ticks: number) => [ev("irq_enable"), tsc(ticks), ev("halt")];
  const base = 5_000_000_000; // 50 s at 100 MHz: the high word is in use
  // 0.5 ms later (50 000 ticks at 100 MHz): equal between native and kvm.
  let r = diffTraces(trace(header("native"), at(base)), trace(header("kvm"), at(base + 50_000)));
  assert.equal(r.report.tolerances.time, CROSS_BACKEND_TIME_TOLERANCE_NS);
  assert.equal(r.report.same, true);
  // 2 ms later: a result divergence whose note says by how much.
  r = diffTraces(trace(header("native"), at(base)), trace(header("kvm"), at(base + 200_000)));
  assert.equal(r.report.first!.divergence.class, "result");
  assert.match(r.report.first!.divergence.note!, /differ by 2 ms/);
  // Same backend: exact, one tick is a divergence; --tolerance overrides the default.
  r = diffTraces(trace(header("kvm"), at(base)), trace(header("kvm"), at(base + 1)));
  assert.equal(r.report.tolerances.time, 0);
  assert.equal(r.report.same, false);
  r = diffTraces(trace(header("native"), at(base)), trace(header("kvm"), at(base + 50_000)), {
    tolerances: { time: 0 },
  });
  assert.equal(r.report.same, false);
  // Different TSC rates: the same instant is different tick counts.
  r = diffTraces(
    trace(header("native", 100_000_000), at(base)),
    trace(header("kvm", 250_000_000), at(base * 2.5)),
  );
  assert.equal(r.report.same, true);
});

Deno.test("time tolerance: timer deadlines, modes, wall clock", () => {
  const timer = (mode: number, delta: number, deadline: number) => [
    ev("set_timer", [mode, delta], { state: [["TIMER", deadline]] }),
  ];
  const cross = (a: TraceEvent[], b: TraceEvent[]) =>
    diffTraces(trace(header("native"), a), trace(header("kvm"), b)).report;
  assert.equal(
    cross(timer(1, 10_000_151, 63_195_151), timer(1, 10_000_151, 63_189_651)).same,
    true,
  );
  const mode = cross(timer(0, 10_000_151, 63_195_151), timer(1, 10_000_151, 63_195_151));
  assert.deepStrictEqual(mode.first!.divergence.fields, ["opArgs[0]"], "the mode is not a time");
  const none = cross(timer(0, 0, 0), timer(0, 0, 400_000));
  assert.deepStrictEqual(none.first!.divergence.fields, ["state.TIMER"], "0 = no deadline");
  const late = cross(timer(0, 5, 63_195_151), timer(0, 5, 65_195_151));
  assert.match(late.first!.divergence.note!, /TIMER differs by 2 ms/);
  // The CMOS RTC reads whole seconds (ns = 0); kvmclock gives ns. Same second: equal.
  const wall = (sec: number, ns: number) => [ev("get_wallclock", [sec, ns], { ret: 7 })];
  assert.equal(cross(wall(1_173_398_400, 0), wall(1_173_398_400, 263_835_570)).same, true);
  assert.equal(cross(wall(1_173_398_400, 0), wall(1_173_398_401, 263_835_570)).same, false);
  assert.equal(cross(wall(1_173_398_401, 0), wall(1_173_398_400, 999_500_000)).same, true);
  const exact = diffTraces(trace(header("kvm"), wall(9, 0)), trace(header("kvm"), wall(9, 5)));
  assert.equal(exact.report.same, false);
});

Deno.test("diff CLI: repeats shown, --exact-repeats, --tolerance", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const a = `${dir}/a.pvt`, b = `${dir}/b.pvt`;
    Deno.writeFileSync(a, trace(header("native"), pollingLoop(100)));
    Deno.writeFileSync(b, trace(header("kvm"), pollingLoop(137, 1_000_300)));
    let io = memoryIo();
    assert.equal(await diffCommand([a, b], io), 0);
    assert.match(io.stdout(), /repeats read_tsc x100\/x137 \[count\] \(A x100, B x137\)/);
    assert.match(io.stdout(), /tolerances: time=1ms/);
    assert.match(io.stdout(), /traces are equivalent/);
    io = memoryIo();
    assert.equal(await diffCommand([a, b, "--exact-repeats", "--json"], io), 1);
    const j = JSON.parse(io.stdout());
    assert.equal(j.totals.repeats, 1);
    assert.equal(j.divergences[0].count_b, 137);
    assert.equal(j.tolerances.time_ns, 1e6);
    io = memoryIo();
    assert.equal(await diffCommand([a, b, "--tolerance", "time=1us"], io), 1);
    assert.match(io.stdout(), /result read_tsc .*differ by 3 us/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a trace cut inside a loop: the rest of the loop is uncompared, not a repeat", () => {
  const full = pollingLoop(100);
  const cut = full.slice(0, 41); // irq_enable and 40 TSC reads, then the recorder died
  for (const exactRepeats of [false, true]) {
    const r = diffStreams(full, cut, { truncated: { b: true }, exactRepeats });
    assert.equal(r.same, true);
    assert.equal(r.totals.repeats, 0);
    assert.equal(r.uncomparedA, 61);
  }
  // A side already longer when cut still differs by its repeat count.
  const longer = pollingLoop(137).slice(0, 130);
  const r = diffStreams(full, longer, { truncated: { b: true } });
  assert.equal(r.totals.repeats, 1);
  assert.equal(r.uncomparedA, 1);
});

Deno.test("diffTraces (repeat records collapsed) reports what the expanded events give", () => {
  const dir = REFERENCE_DIR;
  for (const s of ["boot", "timer"]) {
    const a = `${dir}/pvkernel-2.6.22-${s}-native_p6.pvt`;
    for (const b of [a, `${dir}/pvkernel-2.6.22-${s}-kvm_2.6.25.pvt`]) {
      const ra = readTrace(a), rb = readTrace(b);
      const expanded = diffStreams(ra.events, rb.events, {
        units: unitFactors(ra.header!, rb.header!),
        truncated: { a: false, b: false },
        tscHz: { a: ra.header!.machine.tscHz, b: rb.header!.machine.tscHz },
        tolerances: defaultTolerances(ra.header!, rb.header!),
      });
      assert.deepEqual(diffTraces(a, b).report, expanded);
    }
  }
});
