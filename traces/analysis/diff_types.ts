/**
 * The diff's vocabulary: tolerances, options, the divergence record and the report. Shared by the
 * driver (diff.ts), the classification (diff_classify.ts) and the formatters (diff_format.ts).
 *
 * @module
 */

import type { TraceDivergenceClass } from "../../vocabulary/divergence.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";
import type { TraceHeader } from "../format/header.ts";

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
 * import assert from "node:assert/strict";
 * import { defaultTolerances } from "./diff.ts";
 * import type { TraceHeader } from "../format/header.ts";
 * const h = (name: string) => ({ backend: { name, profile: "x" } }) as TraceHeader;
 * assert.equal(defaultTolerances(h("native"), h("kvm")).time, 1_000_000);
 * assert.equal(defaultTolerances(h("kvm"), h("kvm")).time, 0);
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

/** Options of `diffStreams` (diff.ts). */
export interface DiffOptions {
  /** Also align events without `op`, keyed by `kind:name` (default false). */
  allEvents?: boolean;
  /** Runs of context around the first divergence (default 3). */
  context?: number;
  /** Largest alignment window in runs per side (default 4096). */
  window?: number;
  /** Default: exact (`time` 0, `addr` 0), icount ignored; see {@link defaultTolerances}. */
  tolerances?: Partial<DiffTolerances>;
  /** Classifies canonical argument `index` of `op` (default `defaultArgKind`, diff_classify.ts). */
  argKind?: (op: string, index: number) => ArgKind;
  /** Classifies the `ret` of events with `op` (default `defaultResultKind`). */
  resultKind?: (op: string) => ResultKind;
  /** TSC rate of each side, to convert `tsc` values to ns (default 1 GHz: 1 tick = 1 ns). */
  tscHz?: { a: number; b: number };
  /** Repeat-count differences make the traces different (default false: reported only). */
  exactRepeats?: boolean;
  /** Unit factors tried when arguments differ (default `unitFactors` of no header). */
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
  class: TraceDivergenceClass;
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
  counts: Record<TraceDivergenceClass, number>;
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
  totals: Record<TraceDivergenceClass, number>;
  /** Sorted by key. */
  perKey: KeySummary[];
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
