/**
 * Streaming diff of two event streams, aligned on canonical operations (`op`) plus the
 * paravirtual events no op describes (hypercalls, markers), or on every event keyed by
 * `kind:name` with `allEvents`. Consecutive events with the same key and equal non-time-valued
 * fields are collapsed into **runs** (a polling loop is one run), so loops that iterate a
 * different number of times differ by a repeat count, not by thousands of events. Equal runs are
 * consumed by a fast path without any alignment structure; at a mismatch both streams are
 * buffered up to a window of runs, aligned patience-style (unique keys as anchors, longest
 * increasing subsequence) with Myers' O(ND) diff between anchors, and every divergence is
 * classified (see {@link TraceDivergenceClass} and `docs/trace-format.md` §9). Time-valued fields
 * (TSC, ns, wall clock, timer deadlines) are compared in nanoseconds within the `time`
 * tolerance, which defaults to 1 ms between traces of different backends
 * ({@link defaultTolerances}). Memory is bounded by the window, not by trace length.
 *
 * @module
 */

import type { TraceDivergenceClass } from "../../vocabulary/divergence.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";
import type { TraceHeader } from "../format/header.ts";
import {
  type CollapsedEvents,
  type TraceFooter,
  TraceReader,
  type TraceTruncation,
} from "../format/reader.ts";
import { alignWindow } from "./diff_align.ts";
import {
  Comparator,
  defaultArgKind,
  defaultResultKind,
  isTrap,
  keyOf,
  Kinds,
  unitFactors,
} from "./diff_classify.ts";
import { Ring, type Run, RunLookahead } from "./diff_runs.ts";
import {
  defaultTolerances,
  type DiffOptions,
  type DiffReport,
  type DiffTolerances,
  type Divergence,
  type KeySummary,
} from "./diff_types.ts";

/** One step of an aligned segment (indices are runs in the window). */
interface Slot {
  ia: number;
  ib: number;
  /** Gap number: unmatched runs between the same two pairs share it. */
  gap: number;
  /** Set when a reordered/trap pairing consumed this slot into another. */
  done: boolean;
  partner: Slot | null;
  cls: TraceDivergenceClass | null;
}

const INITIAL_WINDOW = 32;

/**
 * Diffs two event streams (each consumed once, in order).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { diffStreams } from "./diff.ts";
 * import { makeEvent } from "../../vocabulary/event.ts";
 * const ev = (seq: number, op: string, x: number) => ({
 *   seq, ...makeEvent({ icount: seq, kind: "exit", name: "x", eip: 0, op, opArgs: [x] }),
 * });
 * const r = diffStreams([ev(0, "irq_enable", 0), ev(1, "write_cr3", 5)],
 *   [ev(0, "irq_enable", 0), ev(1, "write_cr3", 6)]);
 * assert.ok(!r.same);
 * assert.equal(r.first?.divergence.class, "arguments");
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
    cls: TraceDivergenceClass,
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

function zeroCounts(): Record<TraceDivergenceClass, number> {
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

/** One side of {@link diffTraces}. */
export interface DiffSide {
  header: TraceHeader;
  footer: TraceFooter | null;
  truncation: TraceTruncation | null;
}

/** Events between two progress reports of {@link diffTraces}. */
const PROGRESS_EVERY = 1 << 16;

/** The progress callback of {@link diffTraces}. */
export interface DiffProgressOption {
  /**
   * Called every 65536 events read (both traces together) and once at the end with the events
   * read and the total both footers state (0 when either trace has no footer).
   */
  onProgress?: (eventsRead: number, total: number) => void;
}

/**
 * Diffs two trace files (or in-memory traces), streaming both. From the headers: unit factors,
 * TSC rates, and the default tolerances ({@link defaultTolerances}: 1 ms of virtual time when
 * the backends differ); `options` override them (`tolerances` key by key). Throws
 * {@link TraceFormatError} if either trace is corrupt.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { diffTraces } from "./diff.ts";
 * import { encodeTrace } from "../format/writer.ts";
 * import type { TraceHeader } from "../format/header.ts";
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
 * assert.ok(diffTraces(t, t).report.same);
 * ```
 */
export function diffTraces(
  a: string | Uint8Array,
  b: string | Uint8Array,
  options: DiffOptions & DiffProgressOption = {},
): { report: DiffReport; a: DiffSide; b: DiffSide } {
  // Events read from both sides, reported every PROGRESS_EVERY (a progress line for big traces).
  let read = 0, total = 0;
  const { onProgress, ...diffOptions } = options;
  // Repeat records stay collapsed (RunLookahead takes a polling loop as one run, allocating
  // nothing per copy); progress counts the copies too.
  const counted = (it: CollapsedEvents): CollapsedEvents => {
    if (onProgress === undefined) return it;
    const wrapped: CollapsedEvents = {
      next() {
        const r = it.next();
        wrapped.repeats = it.repeats;
        wrapped.step = it.step;
        if (!r.done) {
          const before = read;
          read += 1 + it.repeats;
          if (Math.floor(read / PROGRESS_EVERY) > Math.floor(before / PROGRESS_EVERY)) {
            onProgress(read, total);
          }
        }
        return r;
      },
      repeats: 0,
      step: 0,
      [Symbol.iterator]: () => wrapped,
    };
    return wrapped;
  };
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
    const na = ra.footerEventCount(), nb = rb.footerEventCount();
    total = na !== null && nb !== null ? na + nb : 0;
    const report = diffStreams(counted(ra.collapsedEvents()), counted(rb.collapsedEvents()), {
      units: unitFactors(ra.header, rb.header),
      truncated: { a: !ra.hasFooter(), b: !rb.hasFooter() },
      tscHz: { a: ra.header.machine.tscHz, b: rb.header.machine.tscHz },
      ...diffOptions,
      tolerances: { ...defaultTolerances(ra.header, rb.header), ...diffOptions.tolerances },
    });
    onProgress?.(read, total);
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

export {
  type ArgKind,
  CROSS_BACKEND_TIME_TOLERANCE_NS,
  defaultTolerances,
  type DiffOptions,
  type DiffReport,
  type DiffTolerances,
  type Divergence,
  type DivergenceContext,
  type KeySummary,
  parseTolerance,
  type ResultKind,
  type UnitFactor,
} from "./diff_types.ts";
export { defaultArgKind, defaultResultKind, unitFactors } from "./diff_classify.ts";
