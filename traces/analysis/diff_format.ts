/**
 * Renders a {@link DiffReport} as text, JSON (schema in `docs/trace-format.md` §9.5) or a
 * self-contained side-by-side HTML page.
 *
 * @module
 */

import type { TraceEvent } from "../../vocabulary/event.ts";
import type { DiffReport, DiffSide, Divergence } from "./diff.ts";
import { formatEvent } from "./inspect.ts";
import { eventToJson } from "../format/jsonl.ts";
import type { Symbolizer } from "./symbols.ts";
import { TRACE_DIVERGENCE_CLASSES } from "../../vocabulary/divergence.ts";

/** What the renderers need besides the report. */
export interface DiffContext {
  labelA: string;
  labelB: string;
  a: DiffSide;
  b: DiffSide;
  /** Names the code at an EIP of side A / side B (`--symbols`, or the guest ELF). */
  symbolizeA?: Symbolizer;
  symbolizeB?: Symbolizer;
  /** Divergences listed one per line after the first-divergence report (text; default 20). */
  list?: number;
}

function short(ev: TraceEvent | null, symbolize?: Symbolizer): string {
  if (ev === null) return "-";
  const sym = symbolize?.(ev.eip);
  const hex = (v: number) => `0x${(v >>> 0).toString(16)}`;
  const what = ev.op !== null
    ? `${ev.op}(${ev.opArgs.join(",")})`
    : `${ev.kind}:${ev.name}(${ev.args.map(hex).join(",")})` +
      (ev.ret === null ? "" : ` = ${hex(ev.ret)}`);
  return `seq ${ev.seq} icount ${ev.icount} eip 0x${(ev.eip >>> 0).toString(16)}` +
    `${sym ? ` <${sym}>` : ""} ${what}`;
}

function describe(d: Divergence): string {
  const runs = d.countA > 1 || d.countB > 1 ? ` x${d.countA}/x${d.countB}` : "";
  return `${d.class} ${d.key}${runs}${d.fields.length ? ` [${d.fields.join(", ")}]` : ""}` +
    `${d.note ? ` (${d.note})` : ""}`;
}

function side(label: string, s: DiffSide): string {
  const h = s.header;
  const end = s.truncation
    ? `TRUNCATED at byte ${s.truncation.byteOffset}: ${s.truncation.reason}`
    : "complete";
  return `${label}: ${h.backend.name} ${h.backend.profile}, guest ${h.guest.name}, ${end}`;
}

/** The tolerances applied, e.g. `time=1ms addr=0 icount=ignored`. */
export function formatTolerances(r: DiffReport): string {
  const t = r.tolerances;
  const time = t.time === 0
    ? "0"
    : t.time % 1e6 === 0
    ? `${t.time / 1e6}ms`
    : t.time % 1e3 === 0
    ? `${t.time / 1e3}us`
    : `${t.time}ns`;
  return `time=${time} addr=0x${t.addr.toString(16)} ` +
    `icount=${t.icount === Infinity ? "ignored" : t.icount}; repeat counts ` +
    (r.exactRepeats ? "exact" : "reported only");
}

function withRun(line: string, count: number): string {
  return count > 1 ? `${line}  x${count}` : line;
}

/** Human-readable report. */
export function formatDiffText(r: DiffReport, c: DiffContext): string {
  const out: string[] = [side("A", c.a), side("B", c.b), `tolerances: ${formatTolerances(r)}`];
  const total = TRACE_DIVERGENCE_CLASSES.reduce((n, k) => n + r.totals[k], 0);
  const minor = r.exactRepeats ? 0 : r.totals.repeats;
  out.push(
    `compared ${r.eventsA} (A) and ${r.eventsB} (B) events in ${r.runsA} / ${r.runsB} runs: ` +
      `${r.matched} equal, ${total - minor} divergences` +
      (minor ? ` (+ ${minor} repeat-count differences)` : ""),
  );
  if (r.uncomparedA || r.uncomparedB) {
    out.push(`not compared (other side truncated): ${r.uncomparedA} (A), ${r.uncomparedB} (B)`);
  }
  if (r.first) {
    const f = r.first, d = f.divergence;
    out.push("", `first divergence: ${describe(d)}`);
    out.push(`  A: ${short(d.a, c.symbolizeA)}`, `  B: ${short(d.b, c.symbolizeB)}`);
    for (
      const [label, before, nb, mid, n, after, na, sym] of [
        ["A", f.beforeA, f.runs.beforeA, d.a, d.countA, f.afterA, f.runs.afterA, c.symbolizeA],
        ["B", f.beforeB, f.runs.beforeB, d.b, d.countB, f.afterB, f.runs.afterB, c.symbolizeB],
      ] as const
    ) {
      out.push(`context ${label} (${label === "A" ? c.labelA : c.labelB}):`);
      before.forEach((e, i) => out.push(withRun("    " + formatEvent(e, sym), nb[i])));
      out.push(mid ? withRun("  > " + formatEvent(mid, sym), n) : "  > (nothing here)");
      after.forEach((e, i) => out.push(withRun("    " + formatEvent(e, sym), na[i])));
    }
  }
  const listed = r.divergences.slice(0, c.list ?? 20);
  if (listed.length) {
    out.push("", `divergences (${listed.length} of ${total}):`);
    for (const d of listed) {
      out.push(`  ${describe(d)}`);
      if (d.a) out.push(`      A: ${short(d.a, c.symbolizeA)}`);
      if (d.b) out.push(`      B: ${short(d.b, c.symbolizeB)}`);
    }
  }
  const used = TRACE_DIVERGENCE_CLASSES.filter((k) => r.totals[k] > 0);
  if (used.length) {
    const w = Math.max(3, ...r.perKey.map((s) => s.key.length));
    out.push(
      "",
      `${"key".padEnd(w)} ${"equal".padStart(8)}${used.map((k) => k.padStart(10)).join("")}`,
    );
    for (const s of r.perKey) {
      if (!used.some((k) => s.counts[k] > 0)) continue;
      out.push(
        `${s.key.padEnd(w)} ${String(s.same).padStart(8)}${
          used.map((k) => String(s.counts[k]).padStart(10)).join("")
        }`,
      );
    }
    out.push(
      `${"total".padEnd(w)} ${String(r.matched).padStart(8)}${
        used.map((k) => String(r.totals[k]).padStart(10)).join("")
      }`,
    );
  }
  const partial = r.uncomparedA > 0 || r.uncomparedB > 0;
  out.push(
    "",
    r.same ? `traces are equivalent${partial ? " as far as both go" : ""}` : "traces differ",
  );
  return out.join("\n") + "\n";
}

/** JSON report (snake_case; events in the JSON Lines event schema). */
export function diffToJson(r: DiffReport, c: DiffContext): Record<string, unknown> {
  const ev = (
    e: TraceEvent | null,
    s: DiffSide,
  ) => (e === null ? null : eventToJson(e, s.header.backend.name));
  const div = (d: Divergence) => ({
    class: d.class,
    key: d.key,
    count_a: d.countA,
    count_b: d.countB,
    fields: d.fields,
    note: d.note,
    a: ev(d.a, c.a),
    b: ev(d.b, c.b),
  });
  const trunc = (s: DiffSide) =>
    s.truncation
      ? {
        reason: s.truncation.reason,
        byte_offset: s.truncation.byteOffset,
        valid_events: s.truncation.validEvents,
      }
      : null;
  return {
    same: r.same,
    a: { file: c.labelA, backend: c.a.header.backend.name, truncated: trunc(c.a) },
    b: { file: c.labelB, backend: c.b.header.backend.name, truncated: trunc(c.b) },
    tolerances: {
      time_ns: r.tolerances.time,
      addr: r.tolerances.addr,
      icount: r.tolerances.icount === Infinity ? null : r.tolerances.icount,
    },
    exact_repeats: r.exactRepeats,
    events_a: r.eventsA,
    events_b: r.eventsB,
    runs_a: r.runsA,
    runs_b: r.runsB,
    matched: r.matched,
    uncompared_a: r.uncomparedA,
    uncompared_b: r.uncomparedB,
    totals: r.totals,
    per_key: r.perKey.map((s) => ({ key: s.key, equal: s.same, ...s.counts })),
    first: r.first === null ? null : {
      divergence: div(r.first.divergence),
      before_a: r.first.beforeA.map((e) => ev(e, c.a)),
      before_b: r.first.beforeB.map((e) => ev(e, c.b)),
      after_a: r.first.afterA.map((e) => ev(e, c.a)),
      after_b: r.first.afterB.map((e) => ev(e, c.b)),
      runs: {
        before_a: r.first.runs.beforeA,
        before_b: r.first.runs.beforeB,
        after_a: r.first.runs.afterA,
        after_b: r.first.runs.afterB,
      },
    },
    divergences: r.divergences.map(div),
  };
}

/** Escapes text for HTML element and attribute content. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!,
  );
}

/** Self-contained side-by-side HTML page (no scripts, no external resources). */
export function diffToHtml(r: DiffReport, c: DiffContext): string {
  const e = escapeHtml;
  const cell = (ev: TraceEvent | null, sym?: Symbolizer, count = 1) =>
    `<td class="${ev ? "ev" : "none"}">${
      ev ? e(withRun(formatEvent(ev, sym), count)) : "&#8212;"
    }</td>`;
  const pair = (d: Divergence) =>
    `${cell(d.a, c.symbolizeA, d.countA)}${cell(d.b, c.symbolizeB, d.countB)}`;
  const rows: string[] = [];
  if (r.first) {
    const f = r.first, d = f.divergence;
    const n = Math.max(f.beforeA.length, f.beforeB.length);
    for (let i = 0; i < n; i++) {
      const ia = f.beforeA.length - n + i, ib = f.beforeB.length - n + i;
      rows.push(
        `<tr class="ctx"><td></td>${cell(f.beforeA[ia] ?? null, c.symbolizeA, f.runs.beforeA[ia])}${
          cell(f.beforeB[ib] ?? null, c.symbolizeB, f.runs.beforeB[ib])
        }</tr>`,
      );
    }
    rows.push(`<tr class="div"><td>${e(describe(d))}</td>${pair(d)}</tr>`);
    for (let i = 0; i < Math.max(f.afterA.length, f.afterB.length); i++) {
      rows.push(
        `<tr class="ctx"><td></td>${cell(f.afterA[i] ?? null, c.symbolizeA, f.runs.afterA[i])}${
          cell(f.afterB[i] ?? null, c.symbolizeB, f.runs.afterB[i])
        }</tr>`,
      );
    }
  }
  const all = r.divergences.map((d) =>
    `<tr class="div ${e(d.class)}"><td>${e(describe(d))}</td>${pair(d)}</tr>`
  );
  const used = TRACE_DIVERGENCE_CLASSES.filter((k) => r.totals[k] > 0);
  const summary = r.perKey.map((s) =>
    `<tr><td>${e(s.key)}</td><td>${s.same}</td>${
      used.map((k) => `<td>${s.counts[k]}</td>`).join("")
    }</tr>`
  );
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>pvreplay diff: ${e(c.labelA)} vs ${e(c.labelB)}</title>
<style>
body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;font-size:12px}
td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top}
td.ev,td.none{font-family:monospace;white-space:pre}tr.div td{background:#fdd}tr.ctx td{color:#555}
td.none{color:#999;text-align:center}
</style></head><body>
<h1>${r.same ? "Traces are equivalent" : "Traces differ"}</h1>
<p>A: ${e(c.labelA)} (${e(side("A", c.a))})<br>B: ${e(c.labelB)} (${e(side("B", c.b))})<br>
${r.eventsA} / ${r.eventsB} events (${r.runsA} / ${r.runsB} runs) compared, ${r.matched} equal;
tolerances: ${e(formatTolerances(r))}.</p>
<h2>First divergence</h2>
<table><tr><th>class</th><th>A</th><th>B</th></tr>${
    rows.join("\n") || "<tr><td colspan=3>none</td></tr>"
  }</table>
<h2>Summary per operation</h2>
<table><tr><th>key</th><th>equal</th>${used.map((k) => `<th>${k}</th>`).join("")}</tr>
${summary.join("\n")}</table>
<h2>Divergences (first ${r.divergences.length})</h2>
<table><tr><th>class</th><th>A</th><th>B</th></tr>
${all.join("\n")}</table>
</body></html>
`;
}
