/**
 * Lazy flags in translated code: the CPU's lazy-flag fields (flags.ts) live in the block's locals
 * `F L O1 O2 AD RS SZ` and are written back at every exit, so a dead flag computation is a dead
 * local store V8 drops. While a block runs, the translator knows statically which instruction
 * wrote the flags last ({@link FlagState}); conditions then compile to a direct comparison of the
 * operands (CMP + Jcc fused: `a <u b` instead of the carry formula) and every test of `L` folds.
 *
 * Every source string here computes exactly what flags.ts computes from the same fields.
 *
 * @module
 */

import { ARITH, CF, OF, PF, SF, ZF } from "./flags.ts";

/** Last flag writer known at translation time. */
export const enum Writer {
  /** Unknown (block entry): the generic formulas over the locals. */
  none,
  add,
  sub,
  /** PF/ZF/SF from RS, CF/OF/AF explicit in F (setResultFlags). */
  result,
  /** INC/DEC: ARITH minus CF lazily, CF in F. */
  incdec,
  /** All flags in F (L = 0). */
  settled,
}

/** The translator's knowledge of the flag locals. */
export class FlagState {
  writer: Writer = Writer.none;
  /** Operand size code of the last writer (when known). */
  size = 0;
  /** Whether the block changed the flag locals (they are written back then). */
  written = false;

  /** Sets the state after a writer. */
  set(w: Writer, size: number): void {
    this.writer = w;
    this.size = size;
    this.written = true;
  }

  private lazyKnown(): number {
    switch (this.writer) {
      case Writer.add:
      case Writer.sub:
        return ARITH;
      case Writer.incdec:
        return ARITH & ~CF;
      case Writer.result:
        return PF | ZF | SF;
      case Writer.settled:
        return 0;
      default:
        return -1;
    }
  }

  /** `bit` (one of CF..OF) as a 0/1 expression. */
  flag(bit: number): string {
    const lz = this.lazyKnown();
    const sz = lz < 0 ? "SZ" : `${[7, 15, 31][this.size]}`;
    if (lz >= 0 && (lz & bit) === 0) return `((F >>> ${31 - Math.clz32(bit)}) & 1)`;
    let lazy: string;
    switch (bit) {
      case CF:
        lazy = `(((O1 ^ ((O1 ^ O2) & (O2 ^ AD))) >>> ${sz}) & 1)`;
        break;
      case PF:
        lazy = `(PAR[RS & 255] >>> 2)`;
        break;
      case ZF:
        lazy = lz < 0 ? `((RS << (31 - SZ)) === 0 ? 1 : 0)` : `(${this.zero()} ? 1 : 0)`;
        break;
      case SF:
        lazy = `((RS >>> ${sz}) & 1)`;
        break;
      case OF:
        lazy = `((((O1 ^ AD) & (O2 ^ AD)) >>> ${sz}) & 1)`;
        break;
      default: // AF
        lazy = `(((O1 ^ O2 ^ AD) >>> 4) & 1)`;
    }
    if (lz >= 0) return lazy;
    return `((L & ${bit}) !== 0 ? ${lazy} : ((F >>> ${31 - Math.clz32(bit)}) & 1))`;
  }

  /** RS is zero at the known size (RS is already masked to it). */
  private zero(): string {
    return this.size === 2 ? "RS === 0" : `(RS & ${[0xff, 0xffff][this.size]}) === 0`;
  }

  private signed(x: string): string {
    return this.size === 2 ? x : this.size === 1 ? `((${x} << 16) >> 16)` : `((${x} << 24) >> 24)`;
  }

  private unsigned(x: string): string {
    return this.size === 2 ? `(${x} >>> 0)` : x;
  }

  /** Condition code `cc` (Jcc/SETcc/CMOVcc low nibble, SDM Vol.1 B.1) as a boolean expression. */
  cond(cc: number): string {
    const w = this.writer;
    let e: string | null = null;
    const t = cc >> 1;
    if (w === Writer.sub) {
      // CMP/SUB a, b: AD = a, O2 = b, RS = a - b.
      const ua = this.unsigned("AD"), ub = this.unsigned("O2");
      const sa = this.signed("AD"), sb = this.signed("O2");
      if (t === 1) e = `${ua} < ${ub}`;
      else if (t === 3) e = `${ua} <= ${ub}`;
      else if (t === 6) e = `${sa} < ${sb}`;
      else if (t === 7) e = `${sa} <= ${sb}`;
    } else if (w === Writer.result) {
      // CF = OF = 0 unless the writer set them (shifts, multiplies): only when it is a logic op.
      if (t === 2) e = this.zero();
    } else if (w === Writer.add && t === 1) {
      e = `${this.unsigned("RS")} < ${this.unsigned("O1")}`;
    }
    if (
      e === null && (w === Writer.add || w === Writer.sub || w === Writer.result ||
        w === Writer.incdec)
    ) {
      if (t === 2) e = this.zero();
      else if (t === 4) e = `${this.signed("RS")} < 0`;
    }
    if (e === null) {
      switch (t) {
        case 0:
          e = `${this.flag(OF)} !== 0`;
          break;
        case 1:
          e = `${this.flag(CF)} !== 0`;
          break;
        case 2:
          e = `${this.flag(ZF)} !== 0`;
          break;
        case 3:
          e = `(${this.flag(CF)} | ${this.flag(ZF)}) !== 0`;
          break;
        case 4:
          e = `${this.flag(SF)} !== 0`;
          break;
        case 5:
          e = `${this.flag(PF)} !== 0`;
          break;
        case 6:
          e = `(${this.flag(SF)} ^ ${this.flag(OF)}) !== 0`;
          break;
        default:
          e = `(${this.flag(ZF)} | (${this.flag(SF)} ^ ${this.flag(OF)})) !== 0`;
      }
    }
    return cc & 1 ? `!(${e})` : `(${e})`;
  }

  /** Statements materialising the lazy flags into F (settleFlags). */
  settle(): string {
    if (this.writer === Writer.settled) return "";
    const bits = [CF, PF, 0x10, ZF, SF, OF];
    const parts = bits.map((b) => `(${this.flag(b)} << ${31 - Math.clz32(b)})`).join(" | ");
    const src = `F = (F & ~(L & ${ARITH})) | ${parts};\nL = 0;\n`;
    this.set(Writer.settled, this.size);
    return src;
  }
}
