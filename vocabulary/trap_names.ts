/**
 * Names of x86 exception vectors and which of them push an error code.
 *
 * Names follow Linux's i386 trap handler names (`page_fault`, `general_protection`, ...) so
 * traces read like a kernel developer expects.
 *
 * @module
 */

/** Exception names for vectors 0..19 (SDM Vol.3 Table 6-1); 15 is reserved. */
export const EXCEPTION_NAMES: readonly string[] = [
  "divide_error",
  "debug",
  "nmi",
  "int3",
  "overflow",
  "bounds",
  "invalid_op",
  "device_not_available",
  "double_fault",
  "coprocessor_segment_overrun",
  "invalid_TSS",
  "segment_not_present",
  "stack_segment",
  "general_protection",
  "page_fault",
  "reserved_15",
  "coprocessor_error",
  "alignment_check",
  "machine_check",
  "simd_coprocessor_error",
];

/** Vectors whose delivery pushes an error code (SDM Vol.3 6.13, Table 6-1). */
export function exceptionHasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
}

/** Name of exception `vector`, `exception_N` beyond the table. */
export function exceptionName(vector: number): string {
  return EXCEPTION_NAMES[vector] ?? `exception_${vector}`;
}

/** Two-digit lowercase hex, as used in `int_0x80` / `vector_0x20`. */
export function hex2(v: number): string {
  return "0x" + (v & 0xff).toString(16).padStart(2, "0");
}
