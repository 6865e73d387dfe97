/**
 * The x87 FPU: decoding of the escape opcodes D8-DF (SDM Vol.2 Appendix A.4, Tables A-7 to
 * A-22) and of FXSAVE/FXRSTOR (0F AE /0, /1), the CR0.EM/MP/TS/NE rules (SDM Vol.3 2.5, Table
 * 2-2; Vol.1 8.7) and the pending-exception check of waiting instructions (Vol.1 8.6). The
 * semantics are in core/cpu/x87_*.ts: x87_float80.ts and x87_ops.ts (formats and arithmetic),
 * x87_stack.ts (registers, tags, exception delivery), x87_arith.ts, x87_compare.ts,
 * x87_load_store.ts, x87_control.ts and x87_transcendental.ts (one file per family, in this
 * folder: the semantics and the CPU import each other).
 *
 * With CR0.NE = 0 an unmasked exception would signal FERR# (IRQ13 through the PIC); that line is
 * not modelled, so nothing is raised then.
 *
 * The undocumented aliases that P6 parts and QEMU execute are decoded as their documented
 * twins: D9 D8+i (FSTP), DC D0+i/D8+i (FCOM/FCOMP), DD C8+i and DF C8+i (FXCH), DE D0+i
 * (FCOMP), DF D0+i/D8+i (FSTP), DF C0+i (FFREEP). FISTTP (SSE3) is #UD on this CPU.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { Vec } from "./fault.ts";
import { decodeEA, fetch8 } from "./operands.ts";
import { CPUID_1_EDX } from "./system.ts";
import {
  arithMem,
  arithSt0,
  arithSti,
  fprem,
  frndint,
  fscale,
  fsqrt,
  fxtract,
  signOp,
} from "./x87_arith.ts";
import { fcmov, fcom, fcomSt, ftst, fxam } from "./x87_compare.ts";
import {
  fninit,
  fnsave,
  frstor,
  fxrstor,
  fxsave,
  incstp,
  loadEnv,
  storeEnv,
} from "./x87_control.ts";
import {
  ffree,
  fldConst,
  fldMem,
  fldSt,
  fstMem,
  fstSt,
  fxch,
  loadOperand,
} from "./x87_load_store.ts";
import { st } from "./x87_float80.ts";
import { updateSummary } from "./x87_stack.ts";
import { transcendental } from "./x87_transcendental.ts";

const CR0_MP = 2, CR0_EM = 4, CR0_TS = 8, CR0_NE = 0x20;
/** CPUID.01H:EDX.FXSR: FXSAVE/FXRSTOR are #UD unless the CPU model reports it. */
const CPUID_FXSR = 1 << 24;

/** #MF for a waiting instruction when an unmasked exception is pending and CR0.NE = 1. */
function checkPending(c: Cpu): void {
  if ((c.fpuSw & 0x80) && (c.cr0 & CR0_NE)) c.fault(Vec.MF);
}

/** FWAIT/WAIT (9B): #NM when MP and TS, then pending #MF. */
export function fwait(c: Cpu): void {
  if ((c.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) c.fault(Vec.NM);
  checkPending(c);
}

/** Memory-operand format of the arithmetic groups D8/DA/DC/DE (see loadOperand). */
const ARITH_FMT = [0, 1, 2, 3];

/** Executes an ESC opcode (D8-DF). */
export function fpuEscape(c: Cpu, op: number): void {
  const m = fetch8(c);
  if (m < 0xc0) decodeEA(c, m);
  if (c.cr0 & (CR0_EM | CR0_TS)) c.fault(Vec.NM);
  const reg = (m >> 3) & 7, i = m & 7;
  const esc = op & 7;
  if (m >= 0xc0) {
    // The non-waiting control forms first: they skip the pending-exception check.
    if (op === 0xdb && m >= 0xe0 && m <= 0xe4) {
      if (m === 0xe3) fninit(c);
      else if (m === 0xe2) c.fpuSw &= 0x7f00; // FNCLEX: exception flags, ES, SF and B
      return; // FNENI/FNDISI/FNSETPM: no-ops after the 287
    }
    if (op === 0xdf && m === 0xe0) {
      c.regs16[0] = c.fpuSw;
      return;
    }
    checkPending(c);
    return escReg(c, esc, reg, i, m);
  }
  switch (esc << 3 | reg) {
    case 1 << 3 | 7: // FNSTCW m16
      return c.write16(c.eaSeg, c.eaOff, c.fpuCw);
    case 5 << 3 | 7: // FNSTSW m16
      return c.write16(c.eaSeg, c.eaOff, c.fpuSw);
    case 1 << 3 | 6: // FNSTENV: then all exceptions masked
      storeEnv(c);
      c.fpuCw |= 0x3f;
      return updateSummary(c);
    case 5 << 3 | 6: // FNSAVE
      return fnsave(c);
  }
  checkPending(c);
  escMem(c, esc, reg);
}

function ud(c: Cpu): never {
  return c.fault(Vec.UD);
}

function escMem(c: Cpu, esc: number, reg: number): void {
  switch (esc) {
    case 0:
    case 2:
    case 4:
    case 6: {
      const flags = loadOperand(c, ARITH_FMT[esc >> 1]);
      if (reg === 2 || reg === 3) return fcom(c, -1, st.se, st.sig, true, false, reg - 2, flags);
      return arithMem(c, reg, st.se, st.sig, flags);
    }
    case 1:
      if (reg === 0) return fldMem(c, 0);
      if (reg === 2 || reg === 3) return fstMem(c, 0, reg - 2);
      if (reg === 4) return void loadEnv(c);
      if (reg === 5) {
        c.fpuCw = c.read16(c.eaSeg, c.eaOff);
        return updateSummary(c);
      }
      return ud(c);
    case 3:
      if (reg === 0) return fldMem(c, 1);
      if (reg === 2 || reg === 3) return fstMem(c, 1, reg - 2);
      if (reg === 5) return fldMem(c, 5);
      if (reg === 7) return fstMem(c, 5, 1);
      return ud(c);
    case 5:
      if (reg === 0) return fldMem(c, 2);
      if (reg === 2 || reg === 3) return fstMem(c, 2, reg - 2);
      if (reg === 4) return frstor(c);
      return ud(c);
    default: // DF
      if (reg === 0) return fldMem(c, 3);
      if (reg === 2 || reg === 3) return fstMem(c, 3, reg - 2);
      if (reg === 4) return fldMem(c, 6);
      if (reg === 5) return fldMem(c, 4);
      if (reg === 6) return fstMem(c, 6, 1);
      if (reg === 7) return fstMem(c, 4, 1);
      return ud(c);
  }
}

function escReg(c: Cpu, esc: number, reg: number, i: number, m: number): void {
  switch (esc) {
    case 0:
      if (reg === 2 || reg === 3) return fcomSt(c, i, true, false, reg - 2);
      return arithSt0(c, reg, i);
    case 1:
      return escD9(c, reg, i, m);
    case 2:
      if (reg < 4) return fcmov(c, false, reg, i);
      if (m === 0xe9) return fcomSt(c, 1, false, false, 2); // FUCOMPP
      return ud(c);
    case 3:
      if (reg < 4) return fcmov(c, true, reg, i);
      if (reg === 5 || reg === 6) return fcomSt(c, i, reg === 6, true, 0); // FUCOMI/FCOMI
      return ud(c);
    case 4:
      if (reg === 2 || reg === 3) return fcomSt(c, i, true, false, reg - 2);
      return arithSti(c, reg, i, 0);
    case 5:
      if (reg === 0) return ffree(c, i, 0);
      if (reg === 1) return fxch(c, i);
      if (reg === 2 || reg === 3) return fstSt(c, i, reg - 2);
      if (reg === 4 || reg === 5) return fcomSt(c, i, false, false, reg - 4); // FUCOM(P)
      return ud(c);
    case 6:
      if (reg === 2) return fcomSt(c, i, true, false, 1);
      if (reg === 3) return m === 0xd9 ? fcomSt(c, 1, true, false, 2) : ud(c); // FCOMPP
      return arithSti(c, reg, i, 1);
    default: // DF
      if (reg === 0) return ffree(c, i, 1);
      if (reg === 1) return fxch(c, i);
      if (reg === 2 || reg === 3) return fstSt(c, i, 1);
      if (reg === 5 || reg === 6) return fcomSt(c, i, reg === 6, true, 1); // FUCOMIP/FCOMIP
      return ud(c);
  }
}

function escD9(c: Cpu, reg: number, i: number, m: number): void {
  switch (reg) {
    case 0:
      return fldSt(c, i);
    case 1:
      return fxch(c, i);
    case 2:
      return m === 0xd0 ? undefined : ud(c); // FNOP
    case 3:
      return fstSt(c, i, 1);
    case 4:
      if (i === 0 || i === 1) return signOp(c, i === 1);
      if (i === 4) return ftst(c);
      if (i === 5) return fxam(c);
      return ud(c);
    case 5:
      return i === 7 ? ud(c) : fldConst(c, i);
    case 6:
      if (i === 4) return fxtract(c);
      if (i === 5) return fprem(c, false);
      if (i === 6 || i === 7) return incstp(c, i === 7 ? 1 : -1);
      return transcendental(c, i);
    default:
      if (i === 0) return fprem(c, true);
      if (i === 2) return fsqrt(c);
      if (i === 4) return frndint(c);
      if (i === 5) return fscale(c);
      return transcendental(c, i + 8);
  }
}

/** 0F AE: FXSAVE (/0) and FXRSTOR (/1); the other forms (SSE, CLFLUSH) are #UD on this CPU. */
export function op0fae(c: Cpu): void {
  const m = fetch8(c);
  const reg = (m >> 3) & 7;
  if (!(CPUID_1_EDX & CPUID_FXSR) || m >= 0xc0 || reg > 1) c.fault(Vec.UD);
  decodeEA(c, m);
  if (c.cr0 & (CR0_EM | CR0_TS)) c.fault(Vec.NM);
  if (reg === 0) fxsave(c);
  else fxrstor(c);
}
