/**
 * Streaming diff of two event streams, aligned on canonical operations (`op`), or on every
 * event keyed by `kind:name` with `allEvents`. Equal events are consumed by a fast path without
 * any alignment structure; at a mismatch both streams are buffered up to a window, aligned
 * patience-style (unique keys as anchors, longest increasing subsequence) with Myers' O(ND)
 * diff between anchors, and every divergence is classified (see {@link DivergenceClass} and
 * `docs/trace-format.md` §9). Memory is bounded by the window, not by trace length.
 *
 * @module
 */

import type { TraceEvent } from "./event.ts";
import type { TraceHeader } from "./header.ts";
import { type TraceFooter, TraceReader, type TraceTruncation } from "./reader.ts";

/**
 * How two streams differ at one point:
 * - `missing`: an event of A has no counterpart in B; `extra`: the reverse;
 * - `reordered`: the same operation occurs in both but at a different place;
 * - `arguments`: same operation, different canonical arguments (raw args with `allEvents`);
 * - `units`: arguments differ by a known unit factor (ns vs TSC ticks, instructions, ...);
 * - `result`: the return value differs (only when both sides have one);
 * - `trap`: different exception/interrupt vector, error code or CR2 (or a trap replaced by
 *   another trap at the same place);
 * - `state`: the architectural state effects differ;
 * - `timing`: icount differs beyond the `icount` tolerance (only when one is given).
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
  | "timing";

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
];

/** Per-field tolerances (absolute). */
export interface DiffTolerances {
  /** Nanoseconds, for time-valued canonical arguments and the TIMER state. */
  time: number;
  /** Bytes, for address-valued canonical arguments, CR2 and CR2/CR3 state. */
  addr: number;
  /** Instructions; `Infinity` (the default) ignores icount. */
  icount: number;
}

/** A known unit factor: `b = a * factor` means B used a unit `factor` times finer. */
export interface UnitFactor {
  factor: number;
  label: string;
}

/** Kind of a canonical argument, for tolerances. */
export type ArgKind = "time" | "addr" | "plain";

/** Options of {@link diffStreams}. */
export interface DiffOptions {
  /** Also align events without `op`, keyed by `kind:name` (default false). */
  allEvents?: boolean;
  /** Events of context around the first divergence (default 3). */
  context?: number;
  /** Largest alignment window in events per side (default 4096). */
  window?: number;
  tolerances?: Partial<DiffTolerances>;
  /** Classifies canonical argument `index` of `op` (default {@link defaultArgKind}). */
  argKind?: (op: string, index: number) => ArgKind;
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
  a: TraceEvent | null;
  b: TraceEvent | null;
  /** Differing fields, e.g. `opArgs[0]`, `ret`, `state.IF`. */
  fields: string[];
  /** Extra explanation (the unit factor found, ...). */
  note: string | null;
}

/** Per-key summary. */
export interface KeySummary {
  key: string;
  /** Pairs aligned and equal within tolerances. */
  same: number;
  counts: Record<DivergenceClass, number>;
}

/** Result of a diff. */
export interface DiffReport {
  same: boolean;
  /** Events considered on each side (after the op/all-events filter). */
  eventsA: number;
  eventsB: number;
  /** Aligned pairs found equal. */
  matched: number;
  /** Events left after a truncated other side ended (see `DiffOptions.truncated`). */
  uncomparedA: number;
  uncomparedB: number;
  first: {
    divergence: Divergence;
    /** Up to `context` events before / after the divergent point on each side. */
    beforeA: TraceEvent[];
    beforeB: TraceEvent[];
    afterA: TraceEvent[];
    afterB: TraceEvent[];
  } | null;
  /** The first `maxDivergences` divergences in stream order. */
  divergences: Divergence[];
  totals: Record<DivergenceClass, number>;
  /** Sorted by key. */
  perKey: KeySummary[];
}

/**
 * Default argument classification, by op name (heuristic, documented in
 * `docs/trace-format.md` §9.3): timer/clock/tsc/delay ops carry nanoseconds; page-table, CR2/CR3,
 * TLB, descriptor-table and mm ops carry addresses or frames. Override with `argKind`.
 */
export function defaultArgKind(op: string, _index: number): ArgKind {
  if (/timer|clock|tsc|delay|time/.test(op)) return "time";
  if (/pte|pmd|pgd|cr2|cr3|tlb|_pt$|_pt_|page|mm|gdt|idt|ldt|esp0/.test(op)) return "addr";
  return "plain";
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

/** Buffered, filtered view of an event stream (the alignment window lives here). */
class Lookahead {
  #it: Iterator<TraceEvent>;
  #all: boolean;
  #buf: TraceEvent[] = [];
  #head = 0;
  #done = false;
  /** Events accepted by the filter so far. */
  seen = 0;
  constructor(events: Iterable<TraceEvent>, all: boolean) {
    this.#it = events[Symbol.iterator]();
    this.#all = all;
  }
  /** The i-th pending event, or undefined past the end of the stream. */
  peek(i: number): TraceEvent | undefined {
    const want = this.#head + i;
    while (want >= this.#buf.length) {
      if (this.#done) return undefined;
      const r = this.#it.next();
      if (r.done) {
        this.#done = true;
        return undefined;
      }
      if (this.#all || r.value.op !== null) {
        this.#buf.push(r.value);
        this.seen++;
      }
    }
    return this.#buf[want];
  }
  shift(n: number): void {
    this.#head += n;
    if (this.#head >= 4096 && this.#head * 2 >= this.#buf.length) {
      this.#buf = this.#buf.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** Circular history of the last events (context before the first divergence). */
class Ring {
  #items: TraceEvent[] = [];
  #next = 0;
  constructor(readonly size: number) {}
  push(ev: TraceEvent): void {
    if (this.size === 0) return;
    if (this.#items.length < this.size) this.#items.push(ev);
    else this.#items[this.#next] = ev;
    this.#next = (this.#next + 1) % this.size;
  }
  /** Oldest first. */
  items(): TraceEvent[] {
    if (this.#items.length < this.size) return [...this.#items];
    return [...this.#items.slice(this.#next), ...this.#items.slice(0, this.#next)];
  }
}

function keyOf(ev: TraceEvent): string {
  return ev.op ?? ev.kind + ":" + ev.name;
}

function isTrap(ev: TraceEvent): boolean {
  return ev.kind === "exception" || ev.kind === "interrupt";
}

interface Comparison {
  cls: DivergenceClass;
  fields: string[];
  note: string | null;
}

/** Compares aligned events (same key) field by field; null when equal within tolerances. */
class Comparator {
  constructor(
    readonly tol: DiffTolerances,
    readonly argKind: (op: string, index: number) => ArgKind,
    readonly units: UnitFactor[],
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
    let note: string | null = null;
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
    if (a.ret !== null && b.ret !== null && (a.ret >>> 0) !== (b.ret >>> 0)) add("result", "ret");
    if (a.op !== null) {
      const r = this.#args(a.op, a.opArgs, b.opArgs);
      if (r !== null) {
        for (const f of r.fields) add(r.units ? "units" : "arguments", f);
        note = r.units;
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
      for (const f of this.#state(a.state, b.state)) add("state", f);
    }
    if (this.tol.icount !== Infinity && Math.abs(a.icount - b.icount) > this.tol.icount) {
      add("timing", "icount");
    }
    return cls === null ? null : { cls, fields: fields!, note };
  }

  /** Differing canonical args, and the unit factor explaining all of them if there is one. */
  #args(op: string, a: number[], b: number[]): { fields: string[]; units: string | null } | null {
    if (a.length !== b.length) return { fields: ["opArgs.length"], units: null };
    let diff: number[] | null = null;
    for (let i = 0; i < a.length; i++) {
      if (a[i] === b[i]) continue;
      const kind = this.argKind(op, i);
      const t = kind === "time" ? this.tol.time : kind === "addr" ? this.tol.addr : 0;
      if (Math.abs(a[i] - b[i]) > t) (diff ??= []).push(i);
    }
    if (diff === null) return null;
    const fields = diff.map((i) => `opArgs[${i}]`);
    for (const u of this.units) {
      const fits = (x: number, y: number) =>
        x !== 0 && Math.abs(y - x * u.factor) <= Math.max(1, Math.abs(x * u.factor) * 1e-3);
      if (diff.every((i) => fits(a[i], b[i]))) {
        return { fields, units: `B = A x ${u.factor} (${u.label})` };
      }
      if (diff.every((i) => fits(b[i], a[i]))) {
        return { fields, units: `A = B x ${u.factor} (${u.label})` };
      }
    }
    return { fields, units: null };
  }

  #state(a: Array<[string, number]>, b: Array<[string, number]>): string[] {
    const out: string[] = [];
    const ma = new Map(a), mb = new Map(b);
    for (const k of [...new Set([...ma.keys(), ...mb.keys()])]) {
      const x = ma.get(k), y = mb.get(k);
      if (x === undefined || y === undefined) {
        out.push(`state.${k}`);
        continue;
      }
      const t = k === "TIMER" ? this.tol.time : k === "CR2" || k === "CR3" ? this.tol.addr : 0;
      if (Math.abs(x - y) > t) out.push(`state.${k}`);
    }
    return out;
  }
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

/** Identity of an event for alignment: its key plus every field the comparator looks at. */
function signature(e: TraceEvent): string {
  let s = keyOf(e) + "\0" + e.vector + "," + e.errorCode + "," + e.cr2 + "," +
    (e.ret === null ? "" : e.ret >>> 0) + ":";
  if (e.op !== null) s += e.opArgs.join(",");
  else {
    s += e.nr >>> 0;
    for (let i = 0; i < e.args.length; i++) s += "," + (e.args[i] >>> 0);
  }
  for (let i = 0; i < e.state.length; i++) s += ";" + e.state[i][0] + "=" + e.state[i][1];
  return s;
}

/**
 * Aligns the first `na`/`nb` buffered events: first on exact signatures (so that among several
 * events with the same key the identical ones pair up), then, inside each gap left, on keys
 * alone (same operation with different arguments, result or state).
 */
function alignWindow(
  A: Lookahead,
  na: number,
  B: Lookahead,
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
  const fill = (L: Lookahead, n: number, sig: Int32Array, key: Int32Array) => {
    for (let i = 0; i < n; i++) {
      const e = L.peek(i)!;
      const s = signature(e), k = keyOf(e);
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

/** One step of an aligned segment. */
interface Slot {
  ia: number;
  ib: number;
  /** Gap number: unmatched events between the same two pairs share it. */
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
  const cmp = new Comparator(
    { time: 0, addr: 0, icount: Infinity, ...options.tolerances },
    options.argKind ?? defaultArgKind,
    options.units ?? unitFactors(),
  );
  const A = new Lookahead(streamA, all), B = new Lookahead(streamB, all);
  const ringA = new Ring(ctx), ringB = new Ring(ctx);
  const report: DiffReport = {
    same: true,
    eventsA: 0,
    eventsB: 0,
    matched: 0,
    uncomparedA: 0,
    uncomparedB: 0,
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
    report.same = false;
    report.totals[d.class]++;
    summaryOf((d.a ?? d.b)!).counts[d.class]++;
    if (report.divergences.length < maxKept) report.divergences.push(d);
    if (report.first === null) {
      const after = (L: Lookahead, from: number) => {
        const out: TraceEvent[] = [];
        for (let i = from; i < from + ctx; i++) {
          const e = L.peek(i);
          if (e === undefined) break;
          out.push(e);
        }
        return out;
      };
      report.first = {
        divergence: d,
        beforeA: ringA.items(),
        beforeB: ringB.items(),
        afterA: after(A, nextA),
        afterB: after(B, nextB),
      };
    }
  };

  // Emits the first `na`/`nb` buffered events as aligned by pairs (pa[i], pb[i]).
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
    // Within a gap, a trap replaced by another trap is one `trap` divergence.
    const pend: Slot[] = [];
    for (const s of slots) {
      if (s.ia >= 0 && s.ib >= 0) continue;
      const ev = s.ia >= 0 ? A.peek(s.ia)! : B.peek(s.ib)!;
      if (!isTrap(ev)) continue;
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
      const key = keyOf(s.ia >= 0 ? A.peek(s.ia)! : B.peek(s.ib)!);
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
      const ea = s.ia >= 0 ? A.peek(s.ia)! : null;
      const eb = s.ib >= 0 ? B.peek(s.ib)! : null;
      if (ea && eb) {
        const c = cmp.compare(ea, eb);
        if (c === null) {
          report.matched++;
          summaryOf(ea).same++;
        } else {
          const d = { class: c.cls, key: keyOf(ea), a: ea, b: eb, fields: c.fields, note: c.note };
          diverge(d, s.ia + 1, s.ib + 1);
        }
      } else if (s.partner !== null) {
        const p = s.partner;
        const pa = ea ?? A.peek(p.ia)!, pb = eb ?? B.peek(p.ib)!;
        const fields = s.cls === "trap" ? ["vector"] : ["position"];
        const note = s.cls === "reordered" ? `A seq ${pa.seq} vs B seq ${pb.seq}` : null;
        diverge(
          { class: s.cls!, key: keyOf(pa), a: pa, b: pb, fields, note },
          ea ? s.ia + 1 : doneA,
          eb ? s.ib + 1 : doneB,
        );
      } else if (ea) {
        diverge(
          { class: "missing", key: keyOf(ea), a: ea, b: null, fields: [], note: null },
          s.ia + 1,
          doneB,
        );
      } else {
        diverge(
          { class: "extra", key: keyOf(eb!), a: null, b: eb, fields: [], note: null },
          doneA,
          s.ib + 1,
        );
      }
      if (ea) {
        doneA = s.ia + 1;
        if (report.first === null) ringA.push(ea);
      }
      if (eb) {
        doneB = s.ib + 1;
        if (report.first === null) ringB.push(eb);
      }
    }
    A.shift(na);
    B.shift(nb);
  };

  const truncA = options.truncated?.a ?? false, truncB = options.truncated?.b ?? false;
  while (true) {
    const ea = A.peek(0), eb = B.peek(0);
    if (ea === undefined && eb === undefined) break;
    if ((ea === undefined && truncA) || (eb === undefined && truncB)) {
      const rest = ea === undefined ? B : A;
      let n = 0;
      while (rest.peek(0) !== undefined) {
        rest.shift(1);
        n++;
      }
      if (ea === undefined) report.uncomparedB = n;
      else report.uncomparedA = n;
      break;
    }
    if (ea !== undefined && eb !== undefined) {
      const sameKey = ea.op !== null || eb.op !== null
        ? ea.op === eb.op
        : ea.kind === eb.kind && ea.name === eb.name;
      if (sameKey && cmp.compare(ea, eb) === null) {
        report.matched++;
        summaryOf(ea).same++;
        if (report.first === null) {
          ringA.push(ea);
          ringB.push(eb);
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
      alignWindow(A, na, B, nb, pa, pb);
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
 * Diffs two trace files (or in-memory traces), streaming both. Unit factors default to those of
 * both headers. Throws {@link TraceFormatError} if either trace is corrupt.
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
      ...options,
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
