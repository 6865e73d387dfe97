/**
 * CPU snapshots: the complete architectural state (plus the interrupt shadow and halt state) as
 * JSON-serialisable data. Caches (TLB, fetch window) are not state and are rebuilt on restore.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { readEflags } from "./flags.ts";
import { updateBreakpoints } from "./system.ts";

/** Saved CPU state; all numbers are unsigned 32-bit or smaller unless noted. */
export interface CpuSnapshot {
  version: 1;
  regs: number[];
  eip: number;
  eflags: number;
  /** Per segment ES CS SS DS FS GS LDTR TR: [selector, base, limit, attr]. */
  segs: number[][];
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
  dr: number[];
  cpl: number;
  halted: boolean;
  gdtr: [number, number];
  idtr: [number, number];
  /** SYSENTER_CS, SYSENTER_ESP, SYSENTER_EIP, IA32_APIC_BASE (low dword). */
  msrs: number[];
  /** The `msr.ts` file as [lo, hi] pairs (absent in older snapshots: power-on values). */
  msrFile?: number[];
  /** x87 control, status, tag words and the 80-byte register image. */
  fpu: { cw: number; sw: number; tw: number; regs: number[] };
  inhibit: boolean;
  inhibitSS: boolean;
  /** NMI latched / NMI blocking until IRET (absent in older snapshots: false). */
  nmiPending?: boolean;
  nmiBlocked?: boolean;
  shutdown: boolean;
  shutdownVector: number;
}

/** Captures `c`. */
export function takeSnapshot(c: Cpu): CpuSnapshot {
  const u = (v: number) => v >>> 0;
  const segs: number[][] = [];
  for (let i = 0; i < 8; i++) {
    segs.push([c.segSel[i] & 0xffff, u(c.segBase[i]), u(c.segLimit[i]), c.segAttr[i] & 0xffff]);
  }
  return {
    version: 1,
    regs: Array.from(c.regs, u),
    eip: u(c.eip),
    eflags: u(readEflags(c)),
    segs,
    cr0: u(c.cr0),
    cr2: u(c.cr2),
    cr3: u(c.cr3),
    cr4: u(c.cr4),
    dr: Array.from(c.dr, u),
    cpl: c.cpl,
    halted: c.halted,
    gdtr: [u(c.gdtrBase), c.gdtrLimit],
    idtr: [u(c.idtrBase), c.idtrLimit],
    msrs: [c.sysenterCs, u(c.sysenterEsp), u(c.sysenterEip), u(c.apicBase)],
    msrFile: Array.from(c.msrFile.values, u),
    fpu: { cw: c.fpuCw, sw: c.fpuSw, tw: c.fpuTw, regs: Array.from(c.fpuRegs) },
    inhibit: c.inhibit,
    inhibitSS: c.inhibitSS,
    nmiPending: c.nmiPending,
    nmiBlocked: c.nmiBlocked,
    shutdown: c.shutdown,
    shutdownVector: c.shutdownVector,
  };
}

function need(ok: boolean, what: string): void {
  if (!ok) throw new TypeError(`CPU snapshot: ${what}`);
}

function isNums(a: unknown, n: number): a is number[] {
  return Array.isArray(a) && a.length === n && a.every((v) => typeof v === "number");
}

/** Restores a snapshot into `c`; throws a TypeError naming the bad field on malformed input. */
export function restoreSnapshot(c: Cpu, s: CpuSnapshot): void {
  need(s !== null && typeof s === "object" && s.version === 1, "missing or unknown version");
  need(isNums(s.regs, 8), "regs must be 8 numbers");
  need(
    Array.isArray(s.segs) && s.segs.length === 8 && s.segs.every((x) => isNums(x, 4)),
    "segs must be 8 x [sel, base, limit, attr]",
  );
  need(isNums(s.dr, 8), "dr must be 8 numbers");
  need(isNums(s.gdtr, 2) && isNums(s.idtr, 2), "gdtr/idtr must be [base, limit]");
  need(isNums(s.msrs, 4), "msrs must be 4 numbers");
  need(
    s.msrFile === undefined || isNums(s.msrFile, c.msrFile.values.length),
    `msrFile must be ${c.msrFile.values.length} numbers`,
  );
  need(s.fpu !== null && typeof s.fpu === "object" && isNums(s.fpu.regs, 80), "fpu malformed");
  for (const k of ["eip", "eflags", "cr0", "cr2", "cr3", "cr4", "cpl"] as const) {
    need(typeof s[k] === "number", `${k} must be a number`);
  }
  c.regs.set(s.regs.map((v) => v | 0));
  for (let i = 0; i < 8; i++) {
    c.segSel[i] = s.segs[i][0];
    c.segBase[i] = s.segs[i][1];
    c.segLimit[i] = s.segs[i][2];
    c.segAttr[i] = s.segs[i][3];
  }
  c.cr0 = s.cr0 | 0;
  c.cr2 = s.cr2 >>> 0;
  c.cr3 = s.cr3 >>> 0;
  c.cr4 = s.cr4 | 0;
  c.dr.set(s.dr.map((v) => v | 0));
  updateBreakpoints(c);
  c.gdtrBase = s.gdtr[0] >>> 0;
  c.gdtrLimit = s.gdtr[1] & 0xffff;
  c.idtrBase = s.idtr[0] >>> 0;
  c.idtrLimit = s.idtr[1] & 0xffff;
  c.sysenterCs = s.msrs[0] & 0xffff;
  c.sysenterEsp = s.msrs[1] | 0;
  c.sysenterEip = s.msrs[2] | 0;
  c.apicBase = s.msrs[3] | 0;
  if (s.msrFile) c.msrFile.values.set(s.msrFile.map((v) => v | 0));
  else c.msrFile.reset();
  c.fpuCw = s.fpu.cw & 0xffff;
  c.fpuSw = s.fpu.sw & 0xffff;
  c.fpuTw = s.fpu.tw & 0xffff;
  c.fpuRegs.set(s.fpu.regs);
  c.halted = !!s.halted;
  c.inhibit = !!s.inhibit;
  c.inhibitSS = !!s.inhibitSS;
  c.nmiPending = !!s.nmiPending;
  c.nmiBlocked = !!s.nmiBlocked;
  c.shutdown = !!s.shutdown;
  c.shutdownVector = s.shutdownVector | 0;
  c.flags = (s.eflags | 2) & 0x3f7fd7;
  c.lazy = 0;
  c.eip = s.eip >>> 0;
  c.cpl = s.cpl & 3;
  c.updateMode();
  c.cpl = s.cpl & 3;
  c.flushTlb(true);
  c.irqCheck = true;
  c.breakLoop = true;
}
