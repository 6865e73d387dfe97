/**
 * x87 comparisons and conditional moves: FCOM/FCOMP/FCOMPP, FUCOM/FUCOMP/FUCOMPP, FICOM/FICOMP,
 * FCOMI/FCOMIP/FUCOMI/FUCOMIP, FTST, FXAM and FCMOVcc (SDM Vol.2; Vol.1 8.3.6 and 8.1.3).
 *
 * FCOM-style results go to C3/C2/C0 (C1 cleared); FCOMI-style to ZF/PF/CF with OF, SF and AF
 * cleared. A NaN (any NaN for the signaling forms, an SNaN for the unordered forms), an
 * unsupported encoding or an empty register is an invalid operation: masked, the result is
 * "unordered"; unmasked, nothing is changed and nothing is popped.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { AF, CF, getCF, getPF, getZF, OF, PF, settleFlags, SF, ZF } from "./flags.ts";
import { compare, INDEF_SE, INDEF_SIG, st } from "./x87_float80.ts";
import {
  C0,
  C1,
  C2,
  C3,
  isEmpty,
  pop,
  prepare,
  raise,
  seOf,
  sigOf,
  stackFault,
  writeSt,
} from "./x87_stack.ts";

const FCOM_CC = [C0, C3, 0, C0 | C2 | C3];
const FCOMI_FLAGS = [CF, ZF, 0, CF | PF | ZF];

/**
 * Compares ST(0) with (bSe, bSig) (`i` >= 0: the register ST(i), checked for emptiness).
 * `eflags`: FCOMI form. `loadFlags`: exceptions from converting a memory operand.
 */
export function fcom(
  c: Cpu,
  i: number,
  bSe: number,
  bSig: bigint,
  signaling: boolean,
  eflags: boolean,
  pops: number,
  loadFlags = 0,
): void {
  let r: number;
  if (isEmpty(c, 0) || (i >= 0 && isEmpty(c, i))) {
    if (!stackFault(c, false)) return;
    r = 3;
  } else {
    prepare(c);
    st.flags = loadFlags;
    r = compare(seOf(c, 0), sigOf(c, 0), bSe, bSig, signaling);
    if (!raise(c, st.flags)) return;
  }
  if (eflags) {
    settleFlags(c);
    c.flags = (c.flags & ~(CF | PF | AF | ZF | SF | OF)) | FCOMI_FLAGS[r];
    c.fpuSw &= ~C1;
  } else c.fpuSw = (c.fpuSw & ~(C0 | C1 | C2 | C3)) | FCOM_CC[r];
  for (let k = 0; k < pops; k++) pop(c);
}

/** Register form: compares ST(0) with ST(i). */
export function fcomSt(c: Cpu, i: number, signaling: boolean, eflags: boolean, pops: number) {
  fcom(c, i, seOf(c, i), sigOf(c, i), signaling, eflags, pops);
}

/** FTST: compares ST(0) with +0.0. */
export function ftst(c: Cpu): void {
  fcom(c, -1, 0, 0n, true, false, 0);
}

/** FXAM: classifies ST(0) into C3/C2/C0, C1 = sign (SDM Vol.2 FXAM table). */
export function fxam(c: Cpu): void {
  const se = seOf(c, 0), sig = sigOf(c, 0);
  let cc: number;
  const exp = se & 0x7fff, jbit = (sig >> 63n) !== 0n;
  if (isEmpty(c, 0)) cc = C3 | C0;
  else if (exp === 0x7fff) cc = !jbit ? 0 : sig === 1n << 63n ? C2 | C0 : C0;
  else if (exp === 0) cc = sig === 0n ? C3 : C3 | C2;
  else cc = jbit ? C2 : 0;
  c.fpuSw = (c.fpuSw & ~(C0 | C1 | C2 | C3)) | cc | (se & 0x8000 ? C1 : 0);
}

/** FCMOVcc: DA C0-DF (B, E, BE, U) and DB C0-DF (the negations), source ST(i). */
export function fcmov(c: Cpu, negate: boolean, cond: number, i: number): void {
  if (isEmpty(c, 0) || isEmpty(c, i)) {
    if (stackFault(c, false)) writeSt(c, 0, INDEF_SE, INDEF_SIG);
    return;
  }
  let t: boolean;
  switch (cond) {
    case 0:
      t = getCF(c) !== 0;
      break;
    case 1:
      t = getZF(c) !== 0;
      break;
    case 2:
      t = (getCF(c) | getZF(c)) !== 0;
      break;
    default:
      t = getPF(c) !== 0;
  }
  c.fpuSw &= ~C1;
  if (t !== negate) {
    const v = c.fpuView, d = ((c.fpuSw >> 11) & 7) * 10, s = (((c.fpuSw >> 11) + i) & 7) * 10;
    v.setBigUint64(d, v.getBigUint64(s, true), true);
    v.setUint16(d + 8, v.getUint16(s + 8, true), true);
    const tp = (c.fpuSw >> 11) & 7, ts = ((c.fpuSw >> 11) + i) & 7;
    c.fpuTw = (c.fpuTw & ~(3 << (tp << 1))) | (((c.fpuTw >> (ts << 1)) & 3) << (tp << 1));
  }
}
