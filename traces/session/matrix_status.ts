/**
 * The compatibility matrix with a status per cell: each kernel variant × scenario row is recorded
 * on a reference backend and on every other backend profile, every trace is diffed against the
 * reference's, and each cell gets `same`, `equivalent`, `diverges` (with the class of the first
 * divergence), `fails` or `n/a` (docs/matrix.md defines them). Rows are the unit of work: a row
 * carries its own reference, so `--shard I/N` slices rows and shards never need each other.
 *
 * @module
 */

import { diffTraces } from "../analysis/diff.ts";
import { TraceReader } from "../format/reader.ts";
import type { TraceDivergenceClass } from "../../vocabulary/divergence.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";
import type { ProfileTweak } from "../../backends/registry.ts";
import { IMAGE_DIR, sha256Hex } from "../format/guest_image.ts";
import { TOOL_VERSION } from "./session.ts";
import { type CaseRun, linuxCase, recordCase, type SuiteCase, suiteCase } from "./suite.ts";
import { ImageError } from "../../core/loaders/image_error.ts";
import { EXIT_IMAGE_ERROR } from "../../core/exit_status.ts";

/**
 * What a cell needs of one backend's recording of a row's case (structured-cloneable: a worker
 * records, another judges; the trace itself stays in the row's `outDir`).
 */
export interface Recorded {
  trace: string;
  verdict: StatusCell["verdict"];
  /** The guest's RESULT line, its fields, and how and where the run ended. */
  line: string;
  fields: Record<string, string>;
  reason: string;
  exitCode: number;
  instructions: number;
  events: number;
  ops: Record<string, number>;
}

/** A backend that did not boot the image. */
export interface Refused {
  /** The backend's reason for not booting the image. */
  refused: string;
}

/** One backend's part of a row: its recording, or its refusal. */
export type Recording = Recorded | Refused;

/** Status of one cell (docs/matrix.md "Statuses"). */
export type CellStatus = "same" | "equivalent" | "diverges" | "fails" | "n/a";

/**
 * Diff classes the ABI mapping declares equivalent: `units` (the same argument in a unit the
 * two backends' headers relate by a known factor, e.g. ns vs TSC ticks) and `repeats` (a polling
 * loop that spun a different number of times). Every other class changes what the guest saw.
 */
export const EQUIVALENT_CLASSES: readonly TraceDivergenceClass[] = ["units", "repeats"];

/** One cell of the status matrix (docs/matrix.md "JSON schema"). */
export interface StatusCell {
  variant: string;
  scenario: string;
  options: string;
  backend: string;
  reference: string;
  status: CellStatus;
  /** Class of the first divergence that is not equivalent (status `diverges`). */
  divergence: TraceDivergenceClass | null;
  /** The first divergence, one line, with the event numbers on both sides. */
  first: string | null;
  /** Events around the first divergence: `ref`/`cell` lines of reference and this trace. */
  context: string[] | null;
  /** Why the cell failed or is n/a. */
  reason: string | null;
  verdict: "PASS" | "FAIL" | "NO-RESULT";
  exit: string;
  code: number;
  instructions: number;
  events: number;
  /** The guest's RESULT fields (vdso, oldglibc, timer, ...; guests/README.md). */
  fields: Record<string, string>;
  /** Events per canonical operation (docs/canonical-ops.md), keys in sorted order. */
  ops: Record<string, number>;
  /** Trace file of this cell, or null when not kept. */
  trace: string | null;
}

/** Bumped when {@link StatusCell} gains fields, so cached cells of an older shape are recomputed. */
const CELL_SCHEMA = 2;

/** One row of work: a variant and scenario on the reference and on `backends`. */
export interface MatrixRow {
  variant: string;
  scenario: string;
  options: string;
  backends: string[];
  reference: string;
  /**
   * The directory of a real Linux kernel and initrd (`matrix --linux`): the row is its
   * `userspace` case (suite.ts linuxCase) instead of a bundled variant's scenario.
   */
  linux?: string;
}

/** How rows are run. */
export interface RowOptions {
  /** Directory for the traces (created). */
  outDir: string;
  /** Keep the traces (default false: they are removed after the diff). */
  keep?: boolean;
  /** Per-backend-spec profile overrides (a deliberate what-if; see registry.ts ProfileTweak). */
  tweaks?: Record<string, ProfileTweak>;
  /**
   * Result cache directory: a cell is stored under the SHA-256 of what determines it (image
   * bytes, command line, backend and reference profiles and their tweaks, tool version), and a
   * row whose cells are all there is not run again.
   */
  cacheDir?: string;
}

/**
 * Records and judges one row: the reference first, then every backend, each diffed against it.
 * The steps ({@link rowCacheHits}, {@link recordBackend}, {@link judgeCell}, {@link finishRow})
 * are what matrix_pool.ts runs on workers cell by cell, with the same cells as this gives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runRow } from "./matrix_status.ts";
 * const cells = runRow(
 *   { variant: "2.6.22", scenario: "boot", options: "", backends: ["native@p6"], reference: "native@p6" },
 *   { outDir: Deno.makeTempDirSync() },
 * );
 * assert.equal(cells[0].status, "same");
 * ```
 */
export function runRow(row: MatrixRow, opts: RowOptions): StatusCell[] {
  const hits = rowCacheHits(row, opts);
  if (hits) return hits;
  const ref = recordBackend(row, row.reference, opts);
  const cells = row.backends.map((b) =>
    judgeCell(row, b, b === row.reference ? ref : recordBackend(row, b, opts), ref, opts)
  );
  finishRow(row, cells, opts);
  return cells;
}

function rowCase(row: MatrixRow): SuiteCase {
  return row.linux === undefined
    ? suiteCase(row.variant, row.scenario, row.options)
    : linuxCase(row.linux);
}

/** Trace file of `backend`'s recording of the row's case. */
function tracePath(c: SuiteCase, opts: RowOptions, backend: string): string {
  return `${opts.outDir}/${c.label}-${backend.replace("@", "_")}.pvt`;
}

/**
 * The row's cells from the result cache (`opts.cacheDir`) when every one is there, else null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rowCacheHits } from "./matrix_status.ts";
 * const row = { variant: "2.6.22", scenario: "boot", options: "", backends: ["native@p6"], reference: "native@p6" };
 * assert.equal(rowCacheHits(row, { outDir: "/tmp", cacheDir: Deno.makeTempDirSync() }), null);
 * ```
 */
export function rowCacheHits(row: MatrixRow, opts: RowOptions): StatusCell[] | null {
  if (!opts.cacheDir) return null;
  const hits = cacheKeys(row, rowCase(row), opts).map((k) => cached(opts.cacheDir!, k));
  return hits.every((h) => h !== null) ? hits as StatusCell[] : null;
}

/**
 * Records the row's case on `backend` into `opts.outDir`. A backend may refuse the image before
 * it runs (Xen's domain builder wants a Xen PV kernel, docs/abi/xen.md §1): the cell then fails
 * with the builder's reason and there is no trace.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordBackend } from "./matrix_status.ts";
 * const row = { variant: "2.6.22", scenario: "boot", options: "", backends: ["native@p6"], reference: "native@p6" };
 * const r = recordBackend(row, "native@p6", { outDir: Deno.makeTempDirSync() });
 * assert.ok("verdict" in r && r.verdict === "PASS");
 * ```
 */
export function recordBackend(row: MatrixRow, backend: string, opts: RowOptions): Recording {
  Deno.mkdirSync(opts.outDir, { recursive: true });
  const c = rowCase(row);
  const trace = tracePath(c, opts, backend);
  let run: CaseRun;
  try {
    run = recordCase(c, backend, { out: trace, profileTweak: opts.tweaks?.[backend] });
  } catch (e) {
    if (e instanceof ImageError) return { refused: e.problem };
    throw e;
  }
  const ops = opCounts(trace);
  // The guest's console beside its trace: what a user reads first when a cell fails.
  if (opts.keep) Deno.writeTextFileSync(trace.replace(/\.pvt$/, ".console.txt"), run.serial);
  const verdict: StatusCell["verdict"] = run.verdict.pass === true
    ? "PASS"
    : run.verdict.pass === false
    ? "FAIL"
    : "NO-RESULT";
  return {
    trace,
    verdict,
    line: run.verdict.line,
    fields: run.verdict.fields,
    reason: run.result.reason,
    exitCode: run.result.exitCode,
    instructions: run.result.instructions,
    events: run.events,
    ops,
  };
}

/**
 * The cell of `backend` from its recording `r` and the reference's `ref` (the same recording
 * when `backend` is the reference): its trace is diffed against the reference trace.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { judgeCell } from "./matrix_status.ts";
 * const row = { variant: "2.6.22", scenario: "boot", options: "", backends: ["xen@3.1"], reference: "native@p6" };
 * const cell = judgeCell(row, "xen@3.1", { refused: "not a Xen kernel" }, { refused: "no" }, { outDir: "/tmp" });
 * assert.equal(cell.status, "fails");
 * ```
 */
export function judgeCell(
  row: MatrixRow,
  backend: string,
  r: Recording,
  ref: Recording,
  opts: RowOptions,
): StatusCell {
  const cell: StatusCell = {
    variant: row.variant,
    scenario: row.scenario,
    options: row.options,
    backend,
    reference: row.reference,
    status: "same",
    divergence: null,
    first: null,
    context: null,
    reason: null,
    verdict: "NO-RESULT",
    exit: "refused",
    code: EXIT_IMAGE_ERROR,
    instructions: 0,
    events: 0,
    fields: {},
    ops: {},
    trace: null,
  };
  if ("refused" in r) {
    cell.status = "fails";
    cell.reason = `${backend} refused the image: ${r.refused}`;
    return cell;
  }
  Object.assign(cell, {
    verdict: r.verdict,
    exit: r.reason,
    code: r.exitCode,
    instructions: r.instructions,
    events: r.events,
    fields: r.fields,
    ops: r.ops,
    trace: opts.keep ? r.trace : null,
  });
  const refOk = !("refused" in ref) && ref.verdict === "PASS";
  if (r.verdict !== "PASS") {
    cell.status = "fails";
    cell.reason = r.verdict === "FAIL"
      ? `guest reported pass=0 (${r.line})`
      : `no verdict: ${r.reason} (status ${r.exitCode})`;
  } else if (!refOk) {
    cell.status = "n/a";
    cell.reason = "refused" in ref
      ? `reference ${row.reference} refused the image (${ref.refused})`
      : `reference ${row.reference} did not pass (${ref.reason})`;
  } else if (backend !== row.reference) {
    judge(cell, ref.trace, r.trace);
  }
  return cell;
}

/**
 * After the row's `cells` are judged: stores them in the cache (`opts.cacheDir`) and removes the
 * traces unless `opts.keep`.
 *
 * @example
 * ```ts
 * import { finishRow } from "./matrix_status.ts";
 * const row = { variant: "2.6.22", scenario: "boot", options: "", backends: [], reference: "native@p6" };
 * finishRow(row, [], { outDir: Deno.makeTempDirSync() }); // no trace there: nothing to remove
 * ```
 */
export function finishRow(row: MatrixRow, cells: StatusCell[], opts: RowOptions): void {
  const c = rowCase(row);
  if (opts.cacheDir) {
    const keys = cacheKeys(row, c, opts);
    Deno.mkdirSync(opts.cacheDir, { recursive: true });
    for (const [i, k] of keys.entries()) {
      const tmp = `${opts.cacheDir}/${k}.json.${Deno.pid}`;
      Deno.writeTextFileSync(tmp, JSON.stringify(cells[i]));
      Deno.renameSync(tmp, `${opts.cacheDir}/${k}.json`); // atomic: parallel shards share a cache
    }
  }
  if (!opts.keep) {
    for (const b of new Set([row.reference, ...row.backends])) {
      try {
        Deno.removeSync(tracePath(c, opts, b));
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e; // none when the backend refused the image
      }
    }
  }
}

/**
 * Events per canonical op of a recorded trace, for the per-operation summary, keys sorted. A
 * polling loop's repeat record counts as its copies without being expanded into events.
 */
function opCounts(trace: string): Record<string, number> {
  const reader = TraceReader.open(trace);
  const counts = new Map<string, number>();
  try {
    const it = reader.collapsedEvents();
    for (let r = it.next(); !r.done; r = it.next()) {
      const op = r.value.op;
      if (op !== null) counts.set(op, (counts.get(op) ?? 0) + 1 + it.repeats);
    }
  } finally {
    reader.close();
  }
  const keys = [...counts.keys()].sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
  return Object.fromEntries(keys.map((k) => [k, counts.get(k)!]));
}

function cacheKeys(row: MatrixRow, c: SuiteCase, opts: RowOptions): string[] {
  const dir = c.dir ?? IMAGE_DIR;
  const sha = (file: string) => sha256Hex(Deno.readFileSync(`${dir}/${file}`));
  // A Linux case is its kernel and its initrd: the image hash covers both.
  const imageSha = c.initrd === undefined
    ? sha(c.image)
    : sha256Hex(new TextEncoder().encode(sha(c.image) + sha(c.initrd)));
  const side = (b: string) => ({ spec: b, tweak: opts.tweaks?.[b] ?? null });
  return row.backends.map((b) =>
    sha256Hex(new TextEncoder().encode(JSON.stringify({
      tool: TOOL_VERSION,
      cell: CELL_SCHEMA,
      image: imageSha,
      cmdline: c.cmdline,
      backend: side(b),
      reference: side(row.reference),
      keep: opts.keep ? opts.outDir : null,
    })))
  );
}

function cached(dir: string, key: string): StatusCell | null {
  try {
    return JSON.parse(Deno.readTextFileSync(`${dir}/${key}.json`)) as StatusCell;
  } catch {
    return null;
  }
}

function judge(cell: StatusCell, refTrace: string, trace: string): void {
  const { report } = diffTraces(refTrace, trace, { maxDivergences: 100_000 });
  const counted = Object.entries(report.totals).filter(([, n]) => n > 0);
  if (counted.length === 0) return;
  const bad = report.divergences.find((d) => !EQUIVALENT_CLASSES.includes(d.class));
  const d = bad ?? report.divergences[0];
  const where = `#${d.a ? d.a.seq : "-"}/#${d.b ? d.b.seq : "-"}`;
  cell.first = `${d.class} ${d.key}${d.fields.length ? ` [${d.fields.join(",")}]` : ""}${
    d.note ? ` (${d.note})` : ""
  } at ${where}`;
  if (counted.every(([cls]) => EQUIVALENT_CLASSES.includes(cls as TraceDivergenceClass))) {
    cell.status = "equivalent";
  } else {
    cell.status = "diverges";
    cell.divergence = d.class;
    const f = report.first;
    if (f) {
      const line = (side: string, mark: string) => (e: TraceEvent) =>
        `${side}${mark} #${e.seq} ${e.kind} ${e.name}${
          e.op ? ` ${e.op}(${e.opArgs.join(",")})` : ""
        }${e.ret !== null ? ` = ${e.ret}` : ""}`;
      cell.context = [
        ...f.beforeA.map(line("ref ", " ")),
        ...(f.divergence.a ? [line("ref ", ">")(f.divergence.a)] : []),
        ...f.afterA.map(line("ref ", " ")),
        ...f.beforeB.map(line("cell", " ")),
        ...(f.divergence.b ? [line("cell", ">")(f.divergence.b)] : []),
        ...f.afterB.map(line("cell", " ")),
      ];
    }
  }
}

/**
 * The rows of a matrix in canonical order (variant, then options, then scenario), optionally
 * the deterministic slice `shard` = [index, count] (row i belongs to shard i mod count).
 */
export function matrixRows(
  variants: string[],
  scenarios: string[],
  backends: string[],
  reference: string,
  shard: [number, number] = [0, 1],
  options: string[] = [""],
): MatrixRow[] {
  const rows: MatrixRow[] = [];
  for (const variant of variants) {
    for (const o of options) {
      for (const scenario of scenarios) {
        rows.push({ variant, scenario, options: o, backends, reference });
      }
    }
  }
  return rows.filter((_, i) => i % shard[1] === shard[0]);
}

/** Cell identity: `variant[ options] scenario on backend`. */
export function cellName(c: StatusCell): string {
  return `${c.variant}${c.options ? ` ${c.options}` : ""} ${c.scenario} on ${c.backend}`;
}

/** The matrix document (docs/matrix.md "JSON schema"). */
export interface MatrixDocument {
  schema: "pvreplay-matrix/1";
  reference: string;
  cells: StatusCell[];
  /** The preset the matrix was run as (traces/session/matrix_presets.ts), if any. */
  preset?: string;
  /** The preset's claims judged against the cells. */
  claims?: ClaimResult[];
  /**
   * Present when the run was cut short (Ctrl-C): `cells` holds the rows finished before it, and
   * the rows that were running or not started are absent.
   */
  aborted?: { reason: string; rowsDone: number; rowsTotal: number };
}

/** A claim from the 2006-2007 threads judged against a matrix (docs/matrix.md "Presets"). */
export interface ClaimResult {
  id: string;
  /** The words of the claim, quoted from the thread. */
  quote: string;
  author: string;
  /** ISO date of the message. */
  date: string;
  /** Subject of the thread the message is in. */
  thread: string;
  /** What the matrix checks to test the claim. */
  test: string;
  /** `confirmed`: every relevant cell agrees; `refuted`: some contradict; `untested`: none ran. */
  verdict: "confirmed" | "refuted" | "untested";
  /** Names (cellName) of the cells that agree with the claim. */
  support: string[];
  /** Names of the cells that contradict it. */
  against: string[];
}

/** Merges shard documents into one, cells in canonical order; throws on overlap or mismatch. */
export function mergeDocuments(
  docs: MatrixDocument[],
  order: (c: StatusCell) => number[],
): MatrixDocument {
  const seen = new Map<string, StatusCell>();
  for (const d of docs) {
    if (d.schema !== "pvreplay-matrix/1") throw new Error(`not a matrix document: ${d.schema}`);
    if (d.reference !== docs[0].reference) {
      throw new Error(`reference differs: ${d.reference} vs ${docs[0].reference}`);
    }
    for (const c of d.cells) {
      const k = cellName(c);
      if (seen.has(k)) throw new Error(`cell ${k} appears in two inputs`);
      seen.set(k, c);
    }
  }
  const cells = [...seen.values()].sort((a, b) => {
    const x = order(a), y = order(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return 0;
  });
  const merged: MatrixDocument = {
    schema: "pvreplay-matrix/1",
    reference: docs[0]?.reference ?? "",
    cells,
  };
  // A merge with an aborted shard is incomplete too.
  const cut = docs.filter((d) => d.aborted);
  if (cut.length) {
    merged.aborted = {
      reason: cut[0].aborted!.reason,
      rowsDone: cut.reduce((n, d) => n + d.aborted!.rowsDone, 0),
      rowsTotal: cut.reduce((n, d) => n + d.aborted!.rowsTotal, 0),
    };
  }
  return merged;
}
