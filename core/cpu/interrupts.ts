/**
 * Interrupt and exception delivery through the IVT (real mode) and the IDT (protected and v86
 * mode: interrupt/trap gates of 16 and 32 bits, task gates, privilege-changing stack switch),
 * software INT n / INT3 / INTO / INT1, and IRET (SDM Vol.3 6.12, 20.3; Vol.2 INT n, IRET).
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { TrapKind } from "./hooks.ts";
import { Vec } from "./fault.ts";
import { AC, IF, IOPL, NT, readEflags, RF, TF, VIF, VIP, VM } from "./flags.ts";
import { ATTR_P, ATTR_S, fetchDescriptor, loadSegment, sysRead16, sysRead32 } from "./segments.ts";
import {
  atomic,
  innerStack,
  loadCsProtected,
  loadCsReal,
  returnTo,
  switchStack,
} from "./control.ts";
import { iopl, writeFlags } from "./system.ts";
import { taskSwitch, TaskSwitchKind } from "./task.ts";

/**
 * Vectors through the IVT/IDT with EIP already at the return address. `errorCode` -1 = none;
 * `software` applies the gate-DPL check of INT n/INT3/INTO.
 */
export function deliverInterrupt(
  c: Cpu,
  vector: number,
  errorCode: number,
  software: boolean,
): void {
  if (!c.pmode && !c.v86) {
    deliverReal(c, vector);
    return;
  }
  atomic(c, () => deliverProtected(c, vector, errorCode, software));
}

function deliverReal(c: Cpu, vector: number): void {
  const at = vector * 4;
  if (at + 3 > c.idtrLimit) c.fault(Vec.GP, vector * 8 + 2 + c.ext);
  const off = sysRead16(c, (c.idtrBase + at) | 0);
  const sel = sysRead16(c, (c.idtrBase + at + 2) | 0);
  const flags = readEflags(c);
  const sp = c.sp();
  const wrap = (v: number) => c.stack32 ? v >>> 0 : v & 0xffff;
  c.checkWrite(2, wrap(sp - 6), 1);
  c.checkWrite(2, wrap(sp - 2), 1);
  c.push16(flags);
  c.push16(c.segSel[1]);
  c.push16(c.eip);
  c.flags &= ~(IF | TF | AC | RF); // never lazy: only status flags are
  loadCsReal(c, sel, off);
}

function deliverProtected(c: Cpu, vector: number, err: number, software: boolean): void {
  const idtErr = vector * 8 + 2 + (software ? 0 : c.ext);
  if (vector * 8 + 7 > c.idtrLimit) c.fault(Vec.GP, idtErr);
  const lo = sysRead32(c, (c.idtrBase + vector * 8) | 0);
  const hi = sysRead32(c, (c.idtrBase + vector * 8 + 4) | 0);
  const type = (hi >>> 8) & 0x1f;
  const dpl = (hi >>> 13) & 3;
  if (type !== 5 && type !== 6 && type !== 7 && type !== 0xe && type !== 0xf) {
    c.fault(Vec.GP, idtErr);
  }
  if (software && dpl < c.cpl) c.fault(Vec.GP, idtErr);
  if ((hi & 0x8000) === 0) c.fault(Vec.NP, idtErr);
  if (type === 5) {
    taskSwitch(c, lo >>> 16, TaskSwitchKind.call, err);
    return;
  }
  const gate32 = (type & 8) !== 0;
  const trapGate = (type & 1) !== 0;
  const sel = lo >>> 16;
  const off = gate32 ? ((hi & 0xffff0000) | (lo & 0xffff)) >>> 0 : lo & 0xffff;
  enterHandler(c, sel, off, err, gate32, !trapGate, software ? 0 : c.ext);
}

/**
 * Builds the interrupt frame and enters handler `sel:off` as an IDT gate does (SDM Vol.3
 * 6.12.1): code-segment checks, inner-stack switch through the TSS, v86 exit, the pushes
 * (SS ESP if inner, EFLAGS CS EIP, error code if `err` >= 0), then TF NT RF VM (and IF when
 * `maskIf`) cleared. Used by IDT delivery and by a hypervisor's trap bounce (core/platform.ts).
 */
export function enterHandler(
  c: Cpu,
  sel: number,
  off: number,
  err: number,
  gate32: boolean,
  maskIf: boolean,
  ext: number,
): void {
  if ((sel & 0xfffc) === 0) c.fault(Vec.GP, ext);
  const lin = fetchDescriptor(c, sel);
  if (lin === -1) c.fault(Vec.GP, (sel & 0xfffc) | ext);
  const attr = (c.descHi >>> 8) & 0xf0ff;
  const cdpl = (attr >>> 5) & 3;
  if ((attr & ATTR_S) === 0 || (attr & 8) === 0 || cdpl > c.cpl) {
    c.fault(Vec.GP, (sel & 0xfffc) | ext);
  }
  if ((attr & ATTR_P) === 0) c.fault(Vec.NP, (sel & 0xfffc) | ext);
  const flags = readEflags(c);
  const oldCs = c.segSel[1], oldEip = c.eip;
  const codeLo = c.descLo, codeHi = c.descHi;
  const fromV86 = c.v86;
  if ((attr & 4) === 0 && cdpl < c.cpl) {
    // Inner privilege: new stack from the TSS (SDM Vol.3 6.12.1, Figure 6-4).
    if (fromV86 && cdpl !== 0) c.fault(Vec.GP, (sel & 0xfffc) | ext);
    const oldSs = c.segSel[2], oldEsp = c.regs[4];
    const ssLin = innerStack(c, cdpl);
    const ss = c.gateSel, esp = c.gateOff;
    c.cpl = cdpl;
    if (fromV86) {
      // Leave v86 before touching the new stack so it is addressed as a protected-mode segment.
      c.flags &= ~VM;
      c.updateMode();
    }
    switchStack(c, ss, esp, ssLin);
    c.rdMask = c.cpl === 3 ? 4 : 1;
    c.wrMask = c.cpl === 3 ? 8 : 2;
    if (fromV86) {
      c.push(c.segSel[5], gate32);
      c.push(c.segSel[4], gate32);
      c.push(c.segSel[3], gate32);
      c.push(c.segSel[0], gate32);
    }
    c.push(oldSs, gate32);
    c.push(oldEsp, gate32);
  } else {
    if (fromV86) c.fault(Vec.GP, (sel & 0xfffc) | ext);
  }
  c.push(flags, gate32);
  c.push(oldCs, gate32);
  c.push(oldEip, gate32);
  if (err >= 0) c.push(err, gate32);
  c.descLo = codeLo;
  c.descHi = codeHi;
  const newCpl = (attr & 4) === 0 ? cdpl : c.cpl;
  loadCsProtected(c, sel, off, newCpl, lin);
  if (fromV86) {
    for (const i of V86_DATA_SEGS) loadSegment(c, i, 0);
  }
  let clear = TF | NT | RF | VM;
  if (maskIf) clear |= IF;
  c.flags = (readEflags(c) & ~clear) | 2;
  c.lazy = 0;
  c.updateMode();
}

const V86_DATA_SEGS = [0, 3, 4, 5] as const;

/**
 * INT n (`kind` 0), INT3/INTO (1) or INT1 (2). INT n is IOPL-sensitive in v86 mode and may be
 * intercepted by the hypervisor (hooks.softwareInterrupt).
 */
export function softwareInterrupt(c: Cpu, vector: number, kind: number): void {
  if (kind === 0) {
    if (c.v86 && iopl(c) < 3) c.fault(Vec.GP, 0);
    const next = c.eip;
    c.eip = c.startEip;
    const taken = c.hooks.softwareInterrupt(vector);
    if (c.eip === c.startEip) c.eip = next;
    if (taken) {
      c.irqCheck = true;
      c.breakLoop = true;
      c.updateMode();
      return;
    }
  }
  c.hooks.onTrap(TrapKind.software, vector, -1, c.eip, c.cr2);
  c.ext = 0;
  c.vectored = true;
  if (c.hooks.takeTrap(TrapKind.software, vector, -1)) {
    c.breakLoop = true;
    c.updateMode();
    return;
  }
  deliverInterrupt(c, vector, -1, kind !== 2);
}

/** IRET / IRETD (SDM Vol.2 IRET). */
export function iret(c: Cpu, o32: boolean): void {
  const n = o32 ? 4 : 2;
  if (c.nmiBlocked) {
    // IRET ends NMI blocking, even one that then faults (docs/smp.md §5); a latched NMI is
    // taken at the boundary after it.
    c.nmiBlocked = false;
    if (c.nmiPending) {
      c.irqCheck = true;
      c.breakLoop = true;
    }
  }
  if (!c.pmode && !c.v86) {
    const ip = c.peek(0, o32);
    const cs = c.peek(n, o32) & 0xffff;
    const f = c.peek(2 * n, o32);
    loadCsReal(c, cs, o32 ? ip >>> 0 : ip & 0xffff);
    c.setSp(c.regs[4] + 3 * n);
    writeFlags(c, f, o32 ? 0x3f7fd5 & ~(VM | VIP | VIF) | RF : 0x7fd5);
    return;
  }
  if (c.v86) {
    // IOPL-sensitive; IOPL, VM, VIP, VIF are not changed (SDM Vol.3 20.2.7).
    if (iopl(c) < 3) c.fault(Vec.GP, 0);
    const ip = c.peek(0, o32);
    const cs = c.peek(n, o32) & 0xffff;
    const f = c.peek(2 * n, o32);
    loadCsReal(c, cs, o32 ? ip >>> 0 : ip & 0xffff);
    c.setSp(c.regs[4] + 3 * n);
    writeFlags(c, f, (o32 ? 0x3f7fd5 | RF : 0x7fd5) & ~(IOPL | VM | VIP | VIF));
    return;
  }
  atomic(c, () => iretProtected(c, o32));
}

function iretProtected(c: Cpu, o32: boolean): void {
  const n = o32 ? 4 : 2;
  if (c.flags & NT) {
    // Task return through the back link (SDM Vol.3 7.3).
    const link = sysRead16(c, c.segBase[7]);
    taskSwitch(c, link, TaskSwitchKind.iret, -1);
    return;
  }
  const eip = o32 ? c.peek(0, true) >>> 0 : c.peek(0, false);
  const cs = c.peek(n, o32) & 0xffff;
  const f = c.peek(2 * n, o32);
  const oldCpl = c.cpl;
  if (o32 && (f & VM) && oldCpl === 0) {
    iretToV86(c, eip, cs, f);
    return;
  }
  returnTo(c, cs, eip, o32, 3 * n, 0);
  let mask = o32 ? 0x3f7fd5 & ~VM | RF : 0x7fd5;
  if (oldCpl > 0) mask &= ~(IOPL | VIF | VIP);
  if (oldCpl > iopl(c)) mask &= ~IF;
  writeFlags(c, f, mask);
}

/** IRETD from CPL 0 with VM=1 in the image: pops ESP SS ES DS FS GS and enters v86 (SDM IRET). */
function iretToV86(c: Cpu, eip: number, cs: number, f: number): void {
  const esp = c.peek(12, true);
  const ss = c.peek(16, true) & 0xffff;
  const es = c.peek(20, true) & 0xffff;
  const ds = c.peek(24, true) & 0xffff;
  const fs = c.peek(28, true) & 0xffff;
  const gs = c.peek(32, true) & 0xffff;
  writeFlags(c, f, 0x3f7fd5 | RF);
  // Now in v86 mode: segment loads are real-mode style with v86 attributes.
  c.cpl = 3;
  loadCsReal(c, cs, eip & 0xffff);
  loadSegment(c, 2, ss);
  loadSegment(c, 0, es);
  loadSegment(c, 3, ds);
  loadSegment(c, 4, fs);
  loadSegment(c, 5, gs);
  c.regs[4] = esp;
  c.updateMode();
}
