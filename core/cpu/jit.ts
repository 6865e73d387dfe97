/**
 * The translator: hot guest code compiled to JavaScript blocks, run from a per-physical-page
 * code cache, with the interpreter as the cold path.
 *
 * A block is the straight-line run of translatable instructions (jit_decode.ts, jit_ops.ts) from a
 * head address to the first control transfer, untranslatable instruction or page end, compiled
 * with `new Function` once its head was interpreted {@link THRESHOLD} times. A block that jumps
 * back to its own head loops inside its function. Guest state is in locals while it runs
 * (jit_gen.ts, jit_flags.ts) and written back when it returns.
 *
 * Chaining: once a block was entered {@link REGION_THRESHOLD} times it is recompiled as a
 * *region*: it and the blocks of its page it was seen to continue at (compiled, hot themselves,
 * and not looping in place), transitively, each a `case` of a `switch (nx - e0)` in a loop, so a
 * block passes to its successor without leaving the function (registers and flags stay in
 * locals; the successor is "validated" by the region's bytes, checked as a whole). A successor is
 * entered only if its whole pass fits before the batch end and inside the CS limit, exactly the
 * dispatcher's entry condition, so counts stay the interpreter's. Only observed, hot edges are
 * chained: a never-run case costs V8 a deoptimisation and a recompile of the whole function, and
 * on short runs V8's compile time is what a too-large region loses. A transfer to another page
 * moves the fetch window through the TLB (operands.ts windowOnHit, no side effect) so the next
 * block is found without decoding an instruction.
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
import { windowOnHit } from "./operands.ts";
import { decodeInsn, type Insn, STRING_OPS } from "./jit_decode.ts";
import { EMIT, Emit } from "./jit_ops.ts";
import { opString } from "./jit_string.ts";
import { LOAD, opSystem, SYNC, SYSTEM_OPS } from "./jit_sys.ts";
import {
  cli,
  hlt,
  movFromCr,
  movToCr,
  popf,
  portIn,
  portOut,
  pushf,
  rdtsc,
  sti,
} from "./system.ts";
import { iret } from "./interrupts.ts";
import { Gen } from "./jit_gen.ts";
import { Writer } from "./jit_flags.ts";

/** Emitters by opcode (jit_ops.ts), string instructions (jit_string.ts) included. */
const EMITTERS = EMIT.slice();
for (const op of STRING_OPS) EMITTERS[op] = opString;
for (const op of SYSTEM_OPS) EMITTERS[op] = opSystem;
/** The system.ts semantics translated code calls (jit_sys.ts). */
const SYS = { cli, hlt, iret, movFromCr, movToCr, popf, portIn, portOut, pushf, rdtsc, sti };

/**
 * Interpreted executions of an address before a block is compiled there. A fresh block runs in
 * V8's bytecode interpreter, slower than the interpreter's optimised closures, until V8 has seen
 * it often enough to optimise it, and compiling it costs milliseconds of V8 time: code run only
 * some hundred times (a timer interrupt's path, once a tick) loses by being translated.
 */
export const THRESHOLD = 1000;
/** Most instructions in one block, blocks in one region and instructions in one region. */
const MAX_INSNS = 48;
const MAX_BLOCKS = 16;
/** Entries of a single block before it is recompiled as a region of the hot blocks around it. */
export const REGION_THRESHOLD = 2000;
/** Successors (heads) that average more passes per entry than this are left out of a region. */
const CHAIN_PASSES = 16;
const HEAD_PASSES = 64;
const MAX_REGION = 256;

/** A compiled block: runs from `c.eip`, returns the instructions retired (0: none). */
type BlockFn = (c: Cpu, end: number) => number;

interface Block {
  readonly fn: BlockFn;
  /** Instructions in one pass, bytes, mode key. */
  readonly count: number;
  readonly len: number;
  readonly key: number;
  /** Page offset and length of each of its blocks, and their RAM bytes, concatenated. */
  readonly ranges: Int16Array;
  readonly bytes: Uint8Array;
  epoch: number;
  gen: number;
  /** A region (not a single block), and never a successor in another one. */
  readonly region: boolean;
  /**
   * Entries counted up to {@link REGION_THRESHOLD}, with the instructions retired in them and the
   * successors seen (a region's stay 0).
   */
  runs: number;
  work: number;
  /** The first two successors seen in its page (page offsets, -1: none yet). */
  out0: number;
  out1: number;
}

/** The blocks and head counters of one physical page. */
class CodePage {
  readonly blocks: (Block | null)[] = new Array<Block | null>(4096).fill(null);
  readonly hits: Uint16Array = new Uint16Array(4096);
}

/**
 * Compiled blocks by source, for every machine of this isolate: a block's source is all of its
 * semantics (its code bytes, physical address and decode-time facts; everything else is read
 * from `c` at run time), so the machines of a matrix worker or a test file running the same
 * kernel reuse one function and V8's optimised code for it instead of compiling it again (the
 * quick matrix bench: 30% less time at --jobs 1). Bounded by source size; cleared when full.
 */
const COMPILED = new Map<string, BlockFn>();
const COMPILED_MAX_CHARS = 32 << 20;
let compiledChars = 0;

/** The translator state of one CPU. */
export class Translator {
  readonly pages: (CodePage | undefined)[];
  /** {@link THRESHOLD}; tests lower it to translate short programs. */
  threshold = THRESHOLD;
  /** Compiled blocks so far, and of them regions (statistics). */
  compiled = 0;
  regions = 0;
  /**
   * When set (a debugging aid, bench/jit_fallback.ts): instructions the interpreter ran for the
   * translator, by opcode (0x100 + second byte for the 0F map; 512: code outside plain RAM).
   */
  profile: Float64Array | null = null;

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
    let off = (eip - c.fwStart) >>> 0;
    // A transfer to another page: follow it through the TLB rather than decoding afresh.
    if (off >= c.fwLen && windowOnHit(c)) off = (eip - c.fwStart) >>> 0;
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
            if (b.runs < REGION_THRESHOLD && ++b.runs === REGION_THRESHOLD) {
              compile(c, t, pg, pa, key, true);
              if (c.jit === null) return;
              continue;
            }
            const r = b.fn(c, end);
            if (r > 0) {
              if (b.runs < REGION_THRESHOLD) observe(c, b, r);
              if (c.breakLoop) return;
              continue;
            }
          }
        } else if (++pg.hits[o] === t.threshold) {
          compile(c, t, pg, pa, key, false);
          if (c.jit === null) return; // code generation is disallowed: the interpreter takes over
        }
      }
    }
    if (t.profile !== null) countFallback(c, t.profile);
    c.stepCached(ikey);
    if (c.breakLoop) return;
  }
}

const PREFIXES = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3];

/** Counts the opcode at EIP in `profile` (prefixes skipped). */
function countFallback(c: Cpu, profile: Float64Array): void {
  const start = (c.eip - c.fwStart) >>> 0;
  if (start >= c.fwLen) {
    profile[512]++;
    return;
  }
  const ram = c.ram, at = c.eip + c.fwDelta, n = c.fwLen - start;
  let k = 0;
  while (k < n - 1 && PREFIXES.includes(ram[at + k])) k++;
  const op = ram[at + k];
  profile[op === 0x0f && k + 1 < n ? 0x100 | ram[at + k + 1] : op]++;
}

/** Profiles a single block's entry that retired `r` instructions: work and successors. */
function observe(c: Cpu, b: Block, r: number): void {
  b.work += r;
  const nx = c.eip;
  if ((nx - c.fwStart) >>> 0 >= c.fwLen) return;
  const o = (nx + c.fwDelta) & 4095;
  if (b.out0 < 0) b.out0 = o;
  else if (b.out1 < 0 && o !== b.out0) b.out1 = o;
}

/** Checks a block whose page was written or whose generation is old against RAM. */
function revalidate(c: Cpu, pg: CodePage, o: number, pa: number, b: Block): boolean {
  const ram = c.ram, bytes = b.bytes, ranges = b.ranges, page = pa - o;
  for (let r = 0, k = 0; r < ranges.length; r += 2) {
    for (let i = page + ranges[r], e = i + ranges[r + 1]; i < e; i++, k++) {
      if (ram[i] !== bytes[k]) {
        pg.blocks[o] = null;
        pg.hits[o] = 0;
        return false;
      }
    }
  }
  b.epoch = c.icache.pageEpoch[pa >>> 12];
  b.gen = c.icache.gen;
  c.memory.codePages[pa >>> 12] = 1;
  return true;
}

/**
 * Decodes and compiles the region headed at physical `pa`: the head block and the blocks of the
 * same page it reaches by fall-through, relative jumps, calls and their return sites, each a
 * `case` of one function whose loop passes from block to block (see the module comment).
 */
function compile(
  c: Cpu,
  t: Translator,
  pg: CodePage,
  pa: number,
  key: number,
  region: boolean,
): void {
  const page = pa & ~4095, o0 = pa & 4095;
  const limit = Math.min(page + 4096, c.memory.ramSize);
  const code32 = (key & 1) !== 0;
  const g = new Gen((key & 2) !== 0);
  const heads = [o0], cases: string[] = [], ranges: number[] = [];
  let total = 0, headCount = 0, headLen = 0;
  const most = region ? MAX_BLOCKS : 1;
  for (let h = 0; h < heads.length && h < most && total < MAX_REGION; h++) {
    const at = heads[h], rel = at - o0;
    g.flags.writer = Writer.none; // entered from anywhere: nothing known about the flags
    const mark = g.lines.length;
    const insns: Insn[] = [];
    let off = 0, last: Insn | null = null;
    while (insns.length < MAX_INSNS && page + at + off < limit) {
      const insn = decodeInsn(c.ram, page + at + off, rel + off, limit, code32);
      if (insn === null) break;
      const emit = EMITTERS[insn.op];
      if (emit === null) break;
      const lmark = g.lines.length;
      g.begin(insn, insns.length);
      const r = emit(g);
      if (r === Emit.decline) {
        g.lines.length = lmark;
        break;
      }
      insns.push(insn);
      off += insn.len;
      if (r === Emit.jump) {
        last = insn;
        break;
      }
      if (g.stores) g.emit(`if (bk) { n += ${insns.length}; nx = e0 + ${rel + off}; break out; }`);
    }
    const n = insns.length;
    if (n === 0) {
      g.lines.length = mark;
      if (h === 0) return;
      continue;
    }
    if (h === 0) {
      headCount = n;
      headLen = off;
    }
    total += n;
    ranges.push(at, off);
    const body = g.lines.splice(mark).join("\n");
    // Entered only if the whole block fits before the batch end and inside the CS limit, as the
    // dispatcher enters a block (for the head's first pass it checked that already).
    const guard = `if (ic0 + n + ${n} > end || e0 + ${rel + off - 1} > csl) break out;\n`;
    const pass = `${body}\n${last === null ? `nx = e0 + ${rel + off};\n` : ""}n += ${n};\n`;
    // A block jumping to its own head loops in place while the next pass fits.
    const self = last !== null && isRelJump(last.op) && last.off + last.len + last.disp === rel;
    cases.push(
      `case ${rel}: {\n${guard}` +
        (self
          ? `for (;;) {\n${pass}if (nx !== e0 + ${rel} || bk || ic0 + n + ${n} > end) break;\n}\n`
          : pass) +
        "break;\n}",
    );
    // Only successors hot enough to have been compiled themselves (a cold case would cost V8 a
    // deoptimisation and a recompilation of the whole region when it first runs), and not the
    // ones that mostly loop inside themselves (nothing is gained by chaining to them).
    const from = pg.blocks[at];
    if (!region || from === null) continue;
    for (const s of successors(last, at + off)) {
      const seen = s >= 0 && s < 4096 && (s === from.out0 || s === from.out1);
      // A successor still being interpreted often is compiled now rather than left out for good
      // (a region is built once).
      if (seen && pg.blocks[s] === null && pg.hits[s] >= t.threshold >> 2) {
        compile(c, t, pg, page + s, key, false);
      }
      const sb = seen ? pg.blocks[s] : null;
      if (
        sb !== null && sb.key === key && !sb.region &&
        sb.work <= CHAIN_PASSES * sb.count * sb.runs && !heads.includes(s)
      ) heads.push(s);
    }
  }
  // A region is built when it chains blocks; a head looping in itself gains nothing from one.
  const head = pg.blocks[o0];
  // Nothing to chain to: it stays a single block.
  if (region && (cases.length < 2 || head!.work > HEAD_PASSES * headCount * head!.runs)) return;
  const src = (`// block at physical 0x${(pa >>> 0).toString(16)}\n` +
    `return function block(c, end) {\n${prologue(g)}\n` +
    `out: for (;;) {\nswitch (nx - e0) {\n${cases.join("\n")}\ndefault: break out;\n}\n` +
    `if (bk) break;\n}\n${epilogue(g)}\nreturn n;\n};`)
    .replaceAll(SYNC, writeBack(g, true)).replaceAll(LOAD, reload(g));
  let fn = COMPILED.get(src);
  if (fn === undefined) {
    try {
      fn = new Function("icWritten", "PAR", "MHU", "MHS", "SYS", src)(
        icWritten,
        PARITY,
        mulHighU,
        mulHighS,
        SYS,
      ) as BlockFn;
      if (compiledChars + src.length > COMPILED_MAX_CHARS) {
        COMPILED.clear();
        compiledChars = 0;
      }
      COMPILED.set(src, fn);
      compiledChars += src.length;
    } catch (e) {
      if (e instanceof SyntaxError) throw new Error(`translator: bad source\n${src}`);
      c.jit = null; // EvalError: code generation from strings is disallowed here
      return;
    }
  }
  const bytes = new Uint8Array(ranges.reduce((a, v, i) => (i & 1 ? a + v : a), 0));
  for (let i = 0, at = 0; i < ranges.length; at += ranges[i + 1], i += 2) {
    bytes.set(c.ram.subarray(page + ranges[i], page + ranges[i] + ranges[i + 1]), at);
  }
  pg.blocks[o0] = {
    fn,
    count: headCount,
    len: headLen,
    key,
    ranges: Int16Array.from(ranges),
    bytes,
    epoch: c.icache.pageEpoch[pa >>> 12],
    gen: c.icache.gen,
    region,
    runs: region ? REGION_THRESHOLD : 0,
    work: 0,
    out0: -1,
    out1: -1,
  };
  c.memory.codePages[pa >>> 12] = 1;
  t.compiled++;
  if (region) t.regions++;
}

/** JMP rel8/rel16/32 and Jcc: the transfers whose target is known at translation time. */
function isRelJump(op: number): boolean {
  return (op >= 0x70 && op < 0x80) || (op >= 0x180 && op < 0x190) || op === 0xe9 || op === 0xeb;
}

/**
 * Page offsets a block ending at `end` (page offset) continues at: the next instruction unless
 * the last one always leaves, and the target of a relative jump or call.
 */
function successors(last: Insn | null, end: number): number[] {
  if (last === null) return [end];
  const op = last.op, target = end + last.disp;
  if (op === 0xe9 || op === 0xeb) return [target];
  if (op === 0xe8 || isRelJump(op)) return [target, end];
  if (op === 0xff && last.reg === 2) return [end]; // CALL r/m: its return site
  return [];
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

/** Stores the written registers and (when written, or `flags`) the flag locals to the CPU. */
function writeBack(g: Gen, flags: boolean): string {
  let s = "";
  for (let r = 0; r < 8; r++) if (g.regsWritten & (1 << r)) s += `regs[${r}] = r${r};\n`;
  if (flags || g.flags.written) {
    s += "c.flags = F; c.lazy = L; c.lOp1 = O1; c.lOp2 = O2; c.lAdd = AD; c.lRes = RS; " +
      "c.lSize = SZ;\n";
  }
  return s;
}

/** Reloads the register and flag locals from the CPU (after a call that may change them). */
function reload(g: Gen): string {
  let s = "";
  for (let r = 0; r < 8; r++) if (g.regsUsed & (1 << r)) s += `r${r} = regs[${r}];\n`;
  return s + "F = c.flags; L = c.lazy; O1 = c.lOp1; O2 = c.lOp2; AD = c.lAdd; RS = c.lRes; " +
    "SZ = c.lSize;\n";
}

function epilogue(g: Gen): string {
  return writeBack(g, false) + "clock.icount = ic0 + n;\nc.eip = nx;";
}
