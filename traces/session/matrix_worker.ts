/**
 * Web Worker entry of the matrix pool (matrix_pool.ts): runs one row per message and posts its
 * cells back, or the error message.
 *
 * @module
 */

import { type MatrixRow, type RowOptions, runRow } from "./matrix_status.ts";

/** A message to the worker. */
export interface RowJob {
  index: number;
  row: MatrixRow;
  options: RowOptions;
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<RowJob>) => void) | null;
  postMessage(m: unknown): void;
};
scope.onmessage = (e) => {
  const { index, row, options } = e.data;
  try {
    scope.postMessage({ index, cells: runRow(row, options) });
  } catch (err) {
    scope.postMessage({ index, error: (err as Error).message });
  }
};
