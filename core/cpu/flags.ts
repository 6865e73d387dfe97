/**
 * EFLAGS bits and lazy arithmetic-flag evaluation.
 *
 * Arithmetic instructions do not compute CF/PF/AF/ZF/SF/OF eagerly: they record their operands and
 * result in the CPU (`lOp1`, `lOp2`, `lAdd`, `lRes`, `lSize`) and mark the affected bits in
 * `lazy`. A flag is computed only when read (Jcc, PUSHF, ADC, ...). Subtraction `a - b = r` is
 * recorded as the addition `r + b = a` (`lOp1 = r`, `lOp2 = b`, `lAdd = a`) so one set of carry
 * and overflow formulas serves both (the scheme of v86's `flags_changed`).
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";

export const CF = 0x1;
export const PF = 0x4;
export const AF = 0x10;
export const ZF = 0x40;
export const SF = 0x80;
export const TF = 0x100;
export const IF = 0x200;
export const DF = 0x400;
export const OF = 0x800;
export const IOPL = 0x3000;
export const NT = 0x4000;
export const RF = 0x10000;
export const VM = 0x20000;
export const AC = 0x40000;
export const VIF = 0x80000;
export const VIP = 0x100000;
export const ID = 0x200000;
/** The six status flags that arithmetic instructions compute lazily. */
export const ARITH = CF | PF | AF | ZF | SF | OF;
/** Bits a P6 lets software change (SDM Vol.1 3.4.3); bit 1 always reads 1. */
export const EFLAGS_MASK = ARITH | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;

/** Operand-size codes used across the CPU: 0 = byte, 1 = word, 2 = dword. */
export const MASK = [0xff, 0xffff, -1] as const;
/** Sign-bit index per size code (the `lSize` values). */
export const TOP = [7, 15, 31] as const;

/** PF per byte value: PF (4) when the number of set bits is even. */
export const PARITY: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let n = 0;
    for (let b = i; b; b >>= 1) n += b & 1;
    t[i] = n & 1 ? 0 : PF;
  }
  return t;
})();

/** Carry flag (0/1). */
export function getCF(c: Cpu): number {
  if (c.lazy & CF) {
    return ((c.lOp1 ^ ((c.lOp1 ^ c.lOp2) & (c.lOp2 ^ c.lAdd))) >>> c.lSize) & 1;
  }
  return c.flags & CF;
}

/** Zero flag (0/1). */
export function getZF(c: Cpu): number {
  if (c.lazy & ZF) return (c.lRes << (31 - c.lSize)) === 0 ? 1 : 0;
  return (c.flags >>> 6) & 1;
}

/** Sign flag (0/1). */
export function getSF(c: Cpu): number {
  if (c.lazy & SF) return (c.lRes >>> c.lSize) & 1;
  return (c.flags >>> 7) & 1;
}

/** Overflow flag (0/1). */
export function getOF(c: Cpu): number {
  if (c.lazy & OF) return (((c.lOp1 ^ c.lAdd) & (c.lOp2 ^ c.lAdd)) >>> c.lSize) & 1;
  return (c.flags >>> 11) & 1;
}

/** Parity flag (0/1). */
export function getPF(c: Cpu): number {
  if (c.lazy & PF) return PARITY[c.lRes & 0xff] >>> 2;
  return (c.flags >>> 2) & 1;
}

/** Auxiliary-carry flag (0/1). */
export function getAF(c: Cpu): number {
  if (c.lazy & AF) return ((c.lOp1 ^ c.lOp2 ^ c.lAdd) >>> 4) & 1;
  return (c.flags >>> 4) & 1;
}

/** The full EFLAGS value with lazy bits materialised. */
export function readEflags(c: Cpu): number {
  const lz = c.lazy;
  if (lz === 0) return c.flags;
  let f = c.flags & ~lz;
  if (lz & CF) f |= getCF(c);
  if (lz & PF) f |= getPF(c) << 2;
  if (lz & AF) f |= getAF(c) << 4;
  if (lz & ZF) f |= getZF(c) << 6;
  if (lz & SF) f |= getSF(c) << 7;
  if (lz & OF) f |= getOF(c) << 11;
  return f;
}

/** Materialises the lazy bits into `flags` (before changing a single status flag). */
export function settleFlags(c: Cpu): void {
  if (c.lazy !== 0) {
    c.flags = readEflags(c);
    c.lazy = 0;
  }
}

/** Evaluates condition code `cc` (0..15, the low nibble of Jcc/SETcc/CMOVcc). SDM Vol.1 B.1 */
export function testCC(c: Cpu, cc: number): boolean {
  let r: number;
  switch (cc >> 1) {
    case 0:
      r = getOF(c);
      break;
    case 1:
      r = getCF(c);
      break;
    case 2:
      r = getZF(c);
      break;
    case 3:
      r = getCF(c) | getZF(c);
      break;
    case 4:
      r = getSF(c);
      break;
    case 5:
      r = getPF(c);
      break;
    case 6:
      r = getSF(c) ^ getOF(c);
      break;
    default:
      r = getZF(c) | (getSF(c) ^ getOF(c));
      break;
  }
  return (r ^ (cc & 1)) !== 0;
}

/**
 * Records a result whose PF/ZF/SF derive from `r` while CF, OF and AF are given explicitly
 * (logic ops, shifts, multiplies). `cfOf` holds the CF and OF bits, `af` the AF bit.
 */
export function setResultFlags(c: Cpu, r: number, size: number, cfOfAf: number): void {
  c.lRes = r;
  c.lSize = TOP[size];
  c.lazy = PF | ZF | SF;
  c.flags = (c.flags & ~(CF | OF | AF)) | cfOfAf;
}
