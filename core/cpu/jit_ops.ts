/**
 * Emitters: JS source for each translated instruction, the semantics of translate.ts and the
 * family modules (arith.ts, logical.ts, shift.ts, flags.ts) restated over the block's locals.
 *
 * An emitter returns {@link Emit.next} (execution continues with the next instruction),
 * {@link Emit.jump} (a control transfer: it set `nx`, the block ends) or {@link Emit.decline}
 * (a form left to the interpreter: nothing emitted, the block ends before it). Every emitter
 * performs its checks (side exits, jit_gen.ts) before its store and updates registers and flags
 * last, so that a side exit leaves the instruction unexecuted.
 *
 * @module
 */

import { Writer } from "./jit_flags.ts";
import type { Gen } from "./jit_gen.ts";

export const enum Emit {
  next,
  jump,
  decline,
}

const TOP = [7, 15, 31];
const ARITH = 2261; // CF PF AF ZF SF OF
const RESULT_LAZY = 196; // PF ZF SF
const CF_OF_AF = 2065;
const CF_OF = 2049;

type Emitter = (g: Gen) => Emit;

/** Records an addition a + b = r (flags.ts add/adc). */
function recAdd(g: Gen, a: string, b: string, r: string, s: number, w: Writer): void {
  g.emit(`O1 = ${a}; O2 = ${b}; AD = RS = ${r}; SZ = ${TOP[s]}; L = ${ARITH};`);
  g.flags.set(w, s);
}

/** Records a subtraction a - b = r as r + b = a (flags.ts sub/sbb). */
export function recSub(g: Gen, a: string, b: string, r: string, s: number, w: Writer): void {
  g.emit(`O1 = RS = ${r}; O2 = ${b}; AD = ${a}; SZ = ${TOP[s]}; L = ${ARITH};`);
  g.flags.set(w, s);
}

/** setResultFlags: PF/ZF/SF from r, CF/OF/AF from `cfOfAf` (an expression). */
function recResult(g: Gen, r: string, s: number, cfOfAf: string): void {
  const f = cfOfAf === "0" ? `F & ${~CF_OF_AF}` : `(F & ${~CF_OF_AF}) | ${cfOfAf}`;
  g.emit(`RS = ${r}; SZ = ${TOP[s]}; L = ${RESULT_LAZY}; F = ${f};`);
  g.flags.set(Writer.result, s);
}

/** ALU op `o` (ADD OR ADC SBB AND SUB XOR CMP) of a and b (locals); returns the result local. */
function alu(g: Gen, o: number, a: string, b: string, s: number): string {
  switch (o) {
    case 0: {
      const r = g.let(g.mask(`${a} + ${b}`, s));
      recAdd(g, a, b, r, s, Writer.add);
      return r;
    }
    case 2: {
      const cf = g.let(g.flags.flag(1));
      const r = g.let(g.mask(`${a} + ${b} + ${cf}`, s));
      recAdd(g, a, b, r, s, Writer.none);
      return r;
    }
    case 3: {
      const cf = g.let(g.flags.flag(1));
      const r = g.let(g.mask(`${a} - ${b} - ${cf}`, s));
      recSub(g, a, b, r, s, Writer.none);
      return r;
    }
    case 5:
    case 7: {
      const r = g.let(g.mask(`${a} - ${b}`, s));
      recSub(g, a, b, r, s, Writer.sub);
      return r;
    }
    default: {
      const r = g.let(`${a} ${o === 1 ? "|" : o === 4 ? "&" : "^"} ${b}`);
      recResult(g, r, s, "0");
      return r;
    }
  }
}

/** Operand size code of an opcode whose low bit selects byte / full size. */
export function sizeOf(g: Gen, op: number): number {
  return op & 1 ? (g.insn.o32 ? 2 : 1) : 0;
}

/**
 * Read-modify-write of the r/m operand: `f` maps the old value (a local) to the new one (a
 * local, or null for no write). Memory is translated once for reading and writing.
 */
function rmw(g: Gen, s: number, f: (v: string) => string | null): void {
  const m = g.insn.mem;
  if (m === null) {
    const r = f(g.let(g.reg(g.insn.rm, s)));
    if (r !== null) g.setReg(g.insn.rm, s, r);
    return;
  }
  // The only side exit is here: once translated for reading and writing, the store cannot fail.
  const pa = g.phys(m.seg, g.offset(m), s, true, true);
  const r = f(g.loadPhys(pa, s));
  if (r !== null) g.storePhys(pa, s, r);
}

// ---- ALU ----

const opAlu: Emitter = (g) => {
  const op = g.insn.op, s = sizeOf(g, op), o = op >> 3, form = op & 7;
  if (form >= 4) {
    const r = alu(g, o, g.let(g.reg(0, s)), `${g.insn.imm}`, s);
    if (o !== 7) g.setReg(0, s, r);
    return Emit.next;
  }
  const reg = g.insn.reg;
  if (form >= 2) {
    const b = g.readE(s);
    const r = alu(g, o, g.let(g.reg(reg, s)), b, s);
    if (o !== 7) g.setReg(reg, s, r);
    return Emit.next;
  }
  if (o === 7) {
    alu(g, 7, g.readE(s), g.let(g.reg(reg, s)), s);
    return Emit.next;
  }
  const b = g.let(g.reg(reg, s));
  rmw(g, s, (v) => alu(g, o, v, b, s));
  return Emit.next;
};

const opGroup1: Emitter = (g) => {
  const s = sizeOf(g, g.insn.op), o = g.insn.reg, imm = `${g.insn.imm}`;
  if (o === 7) alu(g, 7, g.readE(s), imm, s);
  else rmw(g, s, (v) => alu(g, o, v, imm, s));
  return Emit.next;
};

const opTest: Emitter = (g) => {
  const op = g.insn.op, s = sizeOf(g, op);
  const a = op >= 0xa8 ? g.let(g.reg(0, s)) : g.readE(s);
  const b = op >= 0xa8 ? `${g.insn.imm}` : g.reg(g.insn.reg, s);
  recResult(g, g.let(`${a} & ${b}`), s, "0");
  return Emit.next;
};

function incDec(g: Gen, v: string, s: number, dec: boolean): string {
  const cf = g.let(g.flags.flag(1));
  const r = g.let(g.mask(`${v} ${dec ? "-" : "+"} 1`, s));
  if (dec) recSub(g, v, "1", r, s, Writer.incdec);
  else recAdd(g, v, "1", r, s, Writer.incdec);
  g.emit(`F = (F & -2) | ${cf}; L = ${ARITH & ~1};`);
  return r;
}

const opIncDecReg: Emitter = (g) => {
  const op = g.insn.op, s = g.insn.o32 ? 2 : 1, n = op & 7;
  g.setReg(n, s, incDec(g, g.let(g.reg(n, s)), s, op >= 0x48));
  return Emit.next;
};

const opGroup4: Emitter = (g) => {
  rmw(g, 0, (v) => incDec(g, v, 0, g.insn.reg === 1));
  return Emit.next;
};

// ---- shifts (SHL/SAL, SHR, SAR) and rotates (ROL, ROR by a constant count) ----

function shiftSrc(g: Gen, o: number, v: string, cnt: string, s: number): string {
  const top = TOP[s], w = top + 1, m = ["255", "65535", "-1"][s];
  if (o === 4 || o === 6) {
    const x = g.let(`(${v} << (${cnt} - 1)) & ${m}`);
    const r = g.let(`(${x} << 1) & ${m}`);
    recResult(g, r, s, `((${x} >>> ${top}) & 1) | ((((${x} ^ ${r}) >>> ${top}) & 1) << 11)`);
    return r;
  }
  if (o === 5) {
    const x = g.let(`(${v} & ${m}) >>> (${cnt} - 1)`);
    const r = g.let(`(${x} >>> 1) | 0`);
    recResult(g, r, s, `(${x} & 1) | ((((${x} ^ ${r}) >>> ${top}) & 1) << 11)`);
    return r;
  }
  const x = g.let(`((${v} << ${32 - w}) >> ${32 - w}) >> (${cnt} - 1)`);
  const r = g.let(`(${x} >> 1) & ${m}`);
  recResult(g, r, s, `${x} & 1`);
  return r;
}

/**
 * ROL (`o` 0) / ROR of `v` by a constant masked count `cnt` > 0 (shift.ts): by `cnt` mod width,
 * CF and OF set even when that is 0, the other flags settled and kept.
 */
function rotateSrc(g: Gen, o: number, v: string, cnt: number, s: number): string {
  const top = TOP[s], w = top + 1, m = ["255", "65535", "-1"][s], n = cnt & top;
  let e = `(${v}) & ${m}`;
  if (n !== 0) {
    e = o === 0
      ? `((${v} << ${n}) | ((${v} & ${m}) >>> ${w - n})) & ${m}`
      : `(((${v} & ${m}) >>> ${n}) | (${v} << ${w - n})) & ${m}`;
  }
  const r = g.let(e);
  const cf = g.let(o === 0 ? `${r} & 1` : `(${r} >>> ${top}) & 1`);
  const of = o === 0
    ? `((${r} >>> ${top}) & 1) ^ ${cf}`
    : `((${r} >>> ${top}) ^ (${r} >>> ${top - 1})) & 1`;
  g.emit(g.flags.settle());
  g.emit(`F = (F & ${~CF_OF}) | ${cf} | ((${of}) << 11);`);
  return r;
}

const opShift: Emitter = (g) => {
  const op = g.insn.op, o = g.insn.reg, s = sizeOf(g, op);
  // RCL/RCR, and rotates by CL, are left to the interpreter.
  if (o === 2 || o === 3 || (o < 2 && op >= 0xd2)) return Emit.decline;
  if (op < 0xd2) {
    const cnt = op < 0xd0 ? g.insn.imm & 31 : 1;
    // A zero count changes nothing, but the destination is still checked (translate.ts).
    rmw(
      g,
      s,
      (v) => cnt === 0 ? null : o < 2 ? rotateSrc(g, o, v, cnt, s) : shiftSrc(g, o, v, `${cnt}`, s),
    );
    return Emit.next;
  }
  // Count in CL, register operand only (a memory operand is not written for a zero count):
  // the flag state afterwards depends on the count, so the generic formulas take over.
  if (g.insn.mem !== null) return Emit.decline;
  const cnt = g.let(`${g.reg(1, 0)} & 31`);
  const v = g.let(g.reg(g.insn.rm, s));
  const out = g.var(v);
  g.emit(`if (${cnt} !== 0) {`);
  g.emit(`${out} = ${shiftSrc(g, o, v, cnt, s)};`);
  g.emit("}");
  g.setReg(g.insn.rm, s, out);
  g.flags.set(Writer.none, s);
  return Emit.next;
};

// ---- group 3 ----

const opGroup3: Emitter = (g) => {
  const s = sizeOf(g, g.insn.op), o = g.insn.reg;
  if (o >= 4 && s !== 2) return Emit.decline;
  switch (o) {
    case 0:
    case 1:
      recResult(g, g.let(`${g.readE(s)} & ${g.insn.imm}`), s, "0");
      return Emit.next;
    case 2:
      rmw(g, s, (v) => g.let(g.mask(`~${v}`, s)));
      return Emit.next;
    case 3:
      rmw(g, s, (v) => {
        const r = g.let(g.mask(`0 - ${v}`, s));
        recSub(g, "0", v, r, s, Writer.sub);
        return r;
      });
      return Emit.next;
    case 4:
    case 5: {
      const src = g.readE(2), a = g.let(g.reg(0, 2));
      const lo = g.let(`Math.imul(${a}, ${src})`);
      const hi = g.let(`${o === 4 ? "MHU" : "MHS"}(${a}, ${src})`);
      const over = o === 4 ? `${hi} !== 0` : `${hi} !== (${lo} >> 31)`;
      g.setReg(0, 2, lo);
      g.setReg(2, 2, hi);
      recResult(g, lo, 2, `(${over} ? 2049 : 0)`);
      return Emit.next;
    }
    default: {
      const src = g.readE(2);
      const e = g.exit;
      const d = g.let(o === 6 ? `${src} >>> 0` : `${src} | 0`);
      g.emit(`if (${d} === 0) ${e}`);
      let hi: string, lo: string, ad: string, neg = "";
      if (o === 6) {
        hi = g.let(`${g.reg(2, 2)} >>> 0`);
        lo = g.let(`${g.reg(0, 2)} >>> 0`);
        ad = d;
      } else {
        hi = g.var(`${g.reg(2, 2)} | 0`);
        lo = g.var(`${g.reg(0, 2)} >>> 0`);
        neg = g.let(`${hi} < 0`);
        g.emit(
          `if (${neg}) { ${lo} = (~${lo} + 1) >>> 0; ` +
            `${hi} = (~${hi} + (${lo} === 0 ? 1 : 0)) >>> 0; } else ${hi} >>>= 0;`,
        );
        ad = g.let(`Math.abs(${d})`);
      }
      g.emit(`if (${hi} >= ${ad}) ${e}`);
      // Two 16-bit steps keep every intermediate exact in a double (arith.ts div64).
      const n1 = g.let(`${hi} * 65536 + (${lo} >>> 16)`);
      const q1 = g.let(`Math.floor(${n1} / ${ad})`);
      const n0 = g.let(`(${n1} - ${q1} * ${ad}) * 65536 + (${lo} & 65535)`);
      const q0 = g.let(`Math.floor(${n0} / ${ad})`);
      const q = g.var(`${q1} * 65536 + ${q0}`);
      const rem = g.var(`${n0} - ${q0} * ${ad}`);
      if (o === 7) {
        g.emit(`if (${neg} !== (${d} < 0)) ${q} = -${q};`);
        g.emit(`if (${neg}) ${rem} = -${rem};`);
        g.emit(`if (${q} > 2147483647 || ${q} < -2147483648) ${e}`);
      }
      g.setReg(0, 2, q);
      g.setReg(2, 2, rem);
      return Emit.next;
    }
  }
};

const opImul: Emitter = (g) => {
  const op = g.insn.op, s = g.insn.o32 ? 2 : 1;
  const a = op === 0x1af ? g.let(g.reg(g.insn.reg, s)) : g.readE(s);
  const b = op === 0x1af ? g.readE(s) : `${g.insn.imm}`;
  if (s === 2) {
    // CF = OF = the product does not fit in int32: then the double product (rounded, but not
    // into the int32 range) differs from the low dword; without the high dword's call.
    const lo = g.let(`Math.imul(${a}, ${b})`);
    recResult(g, lo, 2, `(${lo} !== ${a} * ${b} ? 2049 : 0)`);
    g.setReg(g.insn.reg, 2, lo);
  } else {
    const p = g.let(`((${a} << 16) >> 16) * ((${b} << 16) >> 16)`);
    const r = g.let(`${p} & 65535`);
    recResult(g, r, 1, `(${p} !== ((${p} << 16) >> 16) ? 2049 : 0)`);
    g.setReg(g.insn.reg, 1, r);
  }
  return Emit.next;
};

// ---- data movement ----

const opMov: Emitter = (g) => {
  const op = g.insn.op, s = sizeOf(g, op), m = g.insn.mem, reg = g.insn.reg;
  if (op < 0x8a) {
    if (m === null) {
      g.setReg(g.insn.rm, s, g.reg(reg, s));
      return Emit.next;
    }
    const v = g.let(g.reg(reg, s));
    g.storePhys(g.phys(m.seg, g.offset(m), s, false, true), s, v);
    return Emit.next;
  }
  g.setReg(reg, s, g.readE(s));
  return Emit.next;
};

const opMovImmE: Emitter = (g) => {
  const s = sizeOf(g, g.insn.op), m = g.insn.mem;
  if (m === null) g.setReg(g.insn.rm, s, `${g.insn.imm}`);
  else g.storePhys(g.phys(m.seg, g.offset(m), s, false, true), s, `${g.insn.imm}`);
  return Emit.next;
};

const opMovImmReg: Emitter = (g) => {
  const op = g.insn.op;
  g.setReg(op & 7, op >= 0xb8 ? (g.insn.o32 ? 2 : 1) : 0, `${g.insn.imm}`);
  return Emit.next;
};

const opMovMoffs: Emitter = (g) => {
  const op = g.insn.op, s = sizeOf(g, op), m = g.insn.mem!;
  const off = g.let(`${m.disp}`);
  if (op < 0xa2) {
    g.setReg(0, s, g.loadPhys(g.phys(m.seg, off, s, true, false), s));
  } else {
    const v = g.let(g.reg(0, s));
    g.storePhys(g.phys(m.seg, off, s, false, true), s, v);
  }
  return Emit.next;
};

const opLea: Emitter = (g) => {
  g.setReg(g.insn.reg, g.insn.o32 ? 2 : 1, g.offset(g.insn.mem!));
  return Emit.next;
};

const opMovx: Emitter = (g) => {
  const op = g.insn.op, ss = op & 1 ? 1 : 0;
  let v = g.readE(ss);
  if (op >= 0x1be) v = ss ? `((${v} << 16) >> 16)` : `((${v} << 24) >> 24)`;
  g.setReg(g.insn.reg, g.insn.o32 ? 2 : 1, v);
  return Emit.next;
};

const opCmov: Emitter = (g) => {
  const s = g.insn.o32 ? 2 : 1;
  const v = g.readE(s);
  const cond = g.flags.cond(g.insn.op & 15);
  const mark = g.lines.length;
  g.setReg(g.insn.reg, s, v);
  const set = g.lines.splice(mark);
  g.emit(`if (${cond}) { ${set.join(" ")} }`);
  return Emit.next;
};

const opSetcc: Emitter = (g) => {
  const v = g.let(`${g.flags.cond(g.insn.op & 15)} ? 1 : 0`);
  const m = g.insn.mem;
  if (m === null) g.setReg(g.insn.rm, 0, v);
  else g.storePhys(g.phys(m.seg, g.offset(m), 0, false, true), 0, v);
  return Emit.next;
};

const opXchg: Emitter = (g) => {
  const s = sizeOf(g, g.insn.op), reg = g.insn.reg;
  const mine = g.let(g.reg(reg, s));
  let old = "";
  rmw(g, s, (v) => {
    old = v;
    return mine;
  });
  g.setReg(reg, s, old);
  return Emit.next;
};

const opXchgAcc: Emitter = (g) => {
  const s = g.insn.o32 ? 2 : 1, n = g.insn.op & 7;
  const a = g.let(g.reg(0, s)), b = g.let(g.reg(n, s));
  g.setReg(0, s, b);
  g.setReg(n, s, a);
  return Emit.next;
};

const opConvert: Emitter = (g) => {
  const o32 = g.insn.o32;
  if (g.insn.op === 0x98) {
    g.setReg(0, o32 ? 2 : 1, `(${g.reg(0, 2)} << ${o32 ? 16 : 24}) >> ${o32 ? 16 : 24}`);
  } else g.setReg(2, o32 ? 2 : 1, `(${g.reg(0, 2)} << ${o32 ? 0 : 16}) >> 31`);
  return Emit.next;
};

const opNop: Emitter = () => Emit.next;

const opFlag: Emitter = (g) => {
  const op = g.insn.op;
  if (op === 0xfc || op === 0xfd) {
    g.emit(op === 0xfc ? "F &= -1025;" : "F |= 1024;");
    g.flags.written = true;
    return Emit.next;
  }
  g.emit(g.flags.settle());
  g.emit(op === 0xf5 ? "F ^= 1;" : op === 0xf8 ? "F &= -2;" : "F |= 1;");
  return Emit.next;
};

// ---- stack (32-bit operand size on a 32-bit stack; other forms are declined) ----

/** Stores dword `v` below ESP; returns the new ESP (a local) for the caller to set last. */
function push(g: Gen, v: string): string {
  const sp = g.let(`(${g.reg(4, 2)} - 4) >>> 0`);
  g.storePhys(g.phys(2, sp, 2, false, true), 2, v);
  return sp;
}

function stackOk(g: Gen): boolean {
  return g.insn.o32 && g.stack32;
}

const opPushPop: Emitter = (g) => {
  if (!stackOk(g)) return Emit.decline;
  const n = g.insn.op & 7;
  if (g.insn.op < 0x58) {
    g.setReg(4, 2, push(g, g.let(g.reg(n, 2))));
    return Emit.next;
  }
  const sp = g.sp();
  const v = g.loadPhys(g.phys(2, sp, 2, true, false), 2);
  g.setReg(4, 2, `${sp} + 4`);
  g.setReg(n, 2, v);
  return Emit.next;
};

const opPushImm: Emitter = (g) => {
  if (!stackOk(g)) return Emit.decline;
  g.setReg(4, 2, push(g, `${g.insn.imm}`));
  return Emit.next;
};

const opLeave: Emitter = (g) => {
  if (!stackOk(g)) return Emit.decline;
  const bp = g.let(`${g.reg(5, 2)} >>> 0`);
  const v = g.loadPhys(g.phys(2, bp, 2, true, false), 2);
  g.setReg(4, 2, `${bp} + 4`);
  g.setReg(5, 2, v);
  return Emit.next;
};

// ---- control flow ----

/** Sets `nx` to `target` (a local, already masked) unless it lies beyond the CS limit. */
function jumpTo(g: Gen, target: string): void {
  g.emit(`if (${target} > csl) ${g.exit}`);
  g.emit(`nx = ${target};`);
}

function relTarget(g: Gen): string {
  const i = g.insn;
  const t = `e0 + ${i.off + i.len + i.disp}`;
  return g.let(i.o32 ? `(${t}) >>> 0` : `(${t}) & 65535`);
}

const opJcc: Emitter = (g) => {
  const i = g.insn;
  const cond = g.flags.cond(i.op & 15);
  g.emit(`if (${cond}) {`);
  jumpTo(g, relTarget(g));
  g.emit(`} else nx = e0 + ${i.off + i.len};`);
  return Emit.jump;
};

const opJmp: Emitter = (g) => {
  jumpTo(g, relTarget(g));
  return Emit.jump;
};

const opCall: Emitter = (g) => {
  if (!stackOk(g)) return Emit.decline;
  const t = relTarget(g);
  g.emit(`if (${t} > csl) ${g.exit}`);
  const sp = push(g, `e0 + ${g.insn.off + g.insn.len}`);
  g.setReg(4, 2, sp);
  g.emit(`nx = ${t};`);
  return Emit.jump;
};

const opRet: Emitter = (g) => {
  if (!stackOk(g)) return Emit.decline;
  const sp = g.sp();
  const t = g.let(`${g.loadPhys(g.phys(2, sp, 2, true, false), 2)} >>> 0`);
  jumpTo(g, t);
  g.setReg(4, 2, `${g.reg(4, 2)} + ${(g.insn.op === 0xc2 ? g.insn.disp : 0) + 4}`);
  return Emit.jump;
};

const opGroup5: Emitter = (g) => {
  const o = g.insn.reg, s = g.insn.o32 ? 2 : 1;
  if (o < 2) {
    rmw(g, s, (v) => incDec(g, v, s, o === 1));
    return Emit.next;
  }
  if (!stackOk(g)) return Emit.decline;
  const v = g.readE(2);
  if (o === 6) {
    g.setReg(4, 2, push(g, v));
    return Emit.next;
  }
  const t = g.let(`${v} >>> 0`);
  if (o === 4) {
    jumpTo(g, t);
    return Emit.jump;
  }
  g.emit(`if (${t} > csl) ${g.exit}`);
  g.setReg(4, 2, push(g, `e0 + ${g.insn.off + g.insn.len}`));
  g.emit(`nx = ${t};`);
  return Emit.jump;
};

/** Emitters by opcode (0x100 + second byte for the 0F map); null: not translated. */
export const EMIT: (Emitter | null)[] = new Array<Emitter | null>(512).fill(null);

for (let op = 0; op < 0x40; op++) if ((op & 7) < 6) EMIT[op] = opAlu;
for (let op = 0x40; op < 0x50; op++) EMIT[op] = opIncDecReg;
for (let op = 0x50; op < 0x60; op++) EMIT[op] = opPushPop;
EMIT[0x68] = EMIT[0x6a] = opPushImm;
EMIT[0x69] = EMIT[0x6b] = EMIT[0x1af] = opImul;
for (let op = 0x70; op < 0x80; op++) EMIT[op] = EMIT[0x110 + op] = opJcc;
for (let op = 0x80; op < 0x84; op++) EMIT[op] = opGroup1;
EMIT[0x84] =
  EMIT[0x85] =
  EMIT[0xa8] =
  EMIT[0xa9] =
    opTest;
EMIT[0x86] = EMIT[0x87] = opXchg;
for (let op = 0x88; op < 0x8c; op++) EMIT[op] = opMov;
EMIT[0x8d] = opLea;
EMIT[0x90] = opNop;
for (let op = 0x91; op < 0x98; op++) EMIT[op] = opXchgAcc;
EMIT[0x98] = EMIT[0x99] = opConvert;
for (let op = 0xa0; op < 0xa4; op++) EMIT[op] = opMovMoffs;
for (let op = 0xb0; op < 0xc0; op++) EMIT[op] = opMovImmReg;
for (const op of [0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3]) EMIT[op] = opShift;
EMIT[0xc2] = EMIT[0xc3] = opRet;
EMIT[0xc6] = EMIT[0xc7] = opMovImmE;
EMIT[0xc9] = opLeave;
EMIT[0xe8] = opCall;
EMIT[0xe9] = EMIT[0xeb] = opJmp;
EMIT[0xf6] = EMIT[0xf7] = opGroup3;
for (const op of [0xf5, 0xf8, 0xf9, 0xfc, 0xfd]) EMIT[op] = opFlag;
EMIT[0xfe] = opGroup4;
EMIT[0xff] = opGroup5;
for (let op = 0x140; op < 0x150; op++) EMIT[op] = opCmov;
for (let op = 0x190; op < 0x1a0; op++) EMIT[op] = opSetcc;
for (const op of [0x1b6, 0x1b7, 0x1be, 0x1bf]) EMIT[op] = opMovx;
