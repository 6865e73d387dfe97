/**
 * Logic and bit instructions: AND/OR/XOR/TEST/NOT, BT/BTS/BTR/BTC, BSF/BSR (SDM Vol.2).
 * Undefined flags follow QEMU TCG: logic ops clear AF; BSF/BSR set ZF from the source and
 * SF/PF from the source with CF = OF = AF = 0, destination unchanged for a zero source; BT*
 * change only CF.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { CF, setResultFlags, settleFlags } from "./flags.ts";

export function andOp(c: Cpu, a: number, b: number, s: number): number {
  const r = a & b;
  setResultFlags(c, r, s, 0);
  return r;
}

export function orOp(c: Cpu, a: number, b: number, s: number): number {
  const r = a | b;
  setResultFlags(c, r, s, 0);
  return r;
}

export function xorOp(c: Cpu, a: number, b: number, s: number): number {
  const r = a ^ b;
  setResultFlags(c, r, s, 0);
  return r;
}

/** Sets CF to bit `bit` of `v` and returns the value modified by `op` (0 BT, 1 BTS, 2 BTR, 3 BTC). */
export function bitOp(c: Cpu, v: number, bit: number, op: number): number {
  const m = 1 << bit;
  settleFlags(c);
  c.flags = (c.flags & ~CF) | ((v & m) !== 0 ? CF : 0);
  switch (op) {
    case 1:
      return v | m;
    case 2:
      return v & ~m;
    case 3:
      return v ^ m;
    default:
      return v;
  }
}

/** BSF/BSR: returns the bit index, or -1 for a zero source (destination kept). */
export function bitScan(c: Cpu, v: number, s: number, reverse: boolean): number {
  setResultFlags(c, v, s, 0);
  if (v === 0) return -1;
  return reverse ? 31 - Math.clz32(v) : 31 - Math.clz32(v & -v);
}
