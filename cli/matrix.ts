/**
 * `pvreplay matrix`: guest variant × scenario × backend profile, and the vDSO view.
 *
 * @module
 */

import { listBackends } from "../backends/registry.ts";
import { type MatrixCell, runCell, type VdsoRow, vdsoRow } from "../traces/session/matrix.ts";
import { SCENARIOS, VARIANTS } from "../traces/session/suite.ts";
import { backendList, choiceList, command, Progress } from "./common.ts";

const USAGE =
  `usage: pvreplay matrix [--variants LIST] [--scenarios LIST] [--backends LIST] [--json]
       pvreplay matrix --vdso [--json]
       pvreplay matrix --list

Runs every bundled guest kernel variant x scenario on every backend profile and prints the
compatibility matrix: the guest's own verdict (PASS/FAIL), or how the machine ended when the
guest could not say (triple fault, budget, ...), plus the exceptions it took.

  --variants LIST    kernel variants (default all: ${VARIANTS.join(",")})
  --scenarios LIST   scenarios (default all: ${SCENARIOS.join(",")})
  --backends LIST    backend specs (default every profile: native@p6,kvm@2.6.20,...)
  --vdso             the 2007 vDSO story on bare hardware: kernel variant x (old, new glibc),
                     the trap that breaks a combination, int $0x80 vs sysenter cost
  --list             list backends and their version profiles
  --json             JSON Lines on stdout, one object per cell
  --progress, --no-progress  cells done, rate, ETA on stderr (default: when it is a terminal)
  --help             show this help

exit status: 0 every cell PASS (or, with --vdso, the table was produced), 1 some cell did
not pass, 2 usage error.`;

/** Boot-option sets of the vDSO view (guests/README.md). */
export const VDSO_CASES: ReadonlyArray<[string, string]> = [
  ["nopv", ""],
  ["2.6.20", ""],
  ["2.6.20", "vdso=1"],
  ["2.6.21", ""],
  ["2.6.21-vdso", ""],
  ["2.6.21-vdso", "vdso=0"],
  ["2.6.22", ""],
  ["2.6.22", "reservetop=0x400000"],
];

/**
 * Implements `pvreplay matrix`.
 *
 * @example
 * ```ts
 * import { matrixCommand } from "./matrix.ts";
 * console.assert(await matrixCommand(["--variants", "2.6.99"]) === 2);
 * ```
 */
export function matrixCommand(args: string[]): Promise<number> {
  return command(
    "matrix",
    USAGE,
    args,
    {
      variants: { type: "string" },
      scenarios: { type: "string" },
      backends: { type: "string" },
      vdso: { type: "boolean" },
      list: { type: "boolean" },
      json: { type: "boolean" },
      progress: { type: "boolean" },
    },
    {},
    (values) => matrix(values as MatrixFlags),
  );
}

interface MatrixFlags {
  variants?: string;
  scenarios?: string;
  backends?: string;
  vdso?: boolean;
  list?: boolean;
  json?: boolean;
  progress?: boolean;
}

function matrix(f: MatrixFlags): number {
  const variants = choiceList("variants", f.variants, VARIANTS);
  const scenarios = choiceList("scenarios", f.scenarios, SCENARIOS);
  const backends = backendList(f.backends);
  if (f.list) {
    for (const b of listBackends()) {
      const versions = b.versions.map((v) => v === b.defaultVersion ? `${v} (default)` : v);
      console.log(`${b.name.padEnd(8)} ${versions.join(", ")}`);
    }
    return 0;
  }
  const progress = new Progress("pvreplay matrix", f.progress, "cells");
  let done = 0;
  if (f.vdso) {
    const rows: VdsoRow[] = [];
    for (const [variant, options] of VDSO_CASES) {
      const row = vdsoRow(variant, options);
      progress.update(++done, VDSO_CASES.length, `${variant} ${options}`);
      rows.push(row);
      if (f.json) {
        console.log(JSON.stringify({ ...row, cell: undefined, verdict: row.cell.verdict }));
      }
    }
    progress.done();
    if (!f.json) printVdso(rows);
    return 0;
  }
  const cells: MatrixCell[] = [];
  for (const variant of variants) {
    for (const scenario of scenarios) {
      for (const backend of backends) {
        const cell = runCell(variant, scenario, backend);
        progress.update(
          ++done,
          variants.length * scenarios.length * backends.length,
          `${variant} ${scenario} ${backend}`,
        );
        cells.push(cell);
        if (f.json) console.log(JSON.stringify(cell));
      }
    }
  }
  progress.done();
  if (!f.json) printMatrix(cells, variants, scenarios, backends);
  return cells.every((c) => c.verdict === "PASS") ? 0 : 1;
}

function cellText(c: MatrixCell): string {
  if (c.verdict !== "NO-RESULT") return c.verdict;
  return c.exit === "triple-fault" ? "TRIPLE-FAULT" : c.exit.toUpperCase();
}

function printMatrix(
  cells: MatrixCell[],
  variants: string[],
  scenarios: string[],
  backends: string[],
) {
  const w = Math.max(13, ...backends.map((b) => b.length + 2));
  console.log("variant      scenario  " + backends.map((b) => b.padEnd(w)).join(""));
  for (const v of variants) {
    for (const s of scenarios) {
      const row = backends.map((b) => {
        const c = cells.find((x) => x.variant === v && x.scenario === s && x.backend === b)!;
        return cellText(c).padEnd(w);
      });
      console.log(`${v.padEnd(12)} ${s.padEnd(9)} ${row.join("")}`);
    }
  }
  const bad = cells.filter((c) => c.verdict !== "PASS");
  if (bad.length) {
    console.log("\ncells that did not pass:");
    for (const c of bad) {
      const traps = Object.entries(c.traps).map(([k, n]) => `${k}x${n}`).join(" ") ||
        "no exceptions";
      console.log(
        `  ${c.variant} ${c.scenario} on ${c.backend}: ${
          cellText(c)
        } (exit ${c.exit}, status ${c.code}; ${traps})`,
      );
    }
  }
}

function printVdso(rows: VdsoRow[]) {
  console.log("The vDSO story on bare hardware (native backend; 'old glibc' calls 0xffffe400,");
  console.log("'new glibc' uses AT_SYSINFO). Cost = instructions per system call.\n");
  const head = [
    "variant",
    "options",
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
}
