/**
 * `matrix --jobs 2` against `--jobs 1` on the bundled guests (target >= 1.7x on 2 free cores).
 * Both runs are measured in the same process, alternately, and must give the same cells. Rows
 * run as the CLI runs them (on workers, with a stop signal), so --jobs 1 is one worker.
 *
 *   deno run --allow-read --allow-write=/tmp --allow-sys bench/matrix_jobs.ts [--rounds N] [--quick]
 */

import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { matrixRows } from "../traces/session/matrix_status.ts";
import { runRows } from "../traces/session/matrix_pool.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string" }, quick: { type: "boolean" } },
});
const rounds = Number(values.rounds ?? 1);
// --quick: 4 rows x 2 profiles, for a loaded machine.
const rows = values.quick
  ? matrixRows(["2.6.22", "nopv"], ["boot", "halt"], ["native@p6", "kvm@2.6.25"], "native@p6")
  : matrixRows(
    ["2.6.20", "2.6.22", "nopv"],
    ["boot", "irq", "mmu", "syscall", "halt", "shutdown"],
    ["native@p6", "kvm@2.6.22", "kvm@2.6.25"],
    "native@p6",
  );
const time = async (jobs: number) => {
  const outDir = Deno.makeTempDirSync({ prefix: "matrix-bench-" });
  const t0 = performance.now();
  // As `pvreplay matrix` runs them: with a stop signal, so even --jobs 1 runs on a worker.
  const cells = await runRows(rows, jobs, { outDir }, () => {}, new AbortController().signal);
  const s = (performance.now() - t0) / 1000;
  Deno.removeSync(outDir, { recursive: true });
  return { s, cells: JSON.stringify(cells) };
};
const ratios: number[] = [];
for (let r = 0; r < rounds; r++) {
  const one = await time(1);
  const two = await time(2);
  assert.equal(two.cells, one.cells, "--jobs 2 gave other cells than --jobs 1");
  ratios.push(one.s / two.s);
  console.log(
    `round ${r + 1}: ${rows.length} rows: --jobs 1 ${one.s.toFixed(1)} s, ` +
      `--jobs 2 ${two.s.toFixed(1)} s, speed-up ${(one.s / two.s).toFixed(2)}x`,
  );
}
console.log(
  `best speed-up ${Math.max(...ratios).toFixed(2)}x (target >= 1.7x), load ${
    Deno.loadavg().map((x) => x.toFixed(1)).join(" ")
  }`,
);
