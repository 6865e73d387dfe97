/**
 * A turn of the host event loop between emulation slices, so that signal handlers (Ctrl-C),
 * timers and I/O callbacks run during a long guest run.
 *
 * A timer task is used because Deno polls signals and I/O only when its event loop turns through
 * its ops; a MessageChannel message (cheaper, tens of microseconds) does not deliver SIGINT. A
 * zero timeout costs about a millisecond, a few percent of a 1 M-instruction slice. No host time
 * is read: where the slices fall depends only on the instruction count.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { yieldToHost } from "./host_yield.ts";
 * let ran = false;
 * queueMicrotask(() => (ran = true));
 * await yieldToHost();
 * assert.ok(ran);
 * ```
 *
 * @module
 */

/** Resolves after one macrotask turn of the event loop (timers, signals, I/O). */
export function yieldToHost(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
