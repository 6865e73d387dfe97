/**
 * x87 transcendental instructions: F2XM1, FYL2X, FYL2XP1, FPATAN (computed in 256-bit binary
 * floating point and rounded once, so the results are correctly rounded in the current rounding
 * mode), and FSIN, FCOS, FSINCOS, FPTAN (through IEEE double precision, as QEMU 7.2 does).
 *
 * Special operands, domains and the exact cases follow QEMU 7.2's target/i386 helpers, which
 * implement the SDM's tables (Vol.2 F2XM1, FYL2X, FYL2XP1, FPATAN): out-of-domain arguments are
 * invalid operations. QEMU evaluates the first four with fixed polynomials accurate to about 70
 * bits and then rounds: its result can differ from the correctly rounded one in the last place
 * when the exact value lies very near a rounding boundary (documented in docs/x87.md). For the
 * trigonometric ones QEMU converts ST(0) to a double in the current rounding mode, calls the host
 * libm and converts back; this uses the JavaScript engine's sin/cos/tan, which, like glibc's,
 * return the correctly rounded double in all but rare cases. As in QEMU, the trigonometric
 * instructions raise no exception flags and an infinite operand counts as out of range (C2 = 1,
 * unchanged), where the SDM specifies an invalid operation (docs/x87.md).
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import {
  BAD,
  bitLen,
  classify,
  compare,
  DE,
  expOf,
  IE,
  INDEF_SE,
  INDEF_SIG,
  INF,
  isDenormal,
  J,
  QNAN,
  quietNaN,
  roundPack,
  setIndefinite,
  setResult,
  SNAN,
  st,
  ZE,
  ZERO,
} from "./x87_float80.ts";
import { fromIeee, leadExp, mul, toIeee } from "./x87_ops.ts";
import {
  C2,
  checkOperands,
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

/** Working precision in bits. */
const P = 256;

/** A binary floating-point number m * 2^e, |m| < 2^P. */
interface Big {
  m: bigint;
  e: number;
}

function big(m: bigint, e: number): Big {
  const n = bitLen(m < 0n ? -m : m);
  return n > P ? { m: m >> BigInt(n - P), e: e + n - P } : { m, e };
}

function bmul(a: Big, b: Big): Big {
  return big(a.m * b.m, a.e + b.e);
}

function badd(a: Big, b: Big): Big {
  if (a.m === 0n) return b;
  if (b.m === 0n) return a;
  const e = Math.max(Math.min(a.e, b.e), Math.max(a.e, b.e) - 2 * P);
  const al = a.e >= e ? a.m << BigInt(a.e - e) : a.m >> BigInt(e - a.e);
  const bl = b.e >= e ? b.m << BigInt(b.e - e) : b.m >> BigInt(e - b.e);
  return big(al + bl, e);
}

function bneg(a: Big): Big {
  return { m: -a.m, e: a.e };
}

function bdiv(a: Big, b: Big): Big {
  const sh = P + bitLen(b.m < 0n ? -b.m : b.m);
  return big((a.m << BigInt(sh)) / b.m, a.e - b.e - sh);
}

function bsqrt(a: Big): Big {
  let m = a.m << BigInt(2 * P), e = a.e - 2 * P;
  if (e & 1) {
    m <<= 1n;
    e -= 1;
  }
  let x = 1n << BigInt((bitLen(m) >> 1) + 1);
  for (;;) {
    const y = (x + m / x) >> 1n;
    if (y >= x) break;
    x = y;
  }
  return big(x, e >> 1);
}

/** Magnitude exponent (position of the leading bit), -Infinity for zero. */
function mag(a: Big): number {
  return a.m === 0n ? -Infinity : a.e + bitLen(a.m < 0n ? -a.m : a.m);
}

/** Sums a series while terms matter: first term t0, next = prev * ratio(n). */
function series(t0: Big, next: (t: Big, n: number) => Big): Big {
  let sum = t0, t = t0;
  for (let n = 1; n < 4 * P; n++) {
    t = next(t, n);
    if (t.m === 0n || mag(t) < mag(sum) - P - 2) break;
    sum = badd(sum, t);
  }
  return sum;
}

const ONE: Big = { m: 1n, e: 0 };

/** atanh(t) = t + t^3/3 + t^5/5 + ... (|t| well below 1). */
function atanh(t: Big): Big {
  const t2 = bmul(t, t);
  let p = t;
  return series(t, (_t, n) => {
    p = bmul(p, t2);
    return bdiv(p, { m: BigInt(2 * n + 1), e: 0 });
  });
}

/** atan(t) for small |t|: t - t^3/3 + t^5/5 - ... */
function atanSmall(t: Big): Big {
  const t2 = bneg(bmul(t, t));
  let p = t;
  return series(t, (_t, n) => {
    p = bmul(p, t2);
    return bdiv(p, { m: BigInt(2 * n + 1), e: 0 });
  });
}

const LN2 = bmul({ m: 2n, e: 0 }, atanh(bdiv(ONE, { m: 3n, e: 0 })));
const PI = badd(
  bmul({ m: 16n, e: 0 }, atanSmall(bdiv(ONE, { m: 5n, e: 0 }))),
  bneg(bmul({ m: 4n, e: 0 }, atanSmall(bdiv(ONE, { m: 239n, e: 0 })))),
);

/** atan(z), 0 < z <= 1, after four halvings of the angle. */
function atan(z: Big): Big {
  let t = z;
  for (let k = 0; k < 4; k++) t = bdiv(t, badd(ONE, bsqrt(badd(ONE, bmul(t, t)))));
  return { ...atanSmall(t), e: atanSmall(t).e + 4 };
}

/** ln(m) for m near 1: 2 atanh((m - 1)/(m + 1)). */
function lnNear1(m: Big): Big {
  const r = atanh(bdiv(badd(m, bneg(ONE)), badd(m, ONE)));
  return { m: r.m, e: r.e + 1 };
}

/** Rounds an inexact Big result to extended precision (64 bits) in the rounding mode. */
function packInexact(v: Big): void {
  const neg = v.m < 0n;
  roundPack(neg, ((neg ? -v.m : v.m) << 2n) | 1n, v.e - 2, 64);
}

function toBig(se: number, sig: bigint): Big {
  return { m: se & 0x8000 ? -sig : sig, e: expOf(se) };
}

/** Common NaN/unsupported handling of the two-operand forms (result for ST(1)); true if done. */
function nan2(aSe: number, aSig: bigint, bSe: number, bSig: bigint): boolean {
  const ca = classify(aSe, aSig), cb = classify(bSe, bSig);
  if (ca === SNAN) quietNaN(aSe, aSig);
  else if (cb === SNAN) quietNaN(bSe, bSig);
  else if (ca === BAD || cb === BAD) {
    st.flags |= IE;
    setIndefinite();
  } else if (ca === QNAN) setResult(aSe, aSig);
  else if (cb === QNAN) setResult(bSe, bSig);
  else {
    if (isDenormal(aSe, aSig) || isDenormal(bSe, bSig)) st.flags |= DE;
    return false;
  }
  return true;
}

function invalid(): void {
  st.flags |= IE;
  setIndefinite();
}

/** F2XM1: 2^x - 1 for -1 <= x <= 1. */
function f2xm1(se: number, sig: bigint): void {
  const cl = classify(se, sig), exp = se & 0x7fff;
  if (cl === SNAN || cl === QNAN) return quietNaN(se, sig);
  if (cl === BAD || exp > 0x3fff || (exp === 0x3fff && sig !== J)) return invalid();
  if (exp === 0x3fff) return setResult(se & 0x8000 ? 0xbffe : se, J); // 2^1-1 = 1, 2^-1-1 = -0.5
  if (cl === ZERO) return setResult(se, sig);
  if (isDenormal(se, sig)) st.flags |= DE;
  const y = bmul(toBig(se, sig), LN2);
  packInexact(series(y, (t, n) => bdiv(bmul(t, y), { m: BigInt(n + 1), e: 0 })));
}

/** log2(x) of a finite positive x; `exact` tells whether x is a power of two. */
function log2(se: number, sig: bigint): Big {
  let k = leadExp(se, sig);
  let m: Big = { m: sig, e: expOf(se) - k };
  const norm = sig << BigInt(64 - bitLen(sig));
  if (norm > 0xb504f333f9de6484n) { // above sqrt(2): use m/2
    k++;
    m = { m: m.m, e: m.e - 1 };
  }
  return badd({ m: BigInt(k), e: 0 }, bdiv(lnNear1(m), LN2));
}

/** FYL2X: ST(1) * log2(ST(0)). */
function fyl2x(aSe: number, aSig: bigint, bSe: number, bSig: bigint): void {
  if (nan2(aSe, aSig, bSe, bSig)) return;
  const ca = classify(aSe, aSig), cb = classify(bSe, bSig);
  if ((aSe & 0x8000) && ca !== ZERO) return invalid();
  if (cb === INF) {
    const r = compare(aSe, aSig, 0x3fff, J, false);
    if (r === 1) return invalid();
    return setResult(r === 0 ? bSe ^ 0x8000 : bSe, J);
  }
  if (ca === INF) {
    if (cb === ZERO) return invalid();
    return setResult(bSe & 0x8000 ? 0xffff : 0x7fff, J);
  }
  if (ca === ZERO) {
    if (cb === ZERO) return invalid();
    st.flags |= ZE;
    return setResult(bSe & 0x8000 ? 0x7fff : 0xffff, J);
  }
  if (cb === ZERO) {
    return setResult(compare(aSe, aSig, 0x3fff, J, false) === 0 ? bSe ^ 0x8000 : bSe, 0n);
  }
  if (aSe === 0x3fff && aSig === J) return setResult(bSe & 0x8000, 0n);
  if ((aSig & (aSig - 1n)) === 0n) { // a power of two: k * y exactly rounded
    const k = leadExp(aSe, aSig);
    const kk = BigInt(Math.abs(k)), l = bitLen(kk);
    return mul((k < 0 ? 0x8000 : 0) | (0x3fff + l - 1), kk << BigInt(64 - l), bSe, bSig);
  }
  packInexact(bmul(log2(aSe, aSig), toBig(bSe, bSig)));
}

/**
 * FYL2XP1: ST(1) * log2(ST(0) + 1) for |ST(0)| < 1 - sqrt(2)/2 (AMD's wider range, as QEMU). A
 * zero or infinite operand gives the plain product, rounded at the precision control `pc`.
 */
function fyl2xp1(aSe: number, aSig: bigint, bSe: number, bSig: bigint, pc: number): void {
  if (nan2(aSe, aSig, bSe, bSig)) return;
  const exp = aSe & 0x7fff;
  const limit = aSe & 0x8000 ? 0x95f619980c4336f7n : 0xd413cccfe7799211n;
  if (exp > 0x3ffd || (exp === 0x3ffd && aSig > limit)) return invalid();
  const ca = classify(aSe, aSig), cb = classify(bSe, bSig);
  if (ca === ZERO || cb === ZERO || cb === INF) {
    st.prec = pc;
    return mul(aSe, aSig, bSe, bSig);
  }
  // ln(1 + x) = 2 atanh(x / (2 + x)): no cancellation for tiny x.
  const x = toBig(aSe, aSig);
  const r = atanh(bdiv(x, badd({ m: 2n, e: 0 }, x)));
  const ln = { m: r.m, e: r.e + 1 };
  packInexact(bmul(bdiv(ln, LN2), toBig(bSe, bSig)));
}

/** FPATAN: the angle of (x = ST(0), y = ST(1)), result for ST(1). */
function fpatan(xSe: number, xSig: bigint, ySe: number, ySig: bigint): void {
  if (nan2(xSe, xSig, ySe, ySig)) return;
  const cx = classify(xSe, xSig), cy = classify(ySe, ySig);
  const xNeg = (xSe & 0x8000) !== 0, yNeg = (ySe & 0x8000) !== 0;
  if (cy === ZERO && !xNeg) return setResult(ySe, ySig);
  if (cx === INF && cy !== INF && !xNeg) return setResult(ySe & 0x8000, 0n);
  let r: Big;
  const half = (v: Big, k: number) => ({ m: v.m, e: v.e - k });
  if (cy === ZERO) r = PI;
  else if (cy === INF) {
    r = cx === INF ? (xNeg ? bmul(PI, { m: 3n, e: -2 }) : half(PI, 2)) : half(PI, 1);
  } else if (cx === ZERO) r = half(PI, 1);
  else if (cx === INF) r = PI;
  else {
    const ax: Big = { m: xSig, e: expOf(xSe) }, ay: Big = { m: ySig, e: expOf(ySe) };
    const xBigger = compare(xSe & 0x7fff, xSig, ySe & 0x7fff, ySig, false) !== 0;
    if (xBigger) {
      const a = atan(bdiv(ay, ax));
      r = xNeg ? badd(PI, bneg(a)) : a;
    } else {
      const a = atan(bdiv(ax, ay));
      r = xNeg ? badd(half(PI, 1), a) : badd(half(PI, 1), bneg(a));
    }
  }
  packInexact(yNeg ? bneg(r) : r);
}

const f64 = new DataView(new ArrayBuffer(8));

/** ST(0) as a double (rounded in the rounding mode), or null when |ST(0)| > 2^63 or not finite. */
function toDouble(se: number, sig: bigint): number {
  const saved = st.flags;
  const bits = toIeee(se, sig, true);
  st.flags = saved;
  f64.setBigUint64(0, bits);
  return f64.getFloat64(0);
}

/** Stores a double result into st (exact). */
function fromDouble(d: number): void {
  f64.setFloat64(0, d);
  const saved = st.flags;
  fromIeee(f64.getBigUint64(0), true);
  st.flags = saved;
}

/**
 * FSIN (14), FCOS (15), FPTAN (2), FSINCOS (11). Out of range (|x| > 2^63): C2 = 1 and nothing
 * else changes (SDM). NaN operands propagate at double precision.
 */
function trig(c: Cpu, k: number): void {
  if (!checkOperands(c, -1, 0, 0)) return;
  const pushes = k === 2 || k === 11;
  if (pushes && !isEmpty(c, 7)) {
    if (stackFault(c, true)) {
      writeSt(c, 0, INDEF_SE, INDEF_SIG);
      push(c, INDEF_SE, INDEF_SIG);
    }
    return;
  }
  prepare(c);
  const x = toDouble(seOf(c, 0), sigOf(c, 0));
  let a: number, b = 1;
  if (Math.abs(x) > 2 ** 63) {
    c.fpuSw |= C2;
    return;
  }
  // A NaN operand (an unsupported encoding converts to the default NaN) passes through.
  if (x !== x) a = b = x;
  else if (k === 14) a = Math.sin(x);
  else if (k === 15) a = Math.cos(x);
  else if (k === 2) a = Math.tan(x);
  else {
    a = Math.sin(x);
    b = Math.cos(x);
  }
  c.fpuSw &= ~C2;
  fromDouble(a);
  writeSt(c, 0, st.se, st.sig);
  if (pushes) {
    fromDouble(b);
    push(c, st.se, st.sig);
  }
}

/** Executes D9 F0-FF transcendental `k` (the low nibble of the second opcode byte). */
export function transcendental(c: Cpu, k: number): void {
  if (k === 2 || k >= 11) return trig(c, k);
  const two = k !== 0;
  if (!checkOperands(c, two ? 1 : -1, two ? 1 : 0, two ? 1 : 0)) return;
  prepare(c);
  // Extended precision whatever the precision control (as QEMU; PC covers arithmetic only).
  const pc = st.prec;
  st.prec = 64;
  const aSe = seOf(c, 0), aSig = sigOf(c, 0);
  if (k === 0) f2xm1(aSe, aSig);
  else if (k === 1) fyl2x(aSe, aSig, seOf(c, 1), sigOf(c, 1));
  else if (k === 9) fyl2xp1(aSe, aSig, seOf(c, 1), sigOf(c, 1), pc);
  else fpatan(aSe, aSig, seOf(c, 1), sigOf(c, 1));
  if (!raise(c, st.flags)) return;
  setRoundC1(c);
  writeSt(c, two ? 1 : 0, st.se, st.sig);
  if (two) pop(c);
}
