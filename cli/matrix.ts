/**
 * `pvreplay matrix`: guest variant × scenario × backend profile, and the vDSO view.
 *
 * @module
 */

import { listBackends, type ProfileTweak } from "../backends/registry.ts";
import { type VdsoRow, vdsoRowAsync } from "../traces/session/matrix.ts";
import {
  cellName,
  type MatrixDocument,
  type MatrixRow,
  matrixRows,
  mergeDocuments,
  type StatusCell,
} from "../traces/session/matrix_status.ts";
import { runRows } from "../traces/session/matrix_pool.ts";
import {
  findPreset,
  judgeClaims,
  MATRIX_PRESETS,
  type MatrixPreset,
  VDSO_CASES,
} from "../traces/session/matrix_presets.ts";
import { LINUX_SCENARIO, linuxVariant, SCENARIOS, VARIANTS } from "../traces/session/suite.ts";
import {
  allBackendSpecs,
  backendList,
  choiceList,
  command,
  parseCount,
  Progress,
  UsageError,
} from "./common.ts";
import { dirname, resolve } from "node:path";
import { SigintGuard } from "./interrupt.ts";
import { EXIT_INTERRUPTED } from "../core/exit_status.ts";
import { matrixHtml } from "./matrix_html.ts";
import { baselineRegressions, junitXml } from "./matrix_junit.ts";

const USAGE =
  `usage: pvreplay matrix [--preset NAME] [--variants LIST] [--scenarios LIST] [--backends LIST]
                       [--reference SPEC] [--out DIR] [--jobs N] [--cache DIR] [--shard I/N] [--json] [--junit FILE] [--html FILE]
                       [--baseline FILE] [--linux DIR] [--progress]
       pvreplay matrix merge DIR|FILE... [--json] [--junit FILE] [--baseline FILE] [--out DIR]
       pvreplay matrix --vdso [--json]
       pvreplay matrix --list

Runs every bundled guest kernel variant x scenario on every backend profile, records each cell,
diffs each trace against the reference backend's and gives each cell a status (docs/matrix.md):
same, equivalent (differs only in units or polling repeats), diverges (class of the first
divergence), fails (guest failed, triple fault, budget, reset), n/a (the reference failed).

  --preset NAME      a named matrix for the 2007 threads' claims (${
    MATRIX_PRESETS.map((p) => p.name).join(", ")
  }): its
                     rows, and each claim quoted with author and date, judged confirmed,
                     refuted or untested from the cells (--variants/--scenarios/--backends
                     narrow it); --list shows them
  --variants LIST    kernel variants (default all: ${VARIANTS.join(",")})
  --scenarios LIST   scenarios (default all: ${SCENARIOS.join(",")})
  --backends LIST    backend specs (default every profile of every registered backend)
  --reference SPEC   the backend every cell is diffed against (default native)
  --out DIR          keep the traces and write DIR/matrix.json
  --jobs N           rows run in parallel on N workers (default: the core count)
  --cache DIR        reuse cells whose image, backend profile, scenario and tool version are
                     unchanged (content-addressed results in DIR)
  --shard I/N        run only rows i with i mod N = I (0 <= I < N); merge the parts with merge
  --json             the matrix document (docs/matrix.md) on stdout instead of the grid
  --junit FILE       JUnit XML, one test case per cell
  --html FILE        self-contained HTML report: grid, filters, per-cell first divergence
  --baseline FILE    a matrix.json: exit 1 naming every cell that was same/equivalent there and
                     is now diverges/fails
  --linux DIR        add the real Linux guest: DIR/vmlinuz booted by the Linux boot protocol
                     with DIR/initrd.cpio (guests/linux/fetch.sh makes both in out/linux),
                     console=ttyS0, 128 MiB; a row named after the kernel (from DIR/VERSION,
                     e.g. linux-6.1.0-57-686, else linux) with the one scenario userspace,
                     judged by the init script's RESULT line; --variants and --scenarios
                     accept its name and userspace (--scenarios userspace: that row only)
  --profile-tweak SPEC:FIELD=VALUE
                     override a version-profile field for SPEC's cells (a what-if; recorded in
                     the trace header's quirks), e.g. kvm@2.6.25:signature=false
  --progress, --no-progress  progress on stderr (default: when it is a terminal)
  --vdso             the 2007 vDSO story: kernel variant x (old, new glibc), where the vDSO
                     lands, the trap that breaks a combination, int $0x80 vs sysenter cost;
                     on native, or on each of --backends (a hypervisor's reserved top moves
                     the vDSO); --variants narrows the kernel variants
  --list             list backends and their version profiles
  --help             show this help

Ctrl-C terminates the workers at once and reports the rows finished so far (the grid, --out
DIR/matrix.json, --json, --junit, --html), marked aborted ("aborted" in the document); exit
130. With --vdso, the row running stops at its next slice and the rows done are printed. A
second Ctrl-C exits at once.

exit status: 0 no cell fails and no baseline regression (or, with --vdso, the table was
produced), 1 some cell fails or regressed against the baseline, 2 usage error, 130
interrupted.`;

/**
 * Implements `pvreplay matrix` and `pvreplay matrix merge`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matrixCommand } from "./matrix.ts";
 * assert.equal(await matrixCommand(["--variants", "2.6.99"]), 2);
 * ```
 */
export function matrixCommand(args: string[]): Promise<number> {
  const merge = args[0] === "merge";
  return command(
    "matrix",
    USAGE,
    merge ? args.slice(1) : args,
    {
      variants: { type: "string" },
      scenarios: { type: "string" },
      backends: { type: "string" },
      reference: { type: "string" },
      out: { type: "string" },
      shard: { type: "string" },
      jobs: { type: "string" },
      cache: { type: "string" },
      junit: { type: "string" },
      html: { type: "string" },
      baseline: { type: "string" },
      preset: { type: "string" },
      linux: { type: "string" },
      "profile-tweak": { type: "string", multiple: true },
      progress: { type: "boolean" },
      vdso: { type: "boolean" },
      list: { type: "boolean" },
      json: { type: "boolean" },
    },
    { positionals: merge },
    (values, positionals) =>
      merge ? mergeMatrix(values as MatrixFlags, positionals) : matrix(values as MatrixFlags),
  );
}

interface MatrixFlags {
  variants?: string;
  scenarios?: string;
  backends?: string;
  reference?: string;
  out?: string;
  shard?: string;
  jobs?: string;
  cache?: string;
  junit?: string;
  html?: string;
  baseline?: string;
  preset?: string;
  linux?: string;
  "profile-tweak"?: string[];
  progress?: boolean;
  vdso?: boolean;
  list?: boolean;
  json?: boolean;
}

async function matrix(f: MatrixFlags): Promise<number> {
  const linux = f.linux === undefined ? null : linuxGuest(f);
  const variants = choiceList("variants", f.variants, [...VARIANTS, ...linux ? [linux.name] : []]);
  const scenarios = choiceList(
    "scenarios",
    f.scenarios,
    [...SCENARIOS, ...linux ? [LINUX_SCENARIO] : []],
  );
  const backends = backendList(f.backends);
  if (f.list) {
    for (const b of listBackends()) {
      const versions = b.versions.map((v) => v === b.defaultVersion ? `${v} (default)` : v);
      console.log(`${b.name.padEnd(8)} ${versions.join(", ")}`);
    }
    console.log("\npresets (--preset NAME):");
    for (const p of MATRIX_PRESETS) console.log(`  ${p.name.padEnd(16)} ${p.title}`);
    return 0;
  }
  let done = 0;
  if (f.vdso) {
    // Bare hardware unless --backends names others; --variants narrows the cases.
    const vdsoBackends = f.backends === undefined ? ["native"] : backends;
    const cases = VDSO_CASES.filter(([v]) => f.variants === undefined || variants.includes(v));
    const total = cases.length * vdsoBackends.length;
    const progress = new Progress("pvreplay matrix", f.progress, "cells");
    const guard = new SigintGuard("pvreplay matrix");
    const rows: VdsoRow[] = [];
    try {
      outer: for (const [variant, options] of cases) {
        for (const backend of vdsoBackends) {
          const row = await vdsoRowAsync(variant, options, backend, () => guard.interrupted);
          if (!row) break outer;
          progress.update(++done, total, `${variant} ${options} on ${backend}`);
          rows.push(row);
          if (f.json) {
            console.log(JSON.stringify({ ...row, cell: undefined, verdict: row.cell.verdict }));
          }
        }
      }
    } finally {
      guard.close();
      progress.done();
    }
    if (!f.json) printVdso(rows, f.backends !== undefined);
    if (guard.interrupted) {
      console.error(`pvreplay matrix: interrupted after ${rows.length} of ${total} vDSO rows`);
      return EXIT_INTERRUPTED;
    }
    return 0;
  }
  const reference = backendList(f.reference ?? "native")[0];
  if (f.reference?.includes(",")) throw new UsageError("--reference takes one backend spec");
  const preset = f.preset === undefined ? null : findPreset(f.preset);
  if (f.preset !== undefined && !preset) {
    throw new UsageError(
      `--preset: unknown ${f.preset}; valid: ${MATRIX_PRESETS.map((p) => p.name).join(", ")}`,
    );
  }
  const shard = parseShard(f.shard);
  const rows = preset
    ? presetRows(preset, backends, reference, f, shard)
    : defaultRows(variants, scenarios, backends, reference, linux)
      .filter((_, i) => i % shard[1] === shard[0]);
  const tweaks = parseTweaks(f["profile-tweak"] ?? []);
  const outDir = f.out ?? Deno.makeTempDirSync({ prefix: "pvreplay-matrix-" });
  const jobs = f.jobs === undefined ? navigator.hardwareConcurrency : parseCount("jobs", f.jobs);
  if (jobs < 1) throw new UsageError("--jobs must be at least 1");
  const opts = { outDir, keep: f.out !== undefined, tweaks, cacheDir: f.cache };
  const progress = new Progress("pvreplay matrix", f.progress);
  // Ctrl-C terminates the workers at once; the rows finished make a report marked aborted.
  const stop = new AbortController();
  const guard = new SigintGuard("pvreplay matrix", () => stop.abort());
  let results;
  try {
    results = await runRows(rows, jobs, opts, (row, n) => {
      for (const c of row) done += c.instructions;
      progress.update(done, 0, `${n}/${rows.length} rows, ${jobs} jobs`);
    }, stop.signal);
  } finally {
    guard.close();
    progress.done();
  }
  const cells = results.flat();
  if (f.out === undefined) Deno.removeSync(outDir, { recursive: true });
  const doc: MatrixDocument = { schema: "pvreplay-matrix/1", reference, cells };
  if (preset) withClaims(doc, preset);
  if (stop.signal.aborted) {
    doc.aborted = {
      reason: "interrupted (SIGINT)",
      rowsDone: results.length,
      rowsTotal: rows.length,
    };
    report(doc, f);
    console.error(
      `pvreplay matrix: interrupted after ${results.length} of ${rows.length} rows; the report ` +
        "holds those rows and is marked aborted",
    );
    return EXIT_INTERRUPTED;
  }
  return report(doc, f);
}

/** The bundled variants' rows, then the Linux guest's (as merge orders them), if selected. */
function defaultRows(
  variants: string[],
  scenarios: string[],
  backends: string[],
  reference: string,
  linux: { dir: string; name: string } | null,
): MatrixRow[] {
  const rows = matrixRows(
    variants.filter((v) => v !== linux?.name),
    scenarios.filter((s) => s !== LINUX_SCENARIO),
    backends,
    reference,
  );
  if (linux && variants.includes(linux.name) && scenarios.includes(LINUX_SCENARIO)) {
    const variant = linux.name, scenario = LINUX_SCENARIO;
    rows.push({ variant, scenario, options: "", backends, reference, linux: linux.dir });
  }
  return rows;
}

/** `--linux DIR`: the directory (absolute, for the workers) and the row's variant name. */
function linuxGuest(f: MatrixFlags): { dir: string; name: string } {
  if (f.preset !== undefined || f.vdso) {
    throw new UsageError("--linux does not combine with --preset or --vdso");
  }
  const dir = resolve(f.linux!);
  for (const file of ["vmlinuz", "initrd.cpio"]) {
    try {
      if (Deno.statSync(`${dir}/${file}`).isFile) continue;
    } catch {
      // reported below
    }
    throw new UsageError(`--linux: ${dir}/${file} not found (guests/linux/fetch.sh makes it)`);
  }
  return { dir, name: linuxVariant(dir) };
}

/** A preset's rows, narrowed by --variants/--scenarios, sliced by --shard. */
function presetRows(
  preset: MatrixPreset,
  backends: string[],
  reference: string,
  f: MatrixFlags,
  shard: [number, number],
) {
  const keep = (list: string | undefined, all: readonly string[]) =>
    list === undefined ? null : new Set(choiceList("x", list, all));
  const variants = keep(f.variants, VARIANTS), scenarios = keep(f.scenarios, SCENARIOS);
  return preset.rows(backends, reference)
    .filter((r) =>
      (!variants || variants.has(r.variant)) && (!scenarios || scenarios.has(r.scenario))
    )
    .filter((_, i) => i % shard[1] === shard[0]);
}

/** Names the preset in the document and judges its claims on the cells. */
function withClaims(doc: MatrixDocument, preset: MatrixPreset): void {
  doc.preset = preset.name;
  doc.claims = judgeClaims(preset, doc.cells);
}

function mergeMatrix(f: MatrixFlags, inputs: string[]): number {
  if (inputs.length === 0) throw new UsageError("merge: name at least one DIR or matrix.json");
  const docs = inputs.map((p) =>
    readDocument(Deno.statSync(p).isDirectory ? `${p}/matrix.json` : p)
  );
  let doc: MatrixDocument;
  try {
    doc = mergeDocuments(docs, canonicalOrder);
  } catch (e) {
    throw new UsageError(`merge: ${(e as Error).message}`);
  }
  // Shards of one preset: the claims are judged again on the whole.
  const presets = new Set(docs.map((d) => d.preset ?? ""));
  if (presets.size > 1) throw new UsageError("merge: the inputs were run as different presets");
  const preset = docs[0].preset ? findPreset(docs[0].preset) : null;
  if (preset) withClaims(doc, preset);
  return report(doc, f);
}

/** Sort key of a cell: variant, options, scenario, backend as the default matrix orders them. */
function canonicalOrder(c: StatusCell): number[] {
  const backends = allBackendSpecs();
  const idx = (list: readonly string[], x: string) => {
    const i = list.indexOf(x);
    return i < 0 ? list.length : i;
  };
  return [
    idx(VARIANTS, c.variant),
    c.options.length,
    idx(SCENARIOS, c.scenario),
    idx(backends, c.backend),
  ];
}

function readDocument(path: string): MatrixDocument {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const doc = JSON.parse(text) as MatrixDocument;
    if (doc.schema !== "pvreplay-matrix/1" || !Array.isArray(doc.cells)) throw new Error("schema");
    return doc;
  } catch {
    throw new UsageError(`${path} is not a pvreplay matrix document (schema pvreplay-matrix/1)`);
  }
}

/** Writes the outputs the flags ask for; the exit status from failures and regressions. */
function report(doc: MatrixDocument, f: MatrixFlags): number {
  const regressions = f.baseline ? baselineRegressions(readDocument(f.baseline), doc) : [];
  if (f.out !== undefined) {
    Deno.mkdirSync(f.out, { recursive: true });
    Deno.writeTextFileSync(`${f.out}/matrix.json`, JSON.stringify(doc, null, 1) + "\n");
  }
  if (f.junit) Deno.writeTextFileSync(f.junit, junitXml(doc, regressions));
  if (f.html) Deno.writeTextFileSync(f.html, matrixHtml(doc, dirname(f.html)));
  if (f.json) console.log(JSON.stringify(doc, null, 1));
  else printMatrix(doc);
  for (const r of regressions) {
    console.error(
      `pvreplay matrix: regression: ${cellName(r.cell)} was ${r.was}, now ${r.cell.status}`,
    );
  }
  const failed = doc.cells.some((c) => c.status === "fails");
  return failed || regressions.length ? 1 : 0;
}

function parseShard(text: string | undefined): [number, number] {
  if (text === undefined) return [0, 1];
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) {
    throw new UsageError(`--shard "${text}": expected I/N with 0 <= I < N`);
  }
  return [Number(m[1]), Number(m[2])];
}

function parseTweaks(specs: string[]): Record<string, ProfileTweak> {
  const out: Record<string, ProfileTweak> = {};
  for (const spec of specs) {
    const m = /^([^:]+):([A-Za-z]\w*)=(.*)$/.exec(spec);
    if (!m) throw new UsageError(`--profile-tweak "${spec}": expected SPEC:FIELD=VALUE`);
    const [backend] = backendList(m[1]);
    const v = m[3];
    const value = v === "true"
      ? true
      : v === "false"
      ? false
      : /^(0x[0-9a-f]+|\d+)$/i.test(v)
      ? Number(v)
      : v;
    out[backend] = { ...out[backend], [m[2]]: value };
  }
  return out;
}

function printMatrix(doc: MatrixDocument) {
  const backends = [...new Set(doc.cells.map((c) => c.backend))];
  const rows = [...new Set(doc.cells.map((c) => `${c.variant}\t${c.options}\t${c.scenario}`))];
  const text = (c: StatusCell | undefined) =>
    !c ? "" : c.status === "diverges" ? `diverges:${c.divergence}` : c.status;
  const w = Math.max(17, ...backends.map((b) => b.length + 2));
  const label = (v: string, o: string) => v + (o ? ` ${o}` : "");
  const lw = Math.max(12, ...rows.map((r) => label(r.split("\t")[0], r.split("\t")[1]).length));
  console.log(`reference ${doc.reference}\n`);
  if (doc.aborted) {
    console.log(
      `ABORTED (${doc.aborted.reason}): ${doc.aborted.rowsDone} of ${doc.aborted.rowsTotal} rows\n`,
    );
  }
  console.log(`${"variant".padEnd(lw)} scenario  ` + backends.map((b) => b.padEnd(w)).join(""));
  for (const r of rows) {
    const [v, o, s] = r.split("\t");
    const row = backends.map((b) =>
      text(
        doc.cells.find((x) =>
          x.variant === v && x.options === o && x.scenario === s && x.backend === b
        ),
      )
        .padEnd(w)
    );
    console.log(`${label(v, o).padEnd(lw)} ${s.padEnd(9)} ${row.join("")}`);
  }
  const bad = doc.cells.filter((c) => c.status === "fails" || c.status === "n/a");
  if (bad.length) {
    console.log("\ncells that fail or could not be compared:");
    for (const c of bad) console.log(`  ${cellName(c)}: ${c.status}: ${c.reason}`);
  }
  for (const claim of doc.claims ?? []) {
    console.log(`\n${claim.verdict.toUpperCase()}: "${claim.quote}"`);
    console.log(`  ${claim.author}, ${claim.date}, "${claim.thread}"`);
    console.log(`  test: ${claim.test}`);
    if (claim.against.length) console.log(`  against: ${claim.against.join("; ")}`);
    else if (claim.support.length) console.log(`  ${claim.support.length} cells agree`);
  }
}

function printVdso(rows: VdsoRow[], perBackend: boolean) {
  console.log(
    `The vDSO story ${
      perBackend ? "per backend" : "on bare hardware (native backend)"
    } ('old glibc' calls 0xffffe400,`,
  );
  console.log("'new glibc' uses AT_SYSINFO). Cost = instructions per system call.\n");
  const head = [
    "variant",
    "options",
    ...(perBackend ? ["backend"] : []),
    "vdso",
    "AT_SYSINFO",
    "new glibc",
    "old glibc",
    "int80",
    "sysenter",
  ];
  const data = rows.map((r) => [
    r.variant,
    r.options || "-",
    ...(perBackend ? [r.backend] : []),
    r.vdso,
    r.sysinfo,
    r.newGlibc,
    r.oldGlibc,
    r.int80Cost,
    r.sysenterCost,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...data.map((d) => d[i].length)) + 2);
  console.log(head.map((h, i) => h.padEnd(widths[i])).join(""));
  for (const d of data) console.log(d.map((x, i) => x.padEnd(widths[i])).join(""));
  const silent = rows.filter((r) => r.cell.verdict === "NO-RESULT");
  if (silent.length) console.log("\nno verdict ('?'):");
  for (const r of silent) {
    const why = r.refused
      ? `refused the image: ${r.refused}`
      : `${r.cell.exit} (status ${r.cell.code})`;
    console.log(`  ${r.variant} ${r.options || "-"} on ${r.backend}: ${why}`);
  }
}
