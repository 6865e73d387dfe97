/**
 * Shifts and rotates: group 2 (ROL ROR RCL RCR SHL SHR SAL SAR) and SHLD/SHRD (SDM Vol.2).
 *
 * The count is masked to 5 bits; a masked count of 0 changes nothing (not even flags). Flags the
 * SDM leaves undefined follow QEMU TCG: for SHL/SHR/SAR/SHLD/SHRD, OF = MSB(x ^ result) where x is
 * the operand shifted by count-1 (for every count), AF = 0; rotates compute OF for every count;
 * RCL/RCR rotate by count mod (width+1), ROL/ROR by count mod width with CF/OF still updated.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { CF, getCF, MASK, OF, setResultFlags, settleFlags } from "./flags.ts";

const WIDTH = [8, 16, 32] as const;

function setCfOf(c: Cpu, cf: number, of: number): void {
  settleFlags(c);
  c.flags = (c.flags & ~(CF | OF)) | cf | (of << 11);
}

/** Group-2 operation `op` on `v` (zero-extended for 8/16 bits) by masked `count`. */
export function shift(c: Cpu, op: number, v: number, count: number, s: number): number {
  if (count === 0) return v;
  const w = WIDTH[s], mask = MASK[s], top = w - 1;
  switch (op) {
    case 0: { // ROL
      const n = count & top;
      const r = (n === 0 ? v : (v << n) | ((v & mask) >>> (w - n))) & mask;
      const cf = r & 1;
      setCfOf(c, cf, ((r >>> top) & 1) ^ cf);
      return r;
    }
    case 1: { // ROR
      const n = count & top;
      const r = (n === 0 ? v : ((v & mask) >>> n) | (v << (w - n))) & mask;
      setCfOf(c, (r >>> top) & 1, ((r >>> top) ^ (r >>> (top - 1))) & 1);
      return r;
    }
    case 2: { // RCL
      const n = s === 2 ? count : count % (w + 1);
      if (n === 0) return v;
      const src = v & mask;
      let r = (src << n) | (getCF(c) << (n - 1));
      if (n > 1) r |= src >>> (w + 1 - n);
      r &= mask;
      setCfOf(c, (src >>> (w - n)) & 1, ((src ^ r) >>> top) & 1);
      return r;
    }
    case 3: { // RCR
      const n = s === 2 ? count : count % (w + 1);
      if (n === 0) return v;
      const src = v & mask;
      let r = (src >>> n) | (getCF(c) << (w - n));
      if (n > 1) r |= src << (w + 1 - n);
      r &= mask;
      setCfOf(c, (src >>> (n - 1)) & 1, ((src ^ r) >>> top) & 1);
      return r;
    }
    case 4:
    case 6: { // SHL/SAL
      const x = (v << (count - 1)) & mask;
      const r = (x << 1) & mask;
      setResultFlags(c, r, s, ((x >>> top) & 1) | ((((x ^ r) >>> top) & 1) << 11));
      return r;
    }
    case 5: { // SHR
      const x = (v & mask) >>> (count - 1);
      const r = x >>> 1;
      setResultFlags(c, r, s, (x & 1) | ((((x ^ r) >>> top) & 1) << 11));
      return r;
    }
    default: { // SAR
      const sv = (v << (32 - w)) >> (32 - w);
      const x = sv >> (count - 1);
      const r = (x >> 1) & mask;
      setResultFlags(c, r, s, x & 1);
      return r;
    }
  }
}

/**
 * SHLD (`left`) / SHRD: shifts `dst` with bits from `src`. For 16-bit operands with counts above
 * 16 (undefined in the SDM) the operand is treated as dst:src:dst, Intel's (and QEMU's) behaviour.
 */
export function shiftDouble(
  c: Cpu,
  dst: number,
  src: number,
  count: number,
  s: number,
  left: boolean,
): number {
  count &= 31;
  if (count === 0) return dst;
  let r: number, x: number;
  if (s === 2) {
    if (left) {
      x = count === 1 ? dst : (dst << (count - 1)) | (src >>> (33 - count));
      r = (dst << count) | (src >>> (32 - count));
    } else {
      x = count === 1 ? dst : (dst >>> (count - 1)) | (src << (33 - count));
      r = (dst >>> count) | (src << (32 - count));
    }
  } else {
    const v48 = (dst & 0xffff) * 2 ** 32 + (src & 0xffff) * 65536 + (dst & 0xffff);
    if (left) {
      x = Math.floor(v48 / 2 ** (33 - count)) & 0xffff;
      r = Math.floor(v48 / 2 ** (32 - count)) & 0xffff;
    } else {
      x = Math.floor(v48 / 2 ** (count - 1)) & 0xffff;
      r = Math.floor(v48 / 2 ** count) & 0xffff;
    }
  }
  const top = s === 2 ? 31 : 15;
  const cf = left ? (x >>> top) & 1 : x & 1;
  setResultFlags(c, r, s, cf | ((((x ^ r) >>> top) & 1) << 11));
  return r;
}
