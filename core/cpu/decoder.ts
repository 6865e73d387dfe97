/**
 * Prefix decoding and dispatch of one instruction (one-byte map and the 0F map, SDM Vol.2
 * Appendix A). Simple data movement and near control flow are executed inline here; everything
 * else calls the family modules.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { Vec } from "./fault.ts";
import { CF, DF, getCF, getOF, MASK, readEflags, settleFlags, testCC, ZF } from "./flags.ts";
import {
  aaa,
  aad,
  aam,
  add,
  alu,
  daa,
  das,
  dec,
  div,
  idiv,
  imul1,
  imul2,
  inc,
  mul,
  sub,
} from "./arith.ts";
import { andOp, bitOp, bitScan } from "./logical.ts";
import { shift, shiftDouble } from "./shift.ts";
import {
  decodeEA,
  eaPlus,
  fetch16,
  fetch32,
  fetch8,
  fetchImm,
  fetchS8,
  getReg,
  modrm,
  readE,
  readERmw,
  setReg,
  writeE,
} from "./operands.ts";
import { loadSegment } from "./segments.ts";
import { stringOp } from "./string.ts";
import { callFar, jmpFar, jumpNear, retFar } from "./control.ts";
import { iret, softwareInterrupt } from "./interrupts.ts";
import {
  arpl,
  cli,
  clts,
  cpuid,
  group6,
  group7,
  hlt,
  invd,
  larLsl,
  movFromCr,
  movFromDr,
  movToCr,
  movToDr,
  popf,
  portIn,
  portOut,
  pushf,
  rdmsr,
  rdtsc,
  sti,
  sysenter,
  sysexit,
  wrmsr,
} from "./system.ts";
import { fpuEscape, fwait } from "./x87.ts";

/** 1 for each prefix byte. */
const PREFIX = new Uint8Array(256);
for (const p of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]) PREFIX[p] = 1;

/** Executes one instruction at CS:EIP. Throws FAULT (from cpu.fault) on a guest exception. */
export function execute(c: Cpu): void {
  const d = c.code32;
  c.opsize32 = d;
  c.addr32 = d;
  c.segOvr = -1;
  c.rep = 0;
  c.lock = false;
  let op = fetch8(c);
  if (PREFIX[op] !== 0) op = prefixes(c, op);
  if (c.lock) checkLock(c, op);
  exec1(c, op);
}

function prefixes(c: Cpu, op: number): number {
  for (let n = 1;; n++) {
    switch (op) {
      case 0x26:
        c.segOvr = 0;
        break;
      case 0x2e:
        c.segOvr = 1;
        break;
      case 0x36:
        c.segOvr = 2;
        break;
      case 0x3e:
        c.segOvr = 3;
        break;
      case 0x64:
        c.segOvr = 4;
        break;
      case 0x65:
        c.segOvr = 5;
        break;
      case 0x66:
        c.opsize32 = !c.code32;
        break;
      case 0x67:
        c.addr32 = !c.code32;
        break;
      case 0xf0:
        c.lock = true;
        break;
      case 0xf2:
      case 0xf3:
        c.rep = op;
        break;
      default:
        return op;
    }
    // SDM Vol.2 2.3.11: instructions longer than 15 bytes raise #GP(0).
    if (n >= 14) c.fault(Vec.GP, 0);
    op = fetch8(c);
  }
}

/**
 * LOCK is legal only on a memory destination of ADD ADC AND BTC BTR BTS CMPXCHG CMPXCHG8B DEC
 * INC NEG NOT OR SBB SUB XOR XADD XCHG (SDM Vol.2 LOCK); anything else is #UD.
 */
function checkLock(c: Cpu, op: number): void {
  const save = c.eip;
  let ok = false;
  if (op === 0x0f) {
    const op2 = fetch8(c);
    const m = fetch8(c);
    const reg = (m >> 3) & 7;
    ok = m < 0xc0 && (op2 === 0xab || op2 === 0xb3 || op2 === 0xbb || op2 === 0xb0 ||
      op2 === 0xb1 || op2 === 0xc0 || op2 === 0xc1 || (op2 === 0xba && reg >= 5) ||
      (op2 === 0xc7 && reg === 1));
  } else {
    const m = fetch8(c);
    const reg = (m >> 3) & 7;
    if (m < 0xc0) {
      if (op < 0x40) ok = (op & 7) < 2 && (op & 0x38) !== 0x38;
      else if (op >= 0x80 && op <= 0x83) ok = reg !== 7;
      else if (op === 0x86 || op === 0x87) ok = true;
      else if (op === 0xf6 || op === 0xf7) ok = reg === 2 || reg === 3;
      else if (op === 0xfe || op === 0xff) ok = reg < 2;
    }
  }
  c.eip = save;
  if (!ok) c.fault(Vec.UD);
}

function sizeV(c: Cpu): number {
  return c.opsize32 ? 2 : 1;
}

/** Offset register (SI/DI/CX-style) access by address size. */
function relJump(c: Cpu, disp: number): void {
  jumpNear(c, c.eip + disp);
}

function exec1(c: Cpu, op: number): void {
  const r = c.regs;
  switch (op) {
    // ---- ALU 00-3F ----
    case 0x00:
    case 0x01:
    case 0x08:
    case 0x09:
    case 0x10:
    case 0x11:
    case 0x18:
    case 0x19:
    case 0x20:
    case 0x21:
    case 0x28:
    case 0x29:
    case 0x30:
    case 0x31: {
      const s = op & 1 ? sizeV(c) : 0;
      const m = modrm(c);
      const a = readERmw(c, m, s);
      writeE(c, m, s, alu(c, op >> 3, a, getReg(c, (m >> 3) & 7, s), s));
      return;
    }
    case 0x38:
    case 0x39: {
      const s = op & 1 ? sizeV(c) : 0;
      const m = modrm(c);
      sub(c, readE(c, m, s), getReg(c, (m >> 3) & 7, s), s);
      return;
    }
    case 0x02:
    case 0x03:
    case 0x0a:
    case 0x0b:
    case 0x12:
    case 0x13:
    case 0x1a:
    case 0x1b:
    case 0x22:
    case 0x23:
    case 0x2a:
    case 0x2b:
    case 0x32:
    case 0x33:
    case 0x3a:
    case 0x3b: {
      const s = op & 1 ? sizeV(c) : 0;
      const m = modrm(c);
      const reg = (m >> 3) & 7;
      const v = alu(c, op >> 3, getReg(c, reg, s), readE(c, m, s), s);
      if (op < 0x38) setReg(c, reg, s, v);
      return;
    }
    case 0x04:
    case 0x05:
    case 0x0c:
    case 0x0d:
    case 0x14:
    case 0x15:
    case 0x1c:
    case 0x1d:
    case 0x24:
    case 0x25:
    case 0x2c:
    case 0x2d:
    case 0x34:
    case 0x35:
    case 0x3c:
    case 0x3d: {
      const s = op & 1 ? sizeV(c) : 0;
      const v = alu(c, op >> 3, getReg(c, 0, s), fetchImm(c, s), s);
      if (op < 0x38) setReg(c, 0, s, v);
      return;
    }
    case 0x06:
    case 0x0e:
    case 0x16:
    case 0x1e:
      c.push(c.segSel[op >> 3], c.opsize32);
      return;
    case 0x07:
    case 0x17:
    case 0x1f:
      popSeg(c, op >> 3);
      return;
    case 0x0f:
      exec0f(c, fetch8(c));
      return;
    case 0x27:
      daa(c);
      return;
    case 0x2f:
      das(c);
      return;
    case 0x37:
      aaa(c, false);
      return;
    case 0x3f:
      aaa(c, true);
      return;
    // ---- INC/DEC/PUSH/POP reg ----
    case 0x40:
    case 0x41:
    case 0x42:
    case 0x43:
    case 0x44:
    case 0x45:
    case 0x46:
    case 0x47: {
      const s = sizeV(c);
      setReg(c, op & 7, s, inc(c, getReg(c, op & 7, s), s));
      return;
    }
    case 0x48:
    case 0x49:
    case 0x4a:
    case 0x4b:
    case 0x4c:
    case 0x4d:
    case 0x4e:
    case 0x4f: {
      const s = sizeV(c);
      setReg(c, op & 7, s, dec(c, getReg(c, op & 7, s), s));
      return;
    }
    case 0x50:
    case 0x51:
    case 0x52:
    case 0x53:
    case 0x54:
    case 0x55:
    case 0x56:
    case 0x57:
      if (c.opsize32) c.push32(r[op & 7]);
      else c.push16(c.regs16[(op & 7) << 1]);
      return;
    case 0x58:
    case 0x59:
    case 0x5a:
    case 0x5b:
    case 0x5c:
    case 0x5d:
    case 0x5e:
    case 0x5f:
      if (c.opsize32) {
        const v = c.pop32();
        r[op & 7] = v;
      } else {
        const v = c.pop16();
        c.regs16[(op & 7) << 1] = v;
      }
      return;
    case 0x60:
      pusha(c);
      return;
    case 0x61:
      popa(c);
      return;
    case 0x62:
      bound(c);
      return;
    case 0x63:
      arpl(c);
      return;
    case 0x68:
      c.push(fetchImm(c, sizeV(c)), c.opsize32);
      return;
    case 0x6a:
      c.push(fetchS8(c), c.opsize32);
      return;
    case 0x69:
    case 0x6b: {
      const s = sizeV(c);
      const m = modrm(c);
      const a = readE(c, m, s);
      const b = op === 0x6b ? fetchS8(c) : fetchImm(c, s);
      setReg(c, (m >> 3) & 7, s, imul2(c, a, b, s));
      return;
    }
    case 0x6c:
    case 0x6d:
    case 0x6e:
    case 0x6f:
    case 0xa4:
    case 0xa5:
    case 0xa6:
    case 0xa7:
    case 0xaa:
    case 0xab:
    case 0xac:
    case 0xad:
    case 0xae:
    case 0xaf:
      stringOp(c, op);
      return;
    // ---- Jcc rel8 ----
    case 0x70:
    case 0x71:
    case 0x72:
    case 0x73:
    case 0x74:
    case 0x75:
    case 0x76:
    case 0x77:
    case 0x78:
    case 0x79:
    case 0x7a:
    case 0x7b:
    case 0x7c:
    case 0x7d:
    case 0x7e:
    case 0x7f: {
      const disp = fetchS8(c);
      if (testCC(c, op & 15)) relJump(c, disp);
      return;
    }
    // ---- group 1 ----
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x83: {
      const s = op & 1 ? sizeV(c) : 0;
      const m = modrm(c);
      const o = (m >> 3) & 7;
      if (o === 7) {
        const a = readE(c, m, s);
        sub(c, a, op === 0x81 ? fetchImm(c, s) : op === 0x83 ? fetchS8(c) & MASK[s] : fetch8(c), s);
        return;
      }
      const a = readERmw(c, m, s);
      const b = op === 0x81 ? fetchImm(c, s) : op === 0x83 ? fetchS8(c) & MASK[s] : fetch8(c);
      writeE(c, m, s, alu(c, o, a, b, s));
      return;
    }
    case 0x84:
    case 0x85: {
      const s = op & 1 ? sizeV(c) : 0;
      const m = modrm(c);
      andOp(c, readE(c, m, s), getReg(c, (m >> 3) & 7, s), s);
      return;
    }
    case 0x86:
    case 0x87: {
      const s = op & 1 ? sizeV(c) : 0;
      const m = modrm(c);
      const reg = (m >> 3) & 7;
      const a = readERmw(c, m, s);
      writeE(c, m, s, getReg(c, reg, s));
      setReg(c, reg, s, a);
      return;
    }
    // ---- MOV ----
    case 0x88: {
      const m = modrm(c);
      writeE(c, m, 0, getReg(c, (m >> 3) & 7, 0));
      return;
    }
    case 0x89: {
      const m = modrm(c);
      if (c.opsize32) {
        if (m >= 0xc0) r[m & 7] = r[(m >> 3) & 7];
        else c.write32(c.eaSeg, c.eaOff, r[(m >> 3) & 7]);
      } else writeE(c, m, 1, c.regs16[((m >> 3) & 7) << 1]);
      return;
    }
    case 0x8a: {
      const m = modrm(c);
      setReg(c, (m >> 3) & 7, 0, readE(c, m, 0));
      return;
    }
    case 0x8b: {
      const m = modrm(c);
      if (c.opsize32) {
        r[(m >> 3) & 7] = m >= 0xc0 ? r[m & 7] : c.read32(c.eaSeg, c.eaOff);
      } else c.regs16[((m >> 3) & 7) << 1] = readE(c, m, 1);
      return;
    }
    case 0x8c: {
      const m = modrm(c);
      const sr = (m >> 3) & 7;
      if (sr > 5) c.fault(Vec.UD);
      // Register destination with 32-bit operand size zero-extends (P6 behaviour, as QEMU).
      if (m >= 0xc0) setReg(c, m & 7, sizeV(c), c.segSel[sr]);
      else c.write16(c.eaSeg, c.eaOff, c.segSel[sr]);
      return;
    }
    case 0x8d: {
      const m = fetch8(c);
      if (m >= 0xc0) c.fault(Vec.UD);
      decodeEA(c, m);
      setReg(c, (m >> 3) & 7, sizeV(c), c.eaOff);
      return;
    }
    case 0x8e: {
      const m = modrm(c);
      const sr = (m >> 3) & 7;
      if (sr === 1 || sr > 5) c.fault(Vec.UD);
      loadSegment(c, sr, readE(c, m, 1));
      if (sr === 2) shadowSS(c);
      return;
    }
    case 0x8f: {
      const m = fetch8(c);
      if ((m & 0x38) !== 0) c.fault(Vec.UD);
      const s = sizeV(c);
      const v = c.peek(0, c.opsize32);
      // The EA is computed with ESP already incremented (SDM Vol.2 POP).
      const oldSp = r[4];
      c.setSp(r[4] + (s === 2 ? 4 : 2));
      try {
        if (m < 0xc0) decodeEA(c, m);
        writeE(c, m, s, v);
      } catch (e) {
        r[4] = oldSp;
        throw e;
      }
      return;
    }
    case 0x90:
      if (c.rep === 0xf3) return; // PAUSE
      return;
    case 0x91:
    case 0x92:
    case 0x93:
    case 0x94:
    case 0x95:
    case 0x96:
    case 0x97: {
      const s = sizeV(c);
      const t = getReg(c, 0, s);
      setReg(c, 0, s, getReg(c, op & 7, s));
      setReg(c, op & 7, s, t);
      return;
    }
    case 0x98:
      if (c.opsize32) r[0] = (r[0] << 16) >> 16;
      else c.regs16[0] = (c.regs8[0] << 24) >> 24;
      return;
    case 0x99:
      if (c.opsize32) r[2] = r[0] >> 31;
      else c.regs16[4] = (r[0] << 16) >> 31;
      return;
    case 0x9a: {
      const off = c.opsize32 ? fetch32(c) >>> 0 : fetch16(c);
      const sel = fetch16(c);
      callFar(c, sel, off, c.opsize32);
      return;
    }
    case 0x9b:
      fwait(c);
      return;
    case 0x9c:
      pushf(c);
      return;
    case 0x9d:
      popf(c);
      return;
    case 0x9e: { // SAHF
      settleFlags(c);
      c.flags = (c.flags & ~0xd5) | (c.regs8[1] & 0xd5);
      return;
    }
    case 0x9f: // LAHF
      c.regs8[1] = (readEflags(c) & 0xd5) | 2;
      return;
    case 0xa0:
    case 0xa1:
    case 0xa2:
    case 0xa3: {
      const s = op & 1 ? sizeV(c) : 0;
      const off = c.addr32 ? fetch32(c) >>> 0 : fetch16(c);
      const seg = c.segOvr >= 0 ? c.segOvr : 3;
      if (op < 0xa2) setReg(c, 0, s, c.readS(seg, off, s));
      else c.writeS(seg, off, s, getReg(c, 0, s));
      return;
    }
    case 0xa8:
    case 0xa9: {
      const s = op & 1 ? sizeV(c) : 0;
      andOp(c, getReg(c, 0, s), fetchImm(c, s), s);
      return;
    }
    case 0xb0:
    case 0xb1:
    case 0xb2:
    case 0xb3:
    case 0xb4:
    case 0xb5:
    case 0xb6:
    case 0xb7:
      setReg(c, op & 7, 0, fetch8(c));
      return;
    case 0xb8:
    case 0xb9:
    case 0xba:
    case 0xbb:
    case 0xbc:
    case 0xbd:
    case 0xbe:
    case 0xbf:
      if (c.opsize32) r[op & 7] = fetch32(c);
      else c.regs16[(op & 7) << 1] = fetch16(c);
      return;
    // ---- shifts ----
    case 0xc0:
    case 0xc1:
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      const s = op & 1 ? sizeV(c) : 0;
      const m = modrm(c);
      const count = (op < 0xd0 ? fetch8(c) : op < 0xd2 ? 1 : c.regs8[4]) & 31;
      const v = readERmw(c, m, s);
      if (count !== 0) writeE(c, m, s, shift(c, (m >> 3) & 7, v, count, s));
      return;
    }
    case 0xc2: {
      const n = fetch16(c);
      const t = c.peek(0, c.opsize32);
      jumpNear(c, t);
      c.setSp(r[4] + (c.opsize32 ? 4 : 2) + n);
      return;
    }
    case 0xc3: {
      const t = c.peek(0, c.opsize32);
      jumpNear(c, t);
      c.setSp(r[4] + (c.opsize32 ? 4 : 2));
      return;
    }
    case 0xc4:
    case 0xc5:
      loadFarPointer(c, op === 0xc4 ? 0 : 3);
      return;
    case 0xc6:
    case 0xc7: {
      const s = op & 1 ? sizeV(c) : 0;
      const m = modrm(c);
      if ((m & 0x38) !== 0) c.fault(Vec.UD);
      writeE(c, m, s, fetchImm(c, s));
      return;
    }
    case 0xc8:
      enter(c);
      return;
    case 0xc9: { // LEAVE
      const bp = c.stack32 ? r[5] >>> 0 : c.regs16[10];
      const v = c.opsize32 ? c.read32(2, bp) : c.read16(2, bp);
      c.setSp(bp + (c.opsize32 ? 4 : 2));
      if (c.opsize32) r[5] = v;
      else c.regs16[10] = v;
      return;
    }
    case 0xca:
      retFar(c, c.opsize32, fetch16(c));
      return;
    case 0xcb:
      retFar(c, c.opsize32, 0);
      return;
    case 0xcc:
      softwareInterrupt(c, 3, 1);
      return;
    case 0xcd:
      softwareInterrupt(c, fetch8(c), 0);
      return;
    case 0xce:
      if (getOF(c)) softwareInterrupt(c, 4, 1);
      return;
    case 0xcf:
      iret(c, c.opsize32);
      return;
    case 0xd4:
      aam(c, fetch8(c));
      return;
    case 0xd5:
      aad(c, fetch8(c));
      return;
    case 0xd6: // SALC (undocumented, implemented by P6 and QEMU)
      c.regs8[0] = getCF(c) ? 0xff : 0;
      return;
    case 0xd7: { // XLAT
      const off = c.addr32 ? (r[3] + c.regs8[0]) >>> 0 : (c.regs16[6] + c.regs8[0]) & 0xffff;
      c.regs8[0] = c.read8(c.segOvr >= 0 ? c.segOvr : 3, off);
      return;
    }
    case 0xd8:
    case 0xd9:
    case 0xda:
    case 0xdb:
    case 0xdc:
    case 0xdd:
    case 0xde:
    case 0xdf:
      fpuEscape(c, op);
      return;
    case 0xe0:
    case 0xe1:
    case 0xe2: { // LOOPNE/LOOPE/LOOP
      const disp = fetchS8(c);
      let cnt: number;
      if (c.addr32) cnt = r[1] = r[1] - 1;
      else cnt = c.regs16[2] = c.regs16[2] - 1;
      const z = op === 0xe2 ? true : op === 0xe1 ? testCC(c, 4) : !testCC(c, 4);
      if (cnt !== 0 && z) relJump(c, disp);
      return;
    }
    case 0xe3: {
      const disp = fetchS8(c);
      if ((c.addr32 ? r[1] : c.regs16[2]) === 0) relJump(c, disp);
      return;
    }
    case 0xe4:
    case 0xe5: {
      const s = op & 1 ? sizeV(c) : 0;
      setReg(c, 0, s, portIn(c, fetch8(c), s));
      return;
    }
    case 0xe6:
    case 0xe7: {
      const s = op & 1 ? sizeV(c) : 0;
      portOut(c, fetch8(c), s, getReg(c, 0, s));
      return;
    }
    case 0xe8: {
      const disp = c.opsize32 ? fetch32(c) : (fetch16(c) << 16) >> 16;
      const ret = c.eip;
      const target = c.opsize32 ? (ret + disp) >>> 0 : (ret + disp) & 0xffff;
      if (target > (c.segLimit[1] >>> 0)) c.fault(Vec.GP, 0);
      c.push(ret, c.opsize32);
      c.eip = target;
      return;
    }
    case 0xe9:
      relJump(c, c.opsize32 ? fetch32(c) : (fetch16(c) << 16) >> 16);
      return;
    case 0xea: {
      const off = c.opsize32 ? fetch32(c) >>> 0 : fetch16(c);
      jmpFar(c, fetch16(c), off);
      return;
    }
    case 0xeb:
      relJump(c, fetchS8(c));
      return;
    case 0xec:
    case 0xed: {
      const s = op & 1 ? sizeV(c) : 0;
      setReg(c, 0, s, portIn(c, c.regs16[4], s));
      return;
    }
    case 0xee:
    case 0xef: {
      const s = op & 1 ? sizeV(c) : 0;
      portOut(c, c.regs16[4], s, getReg(c, 0, s));
      return;
    }
    case 0xf1: // INT1 / ICEBP: #DB without the gate DPL check
      softwareInterrupt(c, 1, 2);
      return;
    case 0xf4:
      hlt(c);
      return;
    case 0xf5:
      settleFlags(c);
      c.flags ^= CF;
      return;
    case 0xf6:
    case 0xf7:
      group3(c, op & 1 ? sizeV(c) : 0);
      return;
    case 0xf8:
    case 0xf9:
      settleFlags(c);
      c.flags = (c.flags & ~CF) | (op & 1);
      return;
    case 0xfa:
      cli(c);
      return;
    case 0xfb:
      sti(c);
      return;
    case 0xfc:
      c.flags &= ~DF;
      return;
    case 0xfd:
      c.flags |= DF;
      return;
    case 0xfe: {
      const m = modrm(c);
      const o = (m >> 3) & 7;
      if (o > 1) c.fault(Vec.UD);
      const v = readERmw(c, m, 0);
      writeE(c, m, 0, o === 0 ? inc(c, v, 0) : dec(c, v, 0));
      return;
    }
    case 0xff:
      group5(c);
      return;
    default:
      // 0x26.. prefixes never reach here; D6-like gaps: none left. 0xF0-F3 consumed as prefixes.
      c.fault(Vec.UD);
  }
}

function shadowSS(c: Cpu): void {
  // SDM Vol.3 6.8.3: MOV SS / POP SS inhibit interrupts and #DB until after the next instruction.
  c.inhibit = true;
  c.inhibitSS = true;
  c.breakLoop = true;
}

function popSeg(c: Cpu, sr: number): void {
  const v = c.peek(0, c.opsize32) & 0xffff;
  loadSegment(c, sr, v);
  c.setSp(c.regs[4] + (c.opsize32 ? 4 : 2));
  if (sr === 2) shadowSS(c);
}

/** LES/LDS/LSS/LFS/LGS: loads the offset only after the segment load succeeded. */
function loadFarPointer(c: Cpu, sr: number): void {
  const m = modrm(c);
  if (m >= 0xc0) c.fault(Vec.UD);
  const s = sizeV(c);
  const off = c.readS(c.eaSeg, c.eaOff, s);
  const sel = c.read16(c.eaSeg, eaPlus(c, s === 2 ? 4 : 2));
  loadSegment(c, sr, sel);
  setReg(c, (m >> 3) & 7, s, off);
  if (sr === 2) shadowSS(c);
}

function pusha(c: Cpu): void {
  const o32 = c.opsize32;
  const n = o32 ? 4 : 2;
  const sp = c.sp();
  // Check the whole frame first so a fault leaves ESP and memory untouched.
  for (let i = 1; i <= 8; i++) {
    const a = c.stack32 ? (sp - i * n) >>> 0 : (sp - i * n) & 0xffff;
    c.checkWrite(2, a, o32 ? 2 : 1);
  }
  const origSp = c.regs[4];
  for (let i = 0; i < 8; i++) {
    const v = i === 4 ? origSp : c.regs[i];
    const a = c.stack32 ? (sp - (i + 1) * n) >>> 0 : (sp - (i + 1) * n) & 0xffff;
    if (o32) c.write32(2, a, v);
    else c.write16(2, a, v);
  }
  c.setSp(sp - 8 * n);
}

function popa(c: Cpu): void {
  const o32 = c.opsize32;
  const n = o32 ? 4 : 2;
  const vals = c.tmp8;
  for (let i = 0; i < 8; i++) vals[7 - i] = c.peek(i * n, o32);
  for (let i = 0; i < 8; i++) {
    if (i === 4) continue; // (E)SP is discarded
    if (o32) c.regs[i] = vals[i];
    else c.regs16[i << 1] = vals[i];
  }
  c.setSp(c.regs[4] + 8 * n);
}

function bound(c: Cpu): void {
  const m = modrm(c);
  if (m >= 0xc0) c.fault(Vec.UD);
  const s = sizeV(c);
  const idx = getReg(c, (m >> 3) & 7, s);
  let lo: number, hi: number;
  if (s === 2) {
    lo = c.read32(c.eaSeg, c.eaOff);
    hi = c.read32(c.eaSeg, eaPlus(c, 4));
  } else {
    lo = (c.read16(c.eaSeg, c.eaOff) << 16) >> 16;
    hi = (c.read16(c.eaSeg, eaPlus(c, 2)) << 16) >> 16;
  }
  const v = s === 2 ? idx : (idx << 16) >> 16;
  if (v < lo || v > hi) c.fault(Vec.BR);
}

function enter(c: Cpu): void {
  const size = fetch16(c);
  const level = fetch8(c) & 31;
  const o32 = c.opsize32;
  const n = o32 ? 4 : 2;
  const sp0 = c.sp();
  const bp = c.stack32 ? c.regs[5] >>> 0 : c.regs16[10];
  const wrap = (v: number) => c.stack32 ? v >>> 0 : v & 0xffff;
  // Validate the whole frame (pushes + allocation) before changing anything (SDM Vol.2 ENTER).
  const frameEnd = wrap(sp0 - n * (level + 1));
  c.checkWrite(2, frameEnd, o32 ? 2 : 1);
  c.checkWrite(2, wrap(sp0 - n), o32 ? 2 : 1);
  let sp = wrap(sp0 - n);
  const oldBp = c.regs[5];
  if (o32) c.write32(2, sp, oldBp);
  else c.write16(2, sp, oldBp);
  const frameTemp = sp;
  let bpi = bp;
  for (let i = 1; i < level; i++) {
    bpi = wrap(bpi - n);
    const v = o32 ? c.read32(2, bpi) : c.read16(2, bpi);
    sp = wrap(sp - n);
    if (o32) c.write32(2, sp, v);
    else c.write16(2, sp, v);
  }
  if (level > 0) {
    sp = wrap(sp - n);
    if (o32) c.write32(2, sp, frameTemp);
    else c.write16(2, sp, frameTemp);
  }
  const newSp = wrap(sp - size);
  if (size > 0) c.lin(2, newSp, 1, true);
  if (o32) c.regs[5] = frameTemp;
  else c.regs16[10] = frameTemp;
  c.setSp(newSp);
}

function group3(c: Cpu, s: number): void {
  const m = modrm(c);
  const o = (m >> 3) & 7;
  switch (o) {
    case 0:
    case 1:
      andOp(c, readE(c, m, s), fetchImm(c, s), s);
      return;
    case 2:
      writeE(c, m, s, ~readERmw(c, m, s) & MASK[s]);
      return;
    case 3:
      writeE(c, m, s, sub(c, 0, readERmw(c, m, s), s));
      return;
    case 4:
      mul(c, readE(c, m, s), s);
      return;
    case 5:
      imul1(c, readE(c, m, s), s);
      return;
    case 6:
      div(c, readE(c, m, s), s);
      return;
    default:
      idiv(c, readE(c, m, s), s);
      return;
  }
}

function group5(c: Cpu): void {
  const m = modrm(c);
  const o = (m >> 3) & 7;
  const s = sizeV(c);
  switch (o) {
    case 0:
    case 1: {
      const v = readERmw(c, m, s);
      writeE(c, m, s, o === 0 ? inc(c, v, s) : dec(c, v, s));
      return;
    }
    case 2: {
      const t = readE(c, m, s);
      const target = c.opsize32 ? t >>> 0 : t & 0xffff;
      if (target > (c.segLimit[1] >>> 0)) c.fault(Vec.GP, 0);
      c.push(c.eip, c.opsize32);
      c.eip = target;
      return;
    }
    case 3:
    case 5: {
      if (m >= 0xc0) c.fault(Vec.UD);
      const off = c.opsize32 ? c.read32(c.eaSeg, c.eaOff) >>> 0 : c.read16(c.eaSeg, c.eaOff);
      const sel = c.read16(c.eaSeg, eaPlus(c, s === 2 ? 4 : 2));
      if (o === 3) callFar(c, sel, off, c.opsize32);
      else jmpFar(c, sel, off);
      return;
    }
    case 4:
      jumpNear(c, readE(c, m, s));
      return;
    case 6:
      c.push(readE(c, m, s), c.opsize32);
      return;
    default:
      c.fault(Vec.UD);
  }
}

// =================== two-byte opcodes ===================

function exec0f(c: Cpu, op: number): void {
  const r = c.regs;
  switch (op) {
    case 0x00:
      group6(c);
      return;
    case 0x01:
      group7(c);
      return;
    case 0x02:
    case 0x03:
      larLsl(c, op === 0x03);
      return;
    case 0x06:
      clts(c);
      return;
    case 0x08:
    case 0x09:
      invd(c, op === 0x09);
      return;
    case 0x0b: // UD2
      c.fault(Vec.UD);
      return;
    case 0x18:
    case 0x19:
    case 0x1a:
    case 0x1b:
    case 0x1c:
    case 0x1d:
    case 0x1e:
    case 0x1f: {
      // Hint NOPs (0F 1F /0 is the P6 multi-byte NOP): decode the operand, access nothing.
      const m = fetch8(c);
      if (m < 0xc0) decodeEA(c, m);
      return;
    }
    case 0x20:
    case 0x22:
    case 0x21:
    case 0x23: {
      // MOV to/from CR/DR: mod field ignored, always register operands (SDM Vol.2 MOV CR).
      const m = fetch8(c);
      if (op === 0x20) movFromCr(c, (m >> 3) & 7, m & 7);
      else if (op === 0x22) movToCr(c, (m >> 3) & 7, r[m & 7]);
      else if (op === 0x21) movFromDr(c, (m >> 3) & 7, m & 7);
      else movToDr(c, (m >> 3) & 7, r[m & 7]);
      return;
    }
    case 0x30:
      wrmsr(c);
      return;
    case 0x31:
      rdtsc(c);
      return;
    case 0x32:
      rdmsr(c);
      return;
    case 0x34:
      sysenter(c);
      return;
    case 0x35:
      sysexit(c);
      return;
    case 0x40:
    case 0x41:
    case 0x42:
    case 0x43:
    case 0x44:
    case 0x45:
    case 0x46:
    case 0x47:
    case 0x48:
    case 0x49:
    case 0x4a:
    case 0x4b:
    case 0x4c:
    case 0x4d:
    case 0x4e:
    case 0x4f: {
      const s = sizeV(c);
      const m = modrm(c);
      const v = readE(c, m, s); // the source is read (and may fault) even when false
      if (testCC(c, op & 15)) setReg(c, (m >> 3) & 7, s, v);
      return;
    }
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x83:
    case 0x84:
    case 0x85:
    case 0x86:
    case 0x87:
    case 0x88:
    case 0x89:
    case 0x8a:
    case 0x8b:
    case 0x8c:
    case 0x8d:
    case 0x8e:
    case 0x8f: {
      const disp = c.opsize32 ? fetch32(c) : (fetch16(c) << 16) >> 16;
      if (testCC(c, op & 15)) relJump(c, disp);
      return;
    }
    case 0x90:
    case 0x91:
    case 0x92:
    case 0x93:
    case 0x94:
    case 0x95:
    case 0x96:
    case 0x97:
    case 0x98:
    case 0x99:
    case 0x9a:
    case 0x9b:
    case 0x9c:
    case 0x9d:
    case 0x9e:
    case 0x9f: {
      const m = modrm(c);
      writeE(c, m, 0, testCC(c, op & 15) ? 1 : 0);
      return;
    }
    case 0xa0:
    case 0xa8:
      c.push(c.segSel[op === 0xa0 ? 4 : 5], c.opsize32);
      return;
    case 0xa1:
    case 0xa9:
      popSeg(c, op === 0xa1 ? 4 : 5);
      return;
    case 0xa2:
      cpuid(c);
      return;
    case 0xa3:
    case 0xab:
    case 0xb3:
    case 0xbb:
      bitTest(c, (op >> 3) & 3, false);
      return;
    case 0xba: {
      bitTest(c, -1, true);
      return;
    }
    case 0xa4:
    case 0xa5:
    case 0xac:
    case 0xad: {
      const s = sizeV(c);
      const m = modrm(c);
      const count = op & 1 ? c.regs8[4] : fetch8(c);
      const v = readERmw(c, m, s);
      if ((count & 31) !== 0) {
        writeE(c, m, s, shiftDouble(c, v, getReg(c, (m >> 3) & 7, s), count, s, op < 0xa8));
      }
      return;
    }
    case 0xaf: {
      const s = sizeV(c);
      const m = modrm(c);
      const reg = (m >> 3) & 7;
      setReg(c, reg, s, imul2(c, getReg(c, reg, s), readE(c, m, s), s));
      return;
    }
    case 0xb0:
    case 0xb1: {
      // CMPXCHG: the destination is always written (with its old value on failure), SDM Vol.2.
      const s = op & 1 ? sizeV(c) : 0;
      const m = modrm(c);
      const reg = (m >> 3) & 7;
      const d = readERmw(c, m, s);
      const acc = getReg(c, 0, s);
      sub(c, acc, d, s);
      if (acc === d) writeE(c, m, s, getReg(c, reg, s));
      else {
        writeE(c, m, s, d);
        setReg(c, 0, s, d);
      }
      return;
    }
    case 0xb2:
      loadFarPointer(c, 2);
      return;
    case 0xb4:
    case 0xb5:
      loadFarPointer(c, op - 0xb0);
      return;
    case 0xb6:
    case 0xb7:
    case 0xbe:
    case 0xbf: {
      const m = modrm(c);
      const ss = op & 1 ? 1 : 0;
      let v = readE(c, m, ss);
      if (op >= 0xbe) v = ss ? (v << 16) >> 16 : (v << 24) >> 24;
      setReg(c, (m >> 3) & 7, sizeV(c), v);
      return;
    }
    case 0xbc:
    case 0xbd: {
      const s = sizeV(c);
      const m = modrm(c);
      const i = bitScan(c, readE(c, m, s), s, op === 0xbd);
      if (i >= 0) setReg(c, (m >> 3) & 7, s, i);
      return;
    }
    case 0xc0:
    case 0xc1: { // XADD
      const s = op & 1 ? sizeV(c) : 0;
      const m = modrm(c);
      const reg = (m >> 3) & 7;
      const d = readERmw(c, m, s);
      const sum = add(c, d, getReg(c, reg, s), s);
      setReg(c, reg, s, d);
      writeE(c, m, s, sum);
      return;
    }
    case 0xc7: {
      const m = modrm(c);
      if (((m >> 3) & 7) !== 1 || m >= 0xc0) c.fault(Vec.UD);
      cmpxchg8b(c);
      return;
    }
    case 0xc8:
    case 0xc9:
    case 0xca:
    case 0xcb:
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
      // BSWAP; with a 16-bit operand the result is undefined: QEMU/Intel give 0.
      const v = r[op & 7];
      if (c.opsize32) {
        r[op & 7] = (v >>> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
      } else c.regs16[(op & 7) << 1] = 0;
      return;
    }
    default:
      // 0F 05/07 (SYSCALL/SYSRET, AMD), 0F 0D, 0F 33 (RDPMC), MMX/SSE, 0F AA (RSM), 0F B9/FF: #UD.
      c.fault(Vec.UD);
  }
}

/** BT/BTS/BTR/BTC with a register (op 0..3) or imm8 (`imm`, op from ModRM /4../7) bit offset. */
function bitTest(c: Cpu, op: number, imm: boolean): void {
  const s = sizeV(c);
  const m = modrm(c);
  let bitOff: number;
  if (imm) {
    const o = (m >> 3) & 7;
    if (o < 4) c.fault(Vec.UD);
    op = o - 4;
    bitOff = fetch8(c) & (s === 2 ? 31 : 15);
  } else bitOff = getReg(c, (m >> 3) & 7, s);
  if (m >= 0xc0) {
    const bit = bitOff & (s === 2 ? 31 : 15);
    const v = bitOp(c, getReg(c, m & 7, s), bit, op);
    if (op !== 0) setReg(c, m & 7, s, v);
    return;
  }
  // Memory with a register offset: the signed offset selects a word/dword beyond the EA.
  let off = c.eaOff;
  let bit: number;
  if (imm) bit = bitOff;
  else if (s === 2) {
    off += (bitOff >> 5) * 4;
    bit = bitOff & 31;
  } else {
    off += (((bitOff << 16) >> 16) >> 4) * 2;
    bit = bitOff & 15;
  }
  off = c.addr32 ? off >>> 0 : off & 0xffff;
  if (op === 0) {
    bitOp(c, c.readS(c.eaSeg, off, s), bit, 0);
    return;
  }
  c.checkWrite(c.eaSeg, off, s);
  c.writeS(c.eaSeg, off, s, bitOp(c, c.readS(c.eaSeg, off, s), bit, op));
}

/** CMPXCHG8B m64 (SDM Vol.2): compares EDX:EAX, writes either ECX:EBX or the old value back. */
function cmpxchg8b(c: Cpu): void {
  const r = c.regs;
  const seg = c.eaSeg;
  const off1 = eaPlus(c, 4);
  c.checkWrite(seg, c.eaOff, 2);
  c.checkWrite(seg, off1, 2);
  const lo = c.read32(seg, c.eaOff), hi = c.read32(seg, off1);
  settleFlags(c);
  if (lo === r[0] && hi === r[2]) {
    c.write32(seg, c.eaOff, r[3]);
    c.write32(seg, off1, r[1]);
    c.flags |= ZF;
  } else {
    c.write32(seg, c.eaOff, lo);
    c.write32(seg, off1, hi);
    r[0] = lo;
    r[2] = hi;
    c.flags &= ~ZF;
  }
}
