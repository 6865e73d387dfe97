/**
 * Blocks: straight-line runs of cached instructions fused into one generated function.
 *
 * Once the head of a run has executed {@link BLOCK_THRESHOLD} times, the cached closures
 * (translate.ts) of the following instructions in the same page are chained, up to and including
 * the first control transfer, into a function generated with `new Function` whose every call site
 * has one fixed target, so that V8 inlines the instructions into it. This removes the lookup and
 * the indirect call per instruction of the run loop; the semantics stay those of the closures.
 *
 * Between two instructions a block does what the run loop does: sets `startEip` (fault restart
 * point) and `eip` (next instruction), counts the retired instruction on the clock, and returns
 * when `breakLoop` was set. The run loop enters a block only if all of its instructions fit
 * before the batch end (next clock deadline or budget) and inside the fetch window. A block that
 * ends with a relative jump to its own head loops in place under the same conditions.
 *
 * Validity: a store that hits a cached instruction sets `breakLoop` (icache.ts), so a block never
 * runs an instruction changed under it. A block is keyed like its head entry (generation and
 * CS.D) and records the write epoch of its page; after a write to the page or a new generation,
 * it is entered again only once every instruction is checked to be still the same cached closure
 * ({@link verifyBlock}); otherwise it is dropped and may be rebuilt later.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { IC_MASK, IC_SIZE, icRevalidate } from "./icache.ts";
import type { InsnFn } from "./translate.ts";

/** Executions of a run's head before it becomes a block. */
export const BLOCK_THRESHOLD = 64;
/** Most instructions in one block (keeps generated functions within V8's inlining budget). */
const MAX_INSNS = 16;

/** A block: runs its instructions from `eip` (its head); `end` is the batch end. */
export type BlockFn = (c: Cpu, end: number) => void;

/** Blocks by head entry (the icache index of their first instruction). */
export class BlockCache {
  readonly fn: (BlockFn | null)[] = new Array<BlockFn | null>(IC_SIZE).fill(null);
  /** Instruction count and byte length. */
  readonly count: Uint8Array = new Uint8Array(IC_SIZE);
  readonly bytes: Uint16Array = new Uint16Array(IC_SIZE);
  /** Lookup key (icache.ts icKey) and page write epoch the block was last validated with. */
  readonly key: Int32Array = new Int32Array(IC_SIZE);
  readonly epoch: Int32Array = new Int32Array(IC_SIZE);
  /** The chained closures, for {@link verifyBlock}. */
  readonly parts: (InsnFn[] | null)[] = new Array<InsnFn[] | null>(IC_SIZE).fill(null);
  /** Executions of the entry as a single instruction. */
  readonly hits: Int32Array = new Int32Array(IC_SIZE);
}

/**
 * Numbers the generated sources across all CPUs: V8 shares compiled code between identical
 * sources, and a block's optimised code is specialised to its own closures (another machine's
 * block at the same address must not reuse it).
 */
let serial = 0;

/** Forgets the block headed at icache index `i` (its entry was replaced). */
export function dropBlock(c: Cpu, i: number): void {
  const b = c.blocks;
  b.fn[i] = null;
  b.parts[i] = null;
  b.hits[i] = 0;
}

/**
 * Checks that every instruction of the block at physical `pa` (icache index `i`) is still the
 * cached closure it was built from; renews the block's key and epoch, or drops it.
 */
export function verifyBlock(c: Cpu, i: number, pa: number, key: number): boolean {
  const b = c.blocks, ic = c.icache;
  const parts = b.parts[i]!;
  let p = pa;
  for (let k = 0; k < parts.length; k++) {
    const j = p & IC_MASK;
    if (
      ic.tag[j] !== (p | 0) || ic.fn[j] !== parts[k] ||
      (ic.key[j] !== key && !icRevalidate(c, p, key))
    ) {
      dropBlock(c, i);
      return false;
    }
    p += ic.len[j];
  }
  b.key[i] = key;
  b.epoch[i] = ic.pageEpoch[pa >>> 12];
  return true;
}

/** Builds the block headed by the cached instruction at physical `pa` (current key `key`). */
export function buildBlock(c: Cpu, pa: number, key: number): void {
  const b = c.blocks, ic = c.icache;
  const head = pa & IC_MASK;
  const parts: InsnFn[] = [];
  const ends: number[] = [];
  let p = pa, len = 0, selfLoop = false;
  while (parts.length < MAX_INSNS && (p >>> 12) === (pa >>> 12)) {
    const j = p & IC_MASK;
    if (ic.tag[j] !== (p | 0) || ic.key[j] !== key || (p + ic.len[j] - 1) >>> 12 !== pa >>> 12) {
      break;
    }
    parts.push(ic.fn[j]);
    len += ic.len[j];
    ends.push(len);
    if (ic.jumps[j] !== 0) {
      selfLoop = ic.disp[j] === -len; // a relative jump back to the head
      break;
    }
    p += ic.len[j];
  }
  if (parts.length < 2) {
    b.hits[head] = -16 * BLOCK_THRESHOLD; // a lone instruction: retry much later
    return;
  }
  // Straight-line body; between instructions what the run loop does (see the module comment).
  let body = "";
  for (let k = 0; k < parts.length; k++) {
    if (k > 0) body += `if (c.breakLoop) return;\nc.startEip = e + ${ends[k - 1]};\n`;
    body += `c.eip = e + ${ends[k]};\nf${k}(c);\nclock.icount++;\n`;
  }
  // A block ending in a relative jump to its own head (a one-block loop) iterates here as long as
  // the run loop would enter it again: the jump taken, no breakLoop (which a store into cached
  // code also sets, icache.ts), and the next iteration fits before the batch end.
  const code = selfLoop
    ? `for (;;) {\n${body}if (c.eip !== e || c.breakLoop || clock.icount + ${parts.length} > end) ` +
      `return;\nc.startEip = e;\n}\n`
    : body;
  const names = parts.map((_, k) => `f${k}`);
  const src = `// block ${serial++} at physical 0x${(pa >>> 0).toString(16)}\n` +
    `return function block(c, end) {\nconst e = c.eip;\n${code}};`;
  // Generated from instruction lengths only; the semantics are the closures passed in.
  let make: (...a: unknown[]) => BlockFn;
  try {
    make = new Function(...names, "clock", src) as (...a: unknown[]) => BlockFn;
  } catch {
    // A host that forbids code generation from strings: run instruction by instruction.
    b.hits[head] = -0x40000000;
    return;
  }
  b.fn[head] = make(...parts, c.clock);
  b.parts[head] = parts;
  b.count[head] = parts.length;
  b.bytes[head] = len;
  b.key[head] = key;
  b.epoch[head] = ic.pageEpoch[pa >>> 12];
}
