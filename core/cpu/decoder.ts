/**
 * Prefix decoding and dispatch of one instruction (one-byte map and the 0F map, SDM Vol.2
 * Appendix A). Simple data movement and near control flow are executed inline here; everything
 * else calls the family modules.
 *
 * Why this file is long: the one-byte and 0F opcode maps are one dispatch switch each (SDM Vol.2
 * Appendix A order), so that V8 compiles them to jump tables; split by map it would still be one
 * switch per file.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { Vec } from "./fault.ts";
import { CF, getCF, getOF, readEflags, settleFlags, testCC, ZF } from "./flags.ts";
import { aaa, aad, aam, add, daa, das, sub } from "./arith.ts";
import { bitOp, bitScan } from "./logical.ts";
import { shiftDouble } from "./shift.ts";
import {
  decodeEA,
  eaPlus,
  fetch16,
  fetch32,
  fetch8,
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
import { type InsnFn, TRANSLATE, TRANSLATE_0F } from "./translate.ts";

/** An opcode handler: executes the instruction whose opcode byte `op` was just fetched. */
type Handler = (c: Cpu, op: number) => void;

/** 1 for each prefix byte. */
const PREFIX = new Uint8Array(256);
for (const p of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]) PREFIX[p] = 1;

/** Executes one instruction at CS:EIP. Throws FAULT (from cpu.fault) on a guest exception. */
export function execute(c: Cpu): void {
  const f = decode(c);
  if (f !== null) f(c);
}

/**
 * Decodes the instruction at CS:EIP. A translated instruction (translate.ts) is returned as a
 * closure with EIP left at the next instruction, nothing executed yet; any other instruction is
 * executed here by its handler while it is decoded, and null is returned.
 */
export function decode(c: Cpu): InsnFn | null {
  const d = c.code32;
  c.opsize32 = d;
  c.addr32 = d;
  c.segOvr = -1;
  c.rep = 0;
  c.lock = false;
  c.insnJumps = false;
  c.insnDisp = 0;
  let op = fetch8(c);
  if (PREFIX[op] !== 0) op = prefixes(c, op);
  if (c.lock) checkLock(c, op);
  let table = TRANSLATE, handlers = OPS;
  if (op === 0x0f) {
    op = fetch8(c);
    table = TRANSLATE_0F;
    handlers = OPS_0F;
  }
  const t = table[op];
  if (t !== null) {
    const after = c.eip;
    const f = t(c, op);
    if (f !== null) return f;
    c.eip = after; // declined: the handler decodes the operands again
  }
  handlers[op](c, op);
  return null;
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

// ---- ALU 00-3F ----

function op06(c: Cpu, op: number): void {
  c.push(c.segSel[op >> 3], c.opsize32);
}

function op07(c: Cpu, op: number): void {
  popSeg(c, op >> 3);
}

function op27(c: Cpu): void {
  daa(c);
}

function op2f(c: Cpu): void {
  das(c);
}

function op37(c: Cpu): void {
  aaa(c, false);
}

function op3f(c: Cpu): void {
  aaa(c, true);
}

// ---- INC/DEC/PUSH/POP reg ----

function op60(c: Cpu): void {
  pusha(c);
}

function op61(c: Cpu): void {
  popa(c);
}

function op62(c: Cpu): void {
  bound(c);
}

function op63(c: Cpu): void {
  arpl(c);
}

function op6c(c: Cpu, op: number): void {
  stringOp(c, op);
}

// ---- Jcc rel8 ----

// ---- group 1 ----

// ---- MOV ----

function op8c(c: Cpu): void {
  const m = modrm(c);
  const sr = (m >> 3) & 7;
  if (sr > 5) c.fault(Vec.UD);
  // Register destination with 32-bit operand size zero-extends (P6 behaviour, as QEMU).
  if (m >= 0xc0) setReg(c, m & 7, sizeV(c), c.segSel[sr]);
  else c.write16(c.eaSeg, c.eaOff, c.segSel[sr]);
}

function op8e(c: Cpu): void {
  const m = modrm(c);
  const sr = (m >> 3) & 7;
  if (sr === 1 || sr > 5) c.fault(Vec.UD);
  loadSegment(c, sr, readE(c, m, 1));
  if (sr === 2) shadowSS(c);
}

function op8f(c: Cpu): void {
  const r = c.regs;
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
}

function op9a(c: Cpu): void {
  const off = c.opsize32 ? fetch32(c) >>> 0 : fetch16(c);
  const sel = fetch16(c);
  callFar(c, sel, off, c.opsize32);
}

function op9b(c: Cpu): void {
  fwait(c);
}

function op9c(c: Cpu): void {
  pushf(c);
}

function op9d(c: Cpu): void {
  popf(c);
}

/** SAHF */
function op9e(c: Cpu): void {
  settleFlags(c);
  c.flags = (c.flags & ~0xd5) | (c.regs8[1] & 0xd5);
}

/** LAHF */
function op9f(c: Cpu): void {
  c.regs8[1] = (readEflags(c) & 0xd5) | 2;
}

// ---- shifts ----

function opc4(c: Cpu, op: number): void {
  loadFarPointer(c, op === 0xc4 ? 0 : 3);
}

function opc8(c: Cpu): void {
  enter(c);
}

function opca(c: Cpu): void {
  retFar(c, c.opsize32, fetch16(c));
}

function opcb(c: Cpu): void {
  retFar(c, c.opsize32, 0);
}

function opcc(c: Cpu): void {
  softwareInterrupt(c, 3, 1);
}

function opcd(c: Cpu): void {
  softwareInterrupt(c, fetch8(c), 0);
}

function opce(c: Cpu): void {
  if (getOF(c)) softwareInterrupt(c, 4, 1);
}

function opcf(c: Cpu): void {
  iret(c, c.opsize32);
}

function opd4(c: Cpu): void {
  aam(c, fetch8(c));
}

function opd5(c: Cpu): void {
  aad(c, fetch8(c));
}

/** SALC (undocumented, implemented by P6 and QEMU) */
function opd6(c: Cpu): void {
  c.regs8[0] = getCF(c) ? 0xff : 0;
}

/** XLAT */
function opd7(c: Cpu): void {
  const r = c.regs;
  const off = c.addr32 ? (r[3] + c.regs8[0]) >>> 0 : (c.regs16[6] + c.regs8[0]) & 0xffff;
  c.regs8[0] = c.read8(c.segOvr >= 0 ? c.segOvr : 3, off);
}

function opd8(c: Cpu, op: number): void {
  fpuEscape(c, op);
}

/** LOOPNE/LOOPE/LOOP */
function ope0(c: Cpu, op: number): void {
  const r = c.regs;
  const disp = fetchS8(c);
  let cnt: number;
  if (c.addr32) cnt = r[1] = r[1] - 1;
  else cnt = c.regs16[2] = c.regs16[2] - 1;
  const z = op === 0xe2 ? true : op === 0xe1 ? testCC(c, 4) : !testCC(c, 4);
  if (cnt !== 0 && z) relJump(c, disp);
}

function ope3(c: Cpu): void {
  const r = c.regs;
  const disp = fetchS8(c);
  if ((c.addr32 ? r[1] : c.regs16[2]) === 0) relJump(c, disp);
}

function ope4(c: Cpu, op: number): void {
  const s = op & 1 ? sizeV(c) : 0;
  setReg(c, 0, s, portIn(c, fetch8(c), s));
}

function ope6(c: Cpu, op: number): void {
  const s = op & 1 ? sizeV(c) : 0;
  portOut(c, fetch8(c), s, getReg(c, 0, s));
}

function opea(c: Cpu): void {
  const off = c.opsize32 ? fetch32(c) >>> 0 : fetch16(c);
  jmpFar(c, fetch16(c), off);
}

function opec(c: Cpu, op: number): void {
  const s = op & 1 ? sizeV(c) : 0;
  setReg(c, 0, s, portIn(c, c.regs16[4], s));
}

function opee(c: Cpu, op: number): void {
  const s = op & 1 ? sizeV(c) : 0;
  portOut(c, c.regs16[4], s, getReg(c, 0, s));
}

/** INT1 / ICEBP: #DB without the gate DPL check */
function opf1(c: Cpu): void {
  softwareInterrupt(c, 1, 2);
}

function opf4(c: Cpu): void {
  hlt(c);
}

function opf5(c: Cpu): void {
  settleFlags(c);
  c.flags ^= CF;
}

function opfa(c: Cpu): void {
  cli(c);
}

function opfb(c: Cpu): void {
  sti(c);
}

function opff(c: Cpu): void {
  group5(c);
}

function opUndefined(c: Cpu): void {
  // 0x26.. prefixes never reach here; D6-like gaps: none left. 0xF0-F3 consumed as prefixes.
  c.fault(Vec.UD);
}

/** Handlers of the one-byte map, indexed by opcode. */
const OPS: Handler[] = new Array(256).fill(opUndefined);
OPS[0x06] = op06;
OPS[0x0e] = op06;
OPS[0x16] = op06;
OPS[0x1e] = op06;
OPS[0x07] = op07;
OPS[0x17] = op07;
OPS[0x1f] = op07;
OPS[0x27] = op27;
OPS[0x2f] = op2f;
OPS[0x37] = op37;
OPS[0x3f] = op3f;
OPS[0x60] = op60;
OPS[0x61] = op61;
OPS[0x62] = op62;
OPS[0x63] = op63;
OPS[0x6c] = op6c;
OPS[0x6d] = op6c;
OPS[0x6e] = op6c;
OPS[0x6f] = op6c;
OPS[0xa4] = op6c;
OPS[0xa5] = op6c;
OPS[0xa6] = op6c;
OPS[0xa7] = op6c;
OPS[0xaa] = op6c;
OPS[0xab] = op6c;
OPS[0xac] = op6c;
OPS[0xad] = op6c;
OPS[0xae] = op6c;
OPS[0xaf] = op6c;
OPS[0x8c] = op8c;
OPS[0x8e] = op8e;
OPS[0x8f] = op8f;
OPS[0x9a] = op9a;
OPS[0x9b] = op9b;
OPS[0x9c] = op9c;
OPS[0x9d] = op9d;
OPS[0x9e] = op9e;
OPS[0x9f] = op9f;
OPS[0xc4] = opc4;
OPS[0xc5] = opc4;
OPS[0xc8] = opc8;
OPS[0xca] = opca;
OPS[0xcb] = opcb;
OPS[0xcc] = opcc;
OPS[0xcd] = opcd;
OPS[0xce] = opce;
OPS[0xcf] = opcf;
OPS[0xd4] = opd4;
OPS[0xd5] = opd5;
OPS[0xd6] = opd6;
OPS[0xd7] = opd7;
OPS[0xd8] = opd8;
OPS[0xd9] = opd8;
OPS[0xda] = opd8;
OPS[0xdb] = opd8;
OPS[0xdc] = opd8;
OPS[0xdd] = opd8;
OPS[0xde] = opd8;
OPS[0xdf] = opd8;
OPS[0xe0] = ope0;
OPS[0xe1] = ope0;
OPS[0xe2] = ope0;
OPS[0xe3] = ope3;
OPS[0xe4] = ope4;
OPS[0xe5] = ope4;
OPS[0xe6] = ope6;
OPS[0xe7] = ope6;
OPS[0xea] = opea;
OPS[0xec] = opec;
OPS[0xed] = opec;
OPS[0xee] = opee;
OPS[0xef] = opee;
OPS[0xf1] = opf1;
OPS[0xf4] = opf4;
OPS[0xf5] = opf5;
OPS[0xfa] = opfa;
OPS[0xfb] = opfb;
OPS[0xff] = opff;

function shadowSS(c: Cpu): void {
  // SDM Vol.3 6.8.3: MOV SS / POP SS inhibit interrupts and #DB until after the next instruction.
  c.inhibit = true;
  c.inhibitSS = true;
  c.breakLoop = true;
}

/**
 * POP ES/SS/DS/FS/GS. The stack-pointer increment follows the stack size of the SS the value
 * was popped from (POP SS may change it; Bochs and QEMU add to ESP or SP by the old SS.B), and
 * is applied only once the load succeeded; with a 16-bit stack only SP changes.
 */
function popSeg(c: Cpu, sr: number): void {
  const v = c.peek(0, c.opsize32) & 0xffff;
  const esp = c.regs[4];
  const next = esp + (c.opsize32 ? 4 : 2);
  const newEsp = c.stack32 ? next | 0 : (esp & ~0xffff) | (next & 0xffff);
  loadSegment(c, sr, v);
  c.regs[4] = newEsp;
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

/** FF /3 CALL m16:16/32 and FF /5 JMP m16:16/32 (translate.ts handles the near forms). */
function group5(c: Cpu): void {
  const m = modrm(c);
  const o = (m >> 3) & 7;
  if ((o !== 3 && o !== 5) || m >= 0xc0) c.fault(Vec.UD);
  const off = c.opsize32 ? c.read32(c.eaSeg, c.eaOff) >>> 0 : c.read16(c.eaSeg, c.eaOff);
  const sel = c.read16(c.eaSeg, eaPlus(c, c.opsize32 ? 4 : 2));
  if (o === 3) callFar(c, sel, off, c.opsize32);
  else jmpFar(c, sel, off);
}

// =================== two-byte opcodes ===================

function op0f00(c: Cpu): void {
  group6(c);
}

function op0f01(c: Cpu): void {
  group7(c);
}

function op0f02(c: Cpu, op: number): void {
  larLsl(c, op === 0x03);
}

function op0f06(c: Cpu): void {
  clts(c);
}

function op0f08(c: Cpu, op: number): void {
  invd(c, op === 0x09);
}

/** UD2 */
function op0f0b(c: Cpu): void {
  c.fault(Vec.UD);
}

function op0f18(c: Cpu): void {
  // Hint NOPs (0F 1F /0 is the P6 multi-byte NOP): decode the operand, access nothing.
  const m = fetch8(c);
  if (m < 0xc0) decodeEA(c, m);
}

function op0f20(c: Cpu, op: number): void {
  const r = c.regs;
  // MOV to/from CR/DR: mod field ignored, always register operands (SDM Vol.2 MOV CR).
  const m = fetch8(c);
  if (op === 0x20) movFromCr(c, (m >> 3) & 7, m & 7);
  else if (op === 0x22) movToCr(c, (m >> 3) & 7, r[m & 7]);
  else if (op === 0x21) movFromDr(c, (m >> 3) & 7, m & 7);
  else movToDr(c, (m >> 3) & 7, r[m & 7]);
}

function op0f30(c: Cpu): void {
  wrmsr(c);
}

function op0f31(c: Cpu): void {
  rdtsc(c);
}

function op0f32(c: Cpu): void {
  rdmsr(c);
}

function op0f34(c: Cpu): void {
  sysenter(c);
}

function op0f35(c: Cpu): void {
  sysexit(c);
}

function op0fa0(c: Cpu, op: number): void {
  c.push(c.segSel[op === 0xa0 ? 4 : 5], c.opsize32);
}

function op0fa1(c: Cpu, op: number): void {
  popSeg(c, op === 0xa1 ? 4 : 5);
}

function op0fa2(c: Cpu): void {
  cpuid(c);
}

function op0fa3(c: Cpu, op: number): void {
  bitTest(c, (op >> 3) & 3, false);
}

function op0fba(c: Cpu): void {
  bitTest(c, -1, true);
}

function op0fa4(c: Cpu, op: number): void {
  const s = sizeV(c);
  const m = modrm(c);
  const count = op & 1 ? c.regs8[4] : fetch8(c);
  const v = readERmw(c, m, s);
  if ((count & 31) !== 0) {
    writeE(c, m, s, shiftDouble(c, v, getReg(c, (m >> 3) & 7, s), count, s, op < 0xa8));
  }
}

function op0fb0(c: Cpu, op: number): void {
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
}

function op0fb2(c: Cpu): void {
  loadFarPointer(c, 2);
}

function op0fb4(c: Cpu, op: number): void {
  loadFarPointer(c, op - 0xb0);
}

function op0fbc(c: Cpu, op: number): void {
  const s = sizeV(c);
  const m = modrm(c);
  const i = bitScan(c, readE(c, m, s), s, op === 0xbd);
  if (i >= 0) setReg(c, (m >> 3) & 7, s, i);
}

/** XADD */
function op0fc0(c: Cpu, op: number): void {
  const s = op & 1 ? sizeV(c) : 0;
  const m = modrm(c);
  const reg = (m >> 3) & 7;
  const d = readERmw(c, m, s);
  const sum = add(c, d, getReg(c, reg, s), s);
  setReg(c, reg, s, d);
  writeE(c, m, s, sum);
}

function op0fc7(c: Cpu): void {
  const m = modrm(c);
  if (((m >> 3) & 7) !== 1 || m >= 0xc0) c.fault(Vec.UD);
  cmpxchg8b(c);
}

function op0fc8(c: Cpu, op: number): void {
  const r = c.regs;
  // BSWAP; with a 16-bit operand the result is undefined: QEMU/Intel give 0.
  const v = r[op & 7];
  if (c.opsize32) {
    r[op & 7] = (v >>> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
  } else c.regs16[(op & 7) << 1] = 0;
}

function op0fUndefined(c: Cpu): void {
  // 0F 05/07 (SYSCALL/SYSRET, AMD), 0F 0D, 0F 33 (RDPMC), MMX/SSE, 0F AA (RSM), 0F B9/FF: #UD.
  c.fault(Vec.UD);
}

/** Handlers of the 0F map, indexed by opcode. */
const OPS_0F: Handler[] = new Array(256).fill(op0fUndefined);
OPS_0F[0x00] = op0f00;
OPS_0F[0x01] = op0f01;
OPS_0F[0x02] = op0f02;
OPS_0F[0x03] = op0f02;
OPS_0F[0x06] = op0f06;
OPS_0F[0x08] = op0f08;
OPS_0F[0x09] = op0f08;
OPS_0F[0x0b] = op0f0b;
OPS_0F[0x18] = op0f18;
OPS_0F[0x19] = op0f18;
OPS_0F[0x1a] = op0f18;
OPS_0F[0x1b] = op0f18;
OPS_0F[0x1c] = op0f18;
OPS_0F[0x1d] = op0f18;
OPS_0F[0x1e] = op0f18;
OPS_0F[0x1f] = op0f18;
OPS_0F[0x20] = op0f20;
OPS_0F[0x22] = op0f20;
OPS_0F[0x21] = op0f20;
OPS_0F[0x23] = op0f20;
OPS_0F[0x30] = op0f30;
OPS_0F[0x31] = op0f31;
OPS_0F[0x32] = op0f32;
OPS_0F[0x34] = op0f34;
OPS_0F[0x35] = op0f35;
OPS_0F[0xa0] = op0fa0;
OPS_0F[0xa8] = op0fa0;
OPS_0F[0xa1] = op0fa1;
OPS_0F[0xa9] = op0fa1;
OPS_0F[0xa2] = op0fa2;
OPS_0F[0xa3] = op0fa3;
OPS_0F[0xab] = op0fa3;
OPS_0F[0xb3] = op0fa3;
OPS_0F[0xbb] = op0fa3;
OPS_0F[0xba] = op0fba;
OPS_0F[0xa4] = op0fa4;
OPS_0F[0xa5] = op0fa4;
OPS_0F[0xac] = op0fa4;
OPS_0F[0xad] = op0fa4;
OPS_0F[0xb0] = op0fb0;
OPS_0F[0xb1] = op0fb0;
OPS_0F[0xb2] = op0fb2;
OPS_0F[0xb4] = op0fb4;
OPS_0F[0xb5] = op0fb4;
OPS_0F[0xbc] = op0fbc;
OPS_0F[0xbd] = op0fbc;
OPS_0F[0xc0] = op0fc0;
OPS_0F[0xc1] = op0fc0;
OPS_0F[0xc7] = op0fc7;
OPS_0F[0xc8] = op0fc8;
OPS_0F[0xc9] = op0fc8;
OPS_0F[0xca] = op0fc8;
OPS_0F[0xcb] = op0fc8;
OPS_0F[0xcc] = op0fc8;
OPS_0F[0xcd] = op0fc8;
OPS_0F[0xce] = op0fc8;
OPS_0F[0xcf] = op0fc8;

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
