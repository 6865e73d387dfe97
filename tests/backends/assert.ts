/**
 * Assertions for the backend tests (node:assert/strict with Deno-std-like names).
 *
 * @module
 */

import nodeAssert from "node:assert/strict";

export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}

export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** Runs `fn`, which must throw an Error; returns it. */
export function assertThrows(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    nodeAssert.ok(e instanceof Error, "expected an Error");
    return e;
  }
  throw new nodeAssert.AssertionError({ message: "expected the function to throw" });
}
