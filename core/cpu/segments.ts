/**
 * Segment registers: descriptor reads, the hidden descriptor caches and the checks made when a
 * data or stack segment register is loaded (SDM Vol.3 3.4, 5.5-5.6; MOV/POP Sreg in Vol.2).
 *
 * `segAttr` holds descriptor bits 40..55 shifted down by 8: type (0-3), S (4), DPL (5-6), P (7),
 * AVL (12), L (13), D/B (14), G (15).
 *
 * @module
 */

import { type Cpu, SEG_R, SEG_W } from "./cpu.ts";
import { Vec } from "./fault.ts";

export const ATTR_P = 0x80;
export const ATTR_S = 0x10;
export const ATTR_D = 0x4000;
export const ATTR_G = 0x8000;

/** Recomputes the derived limit window and usability of segment `i` from its cache. */
export function refreshSegment(c: Cpu, i: number): void {
  const attr = c.segAttr[i];
  const limit = c.segLimit[i] >>> 0;
  if (!c.pmode) {
    // Real and v86 mode: no type checks, the cached limit still applies (SDM Vol.3 20.1.1).
    c.segOk[i] = SEG_R | SEG_W;
    c.segMin[i] = 0;
    c.segMax[i] = limit;
    return;
  }
  if (i !== 1 && (c.segSel[i] & 0xfffc) === 0) {
    c.segOk[i] = 0; // null selector: any access is #GP(0)
    c.segMin[i] = 0;
    c.segMax[i] = -1;
    return;
  }
  const type = attr & 0xf;
  if ((attr & ATTR_S) === 0) {
    c.segOk[i] = 0;
    return;
  }
  if (type & 8) {
    // Code: readable if bit 1; never writable.
    c.segOk[i] = type & 2 ? SEG_R : 0;
    c.segMin[i] = 0;
    c.segMax[i] = limit;
  } else {
    c.segOk[i] = SEG_R | (type & 2 ? SEG_W : 0);
    if (type & 4) {
      // Expand-down: valid offsets are limit+1 .. 0xFFFF or 0xFFFFFFFF by the B bit.
      c.segMin[i] = limit + 1;
      c.segMax[i] = attr & ATTR_D ? 0xffffffff : 0xffff;
    } else {
      c.segMin[i] = 0;
      c.segMax[i] = limit;
    }
  }
}

/** Loads the hidden cache of segment `i` from the descriptor in descLo/descHi. */
export function loadCacheFromDesc(c: Cpu, i: number, sel: number): void {
  const lo = c.descLo, hi = c.descHi;
  c.segSel[i] = sel & 0xffff;
  c.segBase[i] = (lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000);
  let limit = (hi & 0xf0000) | (lo & 0xffff);
  if (hi & 0x800000) limit = (limit << 12) | 0xfff;
  c.segLimit[i] = limit;
  c.segAttr[i] = (hi >>> 8) & 0xf0ff;
  refreshSegment(c, i);
}

/** Base of a descriptor held in lo/hi. */
export function descBase(lo: number, hi: number): number {
  return ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
}

/** Byte-granular limit of a descriptor held in lo/hi. */
export function descLimit(lo: number, hi: number): number {
  const limit = (hi & 0xf0000) | (lo & 0xffff);
  return (hi & 0x800000 ? (limit << 12) | 0xfff : limit) >>> 0;
}

/**
 * Reads the descriptor for `sel` into descLo/descHi and returns its linear address, or -1 when
 * the selector lies outside the GDT/LDT limit (callers raise the fault they need).
 */
export function fetchDescriptor(c: Cpu, sel: number): number {
  let base: number, limit: number;
  if (sel & 4) {
    if ((c.segSel[6] & 0xfffc) === 0) return -1;
    base = c.segBase[6];
    limit = c.segLimit[6] >>> 0;
  } else {
    base = c.gdtrBase;
    limit = c.gdtrLimit;
  }
  const idx = sel & 0xfff8;
  if (idx + 7 > limit) return -1;
  const lin = (base + idx) | 0;
  c.descLo = sysRead32(c, lin);
  c.descHi = sysRead32(c, lin + 4);
  return lin;
}

const SYS_READ8 = 0, SYS_READ32 = 1, SYS_WRITE8 = 2, SYS_WRITE32 = 3;

/**
 * One implicit supervisor-mode linear access (descriptor tables, TSS, gate stacks): paging
 * checks are made as for CPL 0 whatever the current CPL (SDM Vol.3 5.6, 4.6.1).
 */
function sysAccess(c: Cpu, kind: number, lin: number, v: number): number {
  const r = c.rdMask, w = c.wrMask, cpl = c.cpl;
  c.rdMask = 1;
  c.wrMask = 2;
  c.cpl = 0;
  try {
    switch (kind) {
      case SYS_READ8:
        return c.readL8(lin);
      case SYS_READ32:
        return c.readL32(lin);
      case SYS_WRITE8:
        c.writeL8(lin, v);
        return 0;
      default:
        c.writeL32(lin, v);
        return 0;
    }
  } finally {
    c.rdMask = r;
    c.wrMask = w;
    c.cpl = cpl;
  }
}

export function sysRead32(c: Cpu, lin: number): number {
  return sysAccess(c, SYS_READ32, lin, 0);
}

export function sysRead16(c: Cpu, lin: number): number {
  return sysRead8(c, lin) | (sysRead8(c, lin + 1) << 8);
}

export function sysRead8(c: Cpu, lin: number): number {
  return sysAccess(c, SYS_READ8, lin, 0);
}

export function sysWrite32(c: Cpu, lin: number, v: number): void {
  sysAccess(c, SYS_WRITE32, lin, v);
}

export function sysWrite16(c: Cpu, lin: number, v: number): void {
  sysWrite8(c, lin, v);
  sysWrite8(c, lin + 1, v >>> 8);
}

export function sysWrite8(c: Cpu, lin: number, v: number): void {
  sysAccess(c, SYS_WRITE8, lin, v);
}

/** Sets the accessed bit (type bit 0) of the descriptor at `lin` if clear (SDM Vol.3 3.4.5.1). */
export function setAccessed(c: Cpu, lin: number): void {
  if ((c.descHi & 0x100) === 0) {
    c.descHi |= 0x100;
    sysWrite8(c, lin + 5, c.descHi >>> 8);
  }
}

/**
 * MOV/POP/LxS to a data or stack segment register (not CS). Real/v86 mode: base = sel << 4.
 * Protected mode: the checks of SDM Vol.2 "MOV—Move" (segment register operand).
 */
export function loadSegment(c: Cpu, i: number, sel: number): void {
  sel &= 0xffff;
  if (!c.pmode) {
    c.segSel[i] = sel;
    c.segBase[i] = sel << 4;
    if (c.v86) {
      c.segLimit[i] = 0xffff;
      c.segAttr[i] = 0xf3; // DPL 3 read/write data, accessed
    }
    refreshSegment(c, i);
    if (i === 2) c.stack32 = !c.v86 && (c.segAttr[2] & ATTR_D) !== 0;
    return;
  }
  const rpl = sel & 3;
  if ((sel & 0xfffc) === 0) {
    if (i === 2) c.fault(Vec.GP, 0);
    c.segSel[i] = sel;
    c.segBase[i] = 0;
    c.segLimit[i] = 0;
    c.segAttr[i] = 0;
    refreshSegment(c, i);
    return;
  }
  const lin = fetchDescriptor(c, sel);
  const err = sel & 0xfffc;
  if (lin === -1) c.fault(Vec.GP, err);
  const attr = (c.descHi >>> 8) & 0xf0ff;
  const dpl = (attr >>> 5) & 3;
  const type = attr & 0xf;
  if (i === 2) {
    // SS: writable data, RPL = DPL = CPL (SDM Vol.3 5.7).
    if (rpl !== c.cpl || dpl !== c.cpl || (attr & ATTR_S) === 0 || (type & 0xa) !== 2) {
      c.fault(Vec.GP, err);
    }
    if ((attr & ATTR_P) === 0) c.fault(Vec.SS, err);
  } else {
    // Data or readable code; for data and non-conforming code, max(CPL, RPL) <= DPL.
    if ((attr & ATTR_S) === 0 || (type & 0xa) === 8) c.fault(Vec.GP, err);
    if ((type & 0xc) !== 0xc && (rpl > dpl || c.cpl > dpl)) c.fault(Vec.GP, err);
    if ((attr & ATTR_P) === 0) c.fault(Vec.NP, err);
  }
  setAccessed(c, lin);
  loadCacheFromDesc(c, i, sel);
  if (i === 2) c.stack32 = (c.segAttr[2] & ATTR_D) !== 0;
}

/**
 * After a privilege drop (RET/IRET to an outer level), data segment registers whose DPL is below
 * the new CPL are nulled (SDM Vol.2 RET, "return to outer privilege level").
 */
export function nullInvalidSegments(c: Cpu): void {
  for (const i of DATA_SEGS) {
    const attr = c.segAttr[i];
    const conformingCode = (attr & 0xc) === 0xc;
    if ((c.segSel[i] & 0xfffc) !== 0 && !conformingCode && ((attr >>> 5) & 3) < c.cpl) {
      c.segSel[i] = 0;
      c.segAttr[i] = 0;
      c.segBase[i] = 0;
      c.segLimit[i] = 0;
      refreshSegment(c, i);
    }
  }
}

const DATA_SEGS = [0, 3, 4, 5] as const;
