/**
 * Decoding of the frequent instructions into closures ("threaded code"), the form kept by the
 * decoded-instruction cache (icache.ts).
 *
 * A translator runs after the prefixes and opcode byte were fetched: it fetches the rest of the
 * instruction (ModRM, SIB, displacement, immediates), raises the decode-time faults (#UD), and
 * returns an {@link InsnFn} that performs the instruction's semantics with everything decoded
 * captured as constants (operand size, address size, segment, registers, immediates). The
 * closure reads nothing of the prefix state (`opsize32`, `addr32`, `segOvr`, `rep`, `lock`),
 * only registers, flags and memory, so a cached closure can run again without re-decoding.
 * Before it runs, `eip` holds the address of the next instruction (relative jumps and CALL
 * use it) and `startEip` the instruction's own (faults restart there).
 *
 * Translators of control transfers set `insnJumps` (a block of straight-line code ends there,
 * blocks.ts), relative JMP/Jcc also `insnDisp` (a block jumping to its own head loops in place).
 *
 * A translator may return null to decline a form it leaves to the byte-by-byte handler of
 * decoder.ts (the caller rewinds EIP to just after the opcode byte).
 *
 * Why this file is long: one translator per frequent opcode form, in the decoder's order, so a
 * reader can check each against decoder.ts side by side.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { Vec } from "./fault.ts";
import { CF, DF, MASK, settleFlags, testCC } from "./flags.ts";
import { alu, dec, div, idiv, imul1, imul2, inc, mul, sub } from "./arith.ts";
import { andOp } from "./logical.ts";
import { shift } from "./shift.ts";
import {
  decodeEAParts,
  eaOffset,
  fetch16,
  fetch32,
  fetch8,
  fetchImm,
  fetchS8,
  getReg,
  setReg,
} from "./operands.ts";

/** A decoded instruction: runs it with `eip` already at the next instruction. */
export type InsnFn = (c: Cpu) => void;

/** Decodes the instruction whose opcode `op` was just fetched; null declines. */
export type Translator = (c: Cpu, op: number) => InsnFn | null;

/** A decoded memory operand: segment and the register-independent offset parts. */
interface Ea {
  readonly seg: number;
  readonly base: number;
  readonly index: number;
  readonly scale: number;
  readonly disp: number;
  readonly a32: boolean;
}

/** Decodes ModRM `m`'s memory operand (SIB and displacement) into an {@link Ea}. */
function takeEa(c: Cpu, m: number): Ea {
  decodeEAParts(c, m);
  return {
    seg: c.eaSeg,
    base: c.eaBase,
    index: c.eaIndex,
    scale: c.eaScale,
    disp: c.eaDisp,
    a32: c.addr32,
  };
}

function offsetOf(c: Cpu, ea: Ea): number {
  return eaOffset(c, ea.base, ea.index, ea.scale, ea.disp, ea.a32);
}

function sizeV(c: Cpu): number {
  return c.opsize32 ? 2 : 1;
}

/** Near transfer to `target` masked to the operand size; #GP(0) beyond the CS limit. */
function jumpTo(c: Cpu, target: number, o32: boolean): void {
  target = o32 ? target >>> 0 : target & 0xffff;
  if (target > (c.segLimit[1] >>> 0)) c.fault(Vec.GP, 0);
  c.eip = target;
}

// ---- r/m operand access (register or decoded memory operand) ----

/** Reads E (register `rm` when `ea` is null). */
function readE(c: Cpu, ea: Ea | null, rm: number, s: number): number {
  return ea === null ? getReg(c, rm, s) : c.readS(ea.seg, offsetOf(c, ea), s);
}

/** Writes E (register `rm` when `ea` is null). */
function writeE(c: Cpu, ea: Ea | null, rm: number, s: number, v: number): void {
  if (ea === null) setReg(c, rm, s, v);
  else c.writeS(ea.seg, offsetOf(c, ea), s, v);
}

/**
 * Starts a read-modify-write of E and returns its value. A memory destination is checked for
 * writability before it is read, so a fault has no partial effect; its offset is kept in `eaOff`
 * for {@link rmwEnd}.
 */
function rmwBegin(c: Cpu, ea: Ea | null, rm: number, s: number): number {
  if (ea === null) return getReg(c, rm, s);
  const off = offsetOf(c, ea);
  c.eaOff = off;
  c.checkWrite(ea.seg, off, s);
  return c.readS(ea.seg, off, s);
}

/** Completes {@link rmwBegin} with the new value. */
function rmwEnd(c: Cpu, ea: Ea | null, rm: number, s: number, v: number): void {
  if (ea === null) setReg(c, rm, s, v);
  else c.writeS(ea.seg, c.eaOff, s, v);
}

/** Fetches ModRM; returns [modrm, Ea or null]. */
function modrmEa(c: Cpu): [number, Ea | null] {
  const m = fetch8(c);
  return [m, m < 0xc0 ? takeEa(c, m) : null];
}

// ---- ALU ----

/** 00-3F: ADD OR ADC SBB AND SUB XOR CMP in the forms E,G / G,E / AL|eAX,imm. */
function tAlu(c: Cpu, op: number): InsnFn {
  const s = op & 1 ? sizeV(c) : 0;
  const o = op >> 3;
  const form = op & 7;
  if (form >= 4) {
    const imm = fetchImm(c, s);
    if (s === 2) {
      if (o === 7) return (c) => void sub(c, c.regs[0], imm, 2);
      return (c) => {
        c.regs[0] = alu(c, o, c.regs[0], imm, 2);
      };
    }
    if (o === 7) return (c) => void sub(c, getReg(c, 0, s), imm, s);
    return (c) => setReg(c, 0, s, alu(c, o, getReg(c, 0, s), imm, s));
  }
  const [m, ea] = modrmEa(c);
  const reg = (m >> 3) & 7, rm = m & 7;
  if (form >= 2) {
    // G, E
    if (o === 7) return (c) => void sub(c, getReg(c, reg, s), readE(c, ea, rm, s), s);
    if (ea === null && s === 2) {
      return (c) => {
        const r = c.regs;
        r[reg] = alu(c, o, r[reg], r[rm], 2);
      };
    }
    return (c) => setReg(c, reg, s, alu(c, o, getReg(c, reg, s), readE(c, ea, rm, s), s));
  }
  // E, G
  if (o === 7) return (c) => void sub(c, readE(c, ea, rm, s), getReg(c, reg, s), s);
  if (s === 2) {
    if (ea === null) {
      return (c) => {
        const r = c.regs;
        r[rm] = alu(c, o, r[rm], r[reg], 2);
      };
    }
    return (c) => {
      const off = offsetOf(c, ea);
      c.checkWrite(ea.seg, off, 2);
      c.write32(ea.seg, off, alu(c, o, c.read32(ea.seg, off), c.regs[reg], 2));
    };
  }
  return (c) => rmwEnd(c, ea, rm, s, alu(c, o, rmwBegin(c, ea, rm, s), getReg(c, reg, s), s));
}

/** 80-83: group 1, ALU op /digit on E with an immediate (83: sign-extended imm8). */
function tGroup1(c: Cpu, op: number): InsnFn {
  const s = op & 1 ? sizeV(c) : 0;
  const [m, ea] = modrmEa(c);
  const o = (m >> 3) & 7, rm = m & 7;
  const imm = op === 0x81 ? fetchImm(c, s) : op === 0x83 ? fetchS8(c) & MASK[s] : fetch8(c);
  if (ea === null && s === 2) {
    if (o === 7) return (c) => void sub(c, c.regs[rm], imm, 2);
    return (c) => {
      const r = c.regs;
      r[rm] = alu(c, o, r[rm], imm, 2);
    };
  }
  if (o === 7) return (c) => void sub(c, readE(c, ea, rm, s), imm, s);
  return (c) => rmwEnd(c, ea, rm, s, alu(c, o, rmwBegin(c, ea, rm, s), imm, s));
}

/** 84/85 TEST E,G; A8/A9 TEST AL|eAX,imm. */
function tTest(c: Cpu, op: number): InsnFn {
  const s = op & 1 ? sizeV(c) : 0;
  if (op >= 0xa8) {
    const imm = fetchImm(c, s);
    return (c) => void andOp(c, getReg(c, 0, s), imm, s);
  }
  const [m, ea] = modrmEa(c);
  const reg = (m >> 3) & 7, rm = m & 7;
  return (c) => void andOp(c, readE(c, ea, rm, s), getReg(c, reg, s), s);
}

/** 40-4F: INC/DEC r16/r32. */
function tIncDecReg(c: Cpu, op: number): InsnFn {
  const s = sizeV(c);
  const n = op & 7;
  if (s === 2) {
    if (op < 0x48) {
      return (c) => {
        c.regs[n] = inc(c, c.regs[n], 2);
      };
    }
    return (c) => {
      c.regs[n] = dec(c, c.regs[n], 2);
    };
  }
  if (op < 0x48) return (c) => setReg(c, n, s, inc(c, getReg(c, n, s), s));
  return (c) => setReg(c, n, s, dec(c, getReg(c, n, s), s));
}

/** 69/6B: IMUL G, E, imm. */
function tImul3(c: Cpu, op: number): InsnFn {
  const s = sizeV(c);
  const [m, ea] = modrmEa(c);
  const reg = (m >> 3) & 7, rm = m & 7;
  const imm = op === 0x6b ? fetchS8(c) : fetchImm(c, s);
  return (c) => setReg(c, reg, s, imul2(c, readE(c, ea, rm, s), imm, s));
}

/** 0F AF: IMUL G, E. */
function tImul2(c: Cpu): InsnFn {
  const s = sizeV(c);
  const [m, ea] = modrmEa(c);
  const reg = (m >> 3) & 7, rm = m & 7;
  return (c) => setReg(c, reg, s, imul2(c, getReg(c, reg, s), readE(c, ea, rm, s), s));
}

/** C0/C1/D0-D3: group 2 shifts and rotates by imm8, 1 or CL (count masked to 5 bits). */
function tShift(c: Cpu, op: number): InsnFn {
  const s = op & 1 ? sizeV(c) : 0;
  const [m, ea] = modrmEa(c);
  const o = (m >> 3) & 7, rm = m & 7;
  const fixed = op < 0xd0 ? fetch8(c) & 31 : op < 0xd2 ? 1 : -1;
  return (c) => {
    const count = fixed >= 0 ? fixed : c.regs8[4] & 31;
    // The destination is checked (RMW) even for a zero count, which changes nothing.
    const v = rmwBegin(c, ea, rm, s);
    if (count !== 0) rmwEnd(c, ea, rm, s, shift(c, o, v, count, s));
  };
}

/** F6/F7: group 3 TEST NOT NEG MUL IMUL DIV IDIV. */
function tGroup3(c: Cpu, op: number): InsnFn {
  const s = op & 1 ? sizeV(c) : 0;
  const [m, ea] = modrmEa(c);
  const o = (m >> 3) & 7, rm = m & 7;
  switch (o) {
    case 0:
    case 1: {
      const imm = fetchImm(c, s);
      return (c) => void andOp(c, readE(c, ea, rm, s), imm, s);
    }
    case 2:
      return (c) => rmwEnd(c, ea, rm, s, ~rmwBegin(c, ea, rm, s) & MASK[s]);
    case 3:
      return (c) => rmwEnd(c, ea, rm, s, sub(c, 0, rmwBegin(c, ea, rm, s), s));
    case 4:
      return (c) => mul(c, readE(c, ea, rm, s), s);
    case 5:
      return (c) => imul1(c, readE(c, ea, rm, s), s);
    case 6:
      return (c) => div(c, readE(c, ea, rm, s), s);
    default:
      return (c) => idiv(c, readE(c, ea, rm, s), s);
  }
}

/** FE: INC/DEC E8. */
function tGroup4(c: Cpu): InsnFn {
  const [m, ea] = modrmEa(c);
  const o = (m >> 3) & 7, rm = m & 7;
  if (o > 1) c.fault(Vec.UD);
  if (o === 0) return (c) => rmwEnd(c, ea, rm, 0, inc(c, rmwBegin(c, ea, rm, 0), 0));
  return (c) => rmwEnd(c, ea, rm, 0, dec(c, rmwBegin(c, ea, rm, 0), 0));
}

/** FF: group 5 INC DEC CALL JMP PUSH (near forms; far CALL/JMP are declined). */
function tGroup5(c: Cpu): InsnFn | null {
  const s = sizeV(c);
  const o32 = c.opsize32;
  const [m, ea] = modrmEa(c);
  const o = (m >> 3) & 7, rm = m & 7;
  switch (o) {
    case 0:
      return (c) => rmwEnd(c, ea, rm, s, inc(c, rmwBegin(c, ea, rm, s), s));
    case 1:
      return (c) => rmwEnd(c, ea, rm, s, dec(c, rmwBegin(c, ea, rm, s), s));
    case 2:
      c.insnJumps = true;
      return (c) => {
        const t = readE(c, ea, rm, s);
        const target = o32 ? t >>> 0 : t & 0xffff;
        if (target > (c.segLimit[1] >>> 0)) c.fault(Vec.GP, 0);
        c.push(c.eip, o32);
        c.eip = target;
      };
    case 4:
      c.insnJumps = true;
      return (c) => jumpTo(c, readE(c, ea, rm, s), o32);
    case 6:
      return (c) => c.push(readE(c, ea, rm, s), o32);
    default:
      return null;
  }
}

/** 86/87: XCHG E, G (memory: checked for writing before it is read). */
function tXchg(c: Cpu, op: number): InsnFn {
  const s = op & 1 ? sizeV(c) : 0;
  const [m, ea] = modrmEa(c);
  const reg = (m >> 3) & 7, rm = m & 7;
  return (c) => {
    const old = rmwBegin(c, ea, rm, s);
    rmwEnd(c, ea, rm, s, getReg(c, reg, s));
    setReg(c, reg, s, old);
  };
}

/** 91-97: XCHG eAX, reg. */
function tXchgAcc(c: Cpu, op: number): InsnFn {
  const s = sizeV(c);
  const n = op & 7;
  return (c) => {
    const t = getReg(c, 0, s);
    setReg(c, 0, s, getReg(c, n, s));
    setReg(c, n, s, t);
  };
}

// ---- data movement ----

/** 88-8B: MOV E,G / G,E. */
function tMov(c: Cpu, op: number): InsnFn {
  const s = op & 1 ? sizeV(c) : 0;
  const [m, ea] = modrmEa(c);
  const reg = (m >> 3) & 7, rm = m & 7;
  if (op < 0x8a) {
    if (ea === null) {
      if (s === 2) {
        return (c) => {
          c.regs[rm] = c.regs[reg];
        };
      }
      return (c) => setReg(c, rm, s, getReg(c, reg, s));
    }
    if (s === 2) return (c) => c.write32(ea.seg, offsetOf(c, ea), c.regs[reg]);
    return (c) => c.writeS(ea.seg, offsetOf(c, ea), s, getReg(c, reg, s));
  }
  if (ea === null) {
    if (s === 2) {
      return (c) => {
        c.regs[reg] = c.regs[rm];
      };
    }
    return (c) => setReg(c, reg, s, getReg(c, rm, s));
  }
  if (s === 2) {
    return (c) => {
      c.regs[reg] = c.read32(ea.seg, offsetOf(c, ea));
    };
  }
  return (c) => setReg(c, reg, s, c.readS(ea.seg, offsetOf(c, ea), s));
}

/** C6/C7: MOV E, imm. */
function tMovImmE(c: Cpu, op: number): InsnFn {
  const s = op & 1 ? sizeV(c) : 0;
  const [m, ea] = modrmEa(c);
  if ((m & 0x38) !== 0) c.fault(Vec.UD);
  const rm = m & 7;
  const imm = fetchImm(c, s);
  if (ea !== null) {
    if (s === 0) return (c) => c.write8(ea.seg, offsetOf(c, ea), imm);
    if (s === 2) return (c) => c.write32(ea.seg, offsetOf(c, ea), imm);
  }
  return (c) => writeE(c, ea, rm, s, imm);
}

/** B0-BF: MOV reg, imm. */
function tMovImmReg(c: Cpu, op: number): InsnFn {
  const s = op >= 0xb8 ? sizeV(c) : 0;
  const n = op & 7;
  const imm = fetchImm(c, s);
  return (c) => setReg(c, n, s, imm);
}

/** A0-A3: MOV AL|eAX <-> moffs. */
function tMovMoffs(c: Cpu, op: number): InsnFn {
  const s = op & 1 ? sizeV(c) : 0;
  const off = c.addr32 ? fetch32(c) >>> 0 : fetch16(c);
  const seg = c.segOvr >= 0 ? c.segOvr : 3;
  if (op < 0xa2) return (c) => setReg(c, 0, s, c.readS(seg, off, s));
  return (c) => c.writeS(seg, off, s, getReg(c, 0, s));
}

/** 8D: LEA (register source #UD). */
function tLea(c: Cpu): InsnFn {
  const s = sizeV(c);
  const m = fetch8(c);
  if (m >= 0xc0) c.fault(Vec.UD);
  const ea = takeEa(c, m);
  const reg = (m >> 3) & 7;
  if (s === 2) {
    return (c) => {
      c.regs[reg] = offsetOf(c, ea);
    };
  }
  return (c) => setReg(c, reg, s, offsetOf(c, ea));
}

/** 0F B6/B7/BE/BF: MOVZX/MOVSX G, E8/E16. */
function tMovx(c: Cpu, op: number): InsnFn {
  const s = sizeV(c);
  const ss = op & 1 ? 1 : 0;
  const signed = op >= 0xbe;
  const [m, ea] = modrmEa(c);
  const reg = (m >> 3) & 7, rm = m & 7;
  return (c) => {
    let v = readE(c, ea, rm, ss);
    if (signed) v = ss ? (v << 16) >> 16 : (v << 24) >> 24;
    setReg(c, reg, s, v);
  };
}

/** 0F 40-4F: CMOVcc (the source is read, and may fault, even when the condition is false). */
function tCmov(c: Cpu, op: number): InsnFn {
  const s = sizeV(c);
  const cc = op & 15;
  const [m, ea] = modrmEa(c);
  const reg = (m >> 3) & 7, rm = m & 7;
  return (c) => {
    const v = readE(c, ea, rm, s);
    if (testCC(c, cc)) setReg(c, reg, s, v);
  };
}

/** 0F 90-9F: SETcc E8. */
function tSetcc(c: Cpu, op: number): InsnFn {
  const cc = op & 15;
  const [m, ea] = modrmEa(c);
  const rm = m & 7;
  return (c) => writeE(c, ea, rm, 0, testCC(c, cc) ? 1 : 0);
}

/** 98: CBW/CWDE; 99: CWD/CDQ. */
function tConvert(c: Cpu, op: number): InsnFn {
  const o32 = c.opsize32;
  if (op === 0x98) {
    if (o32) {
      return (c) => {
        c.regs[0] = (c.regs[0] << 16) >> 16;
      };
    }
    return (c) => {
      c.regs16[0] = (c.regs8[0] << 24) >> 24;
    };
  }
  if (o32) {
    return (c) => {
      c.regs[2] = c.regs[0] >> 31;
    };
  }
  return (c) => {
    c.regs16[4] = (c.regs[0] << 16) >> 31;
  };
}

/** 90: NOP (with F3: PAUSE). */
function tNop(): InsnFn {
  return nop;
}

function nop(): void {}

/** F8/F9 CLC/STC, FC/FD CLD/STD. */
function tFlagOp(_c: Cpu, op: number): InsnFn {
  switch (op) {
    case 0xf8:
    case 0xf9: {
      const cf = op & 1;
      return (c) => {
        settleFlags(c);
        c.flags = (c.flags & ~CF) | cf;
      };
    }
    case 0xfc:
      return (c) => {
        c.flags &= ~DF;
      };
    default:
      return (c) => {
        c.flags |= DF;
      };
  }
}

// ---- stack ----

/** 50-57 PUSH reg, 58-5F POP reg. */
function tPushPopReg(c: Cpu, op: number): InsnFn {
  const n = op & 7;
  if (op < 0x58) {
    if (c.opsize32) return (c) => c.push32(c.regs[n]);
    return (c) => c.push16(c.regs16[n << 1]);
  }
  if (c.opsize32) {
    return (c) => {
      const v = c.pop32();
      c.regs[n] = v;
    };
  }
  return (c) => {
    const v = c.pop16();
    c.regs16[n << 1] = v;
  };
}

/** 68/6A: PUSH imm. */
function tPushImm(c: Cpu, op: number): InsnFn {
  const o32 = c.opsize32;
  const imm = op === 0x6a ? fetchS8(c) : fetchImm(c, sizeV(c));
  return (c) => c.push(imm, o32);
}

/** C9: LEAVE. */
function tLeave(c: Cpu): InsnFn {
  const o32 = c.opsize32;
  return (c) => {
    const r = c.regs;
    const bp = c.stack32 ? r[5] >>> 0 : c.regs16[10];
    const v = o32 ? c.read32(2, bp) : c.read16(2, bp);
    c.setSp(bp + (o32 ? 4 : 2));
    if (o32) r[5] = v;
    else c.regs16[10] = v;
  };
}

// ---- near control flow ----

/** 70-7F: Jcc rel8; 0F 80-8F: Jcc rel16/32. */
function tJcc(c: Cpu, op: number): InsnFn {
  c.insnJumps = true;
  const o32 = c.opsize32;
  const cc = op & 15;
  const disp = op < 0x80 ? fetchS8(c) : o32 ? fetch32(c) : (fetch16(c) << 16) >> 16;
  c.insnDisp = disp;
  return (c) => {
    if (testCC(c, cc)) jumpTo(c, c.eip + disp, o32);
  };
}

/** EB JMP rel8, E9 JMP rel16/32. */
function tJmp(c: Cpu, op: number): InsnFn {
  c.insnJumps = true;
  const o32 = c.opsize32;
  const disp = op === 0xeb ? fetchS8(c) : o32 ? fetch32(c) : (fetch16(c) << 16) >> 16;
  c.insnDisp = disp;
  return (c) => jumpTo(c, c.eip + disp, o32);
}

/** E8: CALL rel16/32 (the target is checked before the push). */
function tCall(c: Cpu): InsnFn {
  c.insnJumps = true;
  const o32 = c.opsize32;
  const disp = o32 ? fetch32(c) : (fetch16(c) << 16) >> 16;
  return (c) => {
    const ret = c.eip;
    const target = o32 ? (ret + disp) >>> 0 : (ret + disp) & 0xffff;
    if (target > (c.segLimit[1] >>> 0)) c.fault(Vec.GP, 0);
    c.push(ret, o32);
    c.eip = target;
  };
}

/** C3 RET, C2 RET imm16. */
function tRet(c: Cpu, op: number): InsnFn {
  c.insnJumps = true;
  const o32 = c.opsize32;
  const n = (op === 0xc2 ? fetch16(c) : 0) + (o32 ? 4 : 2);
  return (c) => {
    jumpTo(c, c.peek(0, o32), o32);
    c.setSp(c.regs[4] + n);
  };
}

// ---- tables ----

/** Translators of the one-byte map (null: handled by decoder.ts byte by byte). */
export const TRANSLATE: (Translator | null)[] = new Array(256).fill(null);
/** Translators of the 0F map. */
export const TRANSLATE_0F: (Translator | null)[] = new Array(256).fill(null);

for (let op = 0; op < 0x40; op++) if ((op & 7) < 6) TRANSLATE[op] = tAlu;
for (let op = 0x40; op < 0x50; op++) TRANSLATE[op] = tIncDecReg;
for (let op = 0x50; op < 0x60; op++) TRANSLATE[op] = tPushPopReg;
TRANSLATE[0x68] = TRANSLATE[0x6a] = tPushImm;
TRANSLATE[0x69] = TRANSLATE[0x6b] = tImul3;
for (let op = 0x70; op < 0x80; op++) TRANSLATE[op] = tJcc;
for (let op = 0x80; op < 0x84; op++) TRANSLATE[op] = tGroup1;
TRANSLATE[0x84] =
  TRANSLATE[0x85] =
  TRANSLATE[0xa8] =
  TRANSLATE[0xa9] =
    tTest;
TRANSLATE[0x86] = TRANSLATE[0x87] = tXchg;
for (let op = 0x88; op < 0x8c; op++) TRANSLATE[op] = tMov;
TRANSLATE[0x8d] = tLea;
TRANSLATE[0x90] = tNop;
for (let op = 0x91; op < 0x98; op++) TRANSLATE[op] = tXchgAcc;
TRANSLATE[0x98] = TRANSLATE[0x99] = tConvert;
for (let op = 0xa0; op < 0xa4; op++) TRANSLATE[op] = tMovMoffs;
for (let op = 0xb0; op < 0xc0; op++) TRANSLATE[op] = tMovImmReg;
for (const op of [0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3]) TRANSLATE[op] = tShift;
TRANSLATE[0xc2] = TRANSLATE[0xc3] = tRet;
TRANSLATE[0xc6] = TRANSLATE[0xc7] = tMovImmE;
TRANSLATE[0xc9] = tLeave;
TRANSLATE[0xe8] = tCall;
TRANSLATE[0xe9] = TRANSLATE[0xeb] = tJmp;
TRANSLATE[0xf6] = TRANSLATE[0xf7] = tGroup3;
for (const op of [0xf8, 0xf9, 0xfc, 0xfd]) TRANSLATE[op] = tFlagOp;
TRANSLATE[0xfe] = tGroup4;
TRANSLATE[0xff] = tGroup5;

for (let op = 0x40; op < 0x50; op++) TRANSLATE_0F[op] = tCmov;
for (let op = 0x80; op < 0x90; op++) TRANSLATE_0F[op] = tJcc;
for (let op = 0x90; op < 0xa0; op++) TRANSLATE_0F[op] = tSetcc;
TRANSLATE_0F[0xaf] = tImul2;
for (const op of [0xb6, 0xb7, 0xbe, 0xbf]) TRANSLATE_0F[op] = tMovx;
