/**
 * `pvreplay demo`: the README's first command. Records every scenario of the bundled guest on
 * every backend profile, then diffs each backend's traces against bare hardware and summarises
 * where the ABIs diverge.
 *
 * @module
 */

import {
  type CaseRun,
  recordCaseAsync,
  SCENARIOS,
  suiteCase,
  VARIANTS,
} from "../traces/session/suite.ts";
import { ImageError } from "../core/loaders/image_error.ts";
import { backendList, choiceList, command, Progress } from "./common.ts";
import { SigintGuard } from "./interrupt.ts";
import { EXIT_IMAGE_ERROR, EXIT_INTERRUPTED } from "../core/exit_status.ts";

/**
 * The demo's kernel: 2.6.23, the first variant that carries the paravirt_ops of every ABI
 * modelled (VMI, Xen, lguest; guests/README.md), so one kernel meets every backend.
 */
export const DEMO_KERNEL = "2.6.23";
import { type DemoDiff, DemoDiffer } from "./demo_diff.ts";

const USAGE =
  `usage: pvreplay demo [--out DIR] [--variant V] [--scenarios a,b,...] [--backends x,y@v,...] [--json]

Boots one bundled guest kernel (guests/images/pvkernel-${DEMO_KERNEL}.elf by default) once per
scenario on every backend profile, records each run to DIR (default out/demo), checks the
guest's own verdict, and diffs every backend's trace against the first backend's (native) on
canonical operations. A backend that refuses the kernel (Xen: no Xen ELF notes) is a cell
marked refused.

options:
  --out DIR            where the traces go (default out/demo)
  --variant V          the kernel variant, one of: ${VARIANTS.join(",")} (default ${DEMO_KERNEL})
  --scenarios LIST     subset of: ${SCENARIOS.join(",")}
  --backends LIST      backend specs (default: every profile of every backend)
  --json               one JSON object on stdout instead of tables
  --progress, --no-progress  cells done, rate, ETA on stderr (default: when it is a terminal)
  --help               show this help

Ctrl-C stops the cell being recorded at once (its trace is marked aborted), or the diff
being computed, prints the cells finished so far and exits with 130; a second Ctrl-C exits
at once.

exit status: 0 when every scenario passed on every backend, 1 otherwise, 2 usage error,
130 interrupted.`;

/**
 * Implements `pvreplay demo`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { demoCommand } from "./demo.ts";
 * assert.equal(await demoCommand(["--scenarios", "nope"]), 2);
 * ```
 */
export function demoCommand(args: string[]): Promise<number> {
  return command(
    "demo",
    USAGE,
    args,
    {
      out: { type: "string" },
      variant: { type: "string" },
      scenarios: { type: "string" },
      backends: { type: "string" },
      json: { type: "boolean" },
      progress: { type: "boolean" },
    },
    {},
    (values) => demo(values as DemoFlags),
  );
}

interface DemoFlags {
  out?: string;
  variant?: string;
  scenarios?: string;
  backends?: string;
  json?: boolean;
  progress?: boolean;
}

async function demo(f: DemoFlags): Promise<number> {
  const scenarios = choiceList("scenarios", f.scenarios, SCENARIOS);
  const [variant] = choiceList("variant", f.variant ?? DEMO_KERNEL, VARIANTS);
  const backends = backendList(f.backends);
  const outDir = f.out ?? "out/demo";
  Deno.mkdirSync(outDir, { recursive: true });

  const progress = new Progress("pvreplay demo", f.progress, "cells");
  const total = scenarios.length * backends.length;
  const rows: DemoRow[] = [];
  let cells = 0;
  // The diffs run on a worker: a Ctrl-C terminates it at once and the remaining diffs are
  // skipped (the tables show the cells recorded).
  const differ = new DemoDiffer();
  const guard = new SigintGuard("pvreplay demo", () => differ.terminate());
  try {
    for (const scenario of scenarios) {
      const c = suiteCase(variant, scenario);
      for (const backend of backends) {
        if (guard.interrupted) break;
        const path = `${outDir}/${c.label}-${backend.replace("@", "_")}.pvt`;
        let run: CaseRun;
        try {
          run = await recordCaseAsync(c, backend, { out: path }, () => guard.interrupted);
        } catch (e) {
          // The backend would not boot this kernel: a cell with the reason, no trace.
          if (!(e instanceof ImageError)) throw e;
          progress.update(++cells, total, `${scenario} on ${backend}: refused`);
          rows.push({
            scenario,
            backend,
            path: null,
            pass: null,
            detected: "-",
            exit: "refused",
            code: EXIT_IMAGE_ERROR,
            refused: e.problem,
            events: 0,
            instructions: 0,
            diff: null,
          });
          continue;
        }
        // The cell cut short is not a result: its aborted trace stays in outDir.
        if (run.result.reason === "interrupted") break;
        progress.update(++cells, total, `${scenario} on ${backend}`);
        rows.push({
          scenario,
          backend,
          path,
          pass: run.verdict.pass,
          detected: run.verdict.fields.backend ?? "?",
          exit: run.result.reason,
          code: run.result.exitCode,
          refused: null,
          events: run.events,
          instructions: run.result.instructions,
          diff: null,
        });
      }
    }
  } finally {
    progress.done();
  }
  const base = backends[0];
  const refOf = (row: DemoRow) =>
    rows.find((r) => r.scenario === row.scenario && r.backend === base && r.path !== null);
  const toDiff = rows.filter((r) => r.backend !== base && r.path !== null && refOf(r));
  const diffProgress = new Progress("pvreplay demo", f.progress, "diffs");
  try {
    for (const [i, row] of toDiff.entries()) {
      if (guard.interrupted) break;
      row.diff = await differ.diff({ refPath: refOf(row)!.path!, path: row.path!, against: base });
      diffProgress.update(i + 1, toDiff.length, `${row.scenario} on ${row.backend}`);
    }
  } finally {
    differ.terminate();
    diffProgress.done();
  }
  guard.close();
  const interrupted = guard.interrupted;
  const ok = rows.every((r) => r.pass === true);
  if (f.json) {
    console.log(JSON.stringify({ variant, outDir, rows, aborted: interrupted }));
  } else printTables(variant, rows, scenarios, backends, outDir);
  if (interrupted) {
    const diffed = toDiff.filter((r) => r.diff !== null).length;
    console.error(
      `pvreplay demo: interrupted after ${rows.length} of ${total} cells` +
        (rows.length === total ? `, ${diffed} of ${toDiff.length} diffs` : ""),
    );
    return EXIT_INTERRUPTED;
  }
  return ok ? 0 : 1;
}

interface DemoRow {
  scenario: string;
  backend: string;
  /** The trace, or null when the backend refused the kernel. */
  path: string | null;
  pass: boolean | null;
  detected: string;
  exit: string;
  code: number;
  /** Why the backend refused the kernel, or null. */
  refused: string | null;
  events: number;
  instructions: number;
  diff: DemoDiff | null;
}

function printTables(
  variant: string,
  rows: DemoRow[],
  scenarios: string[],
  backends: string[],
  outDir: string,
) {
  console.log(`pvreplay demo: guest pvkernel-${variant}.elf, traces in ${outDir}/\n`);
  const cell = (s: string, b: string) => {
    const r = rows.find((x) => x.scenario === s && x.backend === b);
    if (r === undefined) return "-"; // not run (interrupted)
    if (r.refused) return "refused";
    const v = r.pass === true ? "PASS" : r.pass === false ? "FAIL" : `no-result(${r.exit})`;
    const n = r.events < 1000 ? `${r.events}` : `${(r.events / 1000).toFixed(0)}k`;
    return `${v} ${n} ev`;
  };
  const grid = scenarios.map((s) => backends.map((b) => cell(s, b)));
  const widths = backends.map((b, i) => Math.max(b.length, ...grid.map((g) => g[i].length)) + 2);
  console.log("scenario".padEnd(10) + backends.map((b, i) => b.padEnd(widths[i])).join(""));
  for (const [k, s] of scenarios.entries()) {
    console.log(s.padEnd(10) + grid[k].map((c, i) => c.padEnd(widths[i])).join(""));
  }
  console.log(
    `\nDivergences against ${backends[0]} (canonical operations; 'pvreplay diff A B' for detail):`,
  );
  for (const r of rows) {
    if (!r.diff) continue;
    const what = r.diff.byKey.length ? r.diff.byKey.join(", ") : "identical";
    console.log(`  ${r.scenario.padEnd(9)} ${r.backend.padEnd(12)} ${what}`);
  }
  const refused = new Map(rows.filter((r) => r.refused).map((r) => [r.backend, r.refused]));
  if (refused.size) console.log("\nRefused the kernel (no cell run):");
  for (const [backend, why] of refused) console.log(`  ${backend.padEnd(14)} ${why}`);
}
