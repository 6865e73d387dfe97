/**
 * Which EFLAGS bits (and which destination registers) an instruction leaves undefined, per the
 * Intel SDM Vol. 2 "Flags Affected" sections. The lockstep runner decodes the instruction at the
 * pre-step EIP, ignores these bits in the comparison and then copies QEMU's values into pvreplay
 * so that a later reader of the flag (PUSHF, LAHF, ADC, Jcc...) sees the same value on both.
 *
 * @module
 */

/** EFLAGS bits. */
export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;

/** Result of {@link undefinedEffects}. */
export interface UndefinedEffects {
  /** EFLAGS bits with undefined values after the instruction. */
  flags: number;
  /** GPR index whose value is undefined when the result ZF is 1 (BSF/BSR of 0), else -1. */
  regIfZf: number;
  /** Mnemonic-ish name for reports. */
  name: string;
}

const SHIFT_NAMES = ["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"];
const ALU_NAMES = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"];

/** Length of a ModRM operand (ModRM byte + SIB + displacement) at `i`. */
function modrmLength(code: Uint8Array, i: number, addr32: boolean): number {
  const m = code[i];
  const mod = m >> 6, rm = m & 7;
  if (mod === 3) return 1;
  if (addr32) {
    let n = 1;
    let base = rm;
    if (rm === 4) {
      base = code[i + 1] & 7;
      n++;
    }
    if (mod === 0 && base === 5) return n + 4;
    return n + (mod === 1 ? 1 : mod === 2 ? 4 : 0);
  }
  if (mod === 0 && rm === 6) return 3;
  return 1 + (mod === 1 ? 1 : mod === 2 ? 2 : 0);
}

/**
 * Decodes the instruction in `code` (bytes at the pre-step EIP) and returns its undefined effects.
 * `ecx` is the pre-step ECX (shift counts in CL); `default32` is CS.D (false in real/V86 mode).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { undefinedEffects, AF, SF, ZF, PF } from "./flag_masks.ts";
 * const e = undefinedEffects(Uint8Array.of(0xf7, 0xe1), 0, true); // mul ecx
 * assert.equal(e.flags, (SF | ZF | AF | PF));
 * ```
 */
export function undefinedEffects(
  code: Uint8Array,
  ecx: number,
  default32: boolean,
): UndefinedEffects {
  let i = 0;
  let op16 = !default32;
  let addr32 = default32;
  for (; i < 15; i++) {
    const b = code[i];
    if (b === 0x66) op16 = default32;
    else if (b === 0x67) addr32 = !default32;
    else if (
      b === 0xf0 || b === 0xf2 || b === 0xf3 || b === 0x26 || b === 0x2e || b === 0x36 ||
      b === 0x3e || b === 0x64 || b === 0x65
    ) continue;
    else break;
  }
  const opSize = (w: number): number => (w === 0 ? 8 : op16 ? 16 : 32);
  const none = (name: string): UndefinedEffects => ({ flags: 0, regIfZf: -1, name });
  const op = code[i];
  const reg = (code[i + 1] >> 3) & 7;
  const immAfterModrm = (): number => code[i + 1 + modrmLength(code, i + 1, addr32)];

  // Shift/rotate groups: C0/C1 imm8, D0/D1 by 1, D2/D3 by CL.
  if (op === 0xc0 || op === 0xc1 || (op >= 0xd0 && op <= 0xd3)) {
    const size = opSize(op & 1);
    const count = (op <= 0xc1 ? immAfterModrm() : op <= 0xd1 ? 1 : ecx & 0xff) & 0x1f;
    const name = SHIFT_NAMES[reg];
    if (count === 0) return none(name);
    let flags = 0;
    if (count !== 1) flags |= OF;
    if (reg >= 4) {
      flags |= AF; // SDM: AF undefined for a non-zero shift count
      if (reg !== 7 && count >= size) flags |= CF; // SHL/SHR: CF undefined when count >= size
    }
    return { flags, regIfZf: -1, name };
  }
  if (op === 0xf6 || op === 0xf7) {
    if (reg === 4 || reg === 5) {
      return { flags: SF | ZF | AF | PF, regIfZf: -1, name: reg === 4 ? "mul" : "imul" };
    }
    if (reg === 6 || reg === 7) {
      return { flags: ARITH, regIfZf: -1, name: reg === 6 ? "div" : "idiv" };
    }
    if (reg === 0 || reg === 1) return { flags: AF, regIfZf: -1, name: "test" };
    return none(reg === 2 ? "not" : "neg");
  }
  if (op === 0x69 || op === 0x6b) return { flags: SF | ZF | AF | PF, regIfZf: -1, name: "imul" };
  // Logical ALU ops (OR AND XOR TEST): AF undefined.
  if (op < 0x40 && (op & 7) < 6) {
    const alu = op >> 3;
    return {
      flags: alu === 1 || alu === 4 || alu === 6 ? AF : 0,
      regIfZf: -1,
      name: ALU_NAMES[alu],
    };
  }
  if (op >= 0x80 && op <= 0x83) {
    return {
      flags: reg === 1 || reg === 4 || reg === 6 ? AF : 0,
      regIfZf: -1,
      name: ALU_NAMES[reg],
    };
  }
  if (op === 0x84 || op === 0x85 || op === 0xa8 || op === 0xa9) {
    return { flags: AF, regIfZf: -1, name: "test" };
  }
  if (op === 0x27 || op === 0x2f) {
    return { flags: OF, regIfZf: -1, name: op === 0x27 ? "daa" : "das" };
  }
  if (op === 0x37 || op === 0x3f) {
    return { flags: OF | SF | ZF | PF, regIfZf: -1, name: op === 0x37 ? "aaa" : "aas" };
  }
  if (op === 0xd4 || op === 0xd5) {
    return { flags: OF | AF | CF, regIfZf: -1, name: op === 0xd4 ? "aam" : "aad" };
  }
  if (op === 0x0f) {
    const op2 = code[i + 1];
    const reg2 = (code[i + 2] >> 3) & 7;
    if (op2 === 0xaf) return { flags: SF | ZF | AF | PF, regIfZf: -1, name: "imul" };
    if (op2 === 0xa3 || op2 === 0xab || op2 === 0xb3 || op2 === 0xbb || op2 === 0xba) {
      return { flags: OF | SF | AF | PF, regIfZf: -1, name: "bt*" };
    }
    if (op2 === 0xbc || op2 === 0xbd) {
      return { flags: CF | OF | SF | AF | PF, regIfZf: reg2, name: op2 === 0xbc ? "bsf" : "bsr" };
    }
    if (op2 === 0xa4 || op2 === 0xa5 || op2 === 0xac || op2 === 0xad) {
      const size = op16 ? 16 : 32;
      const count = (op2 & 1 ? ecx & 0xff : code[i + 2 + modrmLength(code, i + 2, addr32)]) & 0x1f;
      const name = op2 < 0xac ? "shld" : "shrd";
      if (count === 0) return none(name);
      // SDM: OF undefined unless count is 1; AF undefined; count > size: everything undefined.
      let flags = AF | (count === 1 ? 0 : OF);
      if (count > size) flags = ARITH;
      return { flags, regIfZf: -1, name };
    }
    return none(`0f ${op2.toString(16).padStart(2, "0")}`);
  }
  return none(op.toString(16).padStart(2, "0"));
}
