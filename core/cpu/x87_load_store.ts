/**
 * x87 data transfer: FLD/FST/FSTP (m32, m64, m80 real and ST(i)), FILD/FIST/FISTP (m16, m32,
 * m64 integer), FBLD/FBSTP (m80 packed BCD), the constants FLD1/FLDZ/FLDPI/FLDL2E/FLDL2T/FLDLG2/
 * FLDLN2, FXCH and FFREE (SDM Vol.2; Vol.1 8.3.3-8.3.5, 4.7).
 *
 * Loads convert exactly (the precision control does not apply). Stores round in the rounding
 * mode; an unmasked invalid, denormal, overflow or underflow exception stores nothing and does
 * not pop (SDM Vol.1 8.5.1-8.5.5). Memory is validated before any x87 state changes, so a fault
 * restarts the instruction cleanly.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { DE, IE, INDEF_SE, INDEF_SIG, J, OE, st, UE } from "./x87_float80.ts";
import { fromIeee, fromInt, toIeee, toInt } from "./x87_ops.ts";
import {
  C1,
  checkOperands,
  checkPush,
  isEmpty,
  pop,
  prepare,
  push,
  raise,
  seOf,
  setRoundC1,
  sigOf,
  stackFault,
  writeSt,
} from "./x87_stack.ts";

/** Offset `n` bytes past the effective address, wrapped to the address size. */
function at(c: Cpu, n: number): number {
  return c.addr32 ? (c.eaOff + n) >>> 0 : (c.eaOff + n) & 0xffff;
}

export function read64(c: Cpu): bigint {
  const lo = c.read32(c.eaSeg, c.eaOff) >>> 0;
  return BigInt(lo) | (BigInt(c.read32(c.eaSeg, at(c, 4)) >>> 0) << 32n);
}

/** Validates a write of `n` (8 or 10) bytes at the effective address. */
function checkWideWrite(c: Cpu, n: number): void {
  c.checkWrite(c.eaSeg, c.eaOff, 2);
  c.checkWrite(c.eaSeg, at(c, n - 4), 2);
}

function write64(c: Cpu, v: bigint): void {
  checkWideWrite(c, 8);
  c.write32(c.eaSeg, c.eaOff, Number(v & 0xffffffffn));
  c.write32(c.eaSeg, at(c, 4), Number((v >> 32n) & 0xffffffffn));
}

/** Reads an m80 real into st.se/st.sig without conversion. */
export function readM80(c: Cpu, off = 0): void {
  const lo = c.read32(c.eaSeg, at(c, off)) >>> 0, hi = c.read32(c.eaSeg, at(c, off + 4)) >>> 0;
  st.sig = BigInt(lo) | (BigInt(hi) << 32n);
  st.se = c.read16(c.eaSeg, at(c, off + 8));
}

/** Writes an m80 real (the caller validated the range). */
export function writeM80(c: Cpu, off: number, se: number, sig: bigint): void {
  c.write32(c.eaSeg, at(c, off), Number(sig & 0xffffffffn));
  c.write32(c.eaSeg, at(c, off + 4), Number(sig >> 32n));
  c.write16(c.eaSeg, at(c, off + 8), se);
}

/**
 * Reads and converts the memory operand of format `fmt` (0 m32 real, 1 m32 int, 2 m64 real,
 * 3 m16 int, 4 m64 int) into st, exactly; returns the conversion's exception flags.
 */
export function loadOperand(c: Cpu, fmt: number): number {
  prepare(c);
  st.prec = 64;
  switch (fmt) {
    case 0:
      fromIeee(BigInt(c.read32(c.eaSeg, c.eaOff) >>> 0), false);
      break;
    case 1:
      fromInt(BigInt(c.read32(c.eaSeg, c.eaOff) | 0));
      break;
    case 2:
      fromIeee(read64(c), true);
      break;
    case 3:
      fromInt(BigInt((c.read16(c.eaSeg, c.eaOff) << 16) >> 16));
      break;
    default:
      fromInt(BigInt.asIntN(64, read64(c)));
  }
  return st.flags;
}

/** FLD/FILD of a memory operand (formats as loadOperand; 5 = m80 real, 6 = m80 BCD). */
export function fldMem(c: Cpu, fmt: number): void {
  let flags = 0;
  if (fmt === 5) readM80(c);
  else if (fmt === 6) readBcd(c);
  else flags = loadOperand(c, fmt);
  const se = st.se, sig = st.sig;
  if (!checkPush(c)) return;
  if (!raise(c, flags)) return;
  c.fpuSw &= ~C1;
  push(c, se, sig);
}

/** FLD ST(i). */
export function fldSt(c: Cpu, i: number): void {
  if (isEmpty(c, i)) {
    if (!isEmpty(c, 7)) checkPush(c);
    else if (stackFault(c, false)) push(c, INDEF_SE, INDEF_SIG);
    return;
  }
  const se = seOf(c, i), sig = sigOf(c, i);
  if (!checkPush(c)) return;
  c.fpuSw &= ~C1;
  push(c, se, sig);
}

const L2T = [0xd49a784bcd1b8afen, 0xd49a784bcd1b8afen, 0xd49a784bcd1b8affn, 0xd49a784bcd1b8afen];
const L2E = [0xb8aa3b295c17f0bcn, 0xb8aa3b295c17f0bbn, 0xb8aa3b295c17f0bcn, 0xb8aa3b295c17f0bbn];
const PI = [0xc90fdaa22168c235n, 0xc90fdaa22168c234n, 0xc90fdaa22168c235n, 0xc90fdaa22168c234n];
const LG2 = [0x9a209a84fbcff799n, 0x9a209a84fbcff798n, 0x9a209a84fbcff799n, 0x9a209a84fbcff798n];
const LN2 = [0xb17217f7d1cf79acn, 0xb17217f7d1cf79abn, 0xb17217f7d1cf79acn, 0xb17217f7d1cf79abn];

/**
 * The constants D9 E8-EE: 1, log2(10), log2(e), pi, log10(2), ln(2), +0. The irrational ones are
 * the exact values rounded to 64 bits in the current rounding mode (SDM Vol.1 8.3.8).
 */
export function fldConst(c: Cpu, k: number): void {
  if (!checkPush(c)) return;
  const rc = (c.fpuCw >> 10) & 3;
  c.fpuSw &= ~C1;
  switch (k) {
    case 0:
      return push(c, 0x3fff, J);
    case 1:
      return push(c, 0x4000, L2T[rc]);
    case 2:
      return push(c, 0x3fff, L2E[rc]);
    case 3:
      return push(c, 0x4000, PI[rc]);
    case 4:
      return push(c, 0x3ffd, LG2[rc]);
    case 5:
      return push(c, 0x3ffe, LN2[rc]);
    default:
      return push(c, 0, 0n);
  }
}

/** Blocks a store on an unmasked invalid/denormal/overflow/underflow exception. */
function storeAllowed(c: Cpu): boolean {
  const stop = st.flags & (IE | DE | OE | UE) & ~c.fpuCw;
  if (stop) {
    c.fpuSw |= st.flags & (IE | DE | OE | UE);
    raise(c, 0);
    return false;
  }
  return true;
}

/** Finishes a store: raises flags, sets C1 from the rounding, pops. */
function finishStore(c: Cpu, pops: number): void {
  raise(c, st.flags);
  setRoundC1(c);
  for (let k = 0; k < pops; k++) pop(c);
}

/**
 * FST/FSTP/FIST/FISTP to memory, format `fmt`: 0 m32 real, 1 m32 int, 2 m64 real, 3 m16 int,
 * 4 m64 int, 5 m80 real, 6 m80 BCD.
 */
export function fstMem(c: Cpu, fmt: number, pops: number): void {
  if (isEmpty(c, 0)) {
    if (stackFault(c, false)) {
      storeIndefinite(c, fmt);
      for (let k = 0; k < pops; k++) pop(c);
    }
    return;
  }
  prepare(c);
  st.unmaskedOE = false;
  const se = seOf(c, 0), sig = sigOf(c, 0);
  switch (fmt) {
    case 0: {
      const v = toIeee(se, sig, false);
      if (!storeAllowed(c)) return;
      c.write32(c.eaSeg, c.eaOff, Number(v));
      break;
    }
    case 2: {
      const v = toIeee(se, sig, true);
      if (!storeAllowed(c)) return;
      write64(c, v);
      break;
    }
    case 5:
      checkWideWrite(c, 10);
      writeM80(c, 0, se, sig);
      break;
    case 6:
      if (!writeBcd(c, se, sig)) return;
      break;
    default: {
      const bits = fmt === 1 ? 32 : fmt === 3 ? 16 : 64;
      const v = toInt(se, sig, bits);
      if (!storeAllowed(c)) return;
      if (bits === 16) c.write16(c.eaSeg, c.eaOff, Number(v) & 0xffff);
      else if (bits === 32) c.write32(c.eaSeg, c.eaOff, Number(v) | 0);
      else write64(c, BigInt.asUintN(64, v));
    }
  }
  finishStore(c, pops);
}

/** Masked stack-underflow response of a store: the indefinite of the destination format. */
function storeIndefinite(c: Cpu, fmt: number): void {
  switch (fmt) {
    case 0:
      return c.write32(c.eaSeg, c.eaOff, 0xffc00000 | 0);
    case 1:
      return c.write32(c.eaSeg, c.eaOff, 0x80000000 | 0);
    case 2:
      return write64(c, 0xfff8000000000000n);
    case 3:
      return c.write16(c.eaSeg, c.eaOff, 0x8000);
    case 4:
      return write64(c, 1n << 63n);
    case 5:
      checkWideWrite(c, 10);
      return writeM80(c, 0, INDEF_SE, INDEF_SIG);
    default:
      checkWideWrite(c, 10);
      return writeM80(c, 0, 0xffff, 0xc000000000000000n);
  }
}

/** FBLD operand: 18 BCD digits and a sign byte, converted exactly into st. */
function readBcd(c: Cpu): void {
  let v = 0n;
  for (let i = 8; i >= 0; i--) {
    const b = c.read8(c.eaSeg, at(c, i));
    // Invalid digits are undefined (SDM); they weigh as their binary value, as QEMU does.
    v = v * 100n + BigInt((b >> 4) * 10 + (b & 15));
  }
  const neg = (c.read8(c.eaSeg, at(c, 9)) & 0x80) !== 0;
  prepare(c);
  st.prec = 64;
  fromInt(v);
  if (neg) st.se |= 0x8000;
}

/** FBSTP: rounds ST(0) to an integer and stores 18 BCD digits; out of range: BCD indefinite. */
function writeBcd(c: Cpu, se: number, sig: bigint): boolean {
  checkWideWrite(c, 10);
  let v = toInt(se, sig, 64);
  const limit = 10n ** 18n;
  if (v >= limit || v <= -limit || (st.flags & IE)) {
    st.flags = IE;
    if (c.fpuCw & IE) writeM80(c, 0, 0xffff, 0xc000000000000000n);
    else {
      raise(c, IE);
      return false;
    }
    return true;
  }
  if (v < 0n) v = -v;
  for (let i = 0; i < 9; i++) {
    const d = Number(v % 100n);
    v /= 100n;
    c.write8(c.eaSeg, at(c, i), ((d / 10) << 4) | (d % 10));
  }
  c.write8(c.eaSeg, at(c, 9), se & 0x8000 ? 0x80 : 0);
  return true;
}

/** FST/FSTP ST(i): a copy without conversion. */
export function fstSt(c: Cpu, i: number, pops: number): void {
  if (!checkOperands(c, -1, i, pops)) return;
  writeSt(c, i, seOf(c, 0), sigOf(c, 0));
  c.fpuSw &= ~C1;
  for (let k = 0; k < pops; k++) pop(c);
}

/** FXCH ST(i); empty operands read as the indefinite when IE is masked. */
export function fxch(c: Cpu, i: number): void {
  if (isEmpty(c, 0) || isEmpty(c, i)) {
    if (!stackFault(c, false)) return;
    if (isEmpty(c, 0)) writeSt(c, 0, INDEF_SE, INDEF_SIG);
    if (isEmpty(c, i)) writeSt(c, i, INDEF_SE, INDEF_SIG);
  } else c.fpuSw &= ~C1;
  const se = seOf(c, 0), sig = sigOf(c, 0);
  writeSt(c, 0, seOf(c, i), sigOf(c, i));
  writeSt(c, i, se, sig);
}

/** FFREE ST(i) (and FFREEP, DF C0+i, which also pops). */
export function ffree(c: Cpu, i: number, pops: number): void {
  c.fpuTw |= 3 << ((((c.fpuSw >> 11) + i) & 7) << 1);
  for (let k = 0; k < pops; k++) pop(c);
}
