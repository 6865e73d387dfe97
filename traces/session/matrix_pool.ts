/**
 * Runs matrix rows on up to `jobs` Web Workers (each a separate isolate, so rows run on separate
 * cores), handing the next row to whichever worker finishes first. Results come back in row
 * order whatever the completion order, so the output does not depend on scheduling.
 *
 * @module
 */

import { type MatrixRow, type RowOptions, runRow, type StatusCell } from "./matrix_status.ts";
import type { RowJob } from "./matrix_worker.ts";

/**
 * Runs `rows` with `jobs` workers (1: in this thread, no worker); `onRow` sees each finished row.
 *
 * @example
 * ```ts
 * import { runRows } from "./matrix_pool.ts";
 * const row = { variant: "2.6.22", scenario: "boot", options: "", backends: ["native@p6"],
 *   reference: "native@p6" };
 * const [cells] = await runRows([row], 1, { outDir: Deno.makeTempDirSync() });
 * console.assert(cells[0].status === "same");
 * ```
 */
export async function runRows(
  rows: MatrixRow[],
  jobs: number,
  options: RowOptions,
  onRow: (cells: StatusCell[], done: number) => void = () => {},
): Promise<StatusCell[][]> {
  const results: StatusCell[][] = new Array(rows.length);
  let finished = 0;
  if (jobs <= 1 || rows.length <= 1) {
    for (const [i, row] of rows.entries()) onRow(results[i] = runRow(row, options), ++finished);
    return results;
  }
  let next = 0;
  const workers = Array.from(
    { length: Math.min(jobs, rows.length) },
    () => new Worker(new URL("./matrix_worker.ts", import.meta.url), { type: "module" }),
  );
  try {
    await Promise.all(workers.map((w) =>
      new Promise<void>((resolve, reject) => {
        const feed = () => {
          if (next >= rows.length) return resolve();
          const job: RowJob = { index: next, row: rows[next++], options };
          w.postMessage(job);
        };
        w.onmessage = (
          e: MessageEvent<{ index: number; cells?: StatusCell[]; error?: string }>,
        ) => {
          const { index, cells, error } = e.data;
          if (!cells) return reject(new Error(`row ${index}: ${error}`));
          onRow(results[index] = cells, ++finished);
          feed();
        };
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`matrix worker: ${e.message}`));
        };
        feed();
      })
    ));
  } finally {
    for (const w of workers) w.terminate();
  }
  return results;
}
