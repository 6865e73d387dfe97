/**
 * Structural decoding for the translator: the instruction at a physical address as data (prefixes,
 * opcode, ModRM parts, immediates) rather than as a closure (translate.ts), so that its JS source
 * can carry every decode-time fact as a literal.
 *
 * Only the forms the emitters handle (jit_ops.ts) are accepted; anything else, a LOCK prefix, a form
 * that raises #UD at decode time, or bytes running past the page, gives null and ends the block
 * before it, leaving the instruction to the interpreter (which raises any fault exactly).
 * Operand/address sizes and segment defaults follow decoder.ts and operands.ts (SDM Vol.2 2.1).
 *
 * @module
 */

/** A decoded memory operand (offset = disp + base + (index << scale), masked by address size). */
export interface MemOperand {
  readonly seg: number;
  readonly base: number;
  readonly index: number;
  readonly scale: number;
  readonly disp: number;
}

/** One decoded instruction. */
export interface Insn {
  /** Byte offset from the block head and length. */
  readonly off: number;
  readonly len: number;
  /** Opcode: 0x00-0xFF one-byte map, 0x100-0x1FF the 0F map. */
  readonly op: number;
  readonly o32: boolean;
  readonly a32: boolean;
  /** ModRM reg field (or the /digit) and r/m register (register form). */
  readonly reg: number;
  readonly rm: number;
  /** The memory operand, null for a register form or no ModRM. */
  readonly mem: MemOperand | null;
  /** Immediate (sign-extended as the instruction defines, masked to the operand size). */
  readonly imm: number;
  /** Relative displacement of JMP/Jcc/CALL; RET's immediate. */
  readonly disp: number;
  /** Segment override (-1 none) and the last REP prefix (0, 0xF2, 0xF3), for string ops. */
  readonly seg: number;
  readonly rep: number;
}

/** MOVS CMPS STOS LODS SCAS (jit_string.ts). */
export const STRING_OPS: readonly number[] = [
  0xa4,
  0xa5,
  0xa6,
  0xa7,
  0xaa,
  0xab,
  0xac,
  0xad,
  0xae,
  0xaf,
];

const ONE_BYTE = new Uint8Array(256);
const TWO_BYTE = new Uint8Array(256);
/** Bit 1: has ModRM; the immediate kind in bits 2..: see IMM_*. */
const MODRM = 1;
const IMM8 = 2, IMMV = 4, IMM16 = 8, REL8 = 16, RELV = 32, MOFFS = 64;

function set(t: Uint8Array, ops: number[], v: number): void {
  for (const op of ops) t[op] = v;
}
for (let op = 0; op < 0x40; op += 8) {
  set(ONE_BYTE, [op, op + 1, op + 2, op + 3], MODRM);
  ONE_BYTE[op + 4] = IMM8;
  ONE_BYTE[op + 5] = IMMV;
}
for (let op = 0x40; op < 0x60; op++) ONE_BYTE[op] = 128; // no operands
set(ONE_BYTE, [0x68], IMMV);
set(ONE_BYTE, [0x6a], IMM8);
set(ONE_BYTE, [0x69], MODRM | IMMV);
set(ONE_BYTE, [0x6b], MODRM | IMM8);
for (let op = 0x70; op < 0x80; op++) ONE_BYTE[op] = REL8;
set(ONE_BYTE, [0x80, 0x82, 0x83, 0xc0, 0xc1, 0xc6], MODRM | IMM8);
set(ONE_BYTE, [0x81, 0xc7], MODRM | IMMV);
set(ONE_BYTE, [0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8d], MODRM);
set(ONE_BYTE, [0xd0, 0xd1, 0xd2, 0xd3, 0xf6, 0xf7, 0xfe, 0xff], MODRM);
for (let op = 0x90; op < 0x9a; op++) ONE_BYTE[op] = 128;
for (const op of STRING_OPS) ONE_BYTE[op] = 128;
set(ONE_BYTE, [0x9c, 0x9d, 0xec, 0xed, 0xee, 0xef, 0xf4, 0xfa, 0xfb], 128); // jit_sys.ts
set(ONE_BYTE, [0xe4, 0xe5, 0xe6, 0xe7], IMM8);
TWO_BYTE[0x31] = 128;
// MOV from/to CRn: the ModRM byte is always a register form (mod ignored, no SIB or
// displacement, SDM Vol.2 MOV CR), so it is taken as an 8-bit immediate.
TWO_BYTE[0x20] = TWO_BYTE[0x22] = IMM8;
ONE_BYTE[0xcf] = 128;
set(ONE_BYTE, [0xa0, 0xa1, 0xa2, 0xa3], MOFFS);
ONE_BYTE[0xa8] = IMM8;
ONE_BYTE[0xa9] = IMMV;
for (let op = 0xb0; op < 0xb8; op++) ONE_BYTE[op] = IMM8;
for (let op = 0xb8; op < 0xc0; op++) ONE_BYTE[op] = IMMV;
ONE_BYTE[0xc2] = IMM16;
set(ONE_BYTE, [0xc3, 0xc9, 0xf5, 0xf8, 0xf9, 0xfc, 0xfd], 128);
ONE_BYTE[0xe8] = RELV;
ONE_BYTE[0xe9] = RELV;
ONE_BYTE[0xeb] = REL8;
for (let op = 0x40; op < 0x50; op++) TWO_BYTE[op] = MODRM;
for (let op = 0x80; op < 0x90; op++) TWO_BYTE[op] = RELV;
for (let op = 0x90; op < 0xa0; op++) TWO_BYTE[op] = MODRM;
set(TWO_BYTE, [0xaf, 0xb6, 0xb7, 0xbe, 0xbf], MODRM);

/** 16-bit ModRM forms by r/m: base (BX 3, BP 5) and index (SI 6, DI 7) registers, -1 none. */
const BASE16 = [3, 3, 5, 5, -1, -1, 5, 3];
const INDEX16 = [6, 7, 6, 7, 6, 7, -1, -1];

/**
 * Decodes the instruction at `ram[pa]` (`off` bytes after the block head) in a code segment of
 * default size `code32`, reading no byte at or beyond `limit`; null when not translatable.
 */
export function decodeInsn(
  ram: Uint8Array,
  pa: number,
  off: number,
  limit: number,
  code32: boolean,
): Insn | null {
  let p = pa, bad = false;
  const byte = (): number => {
    if (p < limit) return ram[p++];
    bad = true;
    return 0;
  };
  let o32 = code32, a32 = code32, seg = -1, rep = 0;
  let op = byte();
  for (let n = 0;; n++) {
    if (n > 4 || bad) return null;
    if (op === 0x66) o32 = !code32;
    else if (op === 0x67) a32 = !code32;
    else if (op === 0x26 || op === 0x2e || op === 0x36 || op === 0x3e) seg = (op >> 3) & 3;
    else if (op === 0x64 || op === 0x65) seg = op - 0x60;
    else if (op === 0xf2 || op === 0xf3) rep = op; // read by string ops only; LOCK is declined
    else break;
    op = byte();
  }
  let kind: number;
  if (op === 0x0f) {
    const op2 = byte();
    kind = TWO_BYTE[op2];
    op = 0x100 | op2;
  } else kind = ONE_BYTE[op];
  if (kind === 0) return null;
  let reg = 0, rm = 0, mem: MemOperand | null = null;
  const s8 = (): number => (byte() << 24) >> 24;
  const u16 = (): number => byte() | (byte() << 8);
  const i32 = (): number => u16() | (u16() << 16);
  if (kind & MODRM) {
    const m = byte();
    reg = (m >> 3) & 7;
    rm = m & 7;
    if (m < 0xc0) {
      const mod = m >> 6;
      let base = -1, index = -1, scale = 0, disp = 0, dseg = 3;
      if (a32) {
        if (rm === 4) {
          const sib = byte();
          const b = sib & 7, i = (sib >> 3) & 7;
          if (b === 5 && mod === 0) disp = i32();
          else {
            base = b;
            if (b === 4 || b === 5) dseg = 2;
          }
          if (i !== 4) {
            index = i;
            scale = sib >> 6;
          }
        } else if (rm === 5 && mod === 0) disp = i32();
        else {
          base = rm;
          if (rm === 5) dseg = 2;
        }
        if (mod === 1) disp += s8();
        else if (mod === 2) disp = (disp + i32()) | 0;
      } else {
        base = BASE16[rm];
        index = INDEX16[rm];
        if (rm === 2 || rm === 3) dseg = 2;
        if (rm === 6) {
          if (mod === 0) {
            base = -1;
            disp = u16();
          } else dseg = 2;
        }
        if (mod === 1) disp += s8();
        else if (mod === 2) disp += u16();
      }
      mem = { seg: seg >= 0 ? seg : dseg, base, index, scale, disp };
    }
  }
  let imm = 0, disp = 0;
  if (kind & IMM8) {
    imm = op === 0x83 || op === 0x6a || op === 0x6b ? s8() : byte();
    if (op === 0x83) imm &= o32 ? -1 : 0xffff;
  } else if (kind & IMMV) imm = o32 ? i32() : u16();
  else if (kind & IMM16) disp = u16();
  else if (kind & REL8) disp = s8();
  else if (kind & RELV) disp = o32 ? i32() : (u16() << 16) >> 16;
  else if (kind & MOFFS) {
    const moffs = a32 ? i32() >>> 0 : u16();
    mem = { seg: seg >= 0 ? seg : 3, base: -1, index: -1, scale: 0, disp: moffs };
  }
  // TEST imm in group 3 (F6/F7 /0 /1) carries an immediate of the operand size.
  if ((op === 0xf6 || op === 0xf7) && reg < 2) imm = op === 0xf6 ? byte() : o32 ? i32() : u16();
  if (bad || p - pa > 15) return null;
  if (op === 0xc6 || op === 0xc7) {
    if (reg !== 0) return null; // #UD
  }
  if (op === 0x8d && mem === null) return null; // LEA with a register source: #UD
  if (op === 0xfe && reg > 1) return null;
  if (op === 0xff && (reg === 3 || reg === 5 || reg === 7)) return null; // far forms, #UD
  return { off, len: p - pa, op, o32, a32, reg, rm, mem, imm, disp, seg, rep };
}
