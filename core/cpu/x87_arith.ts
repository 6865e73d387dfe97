/**
 * x87 arithmetic instructions: FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR in every form (ST(0) with ST(i),
 * ST(i) with ST(0), the popping P forms, m32/m64 real and m16/m32 integer operands), FCHS, FABS,
 * FSQRT, FRNDINT, FSCALE, FXTRACT, FPREM and FPREM1 (SDM Vol.2 and Vol.1 8.3).
 *
 * The precision control applies to the basic arithmetic and FSQRT only (SDM Vol.1 8.1.5.2);
 * memory and integer operands are converted exactly first.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import {
  bitLen,
  classify,
  DE,
  expOf,
  FINITE,
  IE,
  INDEF_SE,
  INDEF_SIG,
  INF,
  isDenormal,
  J,
  pickNaN,
  QNAN,
  quietNaN,
  setIndefinite,
  setResult,
  SNAN,
  st,
  ZE,
  ZERO,
} from "./x87_float80.ts";
import { add, div, leadExp, mul, remainder, roundInt, scalbn, sqrt, toInt } from "./x87_ops.ts";
import {
  C0,
  C1,
  C2,
  C3,
  checkOperands,
  commit,
  isEmpty,
  prepare,
  push,
  raise,
  seOf,
  sigOf,
  stackFault,
  writeSt,
} from "./x87_stack.ts";

/**
 * Computes operation `k` on a and b into st: 0 a+b, 1 a*b, 4 a-b, 5 b-a, 6 a/b, 7 b/a (the reg
 * field of D8; DC/DE register forms pass reg ^ 1 for 4..7 with a = ST(i)).
 */
export function compute(k: number, aSe: number, aSig: bigint, bSe: number, bSig: bigint): void {
  switch (k) {
    case 0:
      return add(aSe, aSig, bSe, bSig, false);
    case 1:
      return mul(aSe, aSig, bSe, bSig);
    case 4:
      return add(aSe, aSig, bSe, bSig, true);
    case 5:
      return add(bSe, bSig, aSe, aSig, true);
    case 6:
      return div(aSe, aSig, bSe, bSig);
    default:
      return div(bSe, bSig, aSe, aSig);
  }
}

/** ST(0) = ST(0) op operand (an already converted memory or integer operand; conversion flags in st). */
export function arithMem(c: Cpu, k: number, bSe: number, bSig: bigint, loadFlags: number): void {
  if (!checkOperands(c, -1, 0, 0)) return;
  prepare(c);
  st.flags = loadFlags;
  compute(k, seOf(c, 0), sigOf(c, 0), bSe, bSig);
  commit(c, 0, 0);
}

/** D8 register form: ST(0) = ST(0) op ST(i). */
export function arithSt0(c: Cpu, k: number, i: number): void {
  if (!checkOperands(c, i, 0, 0)) return;
  prepare(c);
  compute(k, seOf(c, 0), sigOf(c, 0), seOf(c, i), sigOf(c, i));
  commit(c, 0, 0);
}

/** DC/DE register forms: ST(i) = ST(i) op ST(0), popping once for DE. */
export function arithSti(c: Cpu, reg: number, i: number, pops: number): void {
  if (!checkOperands(c, i, i, pops)) return;
  prepare(c);
  compute(reg >= 4 ? reg ^ 1 : reg, seOf(c, i), sigOf(c, i), seOf(c, 0), sigOf(c, 0));
  commit(c, i, pops);
}

/** FCHS (`abs` false) and FABS: sign only, C1 cleared, no exceptions but stack underflow. */
export function signOp(c: Cpu, abs: boolean): void {
  if (!checkOperands(c, -1, 0, 0)) return;
  const se = seOf(c, 0);
  writeSt(c, 0, abs ? se & 0x7fff : se ^ 0x8000, sigOf(c, 0));
  c.fpuSw &= ~C1;
}

/** FSQRT. A negative operand also sets C2 and clears C0/C1/C3 (undefined in the SDM; as QEMU). */
export function fsqrt(c: Cpu): void {
  if (!checkOperands(c, -1, 0, 0)) return;
  prepare(c);
  const se = seOf(c, 0);
  sqrt(se, sigOf(c, 0));
  if (commit(c, 0, 0) && (se & 0x8000)) c.fpuSw = (c.fpuSw & ~(C0 | C1 | C3)) | C2;
}

/** FRNDINT: round to integer in the rounding mode (not affected by the precision control). */
export function frndint(c: Cpu): void {
  if (!checkOperands(c, -1, 0, 0)) return;
  prepare(c);
  st.prec = 64;
  roundInt(seOf(c, 0), sigOf(c, 0));
  commit(c, 0, 0);
}

/**
 * FSCALE: ST(0) * 2^trunc(ST(1)). Special cases as the SDM's table (Vol.2 FSCALE): -inf scale
 * gives zero (invalid for an infinite ST(0)), +inf gives infinity (invalid for a zero ST(0)).
 */
export function fscale(c: Cpu): void {
  if (!checkOperands(c, 1, 0, 0)) return;
  prepare(c);
  st.prec = 64;
  const aSe = seOf(c, 0), aSig = sigOf(c, 0), bSe = seOf(c, 1), bSig = sigOf(c, 1);
  const ca = classify(aSe, aSig), cb = classify(bSe, bSig);
  if (ca === 5 || cb === 5) {
    st.flags |= IE;
    setIndefinite();
  } else if (cb >= QNAN) {
    // A NaN scale wins over a NaN ST(0) (as QEMU; the SDM gives no order for FSCALE).
    if (ca === SNAN) st.flags |= IE;
    quietNaN(bSe, bSig);
  } else if (ca >= QNAN) quietNaN(aSe, aSig);
  else if (cb === INF) {
    if (isDenormal(aSe, aSig)) st.flags |= DE;
    if (bSe & 0x8000) {
      if (ca === INF) {
        st.flags |= IE;
        setIndefinite();
      } else setResult(aSe & 0x8000, 0n);
    } else if (ca === ZERO) {
      st.flags |= IE;
      setIndefinite();
    } else setResult((aSe & 0x8000) | 0x7fff, J);
  } else {
    if (isDenormal(bSe, bSig)) st.flags |= DE;
    const saved = st.flags, rc = st.rc;
    st.rc = 3;
    const n = toInt(bSe, bSig, 32); // truncation; its own exceptions are not reported
    st.flags = saved;
    st.rc = rc;
    // An out-of-range scale converts to the integer indefinite: use the saturated magnitude.
    const big = n === -(1n << 31n) && leadExpSafe(bSe, bSig) >= 31;
    scalbn(aSe, aSig, big ? ((bSe & 0x8000) ? -0x10000 : 0x10000) : Number(n));
  }
  commit(c, 0, 0);
}

function leadExpSafe(se: number, sig: bigint): number {
  return classify(se, sig) === FINITE ? leadExp(se, sig) : 0;
}

/**
 * FXTRACT: ST(0) becomes the significand (exponent 3FFF) and the unbiased exponent is pushed
 * below it. Zero: ZE, exponent -inf (SDM Vol.2 FXTRACT).
 */
export function fxtract(c: Cpu): void {
  if (isEmpty(c, 0)) {
    if (stackFault(c, false)) {
      writeSt(c, 0, INDEF_SE, INDEF_SIG);
      push(c, INDEF_SE, INDEF_SIG);
    }
    return;
  }
  if (!isEmpty(c, 7)) {
    if (stackFault(c, true)) {
      writeSt(c, 0, INDEF_SE, INDEF_SIG);
      push(c, INDEF_SE, INDEF_SIG);
    }
    return;
  }
  prepare(c);
  const se = seOf(c, 0), sig = sigOf(c, 0);
  const cl = classify(se, sig);
  let eSe: number, eSig: bigint, mSe: number, mSig: bigint;
  if (cl === 5) {
    st.flags |= IE;
    eSe = mSe = INDEF_SE;
    eSig = mSig = INDEF_SIG;
  } else if (cl >= QNAN) {
    quietNaN(se, sig);
    eSe = mSe = st.se;
    eSig = mSig = st.sig;
  } else if (cl === ZERO) {
    st.flags |= ZE;
    eSe = 0xffff;
    eSig = J;
    mSe = se;
    mSig = 0n;
  } else if (cl === INF) {
    eSe = 0x7fff;
    eSig = J;
    mSe = se;
    mSig = J;
  } else {
    if (isDenormal(se, sig)) st.flags |= DE;
    const len = bitLen(sig);
    const ex = expOf(se) + len - 1;
    mSe = (se & 0x8000) | 0x3fff;
    mSig = sig << BigInt(64 - len);
    const a = Math.abs(ex), l = bitLen(BigInt(a));
    eSe = (ex < 0 ? 0x8000 : 0) | (ex === 0 ? 0 : 0x3fff + l - 1);
    eSig = ex === 0 ? 0n : BigInt(a) << BigInt(64 - l);
  }
  if (!raise(c, st.flags)) return;
  c.fpuSw &= ~C1;
  writeSt(c, 0, eSe, eSig);
  push(c, mSe, mSig);
}

/**
 * FPREM (`trunc`) and FPREM1: partial remainder of ST(0) by ST(1). C2 = 1 when incomplete
 * (exponent difference 64 or more: reduced by 2^(32 + d mod 32) steps, as AMD documents and
 * Intel parts do), else C0, C3, C1 = quotient bits 2, 1, 0.
 */
export function fprem(c: Cpu, trunc: boolean): void {
  if (!checkOperands(c, 1, 0, 0)) return;
  prepare(c);
  const aSe = seOf(c, 0), aSig = sigOf(c, 0), bSe = seOf(c, 1), bSig = sigOf(c, 1);
  const ca = classify(aSe, aSig), cb = classify(bSe, bSig);
  let q = 0, partial = false;
  if (ca === 5 || cb === 5) {
    st.flags |= IE;
    setIndefinite();
  } else if (ca >= QNAN || cb >= QNAN) pickNaN(aSe, aSig, bSe, bSig);
  else if (ca === INF || cb === ZERO) {
    st.flags |= IE;
    setIndefinite();
  } else {
    if (isDenormal(aSe, aSig) || isDenormal(bSe, bSig)) st.flags |= DE;
    if (ca === ZERO || cb === INF) setResult(aSe, ca === ZERO ? 0n : aSig);
    else {
      const d = leadExp(aSe, aSig) - leadExp(bSe, bSig);
      if (d < 64) q = remainder(aSe, aSig, bSe, bSig, trunc);
      else {
        partial = true;
        const n = 32 + (d % 32);
        // Divisor scaled by 2^(d - n): the remainder of the truncating division by it.
        const lb = bitLen(bSig);
        const scaledSe = 0x3fff + leadExp(bSe, bSig) + d - n;
        remainder(aSe, aSig, (bSe & 0x8000) | scaledSe, bSig << BigInt(64 - lb), true);
      }
    }
  }
  if (!raise(c, st.flags)) return;
  c.fpuSw &= ~(C0 | C1 | C2 | C3);
  if (partial) c.fpuSw |= C2;
  else c.fpuSw |= (q & 4 ? C0 : 0) | (q & 2 ? C3 : 0) | (q & 1 ? C1 : 0);
  writeSt(c, 0, st.se, st.sig);
}
