/**
 * Trace inspection: event selection (seq range, field filters), human-readable event and header
 * formatting, and per-call / per-trap statistics in the manner of xenalyze or `perf kvm stat`
 * (count, share, instruction-count gaps between consecutive events of the same name).
 *
 * @module
 */

import { EVENT_KIND_NAMES, type TraceEvent } from "../../vocabulary/event.ts";
import type { TraceHeader } from "../format/header.ts";
import type { Symbolizer } from "./symbols.ts";

/** Inclusive seq range; either end may be open. */
export interface SeqRange {
  from: number;
  to: number;
}

/**
 * Parses `A..B`, `A..`, `..B` (inclusive seq numbers, decimal or 0x-hex).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRange } from "./inspect.ts";
 * assert.equal(parseRange("10..").to, Infinity);
 * ```
 */
export function parseRange(spec: string): SeqRange {
  const m = /^(\w*)\.\.(\w*)$/.exec(spec);
  const num = (s: string, dflt: number) => (s === "" ? dflt : parseNumber(s));
  const r = m ? { from: num(m[1], 0), to: num(m[2], Infinity) } : null;
  if (r === null || Number.isNaN(r.from) || Number.isNaN(r.to) || r.from > r.to) {
    throw new RangeError(`bad range "${spec}" (expected A..B, A.. or ..B with A <= B)`);
  }
  return r;
}

function parseNumber(s: string): number {
  if (/^-?\d+$/.test(s)) return Number(s);
  if (/^0x[0-9a-f]+$/i.test(s)) return parseInt(s, 16);
  return NaN;
}

const FILTER_KEYS = ["kind", "name", "op", "nr", "vector", "vcpu"] as const;
type FilterKey = typeof FILTER_KEYS[number];

/** Field filter: values of one key are alternatives, different keys must all match. */
export type EventFilter = Map<FilterKey, Set<string | number>>;

/**
 * Parses filter specs (`kind=exit,name=CR_WRITE`, `op=write_cr3`, `nr=0x3f8`, `vector=14`,
 * `vcpu=0`), accumulating into `into`. Throws RangeError naming a bad term.
 */
export function parseFilter(spec: string, into: EventFilter = new Map()): EventFilter {
  for (const term of spec.split(",")) {
    const m = /^(\w+)=(.*)$/.exec(term);
    const key = m?.[1] as FilterKey;
    if (!m || !FILTER_KEYS.includes(key)) {
      throw new RangeError(`bad filter "${term}" (keys: ${FILTER_KEYS.join(", ")})`);
    }
    let value: string | number = m[2];
    if (key === "kind" && !(EVENT_KIND_NAMES as readonly string[]).includes(value)) {
      throw new RangeError(`bad filter "${term}": kinds are ${EVENT_KIND_NAMES.join(", ")}`);
    }
    if (key === "nr" || key === "vector" || key === "vcpu") {
      value = parseNumber(value);
      if (Number.isNaN(value)) throw new RangeError(`bad filter "${term}": not a number`);
    }
    let set = into.get(key);
    if (set === undefined) into.set(key, set = new Set());
    set.add(value);
  }
  return into;
}

/** True when `ev` passes range and filter. */
export function selects(ev: TraceEvent, range: SeqRange | null, filter: EventFilter): boolean {
  if (range !== null && (ev.seq < range.from || ev.seq > range.to)) return false;
  for (const [key, values] of filter) {
    const v = key === "nr" ? ev.nr >>> 0 : ev[key];
    if (!values.has(v ?? "")) return false;
  }
  return true;
}

function hex(v: number): string {
  return "0x" + (v >>> 0).toString(16);
}

/** Column titles of {@link formatEvent}. */
export const EVENT_TABLE_HEAD =
  "     seq        icount cpu kind      nr         name                 " +
  "eip         details";

/**
 * One event as a fixed-width table row (no trailing newline).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatEvent } from "./inspect.ts";
 * import { makeEvent } from "../../vocabulary/event.ts";
 * const row = formatEvent({ seq: 3, ...makeEvent({ icount: 9, kind: "exit", name: "hlt", eip: 16 }) });
 * assert.ok(row.includes("hlt"));
 * ```
 */
export function formatEvent(ev: TraceEvent, symbolize?: Symbolizer): string {
  const parts: string[] = [];
  if (ev.args.length) parts.push(`args=[${ev.args.map(hex).join(",")}]`);
  if (ev.ret !== null) parts.push(`ret=${hex(ev.ret)}`);
  if (ev.vector !== null) parts.push(`vec=${ev.vector}`);
  if (ev.errorCode !== null) parts.push(`err=${hex(ev.errorCode)}`);
  if (ev.cr2 !== null) parts.push(`cr2=${hex(ev.cr2)}`);
  if (ev.op !== null) parts.push(`op=${ev.op}(${ev.opArgs.join(",")})`);
  if (ev.state.length) parts.push(`state{${ev.state.map(([k, v]) => `${k}=${hex(v)}`).join(",")}}`);
  const sym = symbolize?.(ev.eip);
  const eip = hex(ev.eip).padEnd(11) + (sym ? ` <${sym}>` : "");
  return `${String(ev.seq).padStart(8)} ${String(ev.icount).padStart(13)} ${
    String(ev.vcpu).padStart(3)
  } ` +
    `${ev.kind.padEnd(9)} ${(ev.nr === -1 ? "-" : hex(ev.nr)).padEnd(10)} ${ev.name.padEnd(20)} ` +
    `${eip} ${parts.join(" ")}`.trimEnd();
}

/** The header as `key: value` lines. */
export function formatHeader(h: TraceHeader, formatVersion: string): string {
  const m = h.machine;
  const lines = [
    `format:    ${formatVersion}`,
    `tool:      pvreplay ${h.toolVersion}`,
    `guest:     ${h.guest.name} sha256=${h.guest.sha256}`,
    `cmdline:   ${JSON.stringify(h.guest.cmdline)}`,
    `backend:   ${h.backend.name} ${h.backend.profile}`,
    `machine:   ${m.memMiB} MiB, ${m.ips} insn/s, TSC ${m.tscHz} Hz, APIC ${m.apicHz} Hz, ` +
    `epoch ${m.epoch}`,
    `serial in: ${m.serialInput.length / 2} bytes`,
    `seed:      ${h.seed}`,
    `quirks:    ${h.quirks.length ? h.quirks.join(" ") : "(none)"}`,
    `budget:    ${h.run ? `${h.run.maxInsns} instructions` : "(not recorded)"}`,
    `cpuid:     ${h.cpu.cpuid.length} leaves`,
    ...h.cpu.cpuid.map((l) =>
      `  ${hex(l.leaf)}/${l.subleaf}: ${[l.eax, l.ebx, l.ecx, l.edx].map(hex).join(" ")}`
    ),
  ];
  return lines.join("\n");
}

/** Statistics of one row (a `kind:name` or an op). */
export interface StatRow {
  key: string;
  count: number;
  /** Percentage of all selected events. */
  share: number;
  /** Instruction-count gaps between consecutive events of this row (null if < 2 events). */
  gapMin: number | null;
  gapMean: number | null;
  gapMax: number | null;
}

/** Statistics of a trace. */
export interface TraceStats {
  events: number;
  firstIcount: number | null;
  lastIcount: number | null;
  /** Per `kind:name` (calls, exits, traps, I/O), by descending count then key. */
  byName: StatRow[];
  /** Per canonical op. */
  byOp: StatRow[];
}

class Acc {
  count = 0;
  last = -1;
  gaps = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  constructor(readonly key: string) {}
  add(icount: number): void {
    if (this.last >= 0) {
      const g = icount - this.last;
      this.gaps++;
      this.sum += g;
      if (g < this.min) this.min = g;
      if (g > this.max) this.max = g;
    }
    this.last = icount;
    this.count++;
  }
  row(total: number): StatRow {
    const some = this.gaps > 0;
    return {
      key: this.key,
      count: this.count,
      share: total ? (100 * this.count) / total : 0,
      gapMin: some ? this.min : null,
      gapMean: some ? this.sum / this.gaps : null,
      gapMax: some ? this.max : null,
    };
  }
}

/**
 * Accumulates {@link TraceStats} in memory bounded by the number of distinct names and ops.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StatsCollector } from "./inspect.ts";
 * import { makeEvent } from "../../vocabulary/event.ts";
 * const s = new StatsCollector();
 * for (const icount of [10, 30, 70]) s.add({ seq: 0, ...makeEvent({ icount, kind: "io", name: "out", eip: 0 }) });
 * assert.equal(s.result().byName[0].gapMean, 30);
 * ```
 */
export class StatsCollector {
  #events = 0;
  #first: number | null = null;
  #last: number | null = null;
  #byKind = new Map<string, Map<string, Acc>>();
  #byOp = new Map<string, Acc>();

  add(ev: TraceEvent): void {
    this.#events++;
    this.#first ??= ev.icount;
    this.#last = ev.icount;
    let names = this.#byKind.get(ev.kind);
    if (names === undefined) this.#byKind.set(ev.kind, names = new Map());
    let a = names.get(ev.name);
    if (a === undefined) names.set(ev.name, a = new Acc(`${ev.kind}:${ev.name}`));
    a.add(ev.icount);
    if (ev.op !== null) {
      let o = this.#byOp.get(ev.op);
      if (o === undefined) this.#byOp.set(ev.op, o = new Acc(ev.op));
      o.add(ev.icount);
    }
  }

  result(): TraceStats {
    const n = this.#events;
    const sort = (rows: StatRow[]) =>
      rows.sort((x, y) => y.count - x.count || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    return {
      events: n,
      firstIcount: this.#first,
      lastIcount: this.#last,
      byName: sort([...this.#byKind.values()].flatMap((m) => [...m.values()].map((a) => a.row(n)))),
      byOp: sort([...this.#byOp.values()].map((a) => a.row(n))),
    };
  }
}

function num(v: number | null, digits = 0): string {
  return v === null ? "-" : v.toFixed(digits);
}

/**
 * Formats statistics as tables; with several traces, side by side (rows are the union of
 * keys, ordered by the first trace's counts).
 */
export function formatStats(stats: TraceStats[], labels: string[]): string {
  const out: string[] = [];
  const span = (s: TraceStats) =>
    s.firstIcount === null ? "-" : `${s.firstIcount}..${s.lastIcount}`;
  out.push(
    labels.map((l, i) => `${l}: ${stats[i].events} events, icount ${span(stats[i])}`).join("\n"),
  );
  for (const [title, pick] of [["call / trap", "byName"], ["canonical op", "byOp"]] as const) {
    const keys: string[] = [];
    const seen = new Set<string>();
    for (const s of stats) {
      for (const r of s[pick]) if (!seen.has(r.key)) seen.add(r.key), keys.push(r.key);
    }
    if (keys.length === 0) continue;
    const w = Math.max(title.length, ...keys.map((k) => k.length));
    const cols = "   count  share%  gap min     gap mean   gap max";
    out.push("");
    out.push(
      title.padEnd(w) +
        stats.map((_, i) => ` | ${labels[i].slice(0, cols.length - 3).padEnd(cols.length - 3)}`)
          .join(""),
    );
    out.push(" ".repeat(w) + stats.map(() => ` |${cols}`).join(""));
    for (const k of keys) {
      let line = k.padEnd(w);
      for (const s of stats) {
        const r = s[pick].find((x) => x.key === k);
        line += r
          ? ` | ${String(r.count).padStart(7)} ${r.share.toFixed(2).padStart(7)} ${
            num(r.gapMin).padStart(8)
          } ` +
            `${num(r.gapMean, 1).padStart(12)} ${num(r.gapMax).padStart(9)}`
          : ` | ${"0".padStart(7)} ${"0.00".padStart(7)} ${"-".padStart(8)} ${"-".padStart(12)} ${
            "-".padStart(9)
          }`;
      }
      out.push(line);
    }
  }
  return out.join("\n");
}
