/**
 * Instruction-stream fetch, ModRM/SIB effective addresses (16- and 32-bit forms, SDM Vol.2
 * Tables 2-1..2-3) and register/memory operand access by size code (0 byte, 1 word, 2 dword).
 *
 * Fetching goes through a window: while EIP stays inside the current code page (and CS limit),
 * bytes come straight from `ram[eip + fwDelta]` without translation.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { Vec } from "./fault.ts";
import { TLB_RAM } from "./paging.ts";

/** Byte register index -> index in `regs8` (AL CL DL BL AH CH DH BH). */
export const REG8 = new Uint8Array([0, 4, 8, 12, 1, 5, 9, 13]);

/** Re-establishes the fetch window at EIP; false when the code page is not plain RAM. */
function refill(c: Cpu): boolean {
  const eip = c.eip;
  const limit = c.segLimit[1] >>> 0;
  if (eip > limit) c.fault(Vec.GP, 0);
  const lin = (c.segBase[1] + eip) | 0;
  const pa = c.xlate(lin, false);
  if ((c.tlbInfo[lin >>> 12] & TLB_RAM) === 0) {
    c.fwLen = 0;
    return false;
  }
  setWindow(c, eip, lin, pa, limit);
  return true;
}

/** The fetch window around EIP (linear `lin`, physical `pa`) up to the page end and CS limit. */
function setWindow(c: Cpu, eip: number, lin: number, pa: number, limit: number): void {
  const off = lin & 0xfff;
  const back = Math.min(eip, off);
  c.fwStart = eip - back;
  c.fwLen = Math.min(4096 - off + back, limit - c.fwStart + 1);
  c.fwDelta = pa - eip;
}

/**
 * Moves the fetch window to EIP when its page is a TLB hit on plain RAM readable at the current
 * privilege, as a fetch would, but with no side effect otherwise (the translator's page change).
 */
export function windowOnHit(c: Cpu): boolean {
  const eip = c.eip, limit = c.segLimit[1] >>> 0;
  if (eip > limit) return false;
  const lin = (c.segBase[1] + eip) | 0, need = c.rdMask | TLB_RAM;
  if ((c.tlbInfo[lin >>> 12] & need) !== need) return false;
  setWindow(c, eip, lin, c.tlbPhys[lin >>> 12] | (lin & 0xfff), limit);
  return true;
}

function fetchSlow8(c: Cpu): number {
  if (refill(c)) return fetch8(c);
  // ROM/MMIO code (e.g. the BIOS at reset): byte by byte through the bus.
  const eip = c.eip;
  const v = c.memory.read8(c.xlate((c.segBase[1] + eip) | 0, false));
  c.eip = eip + 1;
  return v;
}

export function fetch8(c: Cpu): number {
  const eip = c.eip;
  if ((eip - c.fwStart) >>> 0 < c.fwLen) {
    c.eip = eip + 1;
    return c.ram[eip + c.fwDelta];
  }
  return fetchSlow8(c);
}

export function fetch16(c: Cpu): number {
  const eip = c.eip;
  if (((eip - c.fwStart) >>> 0) + 2 <= c.fwLen) {
    c.eip = eip + 2;
    return c.view.getUint16(eip + c.fwDelta, true);
  }
  return fetch8(c) | (fetch8(c) << 8);
}

export function fetch32(c: Cpu): number {
  const eip = c.eip;
  if (((eip - c.fwStart) >>> 0) + 4 <= c.fwLen) {
    c.eip = eip + 4;
    return c.view.getInt32(eip + c.fwDelta, true);
  }
  const lo = fetch16(c);
  return lo | (fetch16(c) << 16);
}

/** Immediate of size code `s` (dword as int32). */
export function fetchImm(c: Cpu, s: number): number {
  return s === 2 ? fetch32(c) : s === 1 ? fetch16(c) : fetch8(c);
}

/** Sign-extended imm8. */
export function fetchS8(c: Cpu): number {
  return (fetch8(c) << 24) >> 24;
}

/** Fetches a ModRM byte and, for memory forms, decodes the effective address. */
export function modrm(c: Cpu): number {
  const m = fetch8(c);
  if (m < 0xc0) decodeEA(c, m);
  return m;
}

/** Decodes the memory operand of ModRM `m` into eaOff/eaSeg (SDM Vol.2 2.1.5). */
export function decodeEA(c: Cpu, m: number): void {
  decodeEAParts(c, m);
  c.eaOff = eaOffset(c, c.eaBase, c.eaIndex, c.eaScale, c.eaDisp, c.addr32);
}

/**
 * Decodes the memory operand of ModRM `m` (and its SIB/displacement bytes) into the register-
 * independent parts eaBase/eaIndex/eaScale/eaDisp/eaSeg, so that a decoded instruction can be
 * re-executed with other register values. Registers are GPR numbers (-1 none); with 16-bit
 * addressing they name the 16-bit registers of the BX/BP/SI/DI forms.
 */
export function decodeEAParts(c: Cpu, m: number): void {
  const mod = m >> 6, rm = m & 7;
  let seg = 3;
  let base = -1, index = -1, scale = 0, disp = 0;
  if (c.addr32) {
    if (rm === 4) {
      const sib = fetch8(c);
      const b = sib & 7, i = (sib >> 3) & 7;
      if (b === 5 && mod === 0) disp = fetch32(c);
      else {
        base = b;
        if (b === 4 || b === 5) seg = 2;
      }
      if (i !== 4) {
        index = i;
        scale = sib >> 6;
      }
    } else if (rm === 5 && mod === 0) {
      disp = fetch32(c);
    } else {
      base = rm;
      if (rm === 5) seg = 2;
    }
    if (mod === 1) disp += fetchS8(c);
    else if (mod === 2) disp = (disp + fetch32(c)) | 0;
  } else {
    // [BX+SI] [BX+DI] [BP+SI] [BP+DI] [SI] [DI] [BP]/disp16 [BX]
    base = BASE16[rm];
    index = INDEX16[rm];
    if (rm === 2 || rm === 3) seg = 2;
    if (rm === 6) {
      if (mod === 0) {
        base = -1;
        disp = fetch16(c);
      } else seg = 2;
    }
    if (mod === 1) disp += fetchS8(c);
    else if (mod === 2) disp += fetch16(c);
  }
  c.eaBase = base;
  c.eaIndex = index;
  c.eaScale = scale;
  c.eaDisp = disp;
  c.eaSeg = c.segOvr >= 0 ? c.segOvr : seg;
}

/** 16-bit ModRM forms by r/m: base (BX 3, BP 5) and index (SI 6, DI 7) registers, -1 none. */
const BASE16 = new Int8Array([3, 3, 5, 5, -1, -1, 5, 3]);
const INDEX16 = new Int8Array([6, 7, 6, 7, 6, 7, -1, -1]);

/** Offset of a decoded memory operand with the current register values. */
export function eaOffset(
  c: Cpu,
  base: number,
  index: number,
  scale: number,
  disp: number,
  a32: boolean,
): number {
  if (a32) {
    const r = c.regs;
    let off = disp;
    if (base >= 0) off += r[base];
    if (index >= 0) off += r[index] << scale;
    return off >>> 0;
  }
  const r16 = c.regs16;
  let off = disp;
  if (base >= 0) off += r16[base << 1];
  if (index >= 0) off += r16[index << 1];
  return off & 0xffff;
}

export function getReg(c: Cpu, r: number, s: number): number {
  return s === 2 ? c.regs[r] : s === 1 ? c.regs16[r << 1] : c.regs8[REG8[r]];
}

export function setReg(c: Cpu, r: number, s: number, v: number): void {
  if (s === 2) c.regs[r] = v;
  else if (s === 1) c.regs16[r << 1] = v;
  else c.regs8[REG8[r]] = v;
}

/** Reads the r/m operand of ModRM `m`. */
export function readE(c: Cpu, m: number, s: number): number {
  if (m >= 0xc0) return getReg(c, m & 7, s);
  return c.readS(c.eaSeg, c.eaOff, s);
}

/** Reads the r/m operand after checking that it may be written back (RMW: no partial effects). */
export function readERmw(c: Cpu, m: number, s: number): number {
  if (m >= 0xc0) return getReg(c, m & 7, s);
  c.checkWrite(c.eaSeg, c.eaOff, s);
  return c.readS(c.eaSeg, c.eaOff, s);
}

export function writeE(c: Cpu, m: number, s: number, v: number): void {
  if (m >= 0xc0) setReg(c, m & 7, s, v);
  else c.writeS(c.eaSeg, c.eaOff, s, v);
}

/** Offset after the memory operand, for m16:16/m16:32 pairs (wraps at 64K with 16-bit addressing). */
export function eaPlus(c: Cpu, n: number): number {
  return c.addr32 ? (c.eaOff + n) >>> 0 : (c.eaOff + n) & 0xffff;
}
