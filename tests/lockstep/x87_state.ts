/**
 * The x87 part of lockstep's state comparison: which FSW and EFLAGS bits are not compared against
 * QEMU 7.2 and why (docs/x87.md), and QEMU's FPU registers in lockstep's ArchState form.
 *
 * @module
 */

import type { QemuSession } from "./gdb_remote.ts";

/**
 * FSW bits not compared, with the reason (docs/x87.md): C1 (the SDM's round-up and stack-fault
 * indicator, which QEMU 7.2 does not maintain) and DE (QEMU's softfloat never reports denormal
 * operands). pvreplay adopts QEMU's value of these bits after each step.
 */
export const FSW_IGNORED = 0x202;
/** FCOMI/FUCOMI(P): the SDM clears OF, SF and AF; QEMU 7.2 leaves them unchanged. */
export const FCOMI_IGNORED = 0x890;

/** FCOMI/FCOMIP/FUCOMI/FUCOMIP: DB or DF with ModRM E8-F7. */
export function isFcomi(op: number, m: number): boolean {
  return (op === 0xdb || op === 0xdf) && m >= 0xe8 && m <= 0xf7;
}

/** Names of the compared FPU fields, in ArchState.fpu order. */
export const FPU_NAMES = ["fcw", "fsw", "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"];

/** A 16-bit value as 4 hex digits. */
export const h4 = (v: number): string => (v & 0xffff).toString(16).padStart(4, "0");

/** QEMU's FCW, FSW and R0-R7 in ArchState form (empty when not compared). */
export function fpuOf(f: ReturnType<QemuSession["gdb"]["lastFpu"]>, wanted: boolean): string[] {
  if (!wanted || f === null) return [];
  return [h4(f.fctrl), h4(f.fstat), ...f.st];
}
