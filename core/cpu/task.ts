/**
 * Hardware task switching through TSS descriptors and task gates (SDM Vol.3 7.3): JMP, CALL,
 * INT/exception via a task gate, and IRET with EFLAGS.NT. Both 32-bit and 16-bit TSS formats.
 *
 * Checks on the new TSS and writes of the old one happen before the commit point (a fault there
 * leaves the old task intact); faults while loading the new task's segments are delivered in
 * the context of the new task, as the SDM specifies.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { Vec } from "./fault.ts";
import { NT, readEflags, VM } from "./flags.ts";
import {
  ATTR_P,
  ATTR_S,
  descBase,
  descLimit,
  fetchDescriptor,
  loadCacheFromDesc,
  refreshSegment,
  setAccessed,
  sysRead16,
  sysRead32,
  sysWrite16,
  sysWrite32,
  sysWrite8,
} from "./segments.ts";
import { writeFlags } from "./system.ts";

/** Why a task switch happens; decides NT, the back link and the busy bits. */
export const TaskSwitchKind = { jmp: 0, call: 1, iret: 2 } as const;
export type TaskSwitchKind = typeof TaskSwitchKind[keyof typeof TaskSwitchKind];

/** Field offsets in a 32-bit and a 16-bit TSS: EIP FLAGS EAX..EDI ES CS SS DS FS GS LDT. */
const TSS32 = { eip: 0x20, flags: 0x24, regs: 0x28, segs: 0x48, ldt: 0x60, min: 0x67 };
const TSS16 = { eip: 0x0e, flags: 0x10, regs: 0x12, segs: 0x22, ldt: 0x2a, min: 0x2b };

function rd(c: Cpu, lin: number, wide: boolean): number {
  return wide ? sysRead32(c, lin) : sysRead16(c, lin);
}

function wr(c: Cpu, lin: number, v: number, wide: boolean): void {
  if (wide) sysWrite32(c, lin, v);
  else sysWrite16(c, lin, v);
}

/** Switches to the task whose TSS selector is `sel`; pushes `errorCode` (>= 0) in the new task. */
export function taskSwitch(c: Cpu, sel: number, kind: TaskSwitchKind, errorCode: number): void {
  const iret = kind === TaskSwitchKind.iret;
  const badSel = iret ? Vec.TS : Vec.GP;
  if (sel & 4) c.fault(badSel, (sel & 0xfffc) | c.ext);
  const dlin = fetchDescriptor(c, sel);
  if (dlin === -1) c.fault(badSel, (sel & 0xfffc) | c.ext);
  const attr = (c.descHi >>> 8) & 0xf0ff;
  const type = attr & 0x1f;
  const busyOk = iret ? type === 0xb || type === 3 : type === 9 || type === 1;
  if (!busyOk) c.fault(badSel, (sel & 0xfffc) | c.ext);
  if ((attr & ATTR_P) === 0) c.fault(Vec.NP, (sel & 0xfffc) | c.ext);
  const wide = (type & 8) !== 0;
  const L = wide ? TSS32 : TSS16;
  const newLo = c.descLo, newHi = c.descHi;
  const nb = descBase(newLo, newHi);
  if (descLimit(newLo, newHi) < L.min) c.fault(Vec.TS, (sel & 0xfffc) | c.ext);

  // Read the whole new state first (faults here abort the switch cleanly).
  const nRegs = c.tmp8;
  const step = wide ? 4 : 2;
  for (let i = 0; i < 8; i++) nRegs[i] = rd(c, nb + L.regs + i * step, wide);
  const nSegs = c.tmp32;
  for (let i = 0; i < 6; i++) nSegs[i] = sysRead16(c, nb + L.segs + i * step);
  const nLdt = sysRead16(c, nb + L.ldt);
  const nEip = rd(c, nb + L.eip, wide) >>> 0;
  let nFlags = rd(c, nb + L.flags, wide);
  const nCr3 = wide ? sysRead32(c, nb + 0x1c) >>> 0 : c.cr3;

  // Save the outgoing task.
  const oldSel = c.segSel[7];
  const ob = c.segBase[7];
  const oldWide = (c.segAttr[7] & 8) !== 0;
  const OL = oldWide ? TSS32 : TSS16;
  const ostep = oldWide ? 4 : 2;
  let oldFlags = readEflags(c);
  if (iret) oldFlags &= ~NT;
  wr(c, ob + OL.eip, c.eip, oldWide);
  wr(c, ob + OL.flags, oldFlags, oldWide);
  for (let i = 0; i < 8; i++) wr(c, ob + OL.regs + i * ostep, c.regs[i], oldWide);
  for (let i = 0; i < 6; i++) sysWrite16(c, ob + OL.segs + i * ostep, c.segSel[i]);

  if (kind !== TaskSwitchKind.call) {
    // Clear the old task's busy bit (JMP, IRET).
    const olin = fetchDescriptor(c, oldSel);
    if (olin !== -1) sysWrite8(c, olin + 5, (c.descHi >>> 8) & ~2);
  }
  if (kind === TaskSwitchKind.call) {
    sysWrite16(c, nb, oldSel);
    nFlags |= NT;
  }
  if (!iret) sysWrite8(c, dlin + 5, ((newHi >>> 8) & 0xff) | 2);

  // Commit: from here on faults belong to the new task.
  c.cpCommitted = true;
  c.descLo = newLo;
  c.descHi = newHi | (iret ? 0 : 0x200);
  loadCacheFromDesc(c, 7, sel);
  c.cr0 |= 8; // CR0.TS
  if (wide && (c.cr0 & 0x80000000)) {
    c.cr3 = nCr3;
    c.flushTlb(false);
  }
  for (let i = 0; i < 8; i++) c.regs[i] = wide ? nRegs[i] : (c.regs[i] & ~0xffff) | nRegs[i];
  c.eip = nEip;
  c.startEip = nEip;
  writeFlags(c, wide ? nFlags : (readEflags(c) & ~0xffff) | (nFlags & 0xffff), 0x3f7fd5);
  for (let i = 0; i < 6; i++) c.segSel[i] = nSegs[i];
  c.segSel[6] = nLdt;

  // LDT, then segments with the checks of SDM Vol.3 7.3 step 13 (#TS/#NP/#SS).
  if ((nLdt & 0xfffc) === 0) {
    c.segBase[6] = 0;
    c.segLimit[6] = 0;
    c.segAttr[6] = 0;
  } else {
    if ((nLdt & 4) || fetchDescriptor(c, nLdt) === -1) c.fault(Vec.TS, nLdt & 0xfffc);
    const la = (c.descHi >>> 8) & 0xf0ff;
    if ((la & 0x1f) !== 2) c.fault(Vec.TS, nLdt & 0xfffc);
    if ((la & ATTR_P) === 0) c.fault(Vec.TS, nLdt & 0xfffc);
    loadCacheFromDesc(c, 6, nLdt);
  }
  if (nFlags & VM && wide) {
    c.cpl = 3;
    for (let i = 0; i < 6; i++) {
      c.segBase[i] = nSegs[i] << 4;
      c.segLimit[i] = 0xffff;
      c.segAttr[i] = i === 1 ? 0xfb : 0xf3;
    }
    c.updateMode();
  } else {
    const cpl = nSegs[1] & 3;
    c.cpl = cpl;
    loadTaskSegment(c, 1, nSegs[1], cpl);
    loadTaskSegment(c, 2, nSegs[2], cpl);
    for (const i of DATA_SEGS) loadTaskSegment(c, i, nSegs[i], cpl);
    c.updateMode();
  }
  if (errorCode >= 0) c.push(errorCode, wide);
  if (c.eip > (c.segLimit[1] >>> 0)) c.fault(Vec.GP, 0);
}

const DATA_SEGS = [0, 3, 4, 5] as const;

function loadTaskSegment(c: Cpu, i: number, sel: number, cpl: number): void {
  const err = sel & 0xfffc;
  if ((sel & 0xfffc) === 0) {
    if (i === 1 || i === 2) c.fault(Vec.TS, err);
    c.segBase[i] = 0;
    c.segLimit[i] = 0;
    c.segAttr[i] = 0;
    refreshSegment(c, i);
    return;
  }
  const lin = fetchDescriptor(c, sel);
  if (lin === -1) c.fault(Vec.TS, err);
  const attr = (c.descHi >>> 8) & 0xf0ff;
  const dpl = (attr >>> 5) & 3;
  const rpl = sel & 3;
  if ((attr & ATTR_S) === 0) c.fault(Vec.TS, err);
  if (i === 1) {
    if ((attr & 8) === 0 || (attr & 4 ? dpl > rpl : dpl !== rpl)) c.fault(Vec.TS, err);
    if ((attr & ATTR_P) === 0) c.fault(Vec.NP, err);
  } else if (i === 2) {
    if ((attr & 0xa) !== 2 || dpl !== cpl || rpl !== cpl) c.fault(Vec.TS, err);
    if ((attr & ATTR_P) === 0) c.fault(Vec.SS, err);
  } else {
    if ((attr & 0xa) === 8) c.fault(Vec.TS, err);
    if ((attr & 0xc) !== 0xc && (dpl < cpl || dpl < rpl)) c.fault(Vec.TS, err);
    if ((attr & ATTR_P) === 0) c.fault(Vec.NP, err);
  }
  setAccessed(c, lin);
  loadCacheFromDesc(c, i, sel);
}
