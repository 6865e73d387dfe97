/**
 * Streaming diff of two event streams, aligned on canonical operations (`op`) plus the
 * paravirtual events no op describes (hypercalls, markers), or on every event keyed by
 * `kind:name` with `allEvents`. Consecutive events with the same key and equal non-time-valued
 * fields are collapsed into **runs** (a polling loop is one run), so loops that iterate a
 * different number of times differ by a repeat count, not by thousands of events. Equal runs are
 * consumed by a fast path without any alignment structure; at a mismatch both streams are
 * buffered up to a window of runs, aligned patience-style (unique keys as anchors, longest
 * increasing subsequence) with Myers' O(ND) diff between anchors, and every divergence is
 * classified (see {@link DivergenceClass} and `docs/trace-format.md` §9). Time-valued fields
 * (TSC, ns, wall clock, timer deadlines) are compared in nanoseconds within the `time`
 * tolerance, which defaults to 1 ms between traces of different backends
 * ({@link defaultTolerances}). Memory is bounded by the window, not by trace length.
 *
 * @module
 */

import { CANONICAL_OPS } from "../backends/canonical_ops.ts";
import type { TraceEvent } from "./event.ts";
import type { TraceHeader } from "./header.ts";
import { type TraceFooter, TraceReader, type TraceTruncation } from "./reader.ts";

/**
 * How two streams differ at one point:
 * - `missing`: an event (run) of A has no counterpart in B; `extra`: the reverse;
 * - `reordered`: the same operation occurs in both but at a different place;
 * - `arguments`: same operation, different canonical arguments (raw args with `allEvents`);
 * - `units`: arguments differ by a known unit factor (ns vs TSC ticks, instructions, ...);
 * - `result`: the return value differs (only when both sides have one);
 * - `trap`: different exception/interrupt vector, error code or CR2 (or a trap replaced by
 *   another trap at the same place);
 * - `state`: the architectural state effects differ;
 * - `timing`: icount differs beyond the `icount` tolerance (only when one is given);
 * - `repeats`: two aligned runs repeat a different number of times (a polling loop that ran
 *   longer); reported, but it makes traces differ only with `exactRepeats`.
 */
export type DivergenceClass =
  | "missing"
  | "extra"
  | "reordered"
  | "arguments"
  | "units"
  | "result"
  | "trap"
  | "state"
  | "timing"
  | "repeats";

/** All classes, in report order. */
export const DIVERGENCE_CLASSES: readonly DivergenceClass[] = [
  "missing",
  "extra",
  "reordered",
  "arguments",
  "units",
  "result",
  "trap",
  "state",
  "timing",
  "repeats",
];

/** Per-field tolerances (absolute). */
export interface DiffTolerances {
  /** Nanoseconds, for time-valued arguments and results (TSC converted) and the TIMER state. */
  time: number;
  /** Bytes, for address-valued canonical arguments, CR2 and CR2/CR3 state. */
  addr: number;
  /** Instructions; `Infinity` (the default) ignores icount. */
  icount: number;
}

/**
 * Default `time` tolerance between traces recorded on different backends (or profiles): 1 ms of
 * virtual time. Virtual time is the instruction count, and the same guest executes slightly
 * different instruction counts on two backends (a cheaper `sched_clock`, an extra probe), so
 * every later TSC value or timer deadline is shifted; the largest shift in the bundled scenarios
 * is ~0.5 ms (`docs/native-vs-kvm.md`).
 */
export const CROSS_BACKEND_TIME_TOLERANCE_NS = 1_000_000;

/**
 * The tolerances a diff of traces with headers `a` and `b` uses unless told otherwise: `time` =
 * {@link CROSS_BACKEND_TIME_TOLERANCE_NS} when the backend name or profile differs, else 0
 * (same backend: deterministic, so exact); `addr` 0; icount ignored.
 *
 * @example
 * ```ts
 * import { defaultTolerances } from "./diff.ts";
 * import type { TraceHeader } from "./header.ts";
 * const h = (name: string) => ({ backend: { name, profile: "x" } }) as TraceHeader;
 * console.assert(defaultTolerances(h("native"), h("kvm")).time === 1_000_000);
 * console.assert(defaultTolerances(h("kvm"), h("kvm")).time === 0);
 * ```
 */
export function defaultTolerances(a: TraceHeader, b: TraceHeader): DiffTolerances {
  const cross = a.backend.name !== b.backend.name || a.backend.profile !== b.backend.profile;
  return { time: cross ? CROSS_BACKEND_TIME_TOLERANCE_NS : 0, addr: 0, icount: Infinity };
}

/** A known unit factor: `b = a * factor` means B used a unit `factor` times finer. */
export interface UnitFactor {
  factor: number;
  label: string;
}

/**
 * Kind of a canonical argument, for tolerances and run collapsing:
 * - `time`: nanoseconds;
 * - `tsc`: TSC ticks; two consecutive `tsc` arguments are the (lo, hi) halves of one value,
 *   converted to ns with each side's TSC rate;
 * - `seconds`: whole seconds; a `time` argument right after it is its nanosecond part (a wall
 *   clock `(sec, nsec)`);
 * - `addr`: an address or frame (the `addr` tolerance);
 * - `plain`: compared exactly.
 *
 * `time`, `tsc` and `seconds` are time-valued: they may differ between equal runs.
 */
export type ArgKind = "time" | "tsc" | "seconds" | "addr" | "plain";

/**
 * Kind of an event's `ret`: `time` (ns, low 32 bits), `tsc` (low 32 bits of a TSC value whose
 * high half is the op's `tsc` argument pair, if any), or `plain`.
 */
export type ResultKind = "time" | "tsc" | "plain";

/** Options of {@link diffStreams}. */
export interface DiffOptions {
  /** Also align events without `op`, keyed by `kind:name` (default false). */
  allEvents?: boolean;
  /** Runs of context around the first divergence (default 3). */
  context?: number;
  /** Largest alignment window in runs per side (default 4096). */
  window?: number;
  /** Default: exact (`time` 0, `addr` 0), icount ignored; see {@link defaultTolerances}. */
  tolerances?: Partial<DiffTolerances>;
  /** Classifies canonical argument `index` of `op` (default {@link defaultArgKind}). */
  argKind?: (op: string, index: number) => ArgKind;
  /** Classifies the `ret` of events with `op` (default {@link defaultResultKind}). */
  resultKind?: (op: string) => ResultKind;
  /** TSC rate of each side, to convert `tsc` values to ns (default 1 GHz: 1 tick = 1 ns). */
  tscHz?: { a: number; b: number };
  /** Repeat-count differences make the traces different (default false: reported only). */
  exactRepeats?: boolean;
  /** Unit factors tried when arguments differ (default {@link unitFactors} of no header). */
  units?: UnitFactor[];
  /** Divergences kept in the report (all are counted; default 1000). */
  maxDivergences?: number;
  /**
   * Sides known to be cut short (crash, abort): once such a side is exhausted the comparison
   * stops and the other side's remaining events are counted as uncompared, not as divergences.
   */
  truncated?: { a?: boolean; b?: boolean };
}

/** One divergence. */
export interface Divergence {
  class: DivergenceClass;
  /** Alignment key: the op, or `kind:name`. */
  key: string;
  /** The events that differ (for runs: the first event, or the last if only that differs). */
  a: TraceEvent | null;
  b: TraceEvent | null;
  /** Run lengths on each side (0 where the side has no event). */
  countA: number;
  countB: number;
  /** Differing fields, e.g. `opArgs[0]`, `ret`, `state.IF`, `count`. */
  fields: string[];
  /** Extra explanation (the unit factor found, the time difference, ...). */
  note: string | null;
}

/** Per-key summary. */
export interface KeySummary {
  key: string;
  /** Events aligned and equal within tolerances (per side; the shorter run of a pair). */
  same: number;
  counts: Record<DivergenceClass, number>;
}

/** Events around the first divergence, one per run, with the run lengths. */
export interface DivergenceContext {
  divergence: Divergence;
  /** Up to `context` runs before / after the divergent point on each side (first events). */
  beforeA: TraceEvent[];
  beforeB: TraceEvent[];
  afterA: TraceEvent[];
  afterB: TraceEvent[];
  /** Run length of each entry of the lists above. */
  runs: { beforeA: number[]; beforeB: number[]; afterA: number[]; afterB: number[] };
}

/** Result of a diff. */
export interface DiffReport {
  /** No divergence (repeat-count differences count only with `exactRepeats`). */
  same: boolean;
  /** Events considered on each side (after the op/all-events filter). */
  eventsA: number;
  eventsB: number;
  /** Runs those events formed. */
  runsA: number;
  runsB: number;
  /** Events aligned and found equal (per side; for runs of different length, the shorter). */
  matched: number;
  /** Events left after a truncated other side ended (see `DiffOptions.truncated`). */
  uncomparedA: number;
  uncomparedB: number;
  /** The tolerances applied. */
  tolerances: DiffTolerances;
  exactRepeats: boolean;
  /** The first divergence that makes the traces differ (null if none), with context. */
  first: DivergenceContext | null;
  /** The first `maxDivergences` divergences in stream order (repeats included). */
  divergences: Divergence[];
  totals: Record<DivergenceClass, number>;
  /** Sorted by key. */
  perKey: KeySummary[];
}

const BY_UNIT = new Map(CANONICAL_OPS.map((op) => [op.name, op.args.map((a) => a.unit)]));

/**
 * Default argument classification. Catalogue ops (`backends/canonical_ops.ts`) by the unit of
 * each argument: `ns...` → time, `cycles` → tsc, `s since 1970` → seconds, `gpa`/`linear` →
 * addr, anything else (modes, flags, selectors, MSR values) → plain. Other ops by a name
 * heuristic (`docs/trace-format.md` §9.3): timer/clock/tsc/delay ops carry nanoseconds;
 * page-table, CR2/CR3, TLB, descriptor-table and mm ops carry addresses or frames.
 *
 * @example
 * ```ts
 * import { defaultArgKind } from "./diff.ts";
 * console.assert(defaultArgKind("set_timer", 0) === "plain"); // mode
 * console.assert(defaultArgKind("set_timer", 1) === "time"); // delta ns
 * console.assert(defaultArgKind("read_tsc", 1) === "tsc");
 * ```
 */
export function defaultArgKind(op: string, index: number): ArgKind {
  const units = BY_UNIT.get(op);
  if (units !== undefined) {
    const u = units[index] ?? "";
    if (u.startsWith("ns")) return "time";
    if (u === "cycles") return "tsc";
    if (u === "s" || u.startsWith("s ")) return "seconds";
    if (u === "gpa" || u === "linear") return "addr";
    return "plain";
  }
  if (/timer|clock|tsc|delay|time/.test(op)) return "time";
  if (/pte|pmd|pgd|cr2|cr3|tlb|_pt$|_pt_|page|mm|gdt|idt|ldt|esp0/.test(op)) return "addr";
  return "plain";
}

/**
 * Default result classification: `read_tsc` returns EAX of `rdtsc`, the low half of the TSC
 * (`backends/base_backend.ts` `exitArgs`); `sched_clock` returns ns where a backend reports it
 * (Xen/VMI/lguest, `docs/canonical-ops.md`). Every other result is plain (the RTC year register
 * of a CMOS `get_wallclock`, MSR and CR values, status codes).
 *
 * @example
 * ```ts
 * import { defaultResultKind } from "./diff.ts";
 * console.assert(defaultResultKind("read_tsc") === "tsc");
 * console.assert(defaultResultKind("read_msr") === "plain");
 * ```
 */
export function defaultResultKind(op: string): ResultKind {
  return op === "read_tsc" ? "tsc" : op === "sched_clock" ? "time" : "plain";
}

/**
 * Unit factors worth trying between two traces: µs/ms/s vs ns, 4 KiB frames vs addresses, and
 * ns vs TSC ticks / instructions / APIC ticks at each header's rates.
 */
export function unitFactors(...headers: TraceHeader[]): UnitFactor[] {
  const out: UnitFactor[] = [
    { factor: 1000, label: "ns vs us" },
    { factor: 1e6, label: "ns vs ms" },
    { factor: 1e9, label: "ns vs s" },
    { factor: 4096, label: "bytes vs 4 KiB frames" },
  ];
  for (const h of headers) {
    const m = h.machine, who = `${h.backend.name}`;
    out.push({ factor: m.tscHz / 1e9, label: `TSC ticks vs ns (${who}, ${m.tscHz} Hz)` });
    out.push({ factor: m.ips / 1e9, label: `instructions vs ns (${who}, ${m.ips}/s)` });
    out.push({ factor: m.apicHz / 1e9, label: `APIC ticks vs ns (${who}, ${m.apicHz} Hz)` });
  }
  return out.filter((u, i) =>
    u.factor !== 1 && u.factor > 0 && out.findIndex((v) => v.factor === u.factor) === i
  );
}

function keyOf(ev: TraceEvent): string {
  return ev.op ?? ev.kind + ":" + ev.name;
}

function isTrap(ev: TraceEvent): boolean {
  return ev.kind === "exception" || ev.kind === "interrupt";
}

/** Events aligned by default besides those with an op: the paravirtual interface itself. */
function alignedByDefault(ev: TraceEvent): boolean {
  return ev.op !== null || ev.kind === "hypercall" || ev.kind === "marker";
}

/** How the fields of one op are compared: argument and result kinds, cached per op. */
interface OpLayout {
  args: ArgKind[];
  /** Index of the first `tsc` (lo, hi) pair in `args`, or -1. */
  tscPair: number;
  ret: ResultKind;
}

const TIME_KINDS: ReadonlySet<ArgKind> = new Set(["time", "tsc", "seconds"]);

/** Classification of fields into time-valued / address / plain, per op (cached). */
class Kinds {
  readonly #cache = new Map<string, OpLayout>();
  constructor(
    readonly argKind: (op: string, index: number) => ArgKind,
    readonly resultKind: (op: string) => ResultKind,
  ) {}

  /** Layout of `op` covering at least `n` arguments. */
  of(op: string, n: number): OpLayout {
    let l = this.#cache.get(op);
    if (l === undefined || l.args.length < n) {
      const args: ArgKind[] = [];
      for (let i = 0; i < Math.max(n, l?.args.length ?? 0); i++) args.push(this.argKind(op, i));
      let tscPair = -1;
      for (let i = 0; i + 1 < args.length && tscPair < 0; i++) {
        if (args[i] === "tsc" && args[i + 1] === "tsc") tscPair = i;
      }
      l = { args, tscPair, ret: this.resultKind(op) };
      this.#cache.set(op, l);
    }
    return l;
  }

  /**
   * Whether `b` continues a run started by `a`: same key and every field that is not
   * time-valued equal (kind, vector, error code, CR2, plain/address arguments, plain result,
   * state other than TIMER).
   */
  sameShape(a: TraceEvent, b: TraceEvent): boolean {
    if (
      a.op !== b.op || a.kind !== b.kind || a.name !== b.name && a.op === null ||
      a.vector !== b.vector || a.errorCode !== b.errorCode || a.cr2 !== b.cr2 ||
      (a.ret === null) !== (b.ret === null) || a.opArgs.length !== b.opArgs.length ||
      a.state.length !== b.state.length
    ) return false;
    if (a.op === null) {
      if (a.nr !== b.nr || !sameNumbers(a.args, b.args) || a.ret !== b.ret) return false;
    } else if (!sameNumbers(a.opArgs, b.opArgs) || a.ret !== b.ret) {
      const l = this.of(a.op, a.opArgs.length);
      if (a.ret !== b.ret && l.ret === "plain") return false;
      for (let i = 0; i < a.opArgs.length; i++) {
        if (a.opArgs[i] !== b.opArgs[i] && !TIME_KINDS.has(l.args[i])) return false;
      }
    }
    for (let i = 0; i < a.state.length; i++) {
      const k = a.state[i][0];
      if (k !== b.state[i][0] || (k !== "TIMER" && a.state[i][1] !== b.state[i][1])) return false;
    }
    return true;
  }

  /** Identity of an event for alignment: its key plus every field {@link sameShape} compares. */
  signature(e: TraceEvent): string {
    let s = keyOf(e) + "\0" + e.vector + "," + e.errorCode + "," + e.cr2 + ",";
    if (e.op !== null) {
      const l = this.of(e.op, e.opArgs.length);
      s += e.ret === null ? "" : l.ret === "plain" ? String(e.ret >>> 0) : "t";
      s += ":";
      for (let i = 0; i < e.opArgs.length; i++) {
        s += (TIME_KINDS.has(l.args[i]) ? "t" : e.opArgs[i]) + ",";
      }
    } else {
      s += (e.ret === null ? "" : e.ret >>> 0) + ":" + (e.nr >>> 0);
      for (let i = 0; i < e.args.length; i++) s += "," + (e.args[i] >>> 0);
    }
    for (let i = 0; i < e.state.length; i++) {
      s += ";" + e.state[i][0] + "=" + (e.state[i][0] === "TIMER" ? "t" : e.state[i][1]);
    }
    return s;
  }
}

/**
 * Consecutive events with the same shape: kept as first and last event and a count. Run objects
 * are recycled by {@link RunLookahead} once shifted out, so nothing may keep one.
 */
interface Run {
  first: TraceEvent;
  last: TraceEvent;
  count: number;
}

/**
 * Buffered, filtered view of an event stream collapsed into runs (the window lives here). The
 * runs live in a circular buffer of reused objects: a diff of near-identical streams allocates
 * nothing per run, which keeps the collector out of the fast path even when the caller holds a
 * large heap.
 */
class RunLookahead {
  #it: Iterator<TraceEvent>;
  #all: boolean;
  #kinds: Kinds;
  /** Circular buffer, capacity a power of two; pending runs are [head, tail) (absolute). */
  #slots: Run[] = [];
  #mask = -1;
  #head = 0;
  #tail = 0;
  /** The event that ended the last buffered run (starts the next one). */
  #pending: TraceEvent | undefined = undefined;
  #done = false;
  /** Events accepted by the filter so far, and runs formed. */
  seen = 0;
  runs = 0;
  constructor(events: Iterable<TraceEvent>, all: boolean, kinds: Kinds) {
    this.#it = events[Symbol.iterator]();
    this.#all = all;
    this.#kinds = kinds;
  }

  #next(): TraceEvent | undefined {
    if (this.#done) return undefined;
    while (true) {
      const r = this.#it.next();
      if (r.done) {
        this.#done = true;
        return undefined;
      }
      if (this.#all || alignedByDefault(r.value)) {
        this.seen++;
        return r.value;
      }
    }
  }

  /** A free slot at the tail, growing the buffer when every slot is pending. */
  #slot(first: TraceEvent): Run {
    const n = this.#tail - this.#head;
    if (n === this.#slots.length) {
      const old = this.#slots, cap = Math.max(16, old.length * 2);
      const grown: Run[] = [];
      for (let k = 0; k < n; k++) grown.push(old[(this.#head + k) & this.#mask]);
      while (grown.length < cap) grown.push({ first, last: first, count: 0 });
      this.#slots = grown;
      this.#mask = cap - 1;
      this.#tail = n;
      this.#head = 0;
    }
    return this.#slots[this.#tail & this.#mask];
  }

  /** The i-th pending run, or undefined past the end of the stream. */
  peek(i: number): Run | undefined {
    while (this.#tail - this.#head <= i) {
      const first = this.#pending ?? this.#next();
      if (first === undefined) return undefined;
      const run = this.#slot(first);
      run.first = run.last = first;
      run.count = 1;
      let e: TraceEvent | undefined;
      while ((e = this.#next()) !== undefined && this.#kinds.sameShape(first, e)) {
        run.last = e;
        run.count++;
      }
      this.#pending = e;
      this.#tail++;
      this.runs++;
    }
    return this.#slots[(this.#head + i) & this.#mask];
  }

  /** Whether pending run `i` is the last of the stream (no event after it). */
  isFinal(i: number): boolean {
    return this.#done && this.#pending === undefined && i === this.#tail - this.#head - 1;
  }

  /** Drops the first `n` pending runs (their objects are reused). */
  shift(n: number): void {
    this.#head += n;
  }
}

/** Circular history of the last runs' first events and lengths (context before a divergence). */
class Ring {
  #events: TraceEvent[] = [];
  #counts: number[] = [];
  #next = 0;
  constructor(readonly size: number) {}
  push(r: Run): void {
    if (this.size === 0) return;
    if (this.#events.length < this.size) {
      this.#events.push(r.first);
      this.#counts.push(r.count);
    } else {
      this.#events[this.#next] = r.first;
      this.#counts[this.#next] = r.count;
    }
    this.#next = (this.#next + 1) % this.size;
  }
  /** Oldest first: events and their run lengths. */
  items(): { events: TraceEvent[]; counts: number[] } {
    const order = <T>(xs: T[]) =>
      xs.length < this.size ? [...xs] : [...xs.slice(this.#next), ...xs.slice(0, this.#next)];
    return { events: order(this.#events), counts: order(this.#counts) };
  }
}

interface Comparison {
  cls: DivergenceClass;
  fields: string[];
  note: string | null;
}

const TWO32 = 4294967296;

/** A TSC value (lo, hi ticks) in ns at `hz`. */
function tscNs(lo: number, hi: number, hz: number): number {
  return ((hi >>> 0) * TWO32 + (lo >>> 0)) * 1e9 / hz;
}

/** Compares aligned events (same key) field by field; null when equal within tolerances. */
class Comparator {
  constructor(
    readonly tol: DiffTolerances,
    readonly kinds: Kinds,
    readonly units: UnitFactor[],
    readonly hzA: number,
    readonly hzB: number,
  ) {}

  compare(a: TraceEvent, b: TraceEvent): Comparison | null {
    return this.#identical(a, b) ? null : this.#detail(a, b);
  }

  /** Cheap check that every compared field is strictly equal (the common case). */
  #identical(a: TraceEvent, b: TraceEvent): boolean {
    if (
      a.kind !== b.kind || a.vector !== b.vector || a.errorCode !== b.errorCode ||
      a.cr2 !== b.cr2 || (a.ret !== b.ret && a.ret !== null && b.ret !== null) ||
      !sameNumbers(a.opArgs, b.opArgs) || a.state.length !== b.state.length
    ) return false;
    if (a.op === null && (a.nr !== b.nr || !sameNumbers(a.args, b.args))) return false;
    for (let i = 0; i < a.state.length; i++) {
      if (a.state[i][0] !== b.state[i][0] || a.state[i][1] !== b.state[i][1]) return false;
    }
    return this.tol.icount === Infinity || Math.abs(a.icount - b.icount) <= this.tol.icount;
  }

  #detail(a: TraceEvent, b: TraceEvent): Comparison | null {
    let fields: string[] | null = null;
    let cls: DivergenceClass | null = null;
    const notes: string[] = [];
    const add = (c: DivergenceClass, f: string) => {
      (fields ??= []).push(f);
      if (cls === null || rank(c) < rank(cls)) cls = c;
    };
    if (isTrap(a) || isTrap(b)) {
      if (a.kind !== b.kind) add("trap", "kind");
      if (a.vector !== b.vector) add("trap", "vector");
      if (!eq32(a.errorCode, b.errorCode)) add("trap", "errorCode");
      if (!near32(a.cr2, b.cr2, this.tol.addr)) add("trap", "cr2");
    }
    const layout = a.op === null ? null : this.kinds.of(a.op, a.opArgs.length);
    if (a.ret !== null && b.ret !== null && (a.ret >>> 0) !== (b.ret >>> 0)) {
      const d = layout === null ? null : this.#retDeltaNs(layout, a, b);
      if (d === null || Math.abs(d) > this.tol.time) {
        add("result", "ret");
        if (d !== null) notes.push(`ret differs by ${formatNs(d)}`);
      }
    }
    if (layout !== null) {
      const r = this.#args(layout, a.opArgs, b.opArgs);
      if (r !== null) {
        for (const f of r.fields) add(r.units ? "units" : "arguments", f);
        notes.push(...r.notes);
        if (r.units) notes.push(r.units);
      }
    } else {
      if ((a.nr >>> 0) !== (b.nr >>> 0)) add("arguments", "nr");
      if (a.args.length !== b.args.length) add("arguments", "args.length");
      else {
        for (let i = 0; i < a.args.length; i++) {
          if ((a.args[i] >>> 0) !== (b.args[i] >>> 0)) add("arguments", `args[${i}]`);
        }
      }
    }
    if (a.state.length !== 0 || b.state.length !== 0) {
      for (const f of this.#state(a.state, b.state, notes)) add("state", f);
    }
    if (this.tol.icount !== Infinity && Math.abs(a.icount - b.icount) > this.tol.icount) {
      add("timing", "icount");
    }
    return cls === null ? null : { cls, fields: fields!, note: notes.join("; ") || null };
  }

  /** B − A of a time-valued result in ns, or null if the result is plain. */
  #retDeltaNs(l: OpLayout, a: TraceEvent, b: TraceEvent): number | null {
    if (l.ret === "time") return ((b.ret! - a.ret!) | 0);
    if (l.ret !== "tsc") return null;
    const hiA = l.tscPair >= 0 ? a.opArgs[l.tscPair + 1] ?? 0 : 0;
    const hiB = l.tscPair >= 0 ? b.opArgs[l.tscPair + 1] ?? 0 : 0;
    return tscNs(b.ret!, hiB, this.hzB) - tscNs(a.ret!, hiA, this.hzA);
  }

  /**
   * Differing canonical args (time-valued ones compared in ns within the `time` tolerance),
   * notes on time differences, and the unit factor explaining all differences if there is one.
   */
  #args(
    l: OpLayout,
    a: number[],
    b: number[],
  ): { fields: string[]; notes: string[]; units: string | null } | null {
    if (a.length !== b.length) return { fields: ["opArgs.length"], notes: [], units: null };
    let diff: number[] | null = null;
    const notes: string[] = [];
    const time = (d: number, idx: number[], ok: boolean) => {
      if (ok) return;
      (diff ??= []).push(...idx);
      notes.push(`${idx.map((i) => `opArgs[${i}]`).join("+")} differ by ${formatNs(d)}`);
    };
    for (let i = 0; i < a.length; i++) {
      const kind = l.args[i];
      if (kind === "tsc" && l.args[i + 1] === "tsc") {
        if (a[i] !== b[i] || a[i + 1] !== b[i + 1]) {
          const d = tscNs(b[i], b[i + 1], this.hzB) - tscNs(a[i], a[i + 1], this.hzA);
          time(d, [i, i + 1], Math.abs(d) <= this.tol.time);
        }
        i++;
      } else if (kind === "seconds" && l.args[i + 1] === "time") {
        if (a[i] !== b[i] || a[i + 1] !== b[i + 1]) {
          const d = (b[i] - a[i]) * 1e9 + (b[i + 1] - a[i + 1]);
          time(d, [i, i + 1], this.#wallClockMatch(d, a[i + 1] === 0, b[i + 1] === 0));
        }
        i++;
      } else if (a[i] !== b[i]) {
        const d = kind === "tsc" ? (b[i] * 1e9 / this.hzB) - (a[i] * 1e9 / this.hzA) : b[i] - a[i];
        const t = kind === "addr" ? this.tol.addr : kind === "plain" ? 0 : this.tol.time;
        const scaled = kind === "seconds" ? d * 1e9 : d;
        if (Math.abs(scaled) > t) {
          (diff ??= []).push(i);
          if (kind !== "plain" && kind !== "addr") {
            notes.push(`opArgs[${i}] differ by ${formatNs(scaled)}`);
          }
        }
      }
    }
    if (diff === null) return null;
    const idx = diff;
    const fields = idx.map((i) => `opArgs[${i}]`);
    for (const u of this.units) {
      const fits = (x: number, y: number) =>
        x !== 0 && Math.abs(y - x * u.factor) <= Math.max(1, Math.abs(x * u.factor) * 1e-3);
      if (idx.every((i) => fits(a[i], b[i]))) {
        return { fields, notes: [], units: `B = A x ${u.factor} (${u.label})` };
      }
      if (idx.every((i) => fits(b[i], a[i]))) {
        return { fields, notes: [], units: `A = B x ${u.factor} (${u.label})` };
      }
    }
    return { fields, notes, units: null };
  }

  /**
   * Whether two wall-clock readings `d` ns apart (B − A) match. With a `time` tolerance, a
   * reading with a zero ns part comes from a whole-second clock (the CMOS RTC, abi.md §5.6) and
   * stands for the whole second it truncates; without one, readings must be equal.
   */
  #wallClockMatch(d: number, wholeA: boolean, wholeB: boolean): boolean {
    const t = this.tol.time;
    if (t === 0) return d === 0;
    return d - (wholeA ? 1e9 : 0) <= t && -d - (wholeB ? 1e9 : 0) <= t;
  }

  /** Differing state keys; notes how far apart differing TIMER deadlines are. */
  #state(a: Array<[string, number]>, b: Array<[string, number]>, notes: string[]): string[] {
    const out: string[] = [];
    const ma = new Map(a), mb = new Map(b);
    for (const k of [...new Set([...ma.keys(), ...mb.keys()])]) {
      const x = ma.get(k), y = mb.get(k);
      if (x === undefined || y === undefined) {
        out.push(`state.${k}`);
        continue;
      }
      if (k === "TIMER" && (x === 0) !== (y === 0)) { // 0 = no deadline: not a time value
        out.push(`state.${k}`);
        continue;
      }
      const t = k === "TIMER" ? this.tol.time : k === "CR2" || k === "CR3" ? this.tol.addr : 0;
      if (Math.abs(x - y) > t) {
        out.push(`state.${k}`);
        if (k === "TIMER") notes.push(`state.TIMER differs by ${formatNs(y - x)}`);
      }
    }
    return out;
  }
}

/** A signed duration in ns, in the largest unit that keeps it readable. */
function formatNs(d: number): string {
  const a = Math.abs(d);
  const [v, u] = a >= 1e9
    ? [d / 1e9, "s"]
    : a >= 1e6
    ? [d / 1e6, "ms"]
    : a >= 1e3
    ? [d / 1e3, "us"]
    : [d, "ns"];
  return `${Number(v.toPrecision(4))} ${u}`;
}

const RANK: Record<DivergenceClass, number> = {
  trap: 0,
  result: 1,
  units: 2,
  arguments: 3,
  state: 4,
  timing: 5,
  reordered: 6,
  missing: 7,
  extra: 8,
  repeats: 9,
};
function rank(c: DivergenceClass): number {
  return RANK[c];
}

function sameNumbers(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function eq32(a: number | null, b: number | null): boolean {
  return a === null || b === null ? a === b : (a >>> 0) === (b >>> 0);
}

function near32(a: number | null, b: number | null, tol: number): boolean {
  return a === null || b === null ? a === b : Math.abs((a >>> 0) - (b >>> 0)) <= tol;
}

/**
 * Aligns the first `na`/`nb` buffered runs: first on exact signatures (so that among several
 * runs with the same key the identical ones pair up), then, inside each gap left, on keys
 * alone (same operation with different arguments, result or state).
 */
function alignWindow(
  kinds: Kinds,
  A: RunLookahead,
  na: number,
  B: RunLookahead,
  nb: number,
  pa: number[],
  pb: number[],
): void {
  const ids = new Map<string, number>();
  const ids2 = new Map<string, number>();
  const sa = new Int32Array(na),
    sb = new Int32Array(nb),
    ka = new Int32Array(na),
    kb = new Int32Array(nb);
  const fill = (L: RunLookahead, n: number, sig: Int32Array, key: Int32Array) => {
    for (let i = 0; i < n; i++) {
      const e = L.peek(i)!.first;
      const s = kinds.signature(e), k = keyOf(e);
      let v = ids.get(s);
      if (v === undefined) ids.set(s, v = ids.size);
      sig[i] = v;
      let u = ids2.get(k);
      if (u === undefined) ids2.set(k, u = ids2.size);
      key[i] = u;
    }
  };
  fill(A, na, sa, ka);
  fill(B, nb, sb, kb);
  const xa: number[] = [], xb: number[] = [];
  patience(sa, 0, na, sb, 0, nb, xa, xb);
  let i = 0, j = 0;
  for (let p = 0; p <= xa.length; p++) {
    const ea = p < xa.length ? xa[p] : na, eb = p < xb.length ? xb[p] : nb;
    if (i < ea && j < eb) patience(ka, i, ea, kb, j, eb, pa, pb);
    if (p < xa.length) {
      pa.push(ea);
      pb.push(eb);
    }
    i = ea + 1;
    j = eb + 1;
  }
}

/** Largest edit distance Myers' algorithm explores in one gap (memory ~ D^2 integers). */
const MAX_MYERS_D = 1024;

/**
 * Longest common subsequence of a[aLo..aHi) and b[bLo..bHi) by Myers' O(ND) algorithm; pushes
 * matched index pairs (in order) to `pa`/`pb`. Gives up (no pairs) beyond {@link MAX_MYERS_D}.
 */
function myers(
  a: Int32Array,
  aLo: number,
  aHi: number,
  b: Int32Array,
  bLo: number,
  bHi: number,
  pa: number[],
  pb: number[],
): void {
  const n = aHi - aLo, m = bHi - bLo, max = n + m;
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= Math.min(max, MAX_MYERS_D); d++) {
    trace.push(v.slice(off - d - 1, off + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1])
        ? v[off + k + 1]
        : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[aLo + x] === b[bLo + y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        const xs: number[] = [], ys: number[] = [];
        let cx = n, cy = m;
        for (let e = d; e >= 0; e--) {
          const t = trace[e]; // v before step e, indexed from k = -e-1
          const g = (kk: number) => t[kk + e + 1];
          const kk = cx - cy;
          const pk = kk === -e || (kk !== e && g(kk - 1) < g(kk + 1)) ? kk + 1 : kk - 1;
          const px = e === 0 ? 0 : g(pk), py = e === 0 ? 0 : px - pk;
          while (cx > px && cy > py) {
            xs.push(cx - 1);
            ys.push(cy - 1);
            cx--;
            cy--;
          }
          cx = px;
          cy = py;
        }
        for (let i = xs.length - 1; i >= 0; i--) {
          pa.push(aLo + xs[i]);
          pb.push(bLo + ys[i]);
        }
        return;
      }
    }
  }
}

/** Patience alignment of key-id arrays; matched pairs in order in `pa`/`pb`. */
function patience(
  a: Int32Array,
  aLo: number,
  aHi: number,
  b: Int32Array,
  bLo: number,
  bHi: number,
  pa: number[],
  pb: number[],
): void {
  while (aLo < aHi && bLo < bHi && a[aLo] === b[bLo]) {
    pa.push(aLo++);
    pb.push(bLo++);
  }
  let suffix = 0;
  while (aLo < aHi - suffix && bLo < bHi - suffix && a[aHi - 1 - suffix] === b[bHi - 1 - suffix]) {
    suffix++;
  }
  aHi -= suffix;
  bHi -= suffix;
  if (aLo < aHi && bLo < bHi) {
    // Keys occurring exactly once in each side: candidate anchors.
    const ca = new Map<number, number>(), cb = new Map<number, number>();
    for (let i = aLo; i < aHi; i++) ca.set(a[i], ca.has(a[i]) ? -1 : i);
    for (let j = bLo; j < bHi; j++) cb.set(b[j], cb.has(b[j]) ? -1 : j);
    const ai: number[] = [], bj: number[] = [];
    for (let i = aLo; i < aHi; i++) {
      const j = cb.get(a[i]);
      if (ca.get(a[i]) === i && j !== undefined && j >= 0) {
        ai.push(i);
        bj.push(j);
      }
    }
    if (ai.length === 0) {
      myers(a, aLo, aHi, b, bLo, bHi, pa, pb);
    } else {
      const lis = longestIncreasing(bj);
      let pi = aLo, pj = bLo;
      for (const idx of lis) {
        patience(a, pi, ai[idx], b, pj, bj[idx], pa, pb);
        pa.push(ai[idx]);
        pb.push(bj[idx]);
        pi = ai[idx] + 1;
        pj = bj[idx] + 1;
      }
      patience(a, pi, aHi, b, pj, bHi, pa, pb);
    }
  }
  for (let s = 0; s < suffix; s++) {
    pa.push(aHi + s);
    pb.push(bHi + s);
  }
}

/** Indices of a longest strictly increasing subsequence (patience sorting). */
function longestIncreasing(xs: number[]): number[] {
  const tails: number[] = [], prev = new Int32Array(xs.length).fill(-1);
  for (let i = 0; i < xs.length; i++) {
    let lo = 0, hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[tails[mid]] < xs[i]) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[i] = tails[lo - 1];
    tails[lo] = i;
  }
  const out: number[] = [];
  for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = prev[i]) out.push(i);
  return out.reverse();
}

/** One step of an aligned segment (indices are runs in the window). */
interface Slot {
  ia: number;
  ib: number;
  /** Gap number: unmatched runs between the same two pairs share it. */
  gap: number;
  /** Set when a reordered/trap pairing consumed this slot into another. */
  done: boolean;
  partner: Slot | null;
  cls: DivergenceClass | null;
}

const INITIAL_WINDOW = 32;

/**
 * Diffs two event streams (each consumed once, in order).
 *
 * @example
 * ```ts
 * import { diffStreams } from "./diff.ts";
 * import { makeEvent } from "./event.ts";
 * const ev = (seq: number, op: string, x: number) => ({
 *   seq, ...makeEvent({ icount: seq, kind: "exit", name: "x", eip: 0, op, opArgs: [x] }),
 * });
 * const r = diffStreams([ev(0, "irq_enable", 0), ev(1, "write_cr3", 5)],
 *   [ev(0, "irq_enable", 0), ev(1, "write_cr3", 6)]);
 * console.assert(!r.same && r.first?.divergence.class === "arguments");
 * ```
 */
export function diffStreams(
  streamA: Iterable<TraceEvent>,
  streamB: Iterable<TraceEvent>,
  options: DiffOptions = {},
): DiffReport {
  const all = options.allEvents ?? false;
  const ctx = options.context ?? 3;
  const maxWindow = Math.max(options.window ?? 4096, INITIAL_WINDOW, ctx + 1);
  const maxKept = options.maxDivergences ?? 1000;
  const exactRepeats = options.exactRepeats ?? false;
  const tolerances: DiffTolerances = { time: 0, addr: 0, icount: Infinity, ...options.tolerances };
  const kinds = new Kinds(
    options.argKind ?? defaultArgKind,
    options.resultKind ?? defaultResultKind,
  );
  const cmp = new Comparator(
    tolerances,
    kinds,
    options.units ?? unitFactors(),
    options.tscHz?.a ?? 1e9,
    options.tscHz?.b ?? 1e9,
  );
  const A = new RunLookahead(streamA, all, kinds), B = new RunLookahead(streamB, all, kinds);
  const truncA = options.truncated?.a ?? false, truncB = options.truncated?.b ?? false;
  const ringA = new Ring(ctx), ringB = new Ring(ctx);
  const report: DiffReport = {
    same: true,
    eventsA: 0,
    eventsB: 0,
    runsA: 0,
    runsB: 0,
    matched: 0,
    uncomparedA: 0,
    uncomparedB: 0,
    tolerances,
    exactRepeats,
    first: null,
    divergences: [],
    totals: zeroCounts(),
    perKey: [],
  };
  // Summaries by op, and by name per event kind (avoids building `kind:name` per event).
  const byOp = new Map<string, KeySummary>();
  const byName = new Map<string, Map<string, KeySummary>>();
  const summaryOf = (ev: TraceEvent) => {
    let m = byOp;
    let k = ev.op;
    if (k === null) {
      k = ev.name;
      m = byName.get(ev.kind)!;
      if (m === undefined) byName.set(ev.kind, m = new Map());
    }
    let s = m.get(k);
    if (s === undefined) m.set(k, s = { key: keyOf(ev), same: 0, counts: zeroCounts() });
    return s;
  };

  const diverge = (d: Divergence, nextA: number, nextB: number) => {
    const significant = d.class !== "repeats" || exactRepeats;
    if (significant) report.same = false;
    report.totals[d.class]++;
    summaryOf((d.a ?? d.b)!).counts[d.class]++;
    if (report.divergences.length < maxKept) report.divergences.push(d);
    if (report.first === null && significant) {
      const after = (L: RunLookahead, from: number) => {
        const out: Run[] = [];
        for (let i = from; i < from + ctx; i++) {
          const r = L.peek(i);
          if (r === undefined) break;
          out.push(r);
        }
        return out;
      };
      const bA = ringA.items(), bB = ringB.items(), aA = after(A, nextA), aB = after(B, nextB);
      report.first = {
        divergence: d,
        beforeA: bA.events,
        beforeB: bB.events,
        afterA: aA.map((r) => r.first),
        afterB: aB.map((r) => r.first),
        runs: {
          beforeA: bA.counts,
          beforeB: bB.counts,
          afterA: aA.map((r) => r.count),
          afterB: aB.map((r) => r.count),
        },
      };
    }
  };

  const divergence = (
    cls: DivergenceClass,
    ra: Run | null,
    rb: Run | null,
    fields: string[],
    note: string | null,
    useLast = false,
  ): Divergence => ({
    class: cls,
    key: keyOf((ra ?? rb)!.first),
    a: ra === null ? null : useLast ? ra.last : ra.first,
    b: rb === null ? null : useLast ? rb.last : rb.first,
    countA: ra?.count ?? 0,
    countB: rb?.count ?? 0,
    fields,
    note,
  });

  /**
   * Compares two aligned runs (window indices `ia`, `ib`): their first events, and their last
   * events when both have the same length; the repeat counts separately. A truncated side's
   * final run may just be cut short: the other side's excess is uncompared, not a repeat.
   */
  const pairRuns = (ra: Run, rb: Run, ia: number, ib: number) => {
    const nextA = ia + 1, nextB = ib + 1;
    let c = cmp.compare(ra.first, rb.first), useLast = false;
    if (c === null && ra.count === rb.count && ra.count > 1) {
      c = cmp.compare(ra.last, rb.last);
      useLast = c !== null;
    }
    if (c === null) {
      const n = Math.min(ra.count, rb.count);
      report.matched += n;
      summaryOf(ra.first).same += n;
    } else {
      const note = useLast ? `last of ${ra.count}: ${c.note ?? "differs"}` : c.note;
      diverge(divergence(c.cls, ra, rb, c.fields, note, useLast), nextA, nextB);
    }
    if (ra.count < rb.count && truncA && A.isFinal(ia)) {
      report.uncomparedB += rb.count - ra.count;
    } else if (rb.count < ra.count && truncB && B.isFinal(ib)) {
      report.uncomparedA += ra.count - rb.count;
    } else if (ra.count !== rb.count) {
      const note = `A x${ra.count}, B x${rb.count}`;
      diverge(divergence("repeats", ra, rb, ["count"], note), nextA, nextB);
    }
  };

  // Emits the first `na`/`nb` buffered runs as aligned by pairs (pa[i], pb[i]).
  const commit = (na: number, nb: number, pa: number[], pb: number[]) => {
    const slots: Slot[] = [];
    let i = 0, j = 0, gap = 0;
    const push = (ia: number, ib: number) =>
      slots.push({ ia, ib, gap, done: false, partner: null, cls: null });
    for (let p = 0; p <= pa.length; p++) {
      const ea = p < pa.length ? pa[p] : na, eb = p < pb.length ? pb[p] : nb;
      while (i < ea) push(i++, -1);
      while (j < eb) push(-1, j++);
      if (p < pa.length) {
        gap++;
        push(i++, j++);
      }
    }
    const runOf = (s: Slot) => (s.ia >= 0 ? A.peek(s.ia)! : B.peek(s.ib)!);
    // Within a gap, a trap replaced by another trap is one `trap` divergence.
    const pend: Slot[] = [];
    for (const s of slots) {
      if (s.ia >= 0 && s.ib >= 0) continue;
      if (!isTrap(runOf(s).first)) continue;
      const k = pend.findIndex((o) => o.gap === s.gap && (o.ia >= 0) !== (s.ia >= 0));
      if (k >= 0) {
        const o = pend.splice(k, 1)[0];
        o.partner = s;
        o.cls = "trap";
        s.done = true;
      } else pend.push(s);
    }
    // The same key unmatched on both sides of the segment: reordered.
    const waiting = new Map<string, Slot[]>();
    for (const s of slots) {
      if (s.done || s.partner !== null || (s.ia >= 0 && s.ib >= 0)) continue;
      const key = keyOf(runOf(s).first);
      const side = s.ia >= 0 ? "a" : "b", other = side === "a" ? "b" : "a";
      const q = waiting.get(other + key);
      if (q !== undefined && q.length > 0) {
        const o = q.shift()!;
        o.partner = s;
        o.cls = "reordered";
        s.done = true;
      } else {
        const mine = waiting.get(side + key);
        if (mine) mine.push(s);
        else waiting.set(side + key, [s]);
      }
    }
    let doneA = 0, doneB = 0;
    for (const s of slots) {
      if (s.done) {
        if (s.ia >= 0) doneA = s.ia + 1;
        else doneB = s.ib + 1;
        continue;
      }
      const ra = s.ia >= 0 ? A.peek(s.ia)! : null;
      const rb = s.ib >= 0 ? B.peek(s.ib)! : null;
      if (ra && rb) {
        pairRuns(ra, rb, s.ia, s.ib);
      } else if (s.partner !== null) {
        const p = s.partner;
        const qa = ra ?? A.peek(p.ia)!, qb = rb ?? B.peek(p.ib)!;
        const fields = s.cls === "trap" ? ["vector"] : ["position"];
        const note = s.cls === "reordered"
          ? `A seq ${qa.first.seq} vs B seq ${qb.first.seq}`
          : null;
        diverge(
          divergence(s.cls!, qa, qb, fields, note),
          ra ? s.ia + 1 : doneA,
          rb ? s.ib + 1 : doneB,
        );
      } else if (ra) {
        const note = ra.count > 1 ? `run of ${ra.count}` : null;
        diverge(divergence("missing", ra, null, [], note), s.ia + 1, doneB);
      } else {
        const note = rb!.count > 1 ? `run of ${rb!.count}` : null;
        diverge(divergence("extra", null, rb, [], note), doneA, s.ib + 1);
      }
      if (ra) {
        doneA = s.ia + 1;
        if (report.first === null) ringA.push(ra);
      }
      if (rb) {
        doneB = s.ib + 1;
        if (report.first === null) ringB.push(rb);
      }
    }
    A.shift(na);
    B.shift(nb);
  };

  while (true) {
    const ra = A.peek(0), rb = B.peek(0);
    if (ra === undefined && rb === undefined) break;
    if ((ra === undefined && truncA) || (rb === undefined && truncB)) {
      const rest = ra === undefined ? B : A;
      let n = 0;
      for (let r = rest.peek(0); r !== undefined; r = rest.peek(0)) {
        n += r.count;
        rest.shift(1);
      }
      if (ra === undefined) report.uncomparedB += n;
      else report.uncomparedA += n;
      break;
    }
    if (ra !== undefined && rb !== undefined) {
      const ea = ra.first, eb = rb.first;
      const sameKey = ea.op !== null || eb.op !== null
        ? ea.op === eb.op
        : ea.kind === eb.kind && ea.name === eb.name;
      if (sameKey && cmp.compare(ea, eb) === null) {
        pairRuns(ra, rb, 0, 0);
        if (report.first === null) {
          ringA.push(ra);
          ringB.push(rb);
        }
        A.shift(1);
        B.shift(1);
        continue;
      }
    }
    // Slow path: align a window, growing it until it contains a resynchronisation point.
    for (let w = INITIAL_WINDOW;; w = Math.min(w * 4, maxWindow)) {
      let na = 0, nb = 0;
      while (na < w && A.peek(na) !== undefined) na++;
      while (nb < w && B.peek(nb) !== undefined) nb++;
      const pa: number[] = [], pb: number[] = [];
      alignWindow(kinds, A, na, B, nb, pa, pb);
      const endA = na < w, endB = nb < w;
      if (endA && endB) {
        commit(na, nb, pa, pb);
        break;
      }
      if ((endA && truncA) || (endB && truncB)) {
        // A truncated side ends here: align up to the last pair, then the truncated side's
        // unmatched rest; the other side's rest is left uncompared by the main loop.
        if (pa.length > 0) commit(pa[pa.length - 1] + 1, pb[pb.length - 1] + 1, pa, pb);
        else commit(endA && truncA ? na : 0, endB && truncB ? nb : 0, [], []);
        break;
      }
      // Commit up to the last pair in the first half of the window (it had context on both
      // sides); pairs near the window's end may be artefacts of the cut.
      let last = -1;
      for (let p = 0; p < pa.length; p++) {
        if ((pa[p] < w / 2 || endA) && (pb[p] < w / 2 || endB)) last = p;
      }
      if (last < 0 && pa.length > 0 && w >= maxWindow) last = pa.length - 1;
      if (last >= 0) {
        commit(pa[last] + 1, pb[last] + 1, pa.slice(0, last + 1), pb.slice(0, last + 1));
        break;
      }
      if (w >= maxWindow) {
        // No common event within the largest window: report the window as missing/extra.
        commit(na, nb, [], []);
        break;
      }
    }
  }
  report.eventsA = A.seen;
  report.eventsB = B.seen;
  report.runsA = A.runs;
  report.runsB = B.runs;
  report.perKey = [byOp, ...byName.values()].flatMap((m) => [...m.values()]).sort((
    x,
    y,
  ) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  return report;
}

function zeroCounts(): Record<DivergenceClass, number> {
  return {
    missing: 0,
    extra: 0,
    reordered: 0,
    arguments: 0,
    units: 0,
    result: 0,
    trap: 0,
    state: 0,
    timing: 0,
    repeats: 0,
  };
}

/**
 * Parses a tolerance `key=value`: `time=1000ns` (ns/us/ms/s), `addr=0x1000`, `icount=500`.
 * Throws RangeError naming the problem.
 */
export function parseTolerance(spec: string): [keyof DiffTolerances, number] {
  const m = /^(time|addr|icount)=(.+)$/.exec(spec);
  if (!m) throw new RangeError(`bad tolerance "${spec}" (expected time=, addr= or icount=)`);
  const key = m[1] as keyof DiffTolerances;
  let text = m[2];
  let scale = 1;
  if (key === "time") {
    const u = /^(.*?)(ns|us|ms|s)?$/.exec(text)!;
    text = u[1];
    scale = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[u[2] ?? "ns"]!;
  }
  const v = /^0x[0-9a-f]+$/i.test(text)
    ? parseInt(text, 16)
    : /^\d+(\.\d+)?$/.test(text)
    ? Number(text)
    : NaN;
  if (!Number.isFinite(v)) throw new RangeError(`bad tolerance value in "${spec}"`);
  return [key, v * scale];
}

/** One side of {@link diffTraces}. */
export interface DiffSide {
  header: TraceHeader;
  footer: TraceFooter | null;
  truncation: TraceTruncation | null;
}

/**
 * Diffs two trace files (or in-memory traces), streaming both. From the headers: unit factors,
 * TSC rates, and the default tolerances ({@link defaultTolerances}: 1 ms of virtual time when
 * the backends differ); `options` override them (`tolerances` key by key). Throws
 * {@link TraceFormatError} if either trace is corrupt.
 *
 * @example
 * ```ts
 * import { diffTraces } from "./diff.ts";
 * import { encodeTrace } from "./writer.ts";
 * import type { TraceHeader } from "./header.ts";
 * const header: TraceHeader = {
 *   toolVersion: "0.1.0",
 *   guest: { name: "hello", sha256: "0".repeat(64), cmdline: "" },
 *   backend: { name: "native", profile: "pc" },
 *   machine: { memMiB: 32, ips: 1e8, tscHz: 1e8, apicHz: 1e8, epoch: 0, serialInput: "" },
 *   cpu: { cpuid: [] },
 *   seed: 0,
 *   quirks: [],
 * };
 * const t = encodeTrace(header, [], { finalDigest: "00" });
 * console.assert(diffTraces(t, t).report.same);
 * ```
 */
export function diffTraces(
  a: string | Uint8Array,
  b: string | Uint8Array,
  options: DiffOptions = {},
): { report: DiffReport; a: DiffSide; b: DiffSide } {
  const open = (s: string | Uint8Array) =>
    typeof s === "string" ? TraceReader.open(s) : TraceReader.fromBytes(s);
  const ra = open(a);
  let rb: TraceReader;
  try {
    rb = open(b);
  } catch (e) {
    ra.close();
    throw e;
  }
  try {
    const report = diffStreams(ra.events(), rb.events(), {
      units: unitFactors(ra.header, rb.header),
      truncated: { a: !ra.hasFooter(), b: !rb.hasFooter() },
      tscHz: { a: ra.header.machine.tscHz, b: rb.header.machine.tscHz },
      ...options,
      tolerances: { ...defaultTolerances(ra.header, rb.header), ...options.tolerances },
    });
    const side = (r: TraceReader): DiffSide => ({
      header: r.header,
      footer: r.footer,
      truncation: r.truncation,
    });
    return { report, a: side(ra), b: side(rb) };
  } finally {
    ra.close();
    rb.close();
  }
}
