/**
 * The x87 subset: FNINIT, FNCLEX, FNSTSW (AX and m16), FNSTCW, FLDCW, FNSTENV/FLDENV,
 * FNSAVE/FRSTOR (the register file is kept as an opaque 80-byte image so save/restore round-trips),
 * FWAIT, the legacy FNENI/FNDISI/FNSETPM no-ops, and the CR0.EM/MP/TS/NE rules (SDM Vol.3 2.5,
 * Table 2-2; Vol.1 8.7).
 *
 * Any other x87 opcode (the arithmetic and load/store instructions) raises #UD after the #NM and
 * pending-#MF checks: this CPU does not compute floating point, and a detectable #UD is preferred
 * over silently wrong results. With CR0.NE = 0, unmasked exceptions would signal FERR# (IRQ13);
 * that line is not modelled, so nothing is raised.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { Vec } from "./fault.ts";
import { decodeEA, fetch8 } from "./operands.ts";

const CR0_MP = 2, CR0_EM = 4, CR0_TS = 8, CR0_NE = 0x20;
/** FPU status word ES (exception summary) and B (busy) bits. */
const SW_ES = 0x80, SW_B = 0x8000;

/** Recomputes ES/B from the exception flags not masked in the control word. */
function updateSummary(c: Cpu): void {
  if (c.fpuSw & ~c.fpuCw & 0x3f) c.fpuSw |= SW_ES | SW_B;
  else c.fpuSw &= ~(SW_ES | SW_B);
}

/** #MF for a waiting instruction when an unmasked exception is pending and CR0.NE = 1. */
function checkPending(c: Cpu): void {
  if ((c.fpuSw & SW_ES) && (c.cr0 & CR0_NE)) c.fault(Vec.MF);
}

/** FWAIT/WAIT (9B): #NM when MP and TS, then pending #MF. */
export function fwait(c: Cpu): void {
  if ((c.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) c.fault(Vec.NM);
  checkPending(c);
}

function fninit(c: Cpu): void {
  c.fpuCw = 0x37f;
  c.fpuSw = 0;
  c.fpuTw = 0xffff;
}

/** Environment size by operand size: 28 bytes (32-bit) or 14 bytes (16-bit). */
function storeEnv(c: Cpu): number {
  const seg = c.eaSeg, o = c.eaOff;
  const at = (n: number) => c.addr32 ? (o + n) >>> 0 : (o + n) & 0xffff;
  if (c.opsize32) {
    c.checkWrite(seg, o, 2);
    c.checkWrite(seg, at(24), 2);
    c.write32(seg, o, c.fpuCw | 0xffff0000);
    c.write32(seg, at(4), c.fpuSw | 0xffff0000);
    c.write32(seg, at(8), c.fpuTw | 0xffff0000);
    // FPU instruction/operand pointers: no x87 instruction that sets them is implemented.
    for (let i = 12; i < 28; i += 4) c.write32(seg, at(i), 0);
    return 28;
  }
  c.checkWrite(seg, o, 1);
  c.checkWrite(seg, at(12), 1);
  c.write16(seg, o, c.fpuCw);
  c.write16(seg, at(2), c.fpuSw);
  c.write16(seg, at(4), c.fpuTw);
  for (let i = 6; i < 14; i += 2) c.write16(seg, at(i), 0);
  return 14;
}

function loadEnv(c: Cpu): number {
  const seg = c.eaSeg, o = c.eaOff;
  const at = (n: number) => c.addr32 ? (o + n) >>> 0 : (o + n) & 0xffff;
  const step = c.opsize32 ? 4 : 2;
  const cw = c.read16(seg, o), sw = c.read16(seg, at(step)), tw = c.read16(seg, at(2 * step));
  c.fpuCw = cw;
  c.fpuSw = sw;
  c.fpuTw = tw;
  updateSummary(c);
  return c.opsize32 ? 28 : 14;
}

/** Executes an ESC opcode (D8-DF). */
export function fpuEscape(c: Cpu, op: number): void {
  const m = fetch8(c);
  if (m < 0xc0) decodeEA(c, m);
  if (c.cr0 & (CR0_EM | CR0_TS)) c.fault(Vec.NM);
  const reg = (m >> 3) & 7;
  if (m >= 0xc0) {
    if (op === 0xdb && m === 0xe3) return fninit(c);
    if (op === 0xdb && m === 0xe2) {
      c.fpuSw &= 0x7f00; // FNCLEX: clears exception flags, ES, SF and B
      return;
    }
    if (op === 0xdb && (m === 0xe0 || m === 0xe1 || m === 0xe4)) return; // FNENI/FNDISI/FNSETPM
    if (op === 0xdf && m === 0xe0) {
      c.regs16[0] = c.fpuSw;
      return;
    }
    checkPending(c);
    if (op === 0xd9 && m === 0xd0) return; // FNOP
    c.fault(Vec.UD);
  }
  switch ((op << 3 | reg) & 0x3f) {
    case (0xd9 & 7) << 3 | 7: // FNSTCW m16
      c.write16(c.eaSeg, c.eaOff, c.fpuCw);
      return;
    case (0xdd & 7) << 3 | 7: // FNSTSW m16
      c.write16(c.eaSeg, c.eaOff, c.fpuSw);
      return;
    case (0xd9 & 7) << 3 | 5: // FLDCW m16
      checkPending(c);
      c.fpuCw = c.read16(c.eaSeg, c.eaOff);
      updateSummary(c);
      return;
    case (0xd9 & 7) << 3 | 6: // FNSTENV: then all exceptions masked
      storeEnv(c);
      c.fpuCw |= 0x3f;
      updateSummary(c);
      return;
    case (0xd9 & 7) << 3 | 4: // FLDENV
      loadEnv(c);
      return;
    case (0xdd & 7) << 3 | 6: { // FNSAVE: environment + 80-byte register image, then FNINIT
      const seg = c.eaSeg, o = c.eaOff;
      const envSize = c.opsize32 ? 28 : 14;
      const end = c.addr32 ? (o + envSize + 79) >>> 0 : (o + envSize + 79) & 0xffff;
      c.checkWrite(seg, end, 0);
      storeEnv(c);
      for (let i = 0; i < 80; i++) {
        c.write8(
          seg,
          c.addr32 ? (o + envSize + i) >>> 0 : (o + envSize + i) & 0xffff,
          c.fpuRegs[i],
        );
      }
      fninit(c);
      return;
    }
    case (0xdd & 7) << 3 | 4: { // FRSTOR
      const seg = c.eaSeg, o = c.eaOff;
      const envSize = c.opsize32 ? 28 : 14;
      const img = c.tmpFpu;
      for (let i = 0; i < 80; i++) {
        img[i] = c.read8(seg, c.addr32 ? (o + envSize + i) >>> 0 : (o + envSize + i) & 0xffff);
      }
      loadEnv(c);
      c.fpuRegs.set(img);
      return;
    }
    default:
      checkPending(c);
      c.fault(Vec.UD);
  }
}
