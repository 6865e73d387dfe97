/**
 * The translator: hot guest code compiled to JavaScript blocks, run from a per-physical-page
 * code cache, with the interpreter as the cold path.
 *
 * A block is the straight-line run of translatable instructions (jit_decode.ts, jit_ops.ts) from a head
 * address to the first control transfer, untranslatable instruction or page end, compiled with
 * `new Function` once its head was interpreted {@link THRESHOLD} times. A block that jumps back
 * to its own head loops inside its function. Guest state is in locals while it runs (jit_gen.ts,
 * jit_flags.ts) and written back when it returns.
 *
 * Determinism: a block retires its instructions exactly as the interpreter would. It is entered
 * only when all of them fit before the batch end (the next clock deadline or the budget), loops
 * only while the next pass fits too, and counts the instructions it retired on the clock once, at
 * its exit; an instruction it cannot complete inline (a fault, a TLB miss, MMIO, a store into
 * cached code) is left to the interpreter at the same instruction count (jit_gen.ts side exit).
 * Devices and interrupts only act between batches, so they see the same counts.
 *
 * Validity: a block is keyed by CS.D and SS.B (all its decode-time and stack-size facts; CPL and
 * segments are read at entry) and remembers its page's write epoch (icache.ts) and generation.
 * While the epoch and generation are unchanged its bytes are; otherwise its saved bytes are
 * compared with RAM before it runs again, and it is dropped if they differ. A store into a page
 * holding code, by a block or anyone else, bumps the epoch (`memory.codePages`, which a block
 * marks for its page), and a block that stores there returns right after the instruction.
 *
 * Where code generation from strings is disallowed, compiling fails once and the translator
 * turns itself off: the interpreter runs everything.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { PARITY } from "./flags.ts";
import { mulHighS, mulHighU } from "./arith.ts";
import { icWritten } from "./icache.ts";
import { decodeInsn, type Insn } from "./jit_decode.ts";
import { EMIT, Emit } from "./jit_ops.ts";
import { Gen } from "./jit_gen.ts";

/** Interpreted executions of an address before a block is compiled there. */
export const THRESHOLD = 40;
/** Most instructions in one block. */
const MAX_INSNS = 48;

/** A compiled block: runs from `c.eip`, returns the instructions retired (0: none). */
type BlockFn = (c: Cpu, end: number) => number;

interface Block {
  readonly fn: BlockFn;
  /** Instructions in one pass, bytes, mode key. */
  readonly count: number;
  readonly len: number;
  readonly key: number;
  /** RAM bytes it was compiled from. */
  readonly bytes: Uint8Array;
  epoch: number;
  gen: number;
}

/** The blocks and head counters of one physical page. */
class CodePage {
  readonly blocks: (Block | null)[] = new Array<Block | null>(4096).fill(null);
  readonly hits: Uint16Array = new Uint16Array(4096);
}

/** Numbers generated sources: V8 must not share one block's optimised code with another's. */
let serial = 0;

/** The translator state of one CPU. */
export class Translator {
  readonly pages: (CodePage | undefined)[];
  /** Compiled blocks so far (statistics). */
  compiled = 0;

  constructor(ramSize: number) {
    this.pages = new Array<CodePage | undefined>(Math.ceil(ramSize / 4096)).fill(undefined);
  }
}

/** The mode key of the current CS.D / SS.B. */
function modeKey(c: Cpu): number {
  return (c.code32 ? 1 : 0) | (c.stack32 ? 2 : 0);
}

/**
 * Runs instructions until icount reaches `end` or breakLoop is set, through blocks where there
 * are, interpreting elsewhere (the translator's form of Cpu.runBatch).
 */
export function runTranslated(c: Cpu, t: Translator, end: number): void {
  const clock = c.clock;
  const key = modeKey(c);
  const ikey = c.icache.gen * 2 + (c.code32 ? 1 : 0);
  const gen = c.icache.gen, pageEpoch = c.icache.pageEpoch, pages = t.pages;
  while (clock.icount < end) {
    const eip = c.eip;
    const off = (eip - c.fwStart) >>> 0;
    if (off < c.fwLen) {
      const pa = eip + c.fwDelta;
      const pn = pa >>> 12;
      let pg = pages[pn];
      if (pg === undefined && pn < pages.length) pg = pages[pn] = new CodePage();
      if (pg !== undefined) {
        const o = pa & 4095;
        const b = pg.blocks[o];
        if (b !== null && b.key === key) {
          if (
            clock.icount + b.count <= end && off + b.len <= c.fwLen &&
            ((b.epoch === pageEpoch[pn] && b.gen === gen) || revalidate(c, pg, o, pa, b))
          ) {
            if (b.fn(c, end) > 0) {
              if (c.breakLoop) return;
              continue;
            }
          }
        } else if (++pg.hits[o] === THRESHOLD) {
          compile(c, t, pg, pa, key);
          if (c.jit === null) return; // code generation is disallowed: the interpreter takes over
        }
      }
    }
    c.stepCached(ikey);
    if (c.breakLoop) return;
  }
}

/** Checks a block whose page was written or whose generation is old against RAM. */
function revalidate(c: Cpu, pg: CodePage, o: number, pa: number, b: Block): boolean {
  const ram = c.ram, bytes = b.bytes;
  for (let i = 0; i < bytes.length; i++) {
    if (ram[pa + i] !== bytes[i]) {
      pg.blocks[o] = null;
      pg.hits[o] = 0;
      return false;
    }
  }
  b.epoch = c.icache.pageEpoch[pa >>> 12];
  b.gen = c.icache.gen;
  c.memory.codePages[pa >>> 12] = 1;
  return true;
}

/** Decodes and compiles the block headed at physical `pa`. */
function compile(c: Cpu, t: Translator, pg: CodePage, pa: number, key: number): void {
  const limit = Math.min((pa | 4095) + 1, c.memory.ramSize);
  const code32 = (key & 1) !== 0;
  const g = new Gen((key & 2) !== 0);
  const insns: Insn[] = [];
  let off = 0, jumped = false, selfLoop = false;
  while (insns.length < MAX_INSNS && pa + off < limit) {
    const insn = decodeInsn(c.ram, pa + off, off, limit, code32);
    if (insn === null) break;
    const emit = EMIT[insn.op];
    if (emit === null) break;
    const mark = g.lines.length;
    g.begin(insn, insns.length);
    const r = emit(g);
    if (r === Emit.decline) {
      g.lines.length = mark;
      break;
    }
    insns.push(insn);
    off += insn.len;
    if (r === Emit.jump) {
      jumped = true;
      selfLoop = isRelJump(insn.op) && insn.disp === -off;
      break;
    }
    if (g.stores) g.emit(`if (bk) { n += ${insns.length}; nx = e0 + ${off}; break out; }`);
  }
  if (insns.length === 0) return;
  const n = insns.length;
  let body = g.lines.join("\n");
  if (!jumped) body += `\nnx = e0 + ${off};`;
  body += `\nn += ${n};`;
  const src = `// block ${serial++} at physical 0x${(pa >>> 0).toString(16)}\n` +
    `return function block(c, end) {\n${prologue(g)}\n` +
    (selfLoop
      ? `out: for (;;) {\n${body}\nif (nx !== e0 || bk || ic0 + n + ${n} > end) break;\n}\n`
      : `out: {\n${body}\n}\n`) +
    `${epilogue(g)}\nreturn n;\n};`;
  let fn: BlockFn;
  try {
    fn = new Function("icWritten", "PAR", "MHU", "MHS", src)(
      icWritten,
      PARITY,
      mulHighU,
      mulHighS,
    );
  } catch (e) {
    if (e instanceof SyntaxError) throw new Error(`translator: bad source\n${src}`);
    c.jit = null; // EvalError: code generation from strings is disallowed here
    return;
  }
  pg.blocks[pa & 4095] = {
    fn,
    count: n,
    len: off,
    key,
    bytes: c.ram.slice(pa, pa + off),
    epoch: c.icache.pageEpoch[pa >>> 12],
    gen: c.icache.gen,
  };
  c.memory.codePages[pa >>> 12] = 1;
  t.compiled++;
}

/** JMP rel8/rel16/32 and Jcc: the transfers whose target is known at translation time. */
function isRelJump(op: number): boolean {
  return (op >= 0x70 && op < 0x80) || (op >= 0x180 && op < 0x190) || op === 0xe9 || op === 0xeb;
}

function prologue(g: Gen): string {
  let s = "const clock = c.clock, ic0 = clock.icount, e0 = c.eip, regs = c.regs;\n";
  for (let r = 0; r < 8; r++) if (g.regsUsed & (1 << r)) s += `let r${r} = regs[${r}];\n`;
  s += "let F = c.flags, L = c.lazy, O1 = c.lOp1, O2 = c.lOp2, AD = c.lAdd, RS = c.lRes, " +
    "SZ = c.lSize;\n";
  if (g.segsUsed !== 0) {
    s += "const TI = c.tlbInfo, TP = c.tlbPhys, RAM = c.ram, V = c.view, " +
      "CP = c.memory.codePages, RDM = c.rdMask | 16, WRM = c.wrMask | 16;\n";
    s += "const segOk = c.segOk, segMax = c.segMax;\n";
  }
  for (let i = 0; i < 6; i++) {
    if (g.segsUsed & (1 << i)) {
      s += `const sb${i} = c.segBase[${i}], sl${i} = c.segMin[${i}], ` +
        `sr${i} = (segOk[${i}] & 1) !== 0 ? segMax[${i}] : -1, ` +
        `sw${i} = (segOk[${i}] & 2) !== 0 ? segMax[${i}] : -1;\n`;
    }
  }
  s += "const csl = c.segLimit[1] >>> 0;\nlet n = 0, nx = e0, bk = false;";
  return s;
}

function epilogue(g: Gen): string {
  let s = "";
  for (let r = 0; r < 8; r++) if (g.regsWritten & (1 << r)) s += `regs[${r}] = r${r};\n`;
  if (g.flags.written) {
    s += "c.flags = F; c.lazy = L; c.lOp1 = O1; c.lOp2 = O2; c.lAdd = AD; c.lRes = RS; " +
      "c.lSize = SZ;\n";
  }
  return s + "clock.icount = ic0 + n;\nc.eip = nx;";
}
