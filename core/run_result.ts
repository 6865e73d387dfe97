/**
 * How a `Machine` run ended: the reason, its exit status and the host's run options.
 *
 * @module
 */

/** Why `Machine.run` returned. */
export type RunReason =
  | "debug-exit"
  | "shutdown"
  | "triple-fault"
  | "reset"
  | "stopped"
  | "interrupted"
  | "budget"
  | "idle";

/** Outcome of `Machine.run`. */
export interface RunResult {
  reason: RunReason;
  /** Process exit status for this outcome (see `core/exit_status.ts`). */
  exitCode: number;
  /** Instructions retired by this call (virtual time skipped while halted included). */
  instructions: number;
  /** Last POST code written (-1 if none). */
  post: number;
  /** The value written to isa-debug-exit, for reason "debug-exit". */
  debugExitValue?: number;
  /** For "triple-fault": the vector whose delivery failed. */
  shutdownVector?: number;
}

/** Options of `Machine.run`. */
export interface RunOptions {
  /** Called between slices of about `progressEvery` instructions with the total icount. */
  onProgress?: (icount: number) => void;
  /** Guest instructions per slice (default 4 M for `run`, 1 M for `runAsync`). */
  progressEvery?: number;
  /**
   * Polled between slices: true ends the run with reason "interrupted" (a host request such as
   * Ctrl-C; guest-visible state is untouched, the run just ends at a slice boundary).
   */
  interrupted?: () => boolean;
}
