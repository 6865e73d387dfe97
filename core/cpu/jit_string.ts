/**
 * MOVS CMPS STOS LODS SCAS, with and without REP/REPE/REPNE, in translated code: string.ts restated
 * over the block's locals (INS/OUTS stay with the interpreter: they go through the I/O bus).
 *
 * A string instruction ends its block. Each iteration counts as one retired instruction, as in
 * string.ts, and the loop leaves the block exactly where the interpreter's yields: after an
 * iteration that is not the last, once the batch end is reached (icount + 1 >= batchEnd there;
 * here the same count, `ic0 + n + k + j >= end`) or a store went into a page holding code
 * (string.ts checks `breakLoop`, which such a store may set; leaving there too is harmless, the
 * dispatcher or the interpreter resumes the instruction with the same registers and count). An
 * iteration that cannot complete inline (segment check, TLB miss, MMIO, page crossing) leaves
 * before any of its effects, after the `j` iterations done, with EIP at the instruction: the
 * interpreter then runs the rest at the same count.
 *
 * @module
 */

import { Writer } from "./jit_flags.ts";
import type { Gen } from "./jit_gen.ts";
import { Emit, recSub, sizeOf } from "./jit_ops.ts";

/** Emits string opcode A4-A7 / AA-AF (the current instruction). */
export function opString(g: Gen): Emit {
  const i = g.insn, op = i.op, s = sizeOf(g, op), kind = op & 0xfe;
  const a32 = i.a32, srcSeg = i.seg >= 0 ? i.seg : 3, rep = i.rep !== 0;
  const cmp = kind === 0xa6 || kind === 0xae;
  const moveSi = kind !== 0xaa && kind !== 0xae, moveDi = kind !== 0xac;
  const done = `${g.k} + j`, size = a32 ? 2 : 1;
  const st = g.let(`(F & 1024) !== 0 ? ${-(1 << s)} : ${1 << s}`);
  if (rep) {
    // `j` (iterations done) is the block's only one: a repeated instruction ends its block.
    g.emit(`let j = 0;\nif (${g.reg(1, size)} !== 0) {\nfor (;;) {`);
    g.exit = `{ n += ${done}; nx = e0 + ${i.off}; break out; }`;
  }
  const si = moveSi ? g.let(a32 ? `${g.reg(6, 2)} >>> 0` : g.reg(6, 1)) : "";
  const di = moveDi ? g.let(a32 ? `${g.reg(7, 2)} >>> 0` : g.reg(7, 1)) : "";
  const src = () => g.loadPhys(g.phys(srcSeg, si, s, true, false), s);
  const dst = () => g.loadPhys(g.phys(0, di, s, true, false), s);
  let r = "";
  switch (kind) {
    case 0xa4: {
      const v = src();
      g.storePhys(g.phys(0, di, s, false, true), s, v);
      break;
    }
    case 0xa6: {
      const a = src(), b = dst();
      r = g.let(g.mask(`${a} - ${b}`, s));
      recSub(g, a, b, r, s, Writer.sub);
      break;
    }
    case 0xaa:
      g.storePhys(g.phys(0, di, s, false, true), s, g.let(g.reg(0, s)));
      break;
    case 0xac:
      g.setReg(0, s, src());
      break;
    default: {
      const a = g.let(g.reg(0, s)), b = dst();
      r = g.let(g.mask(`${a} - ${b}`, s));
      recSub(g, a, b, r, s, Writer.sub);
    }
  }
  if (moveSi) g.setReg(6, size, `${si} + ${st}`);
  if (moveDi) g.setReg(7, size, `${di} + ${st}`);
  if (!rep) return Emit.next;
  g.emit("j++;");
  g.setReg(1, size, `${g.reg(1, size)} - 1`);
  g.emit(`if (${g.reg(1, size)} === 0) break;`);
  // REPE stops on ZF=0, REPNE on ZF=1 (string.ts).
  if (cmp) g.emit(`if ((${r} === 0) !== ${i.rep === 0xf3}) break;`);
  g.emit(`if (bk || ic0 + n + ${done} >= end) ${g.exit}`);
  g.emit(`}\n}\nif (j > 1) n += j - 1;\nnx = e0 + ${i.off + i.len};`);
  // Flags: unknown afterwards (a zero count leaves them as they were).
  if (cmp) g.flags.set(Writer.none, s);
  return Emit.jump;
}
