/**
 * Runs matrix rows on up to `jobs` Web Workers (each a separate isolate, so they run on separate
 * cores). The unit of work is a cell, not a row: a row's reference is recorded first, then each
 * other backend's cell is recorded and judged on whichever worker is free, against the reference
 * trace the first unit left in `outDir`. So a row of 18 profiles spreads over every worker and
 * the last row does not leave the others idle. Rows whose cases are known to be long (the real
 * Linux guest, `matrix --linux`) have their reference recorded first. A row is finished (cached,
 * traces removed, `onRow`) when its last cell is; results come back in row order whatever the
 * completion order, and every cell is what {@link runRow} gives, so the output does not depend
 * on scheduling.
 *
 * @module
 */

import {
  finishRow,
  judgeCell,
  type MatrixRow,
  type Recording,
  type RowOptions,
  runRow,
  type StatusCell,
} from "./matrix_status.ts";
import type { UnitJob, UnitResult } from "./matrix_worker.ts";

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
  // References in row order, the long (Linux) rows' first; then cells as references finish.
  const refOrder = rows.map((_, i) => i).sort((a, b) =>
    Number(rows[b].linux !== undefined) - Number(rows[a].linux !== undefined) || a - b
  );
  let nextRef = 0;
  /** Cells whose reference is recorded: row, and the slots of one backend (recorded once). */
  const ready: { index: number; slots: number[] }[] = [];
  const refs: Recording[] = new Array(rows.length);
  const cells: StatusCell[][] = new Array(rows.length);
  const waiting: number[] = new Array(rows.length).fill(0);
  const units = rows.reduce((n, r) => n + 1 + new Set(r.backends).size, 0);
  const workers = Array.from(
    { length: Math.max(1, Math.min(jobs, units)) },
    () => new Worker(new URL("./matrix_worker.ts", import.meta.url), { type: "module" }),
  );
  const idle = [...workers];
  let onAbort = () => {};
  const aborted = new Promise<void>((resolve) => {
    onAbort = () => {
      for (const w of workers) w.terminate();
      resolve();
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
  const rowDone = (i: number, row: StatusCell[]) => onRow(results[i] = row, ++finished);
  /** The next unit: a cell, or a reference while fewer cells than workers are ready. */
  const take = (): UnitJob | null => {
    if (ready.length > 0 && (ready.length >= workers.length || nextRef >= refOrder.length)) {
      const { index, slots } = ready.shift()!;
      const row = rows[index];
      const cell = { slot: slots[0], backend: row.backends[slots[0]], ref: refs[index] };
      return { index, row, options, cell };
    }
    if (nextRef >= refOrder.length) return null;
    const index = refOrder[nextRef++];
    return { index, row: rows[index], options };
  };
  const onRef = (index: number, ref: Recording) => {
    const row = rows[index];
    refs[index] = ref;
    cells[index] = new Array(row.backends.length);
    const slots = new Map<string, number[]>();
    for (const [k, b] of row.backends.entries()) {
      if (b === row.reference) cells[index][k] = judgeCell(row, b, ref, ref, options);
      else slots.set(b, [...slots.get(b) ?? [], k]);
    }
    for (const s of slots.values()) ready.push({ index, slots: s });
    waiting[index] = slots.size;
    if (slots.size === 0) rowFinished(index);
  };
  const onCell = (index: number, slot: number, cell: StatusCell) => {
    const row = rows[index];
    // A backend named twice in the row is recorded once: its other slots get the same cell.
    for (const [k, b] of row.backends.entries()) {
      if (b === row.backends[slot]) cells[index][k] = k === slot ? cell : structuredClone(cell);
    }
    if (--waiting[index] === 0) rowFinished(index);
  };
  const rowFinished = (index: number) => {
    finishRow(rows[index], cells[index], options);
    rowDone(index, cells[index]);
  };
  try {
    await Promise.race([
      aborted,
      new Promise<void>((resolve, reject) => {
        const dispatch = () => {
          if (signal?.aborted) return resolve();
          while (idle.length > 0) {
            const job = take();
            if (!job) break;
            idle.shift()!.postMessage(job);
          }
          if (finished === rows.length) resolve();
        };
        for (const w of workers) {
          w.onmessage = (e: MessageEvent<UnitResult>) => {
            try {
              const { index, slot, cached, ref, cell, error } = e.data;
              if (error !== undefined) throw new Error(`row ${index}: ${error}`);
              if (cached) rowDone(index, cached);
              else if (ref) onRef(index, ref);
              else onCell(index, slot!, cell!);
              idle.push(w);
              dispatch();
            } catch (err) {
              reject(err);
            }
          };
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(`matrix worker: ${e.message}`));
          };
        }
        dispatch();
      }),
    ]);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    for (const w of workers) w.terminate();
  }
  return signal?.aborted ? results.filter((r) => r !== undefined) : results;
}
