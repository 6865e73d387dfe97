/**
 * Classification half of the trace diff: which fields of an operation are time-valued, addresses
 * or plain values, and how two aligned events (or runs) differ, as a {@link TraceDivergenceClass}.
 * The alignment itself is in diff_align.ts.
 *
 * @module
 */

import { CANONICAL_OPS } from "../../vocabulary/canonical_ops.ts";
import type { TraceDivergenceClass } from "../../vocabulary/divergence.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";
import type { TraceHeader } from "../format/header.ts";
import type { ArgKind, DiffTolerances, ResultKind, UnitFactor } from "./diff_types.ts";

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
 * import assert from "node:assert/strict";
 * import { defaultArgKind } from "./diff.ts";
 * assert.equal(defaultArgKind("set_timer", 0), "plain"); // mode
 * assert.equal(defaultArgKind("set_timer", 1), "time"); // delta ns
 * assert.equal(defaultArgKind("read_tsc", 1), "tsc");
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
 * import assert from "node:assert/strict";
 * import { defaultResultKind } from "./diff.ts";
 * assert.equal(defaultResultKind("read_tsc"), "tsc");
 * assert.equal(defaultResultKind("read_msr"), "plain");
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

export function keyOf(ev: TraceEvent): string {
  return ev.op ?? ev.kind + ":" + ev.name;
}

export function isTrap(ev: TraceEvent): boolean {
  return ev.kind === "exception" || ev.kind === "interrupt";
}

/** Events aligned by default besides those with an op: the paravirtual interface itself. */
export function alignedByDefault(ev: TraceEvent): boolean {
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
export class Kinds {
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

interface Comparison {
  cls: TraceDivergenceClass;
  fields: string[];
  note: string | null;
}

const TWO32 = 4294967296;

/** A TSC value (lo, hi ticks) in ns at `hz`. */
function tscNs(lo: number, hi: number, hz: number): number {
  return ((hi >>> 0) * TWO32 + (lo >>> 0)) * 1e9 / hz;
}

/** Compares aligned events (same key) field by field; null when equal within tolerances. */
export class Comparator {
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
    let cls: TraceDivergenceClass | null = null;
    const notes: string[] = [];
    const add = (c: TraceDivergenceClass, f: string) => {
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
   * reading with a zero ns part comes from a whole-second clock (the CMOS RTC, docs/abi/native.md §3.6) and
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

const RANK: Record<TraceDivergenceClass, number> = {
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
function rank(c: TraceDivergenceClass): number {
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
