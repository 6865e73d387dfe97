/**
 * Integer arithmetic: ADD/ADC/SUB/SBB/CMP/INC/DEC/NEG, MUL/IMUL/DIV/IDIV and the BCD adjusts
 * (SDM Vol.2). Where flags are architecturally undefined this follows QEMU TCG so that lockstep
 * comparison against qemu-system-i386 agrees:
 * - MUL/IMUL: SF/ZF/PF from the low half of the result, AF = 0;
 * - DIV/IDIV: all flags unchanged;
 * - DAA/DAS: OF = 0; AAA/AAS: only AF/CF change; AAM/AAD: SF/ZF/PF from AL, CF = OF = AF = 0.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import {
  AF,
  ARITH,
  CF,
  getAF,
  getCF,
  MASK,
  OF,
  PARITY,
  setResultFlags,
  settleFlags,
  TOP,
} from "./flags.ts";
import { Vec } from "./fault.ts";
import { andOp, orOp, xorOp } from "./logical.ts";

export function add(c: Cpu, a: number, b: number, s: number): number {
  const r = (a + b) & MASK[s];
  c.lOp1 = a;
  c.lOp2 = b;
  c.lAdd = c.lRes = r;
  c.lSize = TOP[s];
  c.lazy = ARITH;
  return r;
}

export function adc(c: Cpu, a: number, b: number, s: number): number {
  const r = (a + b + getCF(c)) & MASK[s];
  c.lOp1 = a;
  c.lOp2 = b;
  c.lAdd = c.lRes = r;
  c.lSize = TOP[s];
  c.lazy = ARITH;
  return r;
}

/** a - b, recorded as the addition r + b = a (see flags.ts). */
export function sub(c: Cpu, a: number, b: number, s: number): number {
  const r = (a - b) & MASK[s];
  c.lOp1 = c.lRes = r;
  c.lOp2 = b;
  c.lAdd = a;
  c.lSize = TOP[s];
  c.lazy = ARITH;
  return r;
}

export function sbb(c: Cpu, a: number, b: number, s: number): number {
  const r = (a - b - getCF(c)) & MASK[s];
  c.lOp1 = c.lRes = r;
  c.lOp2 = b;
  c.lAdd = a;
  c.lSize = TOP[s];
  c.lazy = ARITH;
  return r;
}

/** INC: like ADD 1 but CF is preserved. */
export function inc(c: Cpu, a: number, s: number): number {
  const cf = getCF(c);
  const r = add(c, a, 1, s);
  c.flags = (c.flags & ~CF) | cf;
  c.lazy = ARITH & ~CF;
  return r;
}

/** DEC: like SUB 1 but CF is preserved. */
export function dec(c: Cpu, a: number, s: number): number {
  const cf = getCF(c);
  const r = sub(c, a, 1, s);
  c.flags = (c.flags & ~CF) | cf;
  c.lazy = ARITH & ~CF;
  return r;
}

/** The eight ALU operations of opcodes 00-3F and group 1, by their /digit. */
export function alu(c: Cpu, op: number, a: number, b: number, s: number): number {
  switch (op) {
    case 0:
      return add(c, a, b, s);
    case 1:
      return orOp(c, a, b, s);
    case 2:
      return adc(c, a, b, s);
    case 3:
      return sbb(c, a, b, s);
    case 4:
      return andOp(c, a, b, s);
    case 5:
    case 7:
      return sub(c, a, b, s);
    default:
      return xorOp(c, a, b, s);
  }
}

/** High dword of the unsigned 64-bit product a*b (exact, no BigInt). */
export function mulHighU(a: number, b: number): number {
  a >>>= 0;
  b >>>= 0;
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const m1 = a1 * b0, m2 = a0 * b1;
  const carry = (((a0 * b0) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16;
  return (a1 * b1 + (m1 >>> 16) + (m2 >>> 16) + carry) | 0;
}

/** High dword of the signed 64-bit product. */
export function mulHighS(a: number, b: number): number {
  let h = mulHighU(a, b);
  if (a < 0) h -= b;
  if (b < 0) h -= a;
  return h | 0;
}

/** MUL r/m (F6/F7 /4): unsigned accumulator multiply. */
export function mul(c: Cpu, src: number, s: number): void {
  const r = c.regs;
  if (s === 0) {
    const p = c.regs8[0] * src;
    c.regs16[0] = p;
    setResultFlags(c, p & 0xff, 0, p & 0xff00 ? CF | OF : 0);
  } else if (s === 1) {
    const p = c.regs16[0] * src;
    c.regs16[0] = p;
    c.regs16[4] = p >>> 16;
    setResultFlags(c, p & 0xffff, 1, p >>> 16 ? CF | OF : 0);
  } else {
    const lo = Math.imul(r[0], src), hi = mulHighU(r[0], src);
    r[0] = lo;
    r[2] = hi;
    setResultFlags(c, lo, 2, hi !== 0 ? CF | OF : 0);
  }
}

/** IMUL r/m (F6/F7 /5): signed accumulator multiply. */
export function imul1(c: Cpu, src: number, s: number): void {
  const r = c.regs;
  if (s === 0) {
    const p = ((c.regs8[0] << 24) >> 24) * ((src << 24) >> 24);
    c.regs16[0] = p;
    setResultFlags(c, p & 0xff, 0, p !== (p << 24) >> 24 ? CF | OF : 0);
  } else if (s === 1) {
    const p = ((c.regs16[0] << 16) >> 16) * ((src << 16) >> 16);
    c.regs16[0] = p;
    c.regs16[4] = p >>> 16;
    setResultFlags(c, p & 0xffff, 1, p !== (p << 16) >> 16 ? CF | OF : 0);
  } else {
    const lo = Math.imul(r[0], src), hi = mulHighS(r[0], src);
    r[0] = lo;
    r[2] = hi;
    setResultFlags(c, lo, 2, hi !== lo >> 31 ? CF | OF : 0);
  }
}

/** IMUL r, r/m[, imm] (0F AF, 69, 6B): truncated signed product, CF = OF = overflow. */
export function imul2(c: Cpu, a: number, b: number, s: number): number {
  if (s === 1) {
    const p = ((a << 16) >> 16) * ((b << 16) >> 16);
    setResultFlags(c, p & 0xffff, 1, p !== (p << 16) >> 16 ? CF | OF : 0);
    return p & 0xffff;
  }
  const lo = Math.imul(a, b), hi = mulHighS(a, b);
  setResultFlags(c, lo, 2, hi !== lo >> 31 ? CF | OF : 0);
  return lo;
}

/** Unsigned (hi:lo) / d for hi < d, both halves exact in doubles; sets c.lOp1/quotient via return. */
function div64(c: Cpu, hi: number, lo: number, d: number): number {
  // Two 16-bit steps keep every intermediate below 2^48 (exact in a double).
  const n1 = hi * 65536 + (lo >>> 16);
  const q1 = Math.floor(n1 / d);
  const n0 = (n1 - q1 * d) * 65536 + (lo & 0xffff);
  const q0 = Math.floor(n0 / d);
  c.divRem = n0 - q0 * d;
  return q1 * 65536 + q0;
}

/** DIV r/m (F6/F7 /6); #DE on zero divisor or quotient overflow (SDM Vol.2 DIV). */
export function div(c: Cpu, src: number, s: number): void {
  if (s === 0) {
    const d = src & 0xff;
    if (d === 0) c.fault(Vec.DE);
    const n = c.regs16[0];
    const q = Math.floor(n / d);
    if (q > 0xff) c.fault(Vec.DE);
    c.regs8[0] = q;
    c.regs8[1] = n - q * d;
  } else if (s === 1) {
    const d = src & 0xffff;
    if (d === 0) c.fault(Vec.DE);
    const n = (c.regs16[4] * 65536) + c.regs16[0];
    const q = Math.floor(n / d);
    if (q > 0xffff) c.fault(Vec.DE);
    c.regs16[0] = q;
    c.regs16[4] = n - q * d;
  } else {
    const d = src >>> 0;
    if (d === 0) c.fault(Vec.DE);
    const hi = c.regs[2] >>> 0, lo = c.regs[0] >>> 0;
    if (hi >= d) c.fault(Vec.DE);
    const q = div64(c, hi, lo, d);
    c.regs[0] = q;
    c.regs[2] = c.divRem;
  }
}

/** IDIV r/m (F6/F7 /7); quotient truncates toward zero, remainder has the dividend's sign. */
export function idiv(c: Cpu, src: number, s: number): void {
  if (s === 0) {
    const d = (src << 24) >> 24;
    if (d === 0) c.fault(Vec.DE);
    const n = (c.regs16[0] << 16) >> 16;
    const q = Math.trunc(n / d);
    if (q > 127 || q < -128) c.fault(Vec.DE);
    c.regs8[0] = q;
    c.regs8[1] = n - q * d;
  } else if (s === 1) {
    const d = (src << 16) >> 16;
    if (d === 0) c.fault(Vec.DE);
    const n = (c.regs16[4] << 16) | c.regs16[0];
    const q = Math.trunc(n / d);
    if (q > 32767 || q < -32768) c.fault(Vec.DE);
    c.regs16[0] = q;
    c.regs16[4] = n - q * d;
  } else {
    const d = src | 0;
    if (d === 0) c.fault(Vec.DE);
    let hi = c.regs[2] | 0, lo = c.regs[0] >>> 0;
    const neg = hi < 0;
    if (neg) {
      // 64-bit negate of hi:lo.
      lo = (~lo + 1) >>> 0;
      hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    } else hi >>>= 0;
    const ad = Math.abs(d);
    if (hi >= ad) c.fault(Vec.DE);
    let q = div64(c, hi, lo, ad);
    let rem = c.divRem;
    if (neg !== d < 0) q = -q;
    if (neg) rem = -rem;
    if (q > 0x7fffffff || q < -0x80000000) c.fault(Vec.DE);
    c.regs[0] = q;
    c.regs[2] = rem;
  }
}

/** DAA (SDM Vol.2; QEMU helper_daa flags). */
export function daa(c: Cpu): void {
  const cf = getCF(c), af = getAF(c);
  const old = c.regs8[0];
  let al = old;
  let f = 0;
  if ((al & 0xf) > 9 || af) {
    al = (al + 6) & 0xff;
    f |= AF;
  }
  if (old > 0x99 || cf) {
    al = (al + 0x60) & 0xff;
    f |= CF;
  }
  c.regs8[0] = al;
  setBcdFlags(c, al, f);
}

/** DAS (SDM Vol.2; QEMU helper_das flags). */
export function das(c: Cpu): void {
  const cf = getCF(c), af = getAF(c);
  const old = c.regs8[0];
  let al = old;
  let f = 0;
  if ((al & 0xf) > 9 || af) {
    f |= AF;
    if (al < 6 || cf) f |= CF;
    al = (al - 6) & 0xff;
  }
  if (old > 0x99 || cf) {
    al = (al - 0x60) & 0xff;
    f |= CF;
  }
  c.regs8[0] = al;
  setBcdFlags(c, al, f);
}

function setBcdFlags(c: Cpu, al: number, cfAf: number): void {
  settleFlags(c);
  c.flags = (c.flags & ~ARITH) | cfAf | (al === 0 ? 0x40 : 0) | PARITY[al] | (al & 0x80);
}

/** AAA / AAS (SDM Vol.2; QEMU: AH += 1 + carry out of AL like AX += 0x106). */
export function aaa(c: Cpu, subtract: boolean): void {
  const af = getAF(c);
  settleFlags(c);
  let al = c.regs8[0], ah = c.regs8[1];
  if ((al & 0xf) > 9 || af) {
    if (subtract) {
      const borrow = al < 6 ? 1 : 0;
      al = (al - 6) & 0xf;
      ah = (ah - 1 - borrow) & 0xff;
    } else {
      const carry = al > 0xf9 ? 1 : 0;
      al = (al + 6) & 0xf;
      ah = (ah + 1 + carry) & 0xff;
    }
    c.flags |= CF | AF;
  } else {
    c.flags &= ~(CF | AF);
    al &= 0xf;
  }
  c.regs8[0] = al;
  c.regs8[1] = ah;
}

/** AAM imm8: #DE when the base is 0. */
export function aam(c: Cpu, base: number): void {
  if (base === 0) c.fault(Vec.DE);
  const al = c.regs8[0];
  c.regs8[1] = Math.floor(al / base);
  c.regs8[0] = al % base;
  setResultFlags(c, c.regs8[0], 0, 0);
}

/** AAD imm8. */
export function aad(c: Cpu, base: number): void {
  const al = (c.regs8[1] * base + c.regs8[0]) & 0xff;
  c.regs16[0] = al;
  setResultFlags(c, al, 0, 0);
}
