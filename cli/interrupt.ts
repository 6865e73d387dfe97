/**
 * Ctrl-C during a long command: the first SIGINT asks the run to end at its next slice boundary
 * (the command then writes the abort record and exits with `EXIT_INTERRUPTED`); a second one
 * exits at once with the same status.
 *
 * @module
 */

import { EXIT_INTERRUPTED } from "../core/exit_status.ts";

/**
 * Listens for SIGINT until {@link SigintGuard.close}; poll {@link SigintGuard.interrupted} (the
 * `interrupted` option of `Machine.runAsync`). The listener does not keep the process alive:
 * it is removed on close, and the run loop yields to the event loop so the signal is seen.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SigintGuard } from "./interrupt.ts";
 * const guard = new SigintGuard("pvreplay example");
 * assert.equal(guard.interrupted, false);
 * guard.close();
 * ```
 */
export class SigintGuard {
  #count = 0;
  readonly #onSignal = () => {
    if (++this.#count > 1) Deno.exit(EXIT_INTERRUPTED);
    console.error(`\n${this.label}: interrupted; stopping (Ctrl-C again to exit at once)`);
    this.onInterrupt?.();
  };

  /**
   * `onInterrupt` runs at the first SIGINT, for work that is not polled (the matrix terminates
   * its workers).
   */
  constructor(readonly label: string, readonly onInterrupt?: () => void) {
    Deno.addSignalListener("SIGINT", this.#onSignal);
  }

  /** True once SIGINT arrived. */
  get interrupted(): boolean {
    return this.#count > 0;
  }

  /** Removes the listener (SIGINT kills the process again). */
  close(): void {
    Deno.removeSignalListener("SIGINT", this.#onSignal);
  }
}
