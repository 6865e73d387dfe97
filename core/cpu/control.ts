/**
 * Control transfers that change CS: far JMP/CALL/RET in real, v86 and protected mode, with call
 * gates, conforming code, privilege-changing stack switches and task gates (SDM Vol.2 JMP, CALL,
 * RET; Vol.3 5.8). Near jumps share `jumpNear`.
 *
 * Multi-step transfers run inside {@link atomic}: on a fault every register and segment cache is
 * restored, so the exception sees the state before the instruction (fault semantics).
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { Vec } from "./fault.ts";
import {
  ATTR_D,
  ATTR_P,
  ATTR_S,
  fetchDescriptor,
  loadCacheFromDesc,
  nullInvalidSegments,
  refreshSegment,
  setAccessed,
  sysRead16,
  sysRead32,
} from "./segments.ts";
import { taskSwitch, TaskSwitchKind } from "./task.ts";
import { readEflags } from "./flags.ts";

const SAVE_SEGS = 8;

/** Runs `fn`; if it faults before committing, restores registers, EIP, EFLAGS and segments. */
export function atomic(c: Cpu, fn: () => void): void {
  const outer = c.cpDepth === 0;
  if (outer) {
    c.cpRegs.set(c.regs);
    for (let i = 0; i < SAVE_SEGS; i++) {
      c.cpSeg[i * 4] = c.segSel[i];
      c.cpSeg[i * 4 + 1] = c.segBase[i];
      c.cpSeg[i * 4 + 2] = c.segLimit[i];
      c.cpSeg[i * 4 + 3] = c.segAttr[i];
    }
    c.cpFlags = readEflags(c);
    c.cpCpl = c.cpl;
    c.cpEip = c.eip;
    c.cpCommitted = false;
  }
  c.cpDepth++;
  try {
    fn();
  } catch (e) {
    if (outer && !c.cpCommitted) {
      c.regs.set(c.cpRegs);
      for (let i = 0; i < SAVE_SEGS; i++) {
        c.segSel[i] = c.cpSeg[i * 4];
        c.segBase[i] = c.cpSeg[i * 4 + 1];
        c.segLimit[i] = c.cpSeg[i * 4 + 2];
        c.segAttr[i] = c.cpSeg[i * 4 + 3];
      }
      c.flags = c.cpFlags;
      c.lazy = 0;
      c.cpl = c.cpCpl;
      c.eip = c.cpEip;
      c.updateMode();
    }
    throw e;
  } finally {
    c.cpDepth--;
  }
}

/** Jumps to `target` in CS (masked to the operand size), #GP(0) beyond the CS limit. */
export function jumpNear(c: Cpu, target: number): void {
  target = c.opsize32 ? target >>> 0 : target & 0xffff;
  if (target > (c.segLimit[1] >>> 0)) c.fault(Vec.GP, 0);
  c.eip = target;
}

/** Real/v86 CS load: base = sel << 4 (v86 also resets limit and attributes). */
export function loadCsReal(c: Cpu, sel: number, off: number): void {
  sel &= 0xffff;
  c.segSel[1] = sel;
  c.segBase[1] = sel << 4;
  if (c.v86) {
    c.segLimit[1] = 0xffff;
    c.segAttr[1] = 0xfb;
  }
  if (off > (c.segLimit[1] >>> 0)) c.fault(Vec.GP, 0);
  c.eip = off;
  c.code32 = !c.v86 && (c.segAttr[1] & ATTR_D) !== 0;
  refreshSegment(c, 1);
  c.fwLen = 0;
  c.breakLoop = true;
}

/** Loads CS from the descriptor in descLo/descHi with RPL = `cpl` and makes `cpl` current. */
export function loadCsProtected(
  c: Cpu,
  sel: number,
  off: number,
  cpl: number,
  descLin: number,
): void {
  setAccessed(c, descLin);
  const lo = c.descLo, hi = c.descHi;
  let limit = (hi & 0xf0000) | (lo & 0xffff);
  if (hi & 0x800000) limit = (limit << 12) | 0xfff;
  if (off > (limit >>> 0)) c.fault(Vec.GP, 0);
  loadCacheFromDesc(c, 1, (sel & 0xfffc) | cpl);
  c.cpl = cpl;
  c.eip = off;
  c.updateMode();
}

/** Checks a code-segment descriptor for a direct JMP/CALL (SDM Vol.2 JMP, protected mode). */
function checkDirectCode(c: Cpu, sel: number, attr: number): void {
  const dpl = (attr >>> 5) & 3;
  if (attr & 4) {
    if (dpl > c.cpl) c.fault(Vec.GP, sel & 0xfffc);
  } else if ((sel & 3) > c.cpl || dpl !== c.cpl) c.fault(Vec.GP, sel & 0xfffc);
  if ((attr & ATTR_P) === 0) c.fault(Vec.NP, sel & 0xfffc);
}

/** Reads a gate's target: sets c.gateSel/c.gateOff from descLo/descHi. */
function readGate(c: Cpu, is32: boolean): void {
  c.gateSel = c.descLo >>> 16;
  c.gateOff = is32 ? ((c.descHi & 0xffff0000) | (c.descLo & 0xffff)) >>> 0 : c.descLo & 0xffff;
}

/** JMP ptr16:16/32 or m16:16/32. */
export function jmpFar(c: Cpu, sel: number, off: number): void {
  if (!c.pmode) {
    loadCsReal(c, sel, off);
    return;
  }
  atomic(c, () => farTransfer(c, sel, off, false, c.opsize32));
}

/** CALL ptr16:16/32 or m16:16/32. */
export function callFar(c: Cpu, sel: number, off: number, o32: boolean): void {
  if (!c.pmode) {
    const cs = c.segSel[1], ip = c.eip;
    // Both pushes are checked by the stack accessors; write them before changing CS.
    const n = o32 ? 4 : 2;
    const sp = c.sp();
    const wrap = (v: number) => c.stack32 ? v >>> 0 : v & 0xffff;
    c.checkWrite(2, wrap(sp - 2 * n), o32 ? 2 : 1);
    c.checkWrite(2, wrap(sp - n), o32 ? 2 : 1);
    const oldCs = c.segSel[1], oldBase = c.segBase[1];
    loadCsReal(c, sel, off);
    try {
      c.push(cs, o32);
      c.push(ip, o32);
    } catch (e) {
      c.segSel[1] = oldCs;
      c.segBase[1] = oldBase;
      throw e;
    }
    return;
  }
  atomic(c, () => farTransfer(c, sel, off, true, o32));
}

function farTransfer(c: Cpu, sel: number, off: number, call: boolean, o32: boolean): void {
  sel &= 0xffff;
  if ((sel & 0xfffc) === 0) c.fault(Vec.GP, 0);
  const lin = fetchDescriptor(c, sel);
  if (lin === -1) c.fault(Vec.GP, sel & 0xfffc);
  const attr = (c.descHi >>> 8) & 0xf0ff;
  const dpl = (attr >>> 5) & 3;
  const retCs = c.segSel[1], retEip = c.eip;
  if (attr & ATTR_S) {
    if ((attr & 8) === 0) c.fault(Vec.GP, sel & 0xfffc);
    checkDirectCode(c, sel, attr);
    if (!o32) off &= 0xffff;
    if (call) {
      const n = o32 ? 4 : 2;
      const sp = c.sp();
      const wrap = (v: number) => c.stack32 ? v >>> 0 : v & 0xffff;
      c.checkWrite(2, wrap(sp - 2 * n), o32 ? 2 : 1);
      c.checkWrite(2, wrap(sp - n), o32 ? 2 : 1);
    }
    loadCsProtected(c, sel, off, c.cpl, lin);
    if (call) {
      c.push(retCs, o32);
      c.push(retEip, o32);
    }
    return;
  }
  const type = attr & 0xf;
  switch (type) {
    case 4:
    case 0xc: { // call gate
      if (dpl < c.cpl || dpl < (sel & 3)) c.fault(Vec.GP, sel & 0xfffc);
      if ((attr & ATTR_P) === 0) c.fault(Vec.NP, sel & 0xfffc);
      const gate32 = type === 0xc;
      readGate(c, gate32);
      const paramCount = c.descHi & 0x1f;
      const tsel = c.gateSel, toff = c.gateOff;
      if ((tsel & 0xfffc) === 0) c.fault(Vec.GP, 0);
      const tlin = fetchDescriptor(c, tsel);
      if (tlin === -1) c.fault(Vec.GP, tsel & 0xfffc);
      const tattr = (c.descHi >>> 8) & 0xf0ff;
      const tdpl = (tattr >>> 5) & 3;
      if ((tattr & ATTR_S) === 0 || (tattr & 8) === 0 || tdpl > c.cpl) {
        c.fault(Vec.GP, tsel & 0xfffc);
      }
      if (!call && (tattr & 4) === 0 && tdpl !== c.cpl) c.fault(Vec.GP, tsel & 0xfffc);
      if ((tattr & ATTR_P) === 0) c.fault(Vec.NP, tsel & 0xfffc);
      if (call && (tattr & 4) === 0 && tdpl < c.cpl) {
        callGateInner(c, tsel, toff, tdpl, tlin, gate32, paramCount, retCs, retEip);
        return;
      }
      if (call) {
        const n = gate32 ? 4 : 2;
        const sp = c.sp();
        const wrap = (v: number) => c.stack32 ? v >>> 0 : v & 0xffff;
        c.checkWrite(2, wrap(sp - 2 * n), gate32 ? 2 : 1);
      }
      loadCsProtected(c, tsel, toff, c.cpl, tlin);
      if (call) {
        c.push(retCs, gate32);
        c.push(retEip, gate32);
      }
      return;
    }
    case 5: // task gate
      if (dpl < c.cpl || dpl < (sel & 3)) c.fault(Vec.GP, sel & 0xfffc);
      if ((attr & ATTR_P) === 0) c.fault(Vec.NP, sel & 0xfffc);
      taskSwitch(c, c.descLo >>> 16, call ? TaskSwitchKind.call : TaskSwitchKind.jmp, -1);
      return;
    case 1:
    case 9: // available TSS
      if (dpl < c.cpl || dpl < (sel & 3)) c.fault(Vec.GP, sel & 0xfffc);
      if ((attr & ATTR_P) === 0) c.fault(Vec.NP, sel & 0xfffc);
      taskSwitch(c, sel, call ? TaskSwitchKind.call : TaskSwitchKind.jmp, -1);
      return;
    default:
      c.fault(Vec.GP, sel & 0xfffc);
  }
}

/**
 * Reads the inner stack for privilege `dpl` from the current TSS into c.gateSel (SS) and
 * c.gateOff (ESP) and validates SS (SDM Vol.3 5.8.5, 6.12.1: #TS on a bad SS).
 */
export function innerStack(c: Cpu, dpl: number): number {
  const trAttr = c.segAttr[7];
  const tss32 = (trAttr & 8) !== 0;
  const base = c.segBase[7];
  const limit = c.segLimit[7] >>> 0;
  let ss: number, esp: number;
  if (tss32) {
    const o = 4 + dpl * 8;
    if (o + 5 > limit) c.fault(Vec.TS, (c.segSel[7] & 0xfffc) | c.ext);
    esp = sysRead32(c, (base + o) | 0) >>> 0;
    ss = sysRead16(c, (base + o + 4) | 0);
  } else {
    const o = 2 + dpl * 4;
    if (o + 3 > limit) c.fault(Vec.TS, (c.segSel[7] & 0xfffc) | c.ext);
    esp = sysRead16(c, (base + o) | 0);
    ss = sysRead16(c, (base + o + 2) | 0);
  }
  if ((ss & 0xfffc) === 0) c.fault(Vec.TS, c.ext);
  const lin = fetchDescriptor(c, ss);
  if (lin === -1) c.fault(Vec.TS, (ss & 0xfffc) | c.ext);
  const attr = (c.descHi >>> 8) & 0xf0ff;
  if (
    (ss & 3) !== dpl || ((attr >>> 5) & 3) !== dpl || (attr & ATTR_S) === 0 ||
    (attr & 0xa) !== 2
  ) {
    c.fault(Vec.TS, (ss & 0xfffc) | c.ext);
  }
  if ((attr & ATTR_P) === 0) c.fault(Vec.SS, (ss & 0xfffc) | c.ext);
  c.gateSel = ss;
  c.gateOff = esp;
  return lin;
}

/** Switches SS:ESP to the validated inner stack (descriptor still in descLo/descHi). */
export function switchStack(c: Cpu, ss: number, esp: number, ssLin: number): void {
  setAccessed(c, ssLin);
  loadCacheFromDesc(c, 2, ss);
  c.stack32 = (c.segAttr[2] & ATTR_D) !== 0;
  if (c.stack32) c.regs[4] = esp;
  else c.regs16[8] = esp;
}

function callGateInner(
  c: Cpu,
  tsel: number,
  toff: number,
  tdpl: number,
  tlin: number,
  gate32: boolean,
  paramCount: number,
  retCs: number,
  retEip: number,
): void {
  const codeLo = c.descLo, codeHi = c.descHi;
  const oldSs = c.segSel[2], oldEsp = c.regs[4];
  const oldStack32 = c.stack32;
  // Parameters are read from the old stack before switching (SDM Vol.3 5.8.5).
  const n = gate32 ? 4 : 2;
  const params = c.tmp32;
  for (let i = 0; i < paramCount; i++) {
    const a = oldStack32 ? (oldEsp + i * n) >>> 0 : (oldEsp + i * n) & 0xffff;
    params[i] = gate32 ? c.read32(2, a) : c.read16(2, a);
  }
  const ssLin = innerStack(c, tdpl);
  const ss = c.gateSel, esp = c.gateOff;
  c.cpl = tdpl;
  switchStack(c, ss, esp, ssLin);
  c.push(oldSs, gate32);
  c.push(oldEsp, gate32);
  for (let i = paramCount - 1; i >= 0; i--) c.push(params[i], gate32);
  c.push(retCs, gate32);
  c.push(retEip, gate32);
  c.descLo = codeLo;
  c.descHi = codeHi;
  loadCsProtected(c, tsel, toff, tdpl, tlin);
}

/** RETF [imm16] (SDM Vol.2 RET, far return). */
export function retFar(c: Cpu, o32: boolean, extra: number): void {
  const n = o32 ? 4 : 2;
  if (!c.pmode) {
    const ip = c.peek(0, o32);
    const cs = c.peek(n, o32) & 0xffff;
    loadCsReal(c, cs, o32 ? ip >>> 0 : ip & 0xffff);
    c.setSp(c.regs[4] + 2 * n + extra);
    return;
  }
  atomic(c, () => {
    const eip = o32 ? c.peek(0, true) >>> 0 : c.peek(0, false);
    const sel = c.peek(n, o32) & 0xffff;
    returnTo(c, sel, eip, o32, 2 * n, extra);
  });
}

/**
 * Protected-mode return to sel:eip (RETF and IRET share it). `frame` is the size of the popped
 * EIP/CS(/EFLAGS) part; the outer SS:ESP, if any, follow it; `extra` is RETF's imm16.
 */
export function returnTo(
  c: Cpu,
  sel: number,
  eip: number,
  o32: boolean,
  frame: number,
  extra: number,
): void {
  if ((sel & 0xfffc) === 0) c.fault(Vec.GP, 0);
  const lin = fetchDescriptor(c, sel);
  if (lin === -1) c.fault(Vec.GP, sel & 0xfffc);
  const attr = (c.descHi >>> 8) & 0xf0ff;
  const dpl = (attr >>> 5) & 3;
  const rpl = sel & 3;
  if ((attr & ATTR_S) === 0 || (attr & 8) === 0 || rpl < c.cpl) c.fault(Vec.GP, sel & 0xfffc);
  if (attr & 4 ? dpl > rpl : dpl !== rpl) c.fault(Vec.GP, sel & 0xfffc);
  if ((attr & ATTR_P) === 0) c.fault(Vec.NP, sel & 0xfffc);
  if (rpl === c.cpl) {
    loadCsProtected(c, sel, eip, rpl, lin);
    c.setSp(c.regs[4] + frame + extra);
    return;
  }
  // Return to an outer level: pop SS:ESP too, and validate SS against the new CPL.
  const n = o32 ? 4 : 2;
  const codeLo = c.descLo, codeHi = c.descHi;
  const newEsp = c.peek(frame + extra, o32);
  const ss = c.peek(frame + extra + n, o32) & 0xffff;
  if ((ss & 0xfffc) === 0) c.fault(Vec.GP, 0);
  const ssLin = fetchDescriptor(c, ss);
  if (ssLin === -1) c.fault(Vec.GP, ss & 0xfffc);
  const sattr = (c.descHi >>> 8) & 0xf0ff;
  if (
    (ss & 3) !== rpl || ((sattr >>> 5) & 3) !== rpl || (sattr & ATTR_S) === 0 ||
    (sattr & 0xa) !== 2
  ) {
    c.fault(Vec.GP, ss & 0xfffc);
  }
  if ((sattr & ATTR_P) === 0) c.fault(Vec.SS, ss & 0xfffc);
  const ssLo = c.descLo, ssHi = c.descHi;
  c.descLo = codeLo;
  c.descHi = codeHi;
  loadCsProtected(c, sel, eip, rpl, lin);
  c.descLo = ssLo;
  c.descHi = ssHi;
  switchStack(c, ss, o32 ? newEsp : newEsp & 0xffff, ssLin);
  if (extra) c.setSp(c.regs[4] + extra);
  nullInvalidSegments(c);
  c.updateMode();
}
