/**
 * The x87 register stack and exception delivery: TOP, tags, ST(i) access, push/pop, stack faults,
 * and committing an operation's result under the exception masks (SDM Vol.1 8.1-8.5).
 *
 * Masked exceptions deliver the default response computed by the operation (QNaN indefinite,
 * infinity, denormal, rounded result). Unmasked invalid-operation, denormal-operand and
 * divide-by-zero exceptions are pre-computation exceptions: the destination and TOP are left
 * unchanged (SDM Vol.1 8.5.1-8.5.3). Unmasked overflow/underflow store the re-biased result
 * (8.5.4, 8.5.5). An unmasked exception sets ES and B; the #MF (CR0.NE = 1) is taken at the next
 * waiting x87 instruction (8.6).
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { DE, IE, INDEF_SE, INDEF_SIG, PE, SF, st, ZE } from "./x87_float80.ts";

/** Status word bits. */
export const C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000, ES = 0x80, B = 0x8000;
export const CC = C0 | C1 | C2 | C3;

export function top(c: Cpu): number {
  return (c.fpuSw >> 11) & 7;
}

export function setTop(c: Cpu, t: number): void {
  c.fpuSw = (c.fpuSw & ~0x3800) | ((t & 7) << 11);
}

/** Physical register number of ST(i). */
export function phys(c: Cpu, i: number): number {
  return (top(c) + i) & 7;
}

export function isEmpty(c: Cpu, i: number): boolean {
  return ((c.fpuTw >> (phys(c, i) << 1)) & 3) === 3;
}

export function seOf(c: Cpu, i: number): number {
  return c.fpuView.getUint16(phys(c, i) * 10 + 8, true);
}

export function sigOf(c: Cpu, i: number): bigint {
  return c.fpuView.getBigUint64(phys(c, i) * 10, true);
}

/** Tag of a value (SDM Vol.1 8.1.7): 0 valid, 1 zero, 2 special. */
export function tagOf(se: number, sig: bigint): number {
  const exp = se & 0x7fff;
  if (exp === 0 && sig === 0n) return 1;
  return exp === 0 || exp === 0x7fff || (sig >> 63n) === 0n ? 2 : 0;
}

/** Writes physical register `r` and its tag. */
export function writePhys(c: Cpu, r: number, se: number, sig: bigint): void {
  c.fpuView.setBigUint64(r * 10, sig, true);
  c.fpuView.setUint16(r * 10 + 8, se, true);
  c.fpuTw = (c.fpuTw & ~(3 << (r << 1))) | (tagOf(se, sig) << (r << 1));
}

export function writeSt(c: Cpu, i: number, se: number, sig: bigint): void {
  writePhys(c, phys(c, i), se, sig);
}

/** Recomputes the tag of every non-empty register from its contents (FLDENV, FRSTOR). */
export function retag(c: Cpu): void {
  for (let r = 0; r < 8; r++) {
    if (((c.fpuTw >> (r << 1)) & 3) !== 3) {
      const v = c.fpuView;
      writePhys(c, r, v.getUint16(r * 10 + 8, true), v.getBigUint64(r * 10, true));
    }
  }
}

export function pop(c: Cpu): void {
  c.fpuTw |= 3 << (top(c) << 1);
  setTop(c, top(c) + 1);
}

/** Decrements TOP and stores a value there (the caller checked for overflow). */
export function push(c: Cpu, se: number, sig: bigint): void {
  setTop(c, top(c) - 1);
  writeSt(c, 0, se, sig);
}

/** Recomputes ES and B from the exception flags not masked in the control word. */
export function updateSummary(c: Cpu): void {
  if (c.fpuSw & ~c.fpuCw & 0x3f) c.fpuSw |= ES | B;
  else c.fpuSw &= ~(ES | B);
}

/** Loads the rounding state from the control word before an operation. */
export function prepare(c: Cpu): void {
  const cw = c.fpuCw;
  st.rc = (cw >> 10) & 3;
  const pc = (cw >> 8) & 3;
  st.prec = pc === 0 ? 24 : pc === 2 ? 53 : 64; // PC = 1 is reserved: extended (as QEMU)
  st.flags = 0;
  st.up = 0;
  st.unmaskedOE = (cw & 8) === 0;
  st.unmaskedUE = (cw & 0x10) === 0;
}

/** Signals flags; false when an unmasked pre-computation exception forbids the result. */
export function raise(c: Cpu, flags: number): boolean {
  const pre = flags & (IE | DE | ZE) & ~c.fpuCw;
  c.fpuSw |= pre ? pre : flags;
  updateSummary(c);
  return pre === 0;
}

/**
 * Stack fault (IE with SF; C1 = 1 on overflow, 0 on underflow). Returns true when IE is masked,
 * i.e. the caller delivers the QNaN indefinite.
 */
export function stackFault(c: Cpu, overflow: boolean): boolean {
  c.fpuSw = (c.fpuSw & ~C1) | IE | SF | (overflow ? C1 : 0);
  updateSummary(c);
  return (c.fpuCw & IE) !== 0;
}

/** Sets C1 from the last rounding when PE was raised, else clears it (SDM Vol.1 8.1.3.3). */
export function setRoundC1(c: Cpu): void {
  c.fpuSw = (c.fpuSw & ~C1) | ((st.flags & PE) && st.up ? C1 : 0);
}

/**
 * Commits st.se/st.sig to ST(i) after an operation (raising st.flags), then pops `pops` times.
 * Returns false when an unmasked pre-computation exception left the state unchanged.
 */
export function commit(c: Cpu, i: number, pops: number): boolean {
  if (!raise(c, st.flags)) return false;
  setRoundC1(c);
  writeSt(c, i, st.se, st.sig);
  for (let k = 0; k < pops; k++) pop(c);
  return true;
}

/**
 * Checks that ST(0) (and ST(i) when `i` >= 0) hold values; on underflow with IE masked stores the
 * indefinite to ST(dest) and pops `pops` times. Returns true when the operation may proceed.
 */
export function checkOperands(c: Cpu, i: number, dest: number, pops: number): boolean {
  if (!isEmpty(c, 0) && (i < 0 || !isEmpty(c, i))) return true;
  if (stackFault(c, false) && dest >= 0) {
    writeSt(c, dest, INDEF_SE, INDEF_SIG);
    for (let k = 0; k < pops; k++) pop(c);
  }
  return false;
}

/** Push check: overflow when ST(7) is not empty; a masked fault pushes the indefinite. */
export function checkPush(c: Cpu): boolean {
  if (isEmpty(c, 7)) return true;
  if (stackFault(c, true)) push(c, INDEF_SE, INDEF_SIG);
  return false;
}
