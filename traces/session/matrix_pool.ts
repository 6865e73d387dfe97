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
 * Runs `rows` with `jobs` workers (1 and no `signal`: in this thread, no worker); `onRow` sees
 * each finished row.
 *
 * With a `signal`, rows always run on workers, so that this thread stays free to see the abort
 * (Ctrl-C) while a row runs: on abort every worker is terminated at once (the rows they were
 * running are dropped) and the rows finished so far are returned, in row order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runRows } from "./matrix_pool.ts";
 * const row = { variant: "2.6.22", scenario: "boot", options: "", backends: ["native@p6"],
 *   reference: "native@p6" };
 * const [cells] = await runRows([row], 1, { outDir: Deno.makeTempDirSync() });
 * assert.equal(cells[0].status, "same");
 * ```
 */
export async function runRows(
  rows: MatrixRow[],
  jobs: number,
  options: RowOptions,
  onRow: (cells: StatusCell[], done: number) => void = () => {},
  signal?: AbortSignal,
): Promise<StatusCell[][]> {
  const results: StatusCell[][] = new Array(rows.length);
  let finished = 0;
  if (signal === undefined && (jobs <= 1 || rows.length <= 1)) {
    for (const [i, row] of rows.entries()) onRow(results[i] = runRow(row, options), ++finished);
    return results;
  }
  let next = 0;
  const workers = Array.from(
    { length: Math.max(1, Math.min(jobs, rows.length)) },
    () => new Worker(new URL("./matrix_worker.ts", import.meta.url), { type: "module" }),
  );
  let onAbort = () => {};
  const aborted = new Promise<void>((resolve) => {
    onAbort = () => {
      for (const w of workers) w.terminate();
      resolve();
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([
      aborted,
      Promise.all(workers.map((w) =>
        new Promise<void>((resolve, reject) => {
          const feed = () => {
            if (next >= rows.length || signal?.aborted) return resolve();
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
      )),
    ]);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    for (const w of workers) w.terminate();
  }
  return signal?.aborted ? results.filter((r) => r !== undefined) : results;
}
