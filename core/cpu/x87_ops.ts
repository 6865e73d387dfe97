/**
 * Extended-precision arithmetic on (sign/exponent, significand) pairs: add, multiply, divide,
 * square root, round to integer, scale, remainder, and conversions from and to integers and the
 * IEEE single/double formats. Each computes the exact result and rounds it once (float80.ts), so
 * results are correctly rounded as the SDM (Vol.1 4.8.4) and softfloat define. Results go to
 * st.se/st.sig, exceptions to st.flags.
 *
 * @module
 */

import {
  BAD,
  BIAS,
  bitLen,
  classify,
  DE,
  expOf,
  FINITE,
  IE,
  INF,
  isDenormal,
  J,
  pickNaN,
  QNAN,
  quietNaN,
  roundIeee,
  roundPack,
  setIndefinite,
  setResult,
  SNAN,
  st,
  ZE,
  ZERO,
} from "./x87_float80.ts";

/** Handles NaN and unsupported operands of a two-operand op; true when the result is set. */
function special2(aSe: number, aSig: bigint, ca: number, bSe: number, bSig: bigint, cb: number) {
  if (ca === BAD || cb === BAD) {
    st.flags |= IE;
    setIndefinite();
    return true;
  }
  if (ca >= QNAN || cb >= QNAN) {
    pickNaN(aSe, aSig, bSe, bSig);
    return true;
  }
  if (ca === FINITE && isDenormal(aSe, aSig) || cb === FINITE && isDenormal(bSe, bSig)) {
    st.flags |= DE;
  }
  return false;
}

/** a + b, or a - b when `sub`. */
export function add(aSe: number, aSig: bigint, bSe: number, bSig: bigint, sub: boolean): void {
  const ca = classify(aSe, aSig), cb = classify(bSe, bSig);
  if (special2(aSe, aSig, ca, bSe, bSig, cb)) return;
  const na = (aSe & 0x8000) !== 0, nb = ((bSe & 0x8000) !== 0) !== sub;
  if (ca === INF || cb === INF) {
    if (ca === INF && cb === INF && na !== nb) {
      st.flags |= IE;
      return setIndefinite();
    }
    return setResult(ca === INF ? (na ? 0xffff : 0x7fff) : (nb ? 0xffff : 0x7fff), J);
  }
  if (ca === ZERO && cb === ZERO) {
    return setResult(na === nb ? (na ? 0x8000 : 0) : (st.rc === 1 ? 0x8000 : 0), 0n);
  }
  if (cb === ZERO) return roundPack(na, aSig, expOf(aSe));
  if (ca === ZERO) return roundPack(nb, bSig, expOf(bSe));
  let ea = expOf(aSe), eb = expOf(bSe);
  let ma = aSig, mb = bSig;
  // Far apart, the smaller term only decides rounding: it becomes a sticky unit below three
  // guard bits of the larger one (its magnitude is under that unit).
  const la = ea + bitLen(ma), lb = eb + bitLen(mb);
  if (la - lb > 70) {
    ma <<= 3n;
    ea -= 3;
    mb = 1n;
    eb = ea;
  } else if (lb - la > 70) {
    mb <<= 3n;
    eb -= 3;
    ma = 1n;
    ea = eb;
  }
  const e = Math.min(ea, eb);
  ma <<= BigInt(ea - e);
  mb <<= BigInt(eb - e);
  let sum = (na ? -ma : ma) + (nb ? -mb : mb);
  if (sum === 0n) return setResult(st.rc === 1 ? 0x8000 : 0, 0n);
  const neg = sum < 0n;
  if (neg) sum = -sum;
  roundPack(neg, sum, e);
}

/** a * b. */
export function mul(aSe: number, aSig: bigint, bSe: number, bSig: bigint): void {
  const ca = classify(aSe, aSig), cb = classify(bSe, bSig);
  if (special2(aSe, aSig, ca, bSe, bSig, cb)) return;
  const s = (aSe ^ bSe) & 0x8000;
  if (ca === INF || cb === INF) {
    if (ca === ZERO || cb === ZERO) {
      st.flags |= IE;
      return setIndefinite();
    }
    return setResult(s | 0x7fff, J);
  }
  if (ca === ZERO || cb === ZERO) return setResult(s, 0n);
  roundPack(s !== 0, aSig * bSig, expOf(aSe) + expOf(bSe));
}

/** a / b. */
export function div(aSe: number, aSig: bigint, bSe: number, bSig: bigint): void {
  const ca = classify(aSe, aSig), cb = classify(bSe, bSig);
  if (special2(aSe, aSig, ca, bSe, bSig, cb)) return;
  const s = (aSe ^ bSe) & 0x8000;
  if (ca === INF) {
    if (cb === INF) {
      st.flags |= IE;
      return setIndefinite();
    }
    return setResult(s | 0x7fff, J);
  }
  if (cb === INF) return setResult(s, 0n);
  if (cb === ZERO) {
    if (ca === ZERO) {
      st.flags |= IE;
      return setIndefinite();
    }
    st.flags |= ZE;
    return setResult(s | 0x7fff, J);
  }
  if (ca === ZERO) return setResult(s, 0n);
  const k = 68 + bitLen(bSig) - bitLen(aSig);
  const n = aSig << BigInt(k);
  const q = n / bSig;
  const sticky = n - q * bSig !== 0n ? 1n : 0n;
  roundPack(s !== 0, (q << 1n) | sticky, expOf(aSe) - expOf(bSe) - k - 1);
}

/** Integer square root (floor). */
function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLen(n) >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** sqrt(a). */
export function sqrt(aSe: number, aSig: bigint): void {
  const ca = classify(aSe, aSig);
  if (ca === BAD) {
    st.flags |= IE;
    return setIndefinite();
  }
  if (ca >= QNAN) return quietNaN(aSe, aSig);
  if (ca === ZERO) return setResult(aSe, 0n);
  if (aSe & 0x8000) {
    st.flags |= IE;
    return setIndefinite();
  }
  if (ca === INF) return setResult(aSe, aSig);
  if (isDenormal(aSe, aSig)) st.flags |= DE;
  let e = expOf(aSe);
  let m = aSig << 140n;
  e -= 140;
  if (e & 1) {
    m <<= 1n;
    e -= 1;
  }
  const r = isqrt(m);
  roundPack(false, (r << 1n) | (r * r !== m ? 1n : 0n), (e >> 1) - 1);
}

/**
 * One-operand specials of FRNDINT and FSCALE: an unsupported encoding gives the indefinite (IE),
 * a NaN is quieted, zeros and infinities are returned as they are. True when the result is set;
 * otherwise the operand is finite and nonzero (DE raised for a denormal).
 */
function passThrough(aSe: number, aSig: bigint): boolean {
  const ca = classify(aSe, aSig);
  if (ca === BAD) {
    st.flags |= IE;
    setIndefinite();
  } else if (ca >= QNAN) quietNaN(aSe, aSig);
  else if (ca !== FINITE) setResult(aSe, aSig);
  else {
    if (isDenormal(aSe, aSig)) st.flags |= DE;
    return false;
  }
  return true;
}

/**
 * Rounds to an integer in rounding mode st.rc, then to the precision control (as softfloat's
 * round_to_int: values whose exponent reaches the precision's fraction size are left to the
 * final rounding). Returns nothing; result in st.
 */
export function roundInt(aSe: number, aSig: bigint): void {
  if (passThrough(aSe, aSig)) return;
  const neg = (aSe & 0x8000) !== 0;
  const e = expOf(aSe);
  const E = e + bitLen(aSig) - 1;
  if (E >= st.prec - 1 || e >= 0) return roundPack(neg, aSig, e);
  const v = roundToInteger(neg, aSig, e);
  if (v === 0n) return setResult(neg ? 0x8000 : 0, 0n);
  roundPack(neg, v, 0);
}

/** |m * 2^e| rounded to an integer in mode st.rc (sign `neg`); raises PE when inexact. */
export function roundToInteger(neg: boolean, m: bigint, e: number): bigint {
  if (e >= 0) return m << BigInt(e);
  const sh = BigInt(-e);
  const q = sh > 4096n ? 0n : m >> sh;
  const rem = sh > 4096n ? m : m - (q << sh);
  if (rem === 0n) return q;
  st.flags |= 0x20;
  const half = sh > 4096n ? -1n : 1n << (sh - 1n);
  let up: boolean;
  if (st.rc === 0) up = half > 0n && (rem > half || (rem === half && (q & 1n) === 1n));
  else if (st.rc === 1) up = neg;
  else if (st.rc === 2) up = !neg;
  else up = false;
  st.up = up ? 1 : 0;
  return up ? q + 1n : q;
}

/** a * 2^n, n an integer (clamped as softfloat does), rounded at st.prec. */
export function scalbn(aSe: number, aSig: bigint, n: number): void {
  if (passThrough(aSe, aSig)) return;
  const k = Math.max(-0x10000, Math.min(0x10000, n));
  roundPack((aSe & 0x8000) !== 0, aSig, expOf(aSe) + k);
}

/** Integer to extended (exact at 64 bits; rounded at st.prec otherwise). */
export function fromInt(v: bigint): void {
  if (v === 0n) return setResult(0, 0n);
  roundPack(v < 0n, v < 0n ? -v : v, 0);
}

/**
 * Extended to a signed integer of `bits` bits in mode st.rc. Out of range, NaN or infinity: IE
 * and the integer indefinite (the most negative value); PE is dropped then (softfloat).
 */
export function toInt(aSe: number, aSig: bigint, bits: number): bigint {
  const ca = classify(aSe, aSig);
  const indef = -(1n << BigInt(bits - 1));
  if (ca === ZERO) return 0n;
  if (ca !== FINITE) {
    st.flags |= IE;
    return indef;
  }
  const saved = st.flags;
  const neg = (aSe & 0x8000) !== 0;
  const v = roundToInteger(neg, aSig, expOf(aSe));
  if (neg ? v > -indef : v >= -indef) {
    st.flags = saved | IE;
    return indef;
  }
  return neg ? -v : v;
}

/** IEEE single (`double` false) or double bits to extended; SNaN raises IE, denormal DE. */
export function fromIeee(bits: bigint, double: boolean): void {
  const fb = double ? 52 : 23, emax = double ? 0x7ff : 0xff, bias = double ? 1023 : 127;
  const sign = (bits >> BigInt(double ? 63 : 31)) & 1n ? 0x8000 : 0;
  const exp = Number((bits >> BigInt(fb)) & BigInt(emax));
  const frac = bits & ((1n << BigInt(fb)) - 1n);
  if (exp === emax) {
    if (frac === 0n) return setResult(sign | 0x7fff, J);
    return quietNaN(sign | 0x7fff, J | (frac << BigInt(63 - fb)));
  }
  if (exp === 0) {
    if (frac === 0n) return setResult(sign, 0n);
    st.flags |= DE;
    return roundPack(sign !== 0, frac, 1 - bias - fb);
  }
  roundPack(sign !== 0, frac | (1n << BigInt(fb)), exp - bias - fb);
}

/** Extended to IEEE single/double bits in mode st.rc (FST m32/m64). */
export function toIeee(aSe: number, aSig: bigint, double: boolean): bigint {
  const ca = classify(aSe, aSig);
  const sb = BigInt(double ? 63 : 31), fb = double ? 52 : 23;
  const sign = aSe & 0x8000 ? 1n << sb : 0n;
  const expAll = BigInt(double ? 0x7ff : 0xff) << BigInt(fb);
  if (ca === BAD) {
    st.flags |= IE;
    return (1n << sb) | expAll | (1n << BigInt(fb - 1));
  }
  if (ca >= QNAN) {
    if (ca === SNAN) st.flags |= IE;
    return sign | expAll | (1n << BigInt(fb - 1)) | ((aSig & ~J) >> BigInt(63 - fb));
  }
  if (ca === INF) return sign | expAll;
  if (ca === ZERO) return sign;
  if (isDenormal(aSe, aSig)) st.flags |= DE;
  return roundIeee(sign !== 0n, aSig, expOf(aSe), double);
}

/** Unbiased exponent of a finite nonzero value's leading bit. */
export function leadExp(se: number, sig: bigint): number {
  return expOf(se) + bitLen(sig) - 1;
}

/**
 * Partial remainder (FPREM when `trunc`, FPREM1 otherwise) for finite nonzero a, b whose leading
 * exponents differ by less than 64: r = a - q*b exactly, q rounded toward zero or to nearest-even.
 * Returns the low three bits of |q|.
 */
export function remainder(aSe: number, aSig: bigint, bSe: number, bSig: bigint, trunc: boolean) {
  const ea = expOf(aSe), eb = expOf(bSe);
  const e = Math.min(ea, eb);
  const A = aSig << BigInt(ea - e), B = bSig << BigInt(eb - e);
  let q = A / B;
  let r = A - q * B;
  let neg = (aSe & 0x8000) !== 0;
  if (!trunc && (2n * r > B || (2n * r === B && (q & 1n) === 1n))) {
    q += 1n;
    r = B - r;
    neg = !neg;
  }
  if (r === 0n) setResult(aSe & 0x8000, 0n);
  else roundPack(neg, r, e, 64);
  return Number(q & 7n);
}

/** Bias of the extended exponent, re-exported for the instruction layer. */
export const EXP_BIAS = BIAS;
