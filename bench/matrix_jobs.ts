/**
 * `matrix --jobs 2` against `--jobs 1` on the bundled guests (target >= 1.7x on 2 free cores).
 * By default the matrix `pvreplay matrix` runs with no selection flags: every bundled kernel
 * variant x scenario on every backend profile against native (56 rows x 18 profiles, several
 * minutes a round); `--quick` takes 18 rows x 3 profiles. Both runs are measured in the same
 * process, alternately, and must give the same cells. Rows run as the CLI runs them (on
 * workers, with a stop signal), so --jobs 1 is one worker.
 *
 *   deno run --allow-read --allow-write=/tmp --allow-sys bench/matrix_jobs.ts [--rounds N] [--quick]
 */

import assert from "node:assert/strict";
import process from "node:process";
import { parseArgs } from "node:util";
import { matrixRows } from "../traces/session/matrix_status.ts";
import { runRows } from "../traces/session/matrix_pool.ts";
import { SCENARIOS, VARIANTS } from "../traces/session/suite.ts";
import { allBackendSpecs } from "../cli/common.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string" }, quick: { type: "boolean" } },
});
const rounds = Number(values.rounds ?? 1);
const rows = values.quick
  ? matrixRows(
    ["2.6.20", "2.6.22", "nopv"],
    ["boot", "irq", "mmu", "syscall", "halt", "shutdown"],
    ["native@p6", "kvm@2.6.22", "kvm@2.6.25"],
    "native@p6",
  )
  : matrixRows([...VARIANTS], [...SCENARIOS], allBackendSpecs(), "native@p6");
/**
 * CPU seconds of this process, all threads: with V8's compiler and collector threads, one worker
 * keeps more than one core busy, which bounds what a second one can add.
 */
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const time = async (jobs: number) => {
  const outDir = Deno.makeTempDirSync({ prefix: "matrix-bench-" });
  const t0 = performance.now(), c0 = cpuSeconds();
  // As `pvreplay matrix` runs them: with a stop signal, so even --jobs 1 runs on a worker.
  const cells = await runRows(rows, jobs, { outDir }, () => {}, new AbortController().signal);
  const s = (performance.now() - t0) / 1000;
  const cores = (cpuSeconds() - c0) / s;
  Deno.removeSync(outDir, { recursive: true });
  return { s, cores, cells: JSON.stringify(cells) };
};
const ratios: number[] = [];
const cells = rows.reduce((n, r) => n + r.backends.length, 0);
for (let r = 0; r < rounds; r++) {
  const one = await time(1);
  const two = await time(2);
  assert.equal(two.cells, one.cells, "--jobs 2 gave other cells than --jobs 1");
  ratios.push(one.s / two.s);
  console.log(
    `round ${r + 1}: ${rows.length} rows, ${cells} cells: --jobs 1 ${one.s.toFixed(1)} s ` +
      `(${one.cores.toFixed(2)} cores busy), --jobs 2 ${two.s.toFixed(1)} s ` +
      `(${two.cores.toFixed(2)}), speed-up ${(one.s / two.s).toFixed(2)}x`,
  );
}
console.log(
  `best speed-up ${Math.max(...ratios).toFixed(2)}x (target >= 1.7x), load ${
    Deno.loadavg().map((x) => x.toFixed(1)).join(" ")
  }`,
);
