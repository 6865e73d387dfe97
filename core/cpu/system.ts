/**
 * System instructions: descriptor-table registers, LDTR/TR, LAR/LSL/VERR/VERW/ARPL, control and
 * debug registers, MSRs, CPUID, RDTSC, SYSENTER/SYSEXIT, HLT, CLI/STI, PUSHF/POPF, port I/O with
 * IOPL and TSS I/O-bitmap checks, and the privileged-operation exits reported to the hooks.
 *
 * Why this file is long: every system instruction shares the privilege, IOPL and exit-reporting
 * checks kept private here; the families named above are each a few dozen lines.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { ExitKind } from "./hooks.ts";
import { Vec } from "./fault.ts";
import { AC, ID, IF, IOPL, readEflags, RF, settleFlags, TF, VIF, VIP, VM, ZF } from "./flags.ts";
import { decodeEA, fetch8, getReg, modrm, readE, setReg, writeE } from "./operands.ts";
import {
  ATTR_P,
  ATTR_S,
  descLimit,
  fetchDescriptor,
  loadCacheFromDesc,
  sysWrite8,
} from "./segments.ts";
import { invalidatePage } from "./paging.ts";
import { refreshSegment } from "./segments.ts";
import { anyDataBreakpoint } from "./watchpoints.ts";

const CR0_PE = 1, CR0_MP = 2, CR0_EM = 4, CR0_TS = 8, CR0_ET = 0x10, CR0_NE = 0x20;
const CR0_WP = 0x10000, CR0_AM = 0x40000, CR0_NW = 0x20000000, CR0_CD = 0x40000000;
const CR0_PG = 0x80000000 | 0;
/** CR0 bits a P6 implements. */
const CR0_MASK = CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW |
  CR0_CD | CR0_PG;
/**
 * CR4 bits implemented: TSD, DE, PSE, PGE, and OSFXSR (no VME/PVI, PAE, MCE, PCE, OSXMMEXCPT).
 * OSFXSR (bit 9) is only the OS's declaration that it saves state with FXSAVE (SDM Vol.3 2.5);
 * QEMU accepts it whatever CPUID says, and so does this CPU, with or without FXSR advertised.
 */
const CR4_MASK = 0x4 | 0x8 | 0x10 | 0x80 | 0x200;
export const CR4_TSD = 0x4;
export const CR4_DE = 0x8;

/** Reports a privileged-operation exit with EIP at the start of the instruction (hooks.ts). */
export function exit(c: Cpu, kind: ExitKind, a: number, b: number, x: number): void {
  const next = c.eip;
  c.eip = c.startEip;
  c.hooks.onExit(kind, a, b, x);
  if (c.eip === c.startEip) c.eip = next; // a hook may redirect EIP
  c.irqCheck = true;
  c.breakLoop = true;
}

/** #GP(0) unless CPL 0 in protected mode (real mode counts as CPL 0; v86 is CPL 3). */
export function requireCpl0(c: Cpu): void {
  if (c.cpl !== 0) c.fault(Vec.GP, 0);
}

function requireProtected(c: Cpu): void {
  if (!c.pmode) c.fault(Vec.UD);
}

export function iopl(c: Cpu): number {
  return (c.flags >>> 12) & 3;
}

// ---------------- I/O ----------------

/** IOPL / TSS I/O-permission-bitmap check (SDM Vol.1 18.5). */
export function checkIo(c: Cpu, port: number, size: number): void {
  if (!c.v86 && (!c.pmode || c.cpl <= iopl(c))) return;
  const attr = c.segAttr[7];
  const limit = c.segLimit[7] >>> 0;
  if ((attr & 0xf) !== 9 && (attr & 0xf) !== 0xb) c.fault(Vec.GP, 0);
  if (limit < 103) c.fault(Vec.GP, 0);
  const base = c.segBase[7];
  const mapBase = sysRead16Lin(c, (base + 102) | 0);
  const at = mapBase + (port >>> 3);
  if (at + 1 > limit) c.fault(Vec.GP, 0);
  const bits = sysRead16Lin(c, (base + at) | 0) >>> (port & 7);
  if (bits & ((1 << size) - 1)) c.fault(Vec.GP, 0);
}

function sysRead16Lin(c: Cpu, lin: number): number {
  const cpl = c.cpl, r = c.rdMask;
  c.cpl = 0;
  c.rdMask = 1;
  try {
    return c.readL16(lin);
  } finally {
    c.cpl = cpl;
    c.rdMask = r;
  }
}

const SIZES = [1, 2, 4] as const;

/** IN: permission check, bus read, then the ioIn exit with the value. */
export function portIn(c: Cpu, port: number, s: number): number {
  const n = SIZES[s];
  checkIo(c, port, n);
  const v = c.io.read(port, n);
  exit(c, ExitKind.ioIn, port, n, v);
  checkA20(c);
  return v;
}

export function portOut(c: Cpu, port: number, s: number, v: number): void {
  const n = SIZES[s];
  checkIo(c, port, n);
  c.io.write(port, n, v);
  exit(c, ExitKind.ioOut, port, n, n === 4 ? v >>> 0 : v & (n === 1 ? 0xff : 0xffff));
  checkA20(c);
}

/** The A20 gate (port 0x92 / KBC) changed: cached translations hold stale frames. */
function checkA20(c: Cpu): void {
  if (c.a20 !== c.memory.a20Mask) {
    c.a20 = c.memory.a20Mask;
    c.flushTlb(true);
  }
}

// ---------------- flags ----------------

/** Writes the EFLAGS bits in `mask` from `v`; reports IF changes and re-derives the mode. */
export function writeFlags(c: Cpu, v: number, mask: number): void {
  const old = readEflags(c);
  const nf = (old & ~mask) | (v & mask) | 2;
  c.flags = nf;
  c.lazy = 0;
  c.breakLoop = true;
  if (mask & nf & RF) c.rfLoaded = true; // IRET / task switch: RF covers the next instruction
  if ((old ^ nf) & IF) {
    if (nf & IF) c.irqCheck = true;
    exit(c, ExitKind.ifChange, nf & IF ? 1 : 0, 0, 0);
  }
  if ((old ^ nf) & VM) c.updateMode();
}

export function pushf(c: Cpu): void {
  if (c.v86 && iopl(c) < 3) c.fault(Vec.GP, 0);
  const f = readEflags(c) & ~(VM | RF);
  c.push(f, c.opsize32);
}

/** POPF (SDM Vol.2): IOPL only at CPL 0, IF only when CPL <= IOPL; VM/VIP/VIF never; RF cleared. */
export function popf(c: Cpu): void {
  if (c.v86 && iopl(c) < 3) c.fault(Vec.GP, 0);
  const v = c.peek(0, c.opsize32);
  let mask = 0x3f7fd5 & ~(VM | VIP | VIF) | RF;
  if (c.cpl > 0) mask &= ~IOPL;
  if (c.pmode && c.cpl > iopl(c)) mask &= ~IF;
  if (!c.opsize32) mask &= 0xffff;
  c.setSp(c.regs[4] + (c.opsize32 ? 4 : 2));
  writeFlags(c, v & ~RF, mask);
}

export function cli(c: Cpu): void {
  if (c.v86 ? iopl(c) < 3 : c.pmode && c.cpl > iopl(c)) c.fault(Vec.GP, 0);
  settleFlags(c);
  c.flags &= ~IF;
  exit(c, ExitKind.cli, 0, 0, 0);
}

export function sti(c: Cpu): void {
  if (c.v86 ? iopl(c) < 3 : c.pmode && c.cpl > iopl(c)) c.fault(Vec.GP, 0);
  if ((c.flags & IF) === 0) {
    // SDM Vol.2 STI: interrupts stay blocked until after the next instruction.
    c.inhibit = true;
    c.inhibitSS = false;
  }
  c.flags |= IF;
  c.irqCheck = true;
  exit(c, ExitKind.sti, 0, 0, 0);
}

export function hlt(c: Cpu): void {
  requireCpl0(c);
  c.halted = true;
  exit(c, ExitKind.hlt, 0, 0, 0);
}

// ---------------- descriptor tables ----------------

/** 0F 00: SLDT STR LLDT LTR VERR VERW (protected mode only). */
export function group6(c: Cpu): void {
  const m = modrm(c);
  const o = (m >> 3) & 7;
  requireProtected(c);
  switch (o) {
    case 0:
    case 1: {
      const sel = c.segSel[o === 0 ? 6 : 7];
      if (m >= 0xc0) setReg(c, m & 7, c.opsize32 ? 2 : 1, sel);
      else c.write16(c.eaSeg, c.eaOff, sel);
      return;
    }
    case 2:
      requireCpl0(c);
      lldt(c, readE(c, m, 1));
      return;
    case 3:
      requireCpl0(c);
      ltr(c, readE(c, m, 1));
      return;
    case 4:
    case 5:
      verify(c, readE(c, m, 1), o === 5);
      return;
    default:
      c.fault(Vec.UD);
  }
}

function lldt(c: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0) {
    c.segSel[6] = sel;
    c.segBase[6] = 0;
    c.segLimit[6] = 0;
    c.segAttr[6] = 0;
  } else {
    if (sel & 4) c.fault(Vec.GP, sel & 0xfffc);
    if (fetchDescriptor(c, sel) === -1) c.fault(Vec.GP, sel & 0xfffc);
    const attr = (c.descHi >>> 8) & 0xf0ff;
    if ((attr & 0x1f) !== 2) c.fault(Vec.GP, sel & 0xfffc);
    if ((attr & ATTR_P) === 0) c.fault(Vec.NP, sel & 0xfffc);
    loadCacheFromDesc(c, 6, sel);
  }
  exit(c, ExitKind.lldt, sel, 0, 0);
}

function ltr(c: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0) c.fault(Vec.GP, 0);
  if (sel & 4) c.fault(Vec.GP, sel & 0xfffc);
  const lin = fetchDescriptor(c, sel);
  if (lin === -1) c.fault(Vec.GP, sel & 0xfffc);
  const attr = (c.descHi >>> 8) & 0xf0ff;
  const type = attr & 0x1f;
  if (type !== 1 && type !== 9) c.fault(Vec.GP, sel & 0xfffc);
  if ((attr & ATTR_P) === 0) c.fault(Vec.NP, sel & 0xfffc);
  c.descHi |= 0x200; // busy
  sysWrite8(c, lin + 5, c.descHi >>> 8);
  loadCacheFromDesc(c, 7, sel);
  exit(c, ExitKind.ltr, sel, 0, 0);
}

/** Descriptor visibility for LAR/LSL/VERR/VERW: privilege rule for all but conforming code. */
function visible(c: Cpu, sel: number): number {
  if ((sel & 0xfffc) === 0 || fetchDescriptor(c, sel) === -1) return -1;
  const attr = (c.descHi >>> 8) & 0xf0ff;
  const dpl = (attr >>> 5) & 3;
  const conforming = (attr & ATTR_S) !== 0 && (attr & 0xc) === 0xc;
  if (!conforming && (dpl < c.cpl || dpl < (sel & 3))) return -1;
  return attr;
}

function verify(c: Cpu, sel: number, write: boolean): void {
  const attr = visible(c, sel);
  let ok = attr >= 0 && (attr & ATTR_S) !== 0;
  if (ok) {
    ok = write ? (attr & 0xa) === 2 : (attr & 8) === 0 || (attr & 2) !== 0;
    // Conforming readable code passes VERR regardless of privilege; others were checked above.
  }
  settleFlags(c);
  c.flags = ok ? c.flags | ZF : c.flags & ~ZF;
}

/** LAR (0F 02) / LSL (0F 03). */
export function larLsl(c: Cpu, lsl: boolean): void {
  const m = modrm(c);
  requireProtected(c);
  const sel = readE(c, m, 1);
  const attr = visible(c, sel);
  let ok = attr >= 0;
  if (ok && (attr & ATTR_S) === 0) {
    const t = attr & 0xf;
    ok = lsl
      ? t === 1 || t === 2 || t === 3 || t === 9 || t === 0xb
      : t === 1 || t === 2 || t === 3 || t === 4 || t === 5 || t === 9 || t === 0xb || t === 0xc;
  }
  settleFlags(c);
  if (!ok) {
    c.flags &= ~ZF;
    return;
  }
  c.flags |= ZF;
  const s = c.opsize32 ? 2 : 1;
  const v = lsl ? descLimit(c.descLo, c.descHi) : c.descHi & 0x00f0ff00;
  setReg(c, (m >> 3) & 7, s, s === 2 ? v : v & 0xffff);
}

/** ARPL r/m16, r16 (protected mode only). */
export function arpl(c: Cpu): void {
  const m = modrm(c);
  requireProtected(c);
  const dst = m >= 0xc0 ? getReg(c, m & 7, 1) : (c.checkWrite(c.eaSeg, c.eaOff, 1), readE(c, m, 1));
  const src = getReg(c, (m >> 3) & 7, 1);
  settleFlags(c);
  if ((dst & 3) < (src & 3)) {
    writeE(c, m, 1, (dst & ~3) | (src & 3));
    c.flags |= ZF;
  } else c.flags &= ~ZF;
}

/** 0F 01: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG, VMCALL (C1) and VMMCALL (D9). */
export function group7(c: Cpu): void {
  const m = fetch8(c);
  const o = (m >> 3) & 7;
  if (m >= 0xc0) {
    if (m === 0xc1 || m === 0xd9) {
      hypercall(c, m === 0xc1 ? "vmcall" : "vmmcall");
      return;
    }
    if (o === 4) {
      smsw(c, m);
      return;
    }
    if (o === 6) {
      requireCpl0(c);
      lmsw(c, getReg(c, m & 7, 1));
      return;
    }
    c.fault(Vec.UD);
  }
  decodeEA(c, m);
  const seg = c.eaSeg, off = c.eaOff;
  const off2 = c.addr32 ? (off + 2) >>> 0 : (off + 2) & 0xffff;
  switch (o) {
    case 0:
    case 1: {
      // SGDT/SIDT: a 16-bit operand size stores a 24-bit base (upper byte 0), as QEMU.
      const base = o === 0 ? c.gdtrBase : c.idtrBase;
      c.checkWrite(seg, off, 1);
      c.checkWrite(seg, off2, 2);
      c.write16(seg, off, o === 0 ? c.gdtrLimit : c.idtrLimit);
      c.write32(seg, off2, c.opsize32 ? base : base & 0xffffff);
      return;
    }
    case 2:
    case 3: {
      requireCpl0(c);
      const limit = c.read16(seg, off);
      let base = c.read32(seg, off2) >>> 0;
      if (!c.opsize32) base &= 0xffffff;
      if (o === 2) {
        c.gdtrBase = base;
        c.gdtrLimit = limit;
        exit(c, ExitKind.lgdt, base, limit, 0);
      } else {
        c.idtrBase = base;
        c.idtrLimit = limit;
        exit(c, ExitKind.lidt, base, limit, 0);
      }
      return;
    }
    case 4:
      smsw(c, m);
      return;
    case 6:
      requireCpl0(c);
      lmsw(c, c.read16(seg, off));
      return;
    case 7: {
      requireCpl0(c);
      const lin = (c.segBase[seg] + off) | 0;
      invalidatePage(c, lin);
      exit(c, ExitKind.invlpg, lin >>> 0, 0, 0);
      return;
    }
    default:
      c.fault(Vec.UD);
  }
}

function hypercall(c: Cpu, kind: "vmcall" | "vmmcall"): void {
  const next = c.eip;
  c.eip = c.startEip;
  if (!c.hooks.hypercall(kind)) {
    c.eip = next;
    c.fault(Vec.UD);
  }
  if (c.eip === c.startEip) c.eip = next;
  c.irqCheck = true;
  c.breakLoop = true;
  // The hypervisor may have changed anything (mode, segments, paging).
  c.updateMode();
}

function smsw(c: Cpu, m: number): void {
  if (m >= 0xc0) setReg(c, m & 7, c.opsize32 ? 2 : 1, c.cr0);
  else c.write16(c.eaSeg, c.eaOff, c.cr0 & 0xffff);
}

/** LMSW: loads PE MP EM TS; cannot clear PE (SDM Vol.2 LMSW). */
function lmsw(c: Cpu, v: number): void {
  const nv = (c.cr0 & ~0xe) | (v & 0xf);
  setCr0(c, nv | (c.cr0 & CR0_PE));
  exit(c, ExitKind.lmsw, v & 0xffff, 0, 0);
}

export function clts(c: Cpu): void {
  requireCpl0(c);
  c.cr0 &= ~CR0_TS;
  exit(c, ExitKind.clts, 0, 0, 0);
}

export function invd(c: Cpu, wb: boolean): void {
  requireCpl0(c);
  exit(c, wb ? ExitKind.wbinvd : ExitKind.invd, 0, 0, 0);
}

// ---------------- control and debug registers ----------------

/** CR0 write with the consistency checks of SDM Vol.3 2.5 (#GP for PG without PE, NW without CD). */
export function setCr0(c: Cpu, v: number): void {
  v = (v & CR0_MASK) | CR0_ET;
  if ((v & CR0_PG) && !(v & CR0_PE)) c.fault(Vec.GP, 0);
  if ((v & CR0_NW) && !(v & CR0_CD)) c.fault(Vec.GP, 0);
  const old = c.cr0;
  c.cr0 = v;
  if ((old ^ v) & (CR0_PG | CR0_WP | CR0_PE)) {
    c.flushTlb(true);
    c.updateMode();
  }
}

export function movToCr(c: Cpu, n: number, v: number): void {
  if (n === 1 || n > 4) c.fault(Vec.UD);
  requireCpl0(c);
  switch (n) {
    case 0:
      setCr0(c, v);
      break;
    case 2:
      c.cr2 = v >>> 0;
      break;
    case 3:
      c.cr3 = v >>> 0;
      c.flushTlb(false);
      break;
    default: {
      if (v & ~CR4_MASK) c.fault(Vec.GP, 0);
      const old = c.cr4;
      c.cr4 = v;
      if ((old ^ v) & 0x90) c.flushTlb(true);
    }
  }
  exit(c, ExitKind.crWrite, n, v >>> 0, 0);
}

export function movFromCr(c: Cpu, n: number, reg: number): void {
  if (n === 1 || n > 4) c.fault(Vec.UD);
  requireCpl0(c);
  const v = n === 0 ? c.cr0 : n === 2 ? c.cr2 : n === 3 ? c.cr3 : c.cr4;
  c.regs[reg] = v;
  exit(c, ExitKind.crRead, n, v >>> 0, 0);
}

/** DR4/DR5 alias DR6/DR7 unless CR4.DE, which makes them #UD (SDM Vol.3 17.2.2). */
function drIndex(c: Cpu, n: number): number {
  if (n === 4 || n === 5) {
    if (c.cr4 & CR4_DE) c.fault(Vec.UD);
    return n + 2;
  }
  return n;
}

export function movToDr(c: Cpu, n: number, v: number): void {
  requireCpl0(c);
  const i = drIndex(c, n);
  if (i === 6) c.dr[6] = (v & 0xe00f) | 0xffff0ff0;
  else if (i === 7) c.dr[7] = (v & 0xffff2bff) | 0x400;
  else c.dr[i] = v;
  updateBreakpoints(c);
  exit(c, ExitKind.drWrite, n, v >>> 0, 0);
}

/**
 * Recomputes whether DR7 enables any DR0-3 execution breakpoint (R/W = 00) or data breakpoint
 * (`watchpoints.ts`); the TLB is flushed while data breakpoints are on, so that no watched page
 * keeps a fast-path entry.
 */
export function updateBreakpoints(c: Cpu): void {
  const d7 = c.dr[7];
  let on = false;
  for (let i = 0; i < 4; i++) {
    if ((d7 >>> (i * 2)) & 3 && ((d7 >>> (16 + i * 4)) & 3) === 0) on = true;
  }
  const data = anyDataBreakpoint(c);
  if (data || c.dataBp) c.flushTlb(true);
  c.dataBp = data;
  c.breakpoints = on || data;
}

/**
 * Instruction breakpoints: #DB fault before the instruction when its linear address matches an
 * enabled DR0-3 with R/W = 00, setting DR6.Bn (SDM Vol.3 17.2.4, 17.3.1.1). Data breakpoints:
 * `watchpoints.ts`.
 */
export function checkCodeBreakpoints(c: Cpu): void {
  const lin = (c.segBase[1] + c.eip) | 0;
  const d7 = c.dr[7];
  let hit = 0;
  for (let i = 0; i < 4; i++) {
    if ((d7 >>> (i * 2)) & 3 && ((d7 >>> (16 + i * 4)) & 3) === 0 && c.dr[i] === lin) hit |= 1 << i;
  }
  if (hit) {
    c.dr[6] = (c.dr[6] & ~0xf) | hit;
    c.fault(Vec.DB);
  }
}

export function movFromDr(c: Cpu, n: number, reg: number): void {
  requireCpl0(c);
  c.regs[reg] = c.dr[drIndex(c, n)];
}

// ---------------- MSRs, CPUID, TSC ----------------

/** RDMSR: hooks first, then the native MSRs (here and `msr.ts`); unknown index => #GP(0). */
export function rdmsr(c: Cpu): void {
  requireCpl0(c);
  const idx = c.regs[1] >>> 0;
  const out = c.scratch;
  if (!c.hooks.rdmsr(idx, out)) {
    switch (idx) {
      case 0x10: {
        const t = c.clock.tsc();
        out[0] = Number(t & 0xffffffffn);
        out[1] = Number(t >> 32n);
        break;
      }
      case 0x1b:
        out[0] = c.apicBase;
        out[1] = 0;
        break;
      case 0x174:
        out[0] = c.sysenterCs;
        out[1] = 0;
        break;
      case 0x175:
        out[0] = c.sysenterEsp;
        out[1] = 0;
        break;
      case 0x176:
        out[0] = c.sysenterEip;
        out[1] = 0;
        break;
      default:
        if (!c.msrFile.read(idx, out)) c.fault(Vec.GP, 0);
    }
  }
  c.regs[0] = out[0];
  c.regs[2] = out[1];
  exit(c, ExitKind.rdmsr, idx, out[0] >>> 0, out[1] >>> 0);
}

export function wrmsr(c: Cpu): void {
  requireCpl0(c);
  const idx = c.regs[1] >>> 0;
  const lo = c.regs[0] >>> 0, hi = c.regs[2] >>> 0;
  if (!c.hooks.wrmsr(idx, lo, hi)) {
    switch (idx) {
      case 0x10: {
        // IA32_TIME_STAMP_COUNTER: future reads continue from the written value.
        const want = (BigInt(hi) << 32n) | BigInt(lo);
        const now = c.clock.tsc() - c.clock.tscOffset;
        c.clock.tscOffset = want - now;
        break;
      }
      case 0x1b:
        // Only bit 11 (global enable) and the base are writable; BSP bit 8 stays.
        c.apicBase = ((lo & 0xfffff800) | (c.apicBase & 0x100)) | 0;
        break;
      case 0x174:
        c.sysenterCs = lo & 0xffff;
        break;
      case 0x175:
        c.sysenterEsp = lo | 0;
        break;
      case 0x176:
        c.sysenterEip = lo | 0;
        break;
      default:
        if (c.msrFile.write(idx, lo, hi) !== "ok") c.fault(Vec.GP, 0);
    }
  }
  exit(c, ExitKind.wrmsr, idx, lo, hi);
}

export function rdtsc(c: Cpu): void {
  if ((c.cr4 & CR4_TSD) && c.cpl > 0) c.fault(Vec.GP, 0);
  const t = c.clock.tsc();
  c.regs[0] = Number(t & 0xffffffffn);
  c.regs[2] = Number(t >> 32n);
  exit(c, ExitKind.rdtsc, c.regs[0] >>> 0, 0, 0);
}

/** CPUID leaf 1 EDX: FPU DE PSE TSC MSR CX8 APIC SEP PGE CMOV, i.e. what this CPU implements. */
export const CPUID_1_EDX = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 8) |
  (1 << 9) | (1 << 11) | (1 << 13) | (1 << 15);
/** Family 6, model 3, stepping 3 (a Pentium II). */
export const CPUID_SIGNATURE = 0x633;

/**
 * The bare-hardware CPUID answer (SDM Vol.2 CPUID): leaves 0, 1 and 0x80000000, written to
 * `out` as EAX, EBX, ECX, EDX. Also used to record the CPU identity in trace headers.
 */
export function nativeCpuid(leaf: number, _subleaf: number, out: Int32Array): void {
  out.fill(0);
  if (leaf === 0) {
    out[0] = 1;
    out[1] = 0x756e6547; // "Genu"
    out[3] = 0x49656e69; // "ineI"
    out[2] = 0x6c65746e; // "ntel"
  } else if (leaf === 1) {
    out[0] = CPUID_SIGNATURE;
    out[3] = CPUID_1_EDX;
  } else if (leaf === 0x80000000) {
    out[0] = 0x80000000 | 0; // no extended leaves beyond this one
  } else if (leaf > 1 && leaf < 0x80000000) {
    // Beyond the maximum basic leaf: the answer of the highest basic leaf (SDM Vol.2 CPUID).
    out[0] = CPUID_SIGNATURE;
    out[3] = CPUID_1_EDX;
  }
}

/** CPUID: the native answer, then the hook (backend) may rewrite it. */
export function cpuid(c: Cpu): void {
  const leaf = c.regs[0] >>> 0, sub = c.regs[1] >>> 0;
  const out = c.scratch;
  nativeCpuid(leaf, sub, out);
  if (leaf === 1) out[1] |= c.apicId << 24; // initial APIC ID (SDM Vol.2 CPUID, EBX[31:24])
  c.hooks.cpuid(leaf, sub, out);
  c.regs[0] = out[0];
  c.regs[3] = out[1];
  c.regs[1] = out[2];
  c.regs[2] = out[3];
  exit(c, ExitKind.cpuid, leaf, sub, 0);
}

// ---------------- SYSENTER / SYSEXIT ----------------

function flatSeg(c: Cpu, i: number, sel: number, attr: number): void {
  c.segSel[i] = sel;
  c.segBase[i] = 0;
  c.segLimit[i] = -1;
  c.segAttr[i] = attr;
  refreshSegment(c, i);
}

/** SYSENTER (SDM Vol.2): flat ring-0 CS/SS from IA32_SYSENTER_CS, clears VM, IF, RF. */
export function sysenter(c: Cpu): void {
  if ((c.cr0 & CR0_PE) === 0 || (c.sysenterCs & 0xfffc) === 0) c.fault(Vec.GP, 0);
  settleFlags(c);
  c.flags &= ~(VM | IF | RF);
  const cs = c.sysenterCs & 0xfffc;
  c.cpl = 0;
  flatSeg(c, 1, cs, 0xc09b);
  flatSeg(c, 2, cs + 8, 0xc093);
  c.regs[4] = c.sysenterEsp;
  c.eip = c.sysenterEip >>> 0;
  c.updateMode();
  exit(c, ExitKind.sysenter, 0, 0, 0);
}

/** SYSEXIT: back to flat ring 3 at EDX with ESP = ECX. */
export function sysexit(c: Cpu): void {
  if (!c.pmode || c.cpl !== 0 || (c.sysenterCs & 0xfffc) === 0) c.fault(Vec.GP, 0);
  const cs = c.sysenterCs & 0xfffc;
  c.cpl = 3;
  flatSeg(c, 1, (cs + 16) | 3, 0xc0fb);
  flatSeg(c, 2, (cs + 24) | 3, 0xc0f3);
  c.regs[4] = c.regs[1];
  c.eip = c.regs[2] >>> 0;
  c.updateMode();
  exit(c, ExitKind.sysexit, 0, 0, 0);
}

// Kept together with the other EFLAGS masks used by IRET/POPF.
export const EFLAGS_IRET_CPL0 = 0x3f7fd5 | TF | AC | ID;
