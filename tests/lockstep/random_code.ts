/**
 * Seeded generator of random user-level i386 integer code for the lockstep harness.
 *
 * Every emitted instruction is valid in 32-bit protected mode at CPL 0, touches memory only in
 * the harness's scratch area (through EBP, which the code never writes, or absolute addresses in
 * the area) and the stack (ESP, with balanced pushes and pops), and cannot fault: divisions get a
 * safe dividend/divisor set up first, string operations get bounded counts and pointers in the
 * scratch area. Control flow only jumps forward, so each byte is executed at most once and the
 * stream ends at `code.length`.
 *
 * @module
 */

/** Harness layout shared with guests/cputests/src/harness.S. */
export const HARNESS = {
  /** Where generated code is patched in. */
  codeBase: 0x110000,
  codeSize: 0x10000,
  /** Scratch data area; EBP points at its middle while generated code runs. */
  scratchBase: 0x130000,
  scratchSize: 0x10000,
  /** EBP value during generated code. */
  ebp: 0x138000,
  /** Initial ESP (middle of the stack area 0x140000..0x150000). */
  esp: 0x148000,
  /** The harness's `jmp code_area`, reached once the GDT/IDT are set up. */
  vectorStubs: 0x108000,
} as const;

/** Deterministic 32-bit PRNG (mulberry32); the only randomness used by the verification tools. */
export class Prng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** Next uniformly distributed unsigned 32-bit value. */
  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [0, n). */
  below(n: number): number {
    return this.u32() % n;
  }
  /** One element of `xs`. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)];
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
  /** A 32-bit value biased toward interesting edges (0, ±1, sign bits, small). */
  interesting(): number {
    switch (this.below(8)) {
      case 0:
        return this.pick([
          0,
          1,
          0xffffffff,
          0x7fffffff,
          0x80000000,
          0x7f,
          0x80,
          0xff,
          0x8000,
          0xffff,
        ]);
      case 1:
        return this.below(64);
      case 2:
        return (0x100 - this.below(16)) >>> 0;
      default:
        return this.u32();
    }
  }
}

/** Registers generated code may write (never ESP=4 or EBP=5 directly). */
const DEST32 = [0, 1, 2, 3, 6, 7];
/** 8-bit registers: AL CL DL BL AH CH DH BH are all safe. */
const DEST8 = [0, 1, 2, 3, 4, 5, 6, 7];

/** Operand size of one instruction. */
type Size = 8 | 16 | 32;

/** Output of {@link generateCode}. */
export interface GeneratedCode {
  code: Uint8Array;
  /** Initial GPRs (EAX..EDI) to load before running the code. */
  regs: number[];
  /** Initial EFLAGS. */
  eflags: number;
  /** Initial contents of the scratch area. */
  scratch: Uint8Array;
}

class Emitter {
  bytes: number[] = [];
  depth = 0;
  constructor(readonly r: Prng) {}

  b(...xs: number[]): void {
    for (const x of xs) this.bytes.push(x & 0xff);
  }
  imm(v: number, size: Size): void {
    for (let i = 0; i < size / 8; i++) this.bytes.push((v >>> (8 * i)) & 0xff);
  }
  /** Operand-size prefix for 16-bit forms. */
  os(size: Size): void {
    if (size === 16) this.b(0x66);
  }
  size(): Size {
    return this.r.pick([8, 16, 32, 32] as const);
  }
  destReg(size: Size): number {
    return size === 8 ? this.r.pick(DEST8) : this.r.pick(DEST32);
  }
  /** Any source register (ESP/EBP readable). */
  srcReg(): number {
    return this.r.below(8);
  }
  /** ModRM with a register operand. */
  modReg(reg: number, rm: number): void {
    this.b(0xc0 | (reg << 3) | rm);
  }
  /** ModRM (+SIB, displacement) addressing a location in the scratch area. */
  modMem(reg: number): void {
    const r = this.r;
    switch (r.below(4)) {
      case 0: // [ebp+disp8]
        this.b(0x45 | (reg << 3), r.u32());
        break;
      case 1: // [ebp+disp32], within +-0x3000
        this.b(0x85 | (reg << 3));
        this.imm((r.below(0x6000) - 0x3000) >>> 0, 32);
        break;
      case 2: // SIB without index: [ebp+disp8]
        this.b(0x44 | (reg << 3), (r.below(4) << 6) | (4 << 3) | 5, r.u32());
        break;
      default: // absolute [disp32]
        this.b(0x05 | (reg << 3));
        this.imm(HARNESS.scratchBase + 0x1000 + r.below(0xe000), 32);
    }
  }
  /** Register or memory r/m operand with `reg` in the ModRM reg field; `write`: rm is written. */
  rm(reg: number, size: Size, write: boolean): void {
    if (this.r.chance(0.35)) this.modMem(reg);
    else this.modReg(reg, write ? this.destReg(size) : this.srcReg());
  }
}

type Gen = (e: Emitter) => void;

const ALU: Gen = (e) => {
  const op = e.r.below(8); // ADD OR ADC SBB AND SUB XOR CMP
  const size = e.size();
  const w = size === 8 ? 0 : 1;
  e.os(size);
  switch (e.r.below(4)) {
    case 0: // r/m, reg
      e.b((op << 3) | w);
      e.rm(e.srcReg(), size, true);
      break;
    case 1: // reg, r/m
      e.b((op << 3) | 2 | w);
      e.rm(e.destReg(size), size, false);
      break;
    case 2: { // r/m, imm
      const sx = size !== 8 && e.r.chance(0.5);
      e.b(size === 8 ? 0x80 : sx ? 0x83 : 0x81);
      e.rm(op, size, true);
      e.imm(e.r.interesting(), sx ? 8 : size);
      break;
    }
    default: // AL/eAX, imm
      e.b((op << 3) | 4 | w);
      e.imm(e.r.interesting(), size);
  }
};

const UNARY: Gen = (e) => {
  const size = e.size();
  e.os(size);
  switch (e.r.below(4)) {
    case 0: // INC/DEC r/m
      e.b(size === 8 ? 0xfe : 0xff);
      e.rm(e.r.below(2), size, true);
      break;
    case 1: // NOT/NEG
      e.b(size === 8 ? 0xf6 : 0xf7);
      e.rm(2 + e.r.below(2), size, true);
      break;
    case 2: // TEST r/m, reg or imm
      if (e.r.chance(0.5)) {
        e.b(size === 8 ? 0x84 : 0x85);
        e.rm(e.srcReg(), size, false);
      } else {
        e.b(size === 8 ? 0xf6 : 0xf7);
        e.rm(0, size, false);
        e.imm(e.r.interesting(), size);
      }
      break;
    default: // INC/DEC short form (32/16-bit)
      if (size === 8) {
        e.b(0xfe);
        e.modReg(e.r.below(2), e.destReg(8));
      } else e.b((e.r.chance(0.5) ? 0x40 : 0x48) + e.destReg(size));
  }
};

const SHIFT: Gen = (e) => {
  const size = e.size();
  const op = e.r.below(8); // ROL ROR RCL RCR SHL SHR SAL SAR
  const w = size === 8 ? 0 : 1;
  e.os(size);
  switch (e.r.below(3)) {
    case 0:
      e.b(0xd0 | w);
      e.rm(op, size, true);
      break;
    case 1:
      e.b(0xd2 | w);
      e.rm(op, size, true);
      break;
    default:
      e.b(0xc0 | w);
      e.rm(op, size, true);
      e.b(e.r.chance(0.8) ? e.r.below(33) : e.r.u32());
  }
};

const DOUBLE_SHIFT: Gen = (e) => {
  const size: Size = e.r.chance(0.3) ? 16 : 32;
  const right = e.r.chance(0.5) ? 8 : 0;
  if (e.r.chance(0.5)) {
    // CL form; for 16-bit keep the count <= 16 (larger counts leave the result undefined).
    if (size === 16) e.b(0x80, 0xe1, 0x0f); // and cl, 15
    e.os(size);
    e.b(0x0f, 0xa5 | right);
    e.rm(e.srcReg(), size, true);
  } else {
    e.os(size);
    e.b(0x0f, 0xa4 | right);
    e.rm(e.srcReg(), size, true);
    e.b(size === 16 ? e.r.below(17) : e.r.below(256));
  }
};

const MULDIV: Gen = (e) => {
  const size = e.size();
  const w = size === 8 ? 0 : 1;
  switch (e.r.below(5)) {
    case 0: // MUL/IMUL r/m (one operand)
      e.os(size);
      e.b(0xf6 | w);
      e.rm(4 + e.r.below(2), size, false);
      break;
    case 1: { // IMUL reg, r/m
      const s = size === 8 ? 32 : size;
      e.os(s);
      e.b(0x0f, 0xaf);
      e.rm(e.destReg(s), s, false);
      break;
    }
    case 2: { // IMUL reg, r/m, imm
      const s = size === 8 ? 32 : size;
      e.os(s);
      const short = e.r.chance(0.5);
      e.b(short ? 0x6b : 0x69);
      e.rm(e.destReg(s), s, false);
      e.imm(e.r.interesting(), short ? 8 : s);
      break;
    }
    default: { // DIV/IDIV by a register made safe first (divisor in CL/CX/ECX or BL/BX/EBX)
      const signed = e.r.chance(0.5);
      const dv = e.r.pick([1, 3]); // ECX or EBX
      if (size === 8) {
        // divisor in 3..127; dividend AX = sign/zero-extended AL so the quotient fits.
        e.b(0x80, 0xe0 | dv, 0x7f, 0x80, 0xc8 | dv, 0x03); // and r8,7f; or r8,3
        if (signed) e.b(0x66, 0x98); // cbw
        else e.b(0x30, 0xe4); // xor ah, ah
      } else {
        e.os(size);
        e.b(0x81, 0xe0 | dv); // and r, 0x7fff (positive divisor)
        e.imm(0x7fff, size);
        e.os(size);
        e.b(0x83, 0xc8 | dv, 0x03); // or r, 3
        e.os(size);
        if (signed) e.b(0x99); // cwd/cdq
        else e.b(0x31, 0xd2); // xor (e)dx, (e)dx
      }
      e.os(size);
      e.b(0xf6 | w);
      e.modReg(signed ? 7 : 6, dv);
    }
  }
};

const BITS: Gen = (e) => {
  const size: Size = e.r.chance(0.3) ? 16 : 32;
  e.os(size);
  switch (e.r.below(4)) {
    case 0: // BT/BTS/BTR/BTC r/m, imm8
      e.b(0x0f, 0xba);
      e.rm(4 + e.r.below(4), size, true);
      e.b(e.r.u32());
      break;
    case 1: // BT* reg, reg (memory forms would address far outside the scratch area)
      e.b(0x0f, 0xa3 | (e.r.below(4) << 3));
      e.modReg(e.srcReg(), e.destReg(size));
      break;
    case 2: // BSF/BSR
      e.b(0x0f, 0xbc | e.r.below(2));
      e.rm(e.destReg(size), size, false);
      break;
    default: // BSWAP (32-bit only)
      if (size === 16) e.bytes.pop();
      e.b(0x0f, 0xc8 + e.destReg(32));
  }
};

const BCD: Gen = (e) => {
  switch (e.r.below(6)) {
    case 0:
      e.b(0x27); // DAA
      break;
    case 1:
      e.b(0x2f); // DAS
      break;
    case 2:
      e.b(0x37); // AAA
      break;
    case 3:
      e.b(0x3f); // AAS
      break;
    case 4:
      e.b(0xd4, 1 + e.r.below(255)); // AAM imm8 (non-zero)
      break;
    default:
      e.b(0xd5, e.r.u32()); // AAD imm8
  }
};

const COND: Gen = (e) => {
  const cc = e.r.below(16);
  switch (e.r.below(3)) {
    case 0: { // CMOVcc
      const size: Size = e.r.chance(0.3) ? 16 : 32;
      e.os(size);
      e.b(0x0f, 0x40 | cc);
      e.rm(e.destReg(size), size, false);
      break;
    }
    case 1: // SETcc
      e.b(0x0f, 0x90 | cc);
      e.rm(0, 8, true);
      break;
    default: { // Jcc / JECXZ / LOOP forward over one following instruction
      const sub = new Emitter(e.r);
      ALU(sub);
      const kind = e.r.below(4);
      if (kind === 0) e.b(0xe3, sub.bytes.length); // JECXZ
      else if (kind === 1) e.b(0xe2 - e.r.below(3), sub.bytes.length); // LOOP/LOOPE/LOOPNE
      else if (kind === 2) e.b(0x70 | cc, sub.bytes.length);
      else {
        e.b(0x0f, 0x80 | cc);
        e.imm(sub.bytes.length, 32);
      }
      e.b(...sub.bytes);
    }
  }
};

const MOVES: Gen = (e) => {
  const size = e.size();
  const w = size === 8 ? 0 : 1;
  switch (e.r.below(8)) {
    case 0: // MOV r/m, reg / reg, r/m
      e.os(size);
      if (e.r.chance(0.5)) {
        e.b(0x88 | w);
        e.rm(e.srcReg(), size, true);
      } else {
        e.b(0x8a | w);
        e.rm(e.destReg(size), size, false);
      }
      break;
    case 1: // MOV reg, imm / r/m, imm
      e.os(size);
      if (e.r.chance(0.5)) {
        e.b((size === 8 ? 0xb0 : 0xb8) + e.destReg(size));
      } else {
        e.b(0xc6 | w);
        e.rm(0, size, true);
      }
      e.imm(e.r.interesting(), size);
      break;
    case 2: { // MOVZX/MOVSX
      const s: Size = e.r.chance(0.3) ? 16 : 32;
      e.os(s);
      e.b(0x0f, e.r.pick([0xb6, 0xb7, 0xbe, 0xbf]));
      e.rm(e.destReg(s), s, false);
      break;
    }
    case 3: // XCHG
      e.os(size);
      if (size !== 8 && e.r.chance(0.3)) e.b(0x90 + e.destReg(size));
      else {
        e.b(0x86 | w);
        e.rm(e.destReg(size), size, true);
      }
      break;
    case 4: // XADD / CMPXCHG
      e.os(size);
      e.b(0x0f, (e.r.chance(0.5) ? 0xc0 : 0xb0) | w);
      e.rm(e.destReg(size), size, true);
      break;
    case 5: // LEA
      e.os(size === 8 ? 32 : size);
      e.b(0x8d);
      e.modMem(e.destReg(32));
      break;
    case 6: // CBW/CWDE/CWD/CDQ
      e.os(size === 8 ? 16 : size);
      e.b(e.r.pick([0x98, 0x99]));
      break;
    default: // XLAT with EBX pointed into the scratch area first
      e.b(0xbb);
      e.imm(HARNESS.scratchBase + 0x100 + e.r.below(0x8000), 32);
      e.b(0xd7);
  }
};

const FLAGS: Gen = (e) => {
  switch (e.r.below(6)) {
    case 0:
      e.b(e.r.pick([0xf8, 0xf9, 0xf5, 0xfc, 0xfd])); // CLC STC CMC CLD STD
      break;
    case 1:
      e.b(e.r.pick([0x9e, 0x9f])); // SAHF LAHF
      break;
    case 2: // PUSH imm32 (arithmetic flags and DF only); POPF
      e.b(0x68);
      e.imm((e.r.u32() & 0x0cd5) | 0x2, 32);
      e.b(0x9d);
      break;
    case 3: // PUSHF; POP reg
      e.b(0x9c, 0x58 + e.destReg(32));
      break;
    case 4: // SALC-free CMC pair
      e.b(0xf5, 0xf5);
      break;
    default:
      e.b(0x90);
  }
};

const STACK: Gen = (e) => {
  const push = e.depth < 48 && (e.depth === 0 || e.r.chance(0.55));
  if (push) {
    switch (e.r.below(4)) {
      case 0:
        e.b(0x50 + e.srcReg());
        break;
      case 1:
        e.b(0x6a, e.r.u32());
        break;
      case 2:
        e.b(0xff);
        e.modMem(6); // PUSH m32
        break;
      default:
        // PUSHA ... POPA as a pair: POPA reloads EBP, which must still be the scratch pointer.
        e.b(0x60);
        ALU(e);
        e.b(0x61);
        return;
    }
    e.depth++;
  } else {
    if (e.r.chance(0.2)) {
      e.b(0x8f);
      e.modMem(0); // POP m32
    } else e.b(0x58 + e.destReg(32));
    e.depth--;
  }
};

const STRING: Gen = (e) => {
  const r = e.r;
  const area = HARNESS.scratchBase + 0x2000;
  e.b(0xbe); // mov esi, src
  e.imm(area + r.below(0x4000), 32);
  e.b(0xbf); // mov edi, dst
  e.imm(area + 0x6000 + r.below(0x4000), 32);
  e.b(0xb9); // mov ecx, count
  e.imm(r.below(20), 32);
  e.b(r.chance(0.5) ? 0xfc : 0xfd); // cld/std
  const op = r.pick([0xa4, 0xa6, 0xaa, 0xac, 0xae]); // MOVS CMPS STOS LODS SCAS
  const rep = r.below(3); // none, REP/REPE, REPNE (REPNE only where it is defined)
  if (rep === 1) e.b(0xf3);
  else if (rep === 2) e.b(op === 0xa6 || op === 0xae ? 0xf2 : 0xf3);
  const size = e.size();
  e.os(size);
  e.b(op | (size === 8 ? 0 : 1));
};

const GENERATORS: Array<[Gen, number]> = [
  [ALU, 24],
  [UNARY, 8],
  [SHIFT, 12],
  [DOUBLE_SHIFT, 4],
  [MULDIV, 8],
  [BITS, 6],
  [BCD, 4],
  [COND, 10],
  [MOVES, 12],
  [FLAGS, 5],
  [STACK, 6],
  [STRING, 4],
];
const TOTAL_WEIGHT = GENERATORS.reduce((s, [, w]) => s + w, 0);

/**
 * Generates about `count` instructions (helper setup instructions included) from `seed`, at most
 * `HARNESS.codeSize - 16` bytes. The stack is rebalanced at the end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateCode } from "./random_code.ts";
 * const g = generateCode(1, 100);
 * assert.ok(g.code.length > 100);
 * assert.equal(g.regs.length, 8);
 * ```
 */
export function generateCode(seed: number, count: number): GeneratedCode {
  const r = new Prng(seed);
  const e = new Emitter(r);
  const limit = HARNESS.codeSize - 512;
  for (let i = 0; i < count && e.bytes.length < limit; i++) {
    let pick = r.below(TOTAL_WEIGHT);
    for (const [gen, w] of GENERATORS) {
      if (pick < w) {
        gen(e);
        break;
      }
      pick -= w;
    }
  }
  // Rebalance the stack: pop what is left into EAX.
  for (; e.depth > 0; e.depth--) e.b(0x58);
  const regs = Array.from({ length: 8 }, () => r.interesting());
  regs[4] = HARNESS.esp;
  regs[5] = HARNESS.ebp;
  const scratch = new Uint8Array(HARNESS.scratchSize);
  for (let i = 0; i < scratch.length; i += 4) {
    const v = r.u32();
    scratch[i] = v;
    scratch[i + 1] = v >>> 8;
    scratch[i + 2] = v >>> 16;
    scratch[i + 3] = v >>> 24;
  }
  return {
    code: Uint8Array.from(e.bytes),
    regs,
    eflags: 0x2 | (r.u32() & 0x8d5),
    scratch,
  };
}
