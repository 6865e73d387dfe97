/**
 * Web Worker entry of the matrix pool (matrix_pool.ts): runs one unit of a row per message and
 * posts its result back, or the error message. A row's first unit looks the row up in the cache
 * and records the reference; each other unit records one backend and judges its cell against
 * the reference's trace, which the first unit left in the row's `outDir` (no trace crosses
 * threads).
 *
 * @module
 */

import {
  judgeCell,
  type MatrixRow,
  recordBackend,
  type Recording,
  rowCacheHits,
  type RowOptions,
  type StatusCell,
} from "./matrix_status.ts";

/** A message to the worker: the reference of row `index` (no `ref`), or its cell `backend`. */
export interface UnitJob {
  index: number;
  row: MatrixRow;
  options: RowOptions;
  /**
   * The cell to record and judge (`slot`: its index in `row.backends`), with the reference's
   * recording; absent: the reference.
   */
  cell?: { slot: number; backend: string; ref: Recording };
}

/** The worker's answer: the row's cached cells, the reference's recording, a cell, or an error. */
export interface UnitResult {
  index: number;
  slot?: number;
  cached?: StatusCell[];
  ref?: Recording;
  cell?: StatusCell;
  error?: string;
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<UnitJob>) => void) | null;
  postMessage(m: UnitResult): void;
};
scope.onmessage = (e) => {
  const { index, row, options, cell } = e.data;
  try {
    if (cell) {
      const r = recordBackend(row, cell.backend, options);
      const { slot, backend, ref } = cell;
      scope.postMessage({ index, slot, cell: judgeCell(row, backend, r, ref, options) });
    } else {
      const cached = rowCacheHits(row, options);
      scope.postMessage(
        cached ? { index, cached } : { index, ref: recordBackend(row, row.reference, options) },
      );
    }
  } catch (err) {
    scope.postMessage({ index, error: (err as Error).message });
  }
};
