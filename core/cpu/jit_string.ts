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
    if (a32 && kind !== 0xac) bulk(g, kind, s, kind === 0xa4 || kind === 0xa6 ? srcSeg : -1, st);
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

/**
 * REP MOVS / STOS / CMPS / SCAS (32-bit addresses): as many iterations at once as stay inside one
 * page for the destination and the source, do not reach the batch end, are allowed by the
 * segments and the TLB (plain RAM; for a store no code in the destination page) and, for MOVS, do
 * not overlap (so order does not matter): a copyWithin / fill, or a compare loop without checks
 * that stops after the first element ending the REPE/REPNE. The iterations it performs are
 * exactly those the loop would have (none of them could stop it early), so it then continues with
 * the loop's own checks; anything it cannot vouch for is left to the iteration-by-iteration path.
 */
function bulk(g: Gen, kind: number, s: number, srcSeg: number, st: string): void {
  const z = 1 << s, two = srcSeg >= 0, store = kind === 0xa4 || kind === 0xaa;
  const span = (lin: string) =>
    `${st} > 0 ? (4096 - (${lin} & 4095)) >> ${s} : (${lin} & 4095) > ${4096 - z} ? 0 : ` +
    `((${lin} & 4095) >> ${s}) + 1`;
  // Lowest offset, lowest linear address of m elements from `off` / `lin` in the direction st.
  const low = (x: string) => `(${st} > 0 ? ${x} : ${x} - (bm - 1) * ${z})`;
  g.emit("{");
  g.emit(`const bd = ${g.reg(7, 2)} >>> 0, bld = (sb0 + bd) | 0;`);
  g.emit(`let bm = Math.min(${g.reg(1, 2)} >>> 0, end - (ic0 + n + ${g.k}) - j, ${span("bld")});`);
  if (two) {
    g.emit(`const bs = ${g.reg(6, 2)} >>> 0, bls = (sb${srcSeg} + bs) | 0;`);
    g.emit(`bm = Math.min(bm, ${span("bls")});`);
  }
  g.emit("if (bm > 1) {");
  const ok = (off: string, lo: string, hi: string) =>
    `${low(off)} >= ${lo} && ${low(off)} + bm * ${z} - 1 <= ${hi}`;
  let cond = store
    ? `${ok("bd", "sl0", "sw0")} && (TI[bld >>> 12] & WRM) === WRM`
    : `${ok("bd", "sl0", "sr0")} && (TI[bld >>> 12] & RDM) === RDM`;
  if (two) {
    cond += ` && ${ok("bs", `sl${srcSeg}`, `sr${srcSeg}`)} && (TI[bls >>> 12] & RDM) === RDM`;
  }
  g.emit(`const bpd = TP[bld >>> 12] | (${low("bld")} & 4095), bn = bm * ${z};`);
  if (two) g.emit(`const bps = TP[bls >>> 12] | (${low("bls")} & 4095);`);
  if (store) cond += " && CP[bpd >>> 12] === 0";
  if (kind === 0xa4) cond += " && (bps + bn <= bpd || bpd + bn <= bps)";
  g.emit(`if (${cond}) {`);
  let t = "bm", r = "";
  if (kind === 0xa4) g.emit("RAM.copyWithin(bpd, bps, bps + bn);");
  else if (kind === 0xaa && s === 0) g.emit(`RAM.fill(${g.reg(0, 0)}, bpd, bpd + bn);`);
  else if (kind === 0xaa) {
    const set = s === 1 ? "setUint16" : "setInt32";
    g.emit(`for (let q = bpd; q < bpd + bn; q += ${z}) V.${set}(q, ${g.reg(0, s)}, true);`);
  } else {
    // Compare from the first element on; stop after the one whose ZF ends the REPE/REPNE.
    const load = (q: string) =>
      s === 0 ? `RAM[${q}]` : s === 1 ? `V.getUint16(${q}, true)` : `V.getInt32(${q}, true)`;
    const at = (base: string) => `${base} + (${st} > 0 ? bt : bm - 1 - bt) * ${z}`;
    const a = two ? "ba" : g.let(g.reg(0, s));
    g.emit(`let bt = 0, ${two ? "ba = 0, " : ""}bb = 0, br = 0;`);
    g.emit(
      `while (bt < bm) { ${two ? `ba = ${load(at("bps"))}; ` : ""}bb = ${load(at("bpd"))}; ` +
        `br = ${g.mask(`${a} - bb`, s)}; bt++; ` +
        `if ((br === 0) !== ${g.insn.rep === 0xf3}) break; }`,
    );
    recSub(g, a, "bb", "br", s, Writer.sub);
    t = "bt";
    r = "br";
  }
  g.setReg(7, 2, `bd + ${t} * ${st}`);
  if (two) g.setReg(6, 2, `bs + ${t} * ${st}`);
  g.setReg(1, 2, `${g.reg(1, 2)} - ${t}`);
  g.emit(`j += ${t};`);
  g.emit(`if (${g.reg(1, 2)} === 0) break;`);
  if (r !== "") g.emit(`if ((${r} === 0) !== ${g.insn.rep === 0xf3}) break;`);
  g.emit(`if (ic0 + n + ${g.k} + j >= end) ${g.exit}`);
  g.emit("continue;\n}\n}\n}");
}
