/**
 * The 80-bit extended format and the rounding core: classification, NaN rules, and rounding of an
 * exact value `m * 2^e` to extended (under the precision control), double or single format.
 *
 * Semantics follow the SDM (Vol.1 4.2, 4.8, 8.2 and 8.5) and, where the SDM leaves a choice,
 * QEMU 7.2's softfloat as configured for x87 (the lockstep oracle): tininess is detected after
 * rounding, underflow is flagged only for an inexact tiny result when UE is masked, NaN
 * propagation follows the x87 rule (a QNaN over an SNaN, else the larger significand), the
 * default NaN is the negative QNaN "real indefinite", pseudo-denormals are read as exponent 1 and
 * the other unsupported encodings (unnormals, pseudo-NaN, pseudo-infinity) are invalid operands.
 *
 * Significands are BigInts here: this code runs only for x87 instructions, which are rare in the
 * guests (kernel FPU self-test, userspace floating point); see tests/cpu/x87/bench.ts for the
 * measured throughput.
 *
 * @module
 */

/** Status-word exception bits (SDM Vol.1 8.1.3). */
export const IE = 1, DE = 2, ZE = 4, OE = 8, UE = 0x10, PE = 0x20, SF = 0x40;

/** Operand classes. */
export const ZERO = 0, FINITE = 1, INF = 2, QNAN = 3, SNAN = 4, BAD = 5;

export const BIAS = 16383;
export const J = 1n << 63n;
const M64 = (1n << 64n) - 1n;
/** The QNaN floating-point indefinite (sign 1, exponent 7FFF, significand C000...0). */
export const INDEF_SE = 0xffff, INDEF_SIG = 0xc000000000000000n;

/** Rounding and result state shared by the x87 helpers (one instruction at a time). */
export const st = {
  /** Rounding control: 0 nearest even, 1 down, 2 up, 3 chop. */
  rc: 0,
  /** Significand bits of the precision control: 24, 53 or 64. */
  prec: 64,
  /** Exception bits raised by the current operation. */
  flags: 0,
  /** The last rounding increased the magnitude (C1 per SDM Vol.1 8.1.3.3). */
  up: 0,
  /** Unmasked OE/UE: deliver the result with the exponent re-biased (SDM Vol.1 8.5.4/8.5.5). */
  unmaskedOE: false,
  unmaskedUE: false,
  /** Result of the last operation: sign/exponent word and 64-bit significand. */
  se: 0,
  sig: 0n,
};

/** Classifies an extended value. */
export function classify(se: number, sig: bigint): number {
  const exp = se & 0x7fff;
  if (exp === 0) return sig === 0n ? ZERO : FINITE;
  if ((sig & J) === 0n) return BAD;
  if (exp === 0x7fff) {
    if (sig === J) return INF;
    return sig & (1n << 62n) ? QNAN : SNAN;
  }
  return FINITE;
}

/** A denormal or pseudo-denormal operand (the DE condition). */
export function isDenormal(se: number, sig: bigint): boolean {
  return (se & 0x7fff) === 0 && sig !== 0n;
}

/** Exponent e such that a finite extended value is sig * 2^e. */
export function expOf(se: number): number {
  return Math.max(se & 0x7fff, 1) - BIAS - 63;
}

export function setResult(se: number, sig: bigint): void {
  st.se = se;
  st.sig = sig;
}

export function setIndefinite(): void {
  st.se = INDEF_SE;
  st.sig = INDEF_SIG;
}

/** Two-operand NaN result (at least one operand is a NaN), x87 rule; SNaN raises IE. */
export function pickNaN(aSe: number, aSig: bigint, bSe: number, bSig: bigint): void {
  const ca = classify(aSe, aSig), cb = classify(bSe, bSig);
  if (ca === SNAN || cb === SNAN) st.flags |= IE;
  let useA: boolean;
  const aNaN = ca === QNAN || ca === SNAN, bNaN = cb === QNAN || cb === SNAN;
  if (!bNaN) useA = true;
  else if (!aNaN) useA = false;
  else if (ca !== cb) useA = ca === QNAN;
  else {
    const fa = aSig & ~J, fb = bSig & ~J;
    useA = fa > fb || (fa === fb && (aSe & 0x8000) === 0);
  }
  if (useA) setResult(aSe, aSig | (1n << 62n));
  else setResult(bSe, bSig | (1n << 62n));
}

/** One-operand NaN result: an SNaN raises IE and is quieted. */
export function quietNaN(se: number, sig: bigint): void {
  if (classify(se, sig) === SNAN) st.flags |= IE;
  setResult(se, sig | (1n << 62n));
}

/** Bit length of a positive BigInt. */
export function bitLen(m: bigint): number {
  let n = 0;
  let x = m;
  while (x >= 1n << 256n) {
    x >>= 256n;
    n += 256;
  }
  while (x >= 1n << 32n) {
    x >>= 32n;
    n += 32;
  }
  return n + (32 - Math.clz32(Number(x)));
}

/** Rounded p-bit significand and biased exponent from the last `roundTo`. */
let outExp = 0;
let outSig = 0n;

/**
 * Rounds m * 2^e (m > 0) to `p` significand bits with exponent bias `bias` and all-ones exponent
 * `emax` (subnormals below biased exponent 1), in rounding mode `st.rc`. Leaves the biased
 * exponent in outExp (emax for infinity) and the p-bit significand in outSig; raises PE, UE, OE.
 */
function roundTo(neg: boolean, m: bigint, e: number, p: number, bias: number, emax: number): void {
  const len = bitLen(m);
  const E = e + len - 1; // unbiased exponent of the leading bit
  const emin = 1 - bias;
  const q = Math.max(E, emin) - p + 1; // exponent of the result's last place
  const shift = q - e;
  const rc = st.rc;
  const inc = (rem: bigint, half: bigint, lsbOdd: boolean): boolean => {
    if (rem === 0n) return false;
    if (rc === 0) return rem > half || (rem === half && lsbOdd);
    if (rc === 1) return neg;
    if (rc === 2) return !neg;
    return false;
  };
  let r: bigint;
  let inexact = false;
  if (shift <= 0) r = m << BigInt(-shift);
  else {
    const sh = BigInt(shift);
    r = m >> sh;
    const rem = m & ((1n << sh) - 1n);
    inexact = rem !== 0n;
    if (inc(rem, 1n << (sh - 1n), (r & 1n) === 1n)) r += 1n;
  }
  st.up = inexact && (r << BigInt(Math.max(shift, 0))) > (m << BigInt(Math.max(-shift, 0))) ? 1 : 0;
  let biased: number;
  if (r >> BigInt(p) !== 0n) { // carried out: one more exponent
    r >>= 1n;
    biased = q + p - 1 + 1 + bias;
  } else biased = (r >> BigInt(p - 1)) !== 0n ? q + p - 1 + bias : 0;
  if (E < emin) {
    // Tininess after rounding: the result rounded with an unbounded exponent is below 2^emin.
    let tiny = true;
    if (E === emin - 1) {
      const sh = BigInt(len - p);
      let u = sh > 0n ? m >> sh : m << -sh;
      if (sh > 0n) {
        const rem = m & ((1n << sh) - 1n);
        if (inc(rem, 1n << (sh - 1n), (u & 1n) === 1n)) u += 1n;
      }
      tiny = u >> BigInt(p) === 0n;
    }
    if (tiny && (inexact || st.unmaskedUE)) st.flags |= UE;
  }
  if (inexact) st.flags |= PE;
  if (biased >= emax) {
    st.flags |= OE | PE;
    const toMax = rc === 3 || (rc === 1 && !neg) || (rc === 2 && neg);
    if (toMax) {
      biased = emax - 1;
      r = (1n << BigInt(p)) - 1n;
      st.up = 0;
    } else {
      biased = emax;
      r = 1n << BigInt(p - 1);
      st.up = 1;
    }
  }
  outExp = biased;
  outSig = r;
}

/**
 * Rounds sign/m/e to extended at precision `st.prec` into st.se/st.sig. With OE or UE unmasked,
 * an overflowing or tiny result is delivered with its exponent divided by 2^24576 (re-biased).
 */
export function roundPack(neg: boolean, m: bigint, e: number, prec = st.prec): void {
  const s = neg ? 0x8000 : 0;
  if (m === 0n) return setResult(s, 0n);
  const E = e + bitLen(m) - 1;
  if (st.unmaskedOE && E + BIAS >= 0x7fff) {
    roundTo(neg, m, e - 24576, prec, BIAS, 0x7fff);
    st.flags |= OE;
  } else if (st.unmaskedUE && E + BIAS <= 0) {
    roundTo(neg, m, e + 24576, prec, BIAS, 0x7fff);
    st.flags |= UE;
  } else roundTo(neg, m, e, prec, BIAS, 0x7fff);
  if (outExp === 0x7fff) return setResult(s | 0x7fff, J);
  setResult(s | outExp, (outSig << BigInt(64 - prec)) & M64);
}

/** Rounds to IEEE single (fmt 0) or double (fmt 1); returns the biased exponent and fraction. */
export function roundIeee(neg: boolean, m: bigint, e: number, double: boolean): bigint {
  const p = double ? 53 : 24, bias = double ? 1023 : 127, emax = double ? 0x7ff : 0xff;
  roundTo(neg, m, e, p, bias, emax);
  const frac = outExp === emax ? 0n : outSig & ((1n << BigInt(p - 1)) - 1n);
  return (neg ? 1n << BigInt(double ? 63 : 31) : 0n) | (BigInt(outExp) << BigInt(p - 1)) | frac;
}

/**
 * Compares two extended values: 0 less, 1 equal, 2 greater, 3 unordered. `signaling`: any NaN
 * raises IE (FCOM); otherwise only an SNaN (FUCOM). Unsupported encodings are invalid.
 */
export function compare(aSe: number, aSig: bigint, bSe: number, bSig: bigint, signaling: boolean) {
  const ca = classify(aSe, aSig), cb = classify(bSe, bSig);
  if (ca >= QNAN || cb >= QNAN) {
    if (signaling || ca >= SNAN || cb >= SNAN) st.flags |= IE;
    return 3;
  }
  if (ca === FINITE && isDenormal(aSe, aSig) || cb === FINITE && isDenormal(bSe, bSig)) {
    st.flags |= DE;
  }
  if (ca === ZERO && cb === ZERO) return 1;
  const na = ca !== ZERO && (aSe & 0x8000) !== 0, nb = cb !== ZERO && (bSe & 0x8000) !== 0;
  if (na !== nb) return na ? 0 : 2;
  const mag = compareMag(ca, aSe, aSig, cb, bSe, bSig);
  if (mag === 0) return 1;
  return (mag > 0) !== na ? 2 : 0;
}

/** Magnitude order of two non-NaN values: -1, 0, 1. */
function compareMag(ca: number, aSe: number, aSig: bigint, cb: number, bSe: number, bSig: bigint) {
  if (ca === cb && ca !== FINITE) return 0;
  if (ca === INF || cb === ZERO) return cb === INF || ca === ZERO ? 0 : 1;
  if (cb === INF || ca === ZERO) return -1;
  const la = bitLen(aSig), lb = bitLen(bSig);
  const ea = expOf(aSe) + la, eb = expOf(bSe) + lb;
  if (ea !== eb) return ea > eb ? 1 : -1;
  const ma = aSig << BigInt(64 - la), mb = bSig << BigInt(64 - lb);
  return ma === mb ? 0 : ma > mb ? 1 : -1;
}
