/**
 * The snapshot contract every device implements.
 *
 * @module
 */

/**
 * A device whose complete guest-visible state round-trips through JSON. `loadState` also re-arms
 * the device's clock events from the saved deadlines (callbacks cannot be serialised; the
 * snapshot code clears the clock's queue first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Stateful } from "./stateful.ts";
 * class Latch implements Stateful<{ v: number }> {
 *   v = 0;
 *   saveState() { return { v: this.v }; }
 *   loadState(s: { v: number }) { this.v = s.v; }
 * }
 * const a = new Latch();
 * a.v = 7;
 * const b = new Latch();
 * b.loadState(JSON.parse(JSON.stringify(a.saveState())));
 * assert.equal(b.v, 7);
 * ```
 */
export interface Stateful<S> {
  saveState(): S;
  loadState(state: S): void;
}

/** A byte consumer: serial output, debug console output. */
export type ByteSink = (byte: number) => void;
