/**
 * The matrix as one self-contained HTML page (inline CSS and JS, the document embedded as JSON,
 * no network fetches): the grid, filters by guest / backend / scenario / status, a drill-down
 * per cell to its first divergence with context and a link to its trace, a per-operation summary
 * across backends (as xenalyze or `perf kvm stat` for several hypervisors at once), and, for a
 * preset, each claim of the 2007 threads next to the cells that confirm or refute it.
 *
 * @module
 */

import type { MatrixDocument } from "../traces/session/matrix_status.ts";

const CSS = `body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
td.cell{cursor:pointer;font-weight:600}.same{background:#b8e6b8}.equivalent{background:#d9f0c0}
.diverges{background:#ffd98a}.fails{background:#f4a0a0}.na{background:#ddd}
#filters label{margin-right:1em}#detail{margin-top:1em;padding:1em;border:2px solid #888;
max-width:70em}#detail pre{background:#f6f6f6;padding:.5em;overflow:auto}.hidden{display:none}.off{visibility:hidden}
td.num{text-align:right;font-variant-numeric:tabular-nums}.claim{margin:1em 0;padding:.5em 1em;border-left:6px solid #888;max-width:70em}
.claim.confirmed{border-color:#4a4}.claim.refuted{border-color:#c33}.claim blockquote{margin:.3em 0;font-style:italic}
.claim a{cursor:pointer;color:#035;text-decoration:underline}`;

// Runs in the page. Cells are <td data-*>; filters hide non-matching rows, columns and cells.
const JS = `const doc=JSON.parse(document.getElementById('matrix-data').textContent);
const sel=(id)=>document.getElementById(id);
function esc(s){return String(s).replace(/[&<>"]/g,(c)=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'})[c]);}
let apply=function(){const f={variant:sel('f-variant').value,backend:sel('f-backend').value,
scenario:sel('f-scenario').value,status:sel('f-status').value};let n=0;
for(const td of document.querySelectorAll('td.cell')){const ok=Object.entries(f).every(([k,v])=>!v||td.dataset[k]===v);
td.classList.toggle('off',!ok);td.classList.toggle('hidden',!!f.backend&&td.dataset.backend!==f.backend);if(ok)n++;}
for(const th of document.querySelectorAll('th.col'))th.classList.toggle('hidden',!!f.backend&&th.dataset.backend!==f.backend);
for(const tr of document.querySelectorAll('tr.row'))tr.classList.toggle('hidden',!tr.querySelector('td.cell:not(.off)'));
sel('count').textContent=n+' cells shown';};
function show(i){const c=doc.cells[i];const d=sel('detail');d.classList.remove('hidden');
d.innerHTML='<h2>'+esc(c.variant+(c.options?' '+c.options:'')+' '+c.scenario+' on '+c.backend)+'</h2>'+
'<p>status <b class="status">'+esc(c.status)+'</b>'+(c.divergence?' (first divergence: <b>'+esc(c.divergence)+'</b>)':'')+
' against '+esc(c.reference)+'; guest verdict '+esc(c.verdict)+', exit '+esc(c.exit)+', '+c.instructions+' instructions, '+c.events+' events</p>'+
(c.first?'<p class="first">first divergence: <code>'+esc(c.first)+'</code></p>':'')+
(c.reason?'<p class="reason">'+esc(c.reason)+'</p>':'')+
(c.context?'<pre class="context">'+esc(c.context.join('\\n'))+'</pre>':'')+
(c.trace?'<p><a class="trace" href="'+esc(c.trace)+'">trace</a> (pvreplay inspect / diff)</p>':'<p>traces not kept (run with --out)</p>');}
function ops(f){const cols=[...new Set(doc.cells.map((c)=>c.backend))].filter((b)=>!f.backend||b===f.backend);
const tot={},ins={};for(const c of doc.cells){if(!cols.includes(c.backend))continue;
if((f.variant&&c.variant!==f.variant)||(f.scenario&&c.scenario!==f.scenario)||(f.status&&c.status!==f.status))continue;
for(const [op,n] of Object.entries(c.ops||{})){tot[op]??={};ins[op]??={};tot[op][c.backend]=(tot[op][c.backend]||0)+n;ins[op][c.backend]=(ins[op][c.backend]||0)+c.instructions;}}
const keys=Object.keys(tot).sort((a,b)=>{const s=(k)=>Object.values(tot[k]).reduce((x,y)=>x+y,0);return s(b)-s(a)||(a<b?-1:1);});
sel('ops').innerHTML='<thead><tr><th>operation</th>'+cols.map((b)=>'<th>'+esc(b)+'<br>count</th><th>insns/op</th>').join('')+'</tr></thead><tbody>'+
keys.map((k)=>'<tr class="op" data-op="'+esc(k)+'"><td>'+esc(k)+'</td>'+cols.map((b)=>{const n=tot[k][b];return n?'<td class="num">'+n+'</td><td class="num">'+Math.round(ins[k][b]/n)+'</td>':'<td class="num">-</td><td></td>';}).join('')+'</tr>').join('')+'</tbody>';}
const wrapApply=apply;apply=function(){wrapApply();ops({variant:sel('f-variant').value,backend:sel('f-backend').value,scenario:sel('f-scenario').value,status:sel('f-status').value});};
const byName=new Map(doc.cells.map((c,i)=>[c.variant+(c.options?' '+c.options:'')+' '+c.scenario+' on '+c.backend,i]));
for(const a of document.querySelectorAll('.claim a[data-cell]'))a.addEventListener('click',()=>show(byName.get(a.dataset.cell)));
for(const id of ['f-variant','f-backend','f-scenario','f-status'])sel(id).addEventListener('change',apply);
for(const td of document.querySelectorAll('td.cell'))td.addEventListener('click',()=>show(Number(td.dataset.index)));
apply();`;

function esc(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/**
 * The HTML page of a matrix document. Trace links are relative to `traceBase` (the directory the
 * page is written to), so the page and `--out` traces can move together.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matrixHtml } from "./matrix_html.ts";
 * const page = matrixHtml({ schema: "pvreplay-matrix/1", reference: "native@p6", cells: [] });
 * assert.ok(page.startsWith("<!DOCTYPE html>"));
 * assert.ok(!page.includes("http"));
 * ```
 */
export function matrixHtml(doc: MatrixDocument, traceBase = ""): string {
  const rel = (p: string | null) =>
    p && traceBase && p.startsWith(traceBase + "/") ? p.slice(traceBase.length + 1) : p;
  const data = { ...doc, cells: doc.cells.map((c) => ({ ...c, trace: rel(c.trace) })) };
  const uniq = (f: (c: MatrixDocument["cells"][number]) => string) => [
    ...new Set(doc.cells.map(f)),
  ];
  const backends = uniq((c) => c.backend);
  const rows = uniq((c) => `${c.variant}\t${c.options}\t${c.scenario}`);
  const select = (id: string, label: string, values: string[]) =>
    `<label>${label} <select id="${id}"><option value="">all</option>${
      values.map((v) => `<option>${esc(v)}</option>`).join("")
    }</select></label>`;
  const index = new Map(
    doc.cells.map((c, i) => [`${c.variant}\t${c.options}\t${c.scenario}\t${c.backend}`, i]),
  );
  const body = rows.map((r) => {
    const [v, o, s] = r.split("\t");
    const tds = backends.map((b) => {
      const i = index.get(`${r}\t${b}`);
      if (i === undefined) return "<td></td>";
      const c = doc.cells[i];
      const text = c.status === "diverges" ? `diverges: ${c.divergence}` : c.status;
      return `<td class="cell ${
        c.status === "n/a" ? "na" : c.status
      }" data-index="${i}" data-variant="${esc(v)}" data-scenario="${esc(s)}" data-backend="${
        esc(b)
      }" data-status="${c.status}">${esc(text)}</td>`;
    });
    return `<tr class="row"><td>${esc(v + (o ? ` ${o}` : ""))}</td><td>${esc(s)}</td>${
      tds.join("")
    }</tr>`;
  });
  const cellLinks = (names: string[]) =>
    names.map((n) => `<a data-cell="${esc(n)}">${esc(n)}</a>`).join(", ");
  const claims = (doc.claims ?? []).map((c) =>
    `<div class="claim ${c.verdict}" data-claim="${
      esc(c.id)
    }"><p><b class="verdict">${c.verdict.toUpperCase()}</b></p><blockquote>&ldquo;${
      esc(c.quote)
    }&rdquo;</blockquote><p>&mdash; ${esc(c.author)}, ${esc(c.date)}, &ldquo;${
      esc(c.thread)
    }&rdquo;</p><p>test: ${esc(c.test)}</p>${
      c.against.length ? `<p>refuted by: ${cellLinks(c.against)}</p>` : ""
    }${c.support.length ? `<p>confirmed by: ${cellLinks(c.support)}</p>` : ""}</div>`
  );
  // "</" inside the embedded JSON would end the script element early.
  const json = JSON.stringify(data).replaceAll("</", "<\\/");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pvreplay matrix</title><style>${CSS}</style></head>
<body><h1>pvreplay compatibility matrix${doc.preset ? `: preset ${esc(doc.preset)}` : ""}</h1>
<p>Every cell is a recorded run diffed against <b>${esc(doc.reference)}</b>: same, equivalent
(units or polling repeats only), diverges (class of the first divergence), fails, n/a. Click a
cell for its first divergence.</p>
<div id="filters">${select("f-variant", "guest", uniq((c) => c.variant))}${
    select("f-backend", "backend", backends)
  }${select("f-scenario", "scenario", uniq((c) => c.scenario))}${
    select("f-status", "status", ["same", "equivalent", "diverges", "fails", "n/a"])
  }<span id="count"></span></div>
<table id="grid"><thead><tr><th>guest</th><th>scenario</th>${
    backends.map((b) => `<th class="col" data-backend="${esc(b)}">${esc(b)}</th>`).join("")
  }</tr></thead><tbody>${body.join("\n")}</tbody></table>
<div id="detail" class="hidden"></div>
${
    claims.length
      ? `<h2>Claims from the 2007 threads</h2><div id="claims">${claims.join("\n")}</div>`
      : ""
  }
<h2>Per-operation summary</h2>
<p>Events per canonical operation in the cells shown (the filters apply), per backend, and the
cells' instructions per occurrence.</p>
<table id="ops"></table>
<script type="application/json" id="matrix-data">${json}</script>
<script>${JS}</script></body></html>
`;
}
