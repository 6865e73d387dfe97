/**
 * The decoded-instruction cache: translated instructions (translate.ts closures) by physical
 * address, so that an instruction met again skips fetching and decoding.
 *
 * Direct-mapped on the low bits of the physical address of the instruction's first byte. An
 * entry holds the address (`tag`), a key = generation * 2 + CS.D (the default operand/address
 * size the bytes were decoded with; nothing else about the mode changes how bytes decode), the
 * length, the instruction bytes and the closure. Only instructions lying wholly inside the
 * current fetch window are cached (one page of plain RAM, inside the CS limit), and a lookup
 * checks the cached length against the window again, so a page-crossing instruction or a
 * shorter CS limit is always decoded afresh.
 *
 * Invalidation:
 * - self-modifying code: `memory.codePages` marks pages holding cached code; the CPU's own
 *   stores drop the entries overlapping the bytes written ({@link icWritten}), other writers
 *   (devices, page-table A/D updates, backends) go through `memory.onCodeWrite` and drop the
 *   whole page ({@link icDropPage}). Either sets `breakLoop`, so that a running block (which
 *   holds closures, blocks.ts) stops after the current instruction;
 * - bytes changed behind the memory API (loaders, tests, snapshot restore write `ram`
 *   directly between runs): every {@link Cpu.run} starts a new generation; an entry of an older
 *   generation is revalidated by comparing its saved bytes before it is used again.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import type { InsnFn } from "./translate.ts";
import { dropBlock } from "./blocks.ts";

export const IC_BITS = 16;
export const IC_SIZE = 1 << IC_BITS;
export const IC_MASK = IC_SIZE - 1;
/** Longest instruction (SDM Vol.2 2.3.11). */
const MAX_LEN = 15;

/** The cache arrays, owned by a {@link Cpu}. */
export class DecodeCache {
  /** Physical address of the cached instruction (-1 empty). */
  readonly tag: Int32Array = new Int32Array(IC_SIZE).fill(-1);
  /** Generation * 2 + CS.D at decode time. */
  readonly key: Int32Array = new Int32Array(IC_SIZE);
  readonly len: Uint8Array = new Uint8Array(IC_SIZE);
  /** The instruction bytes (16 per entry) for revalidation in a new generation. */
  readonly bytes: Uint8Array = new Uint8Array(IC_SIZE * 16);
  readonly fn: InsnFn[] = new Array<InsnFn>(IC_SIZE).fill(noInsn);
  /** 1 when the instruction transfers control (a block ends with it). */
  readonly jumps: Uint8Array = new Uint8Array(IC_SIZE);
  /** Displacement of a relative JMP/Jcc (0 otherwise). */
  readonly disp: Int32Array = new Int32Array(IC_SIZE);
  /** Per RAM page: incremented on every write to a page holding cached code (blocks.ts). */
  readonly pageEpoch: Int32Array;
  /** Current generation (>= 1; key 0 never matches). */
  gen = 1;

  /** A cache for code in `ramSize` bytes of RAM (only plain RAM is cached). */
  constructor(ramSize: number) {
    this.pageEpoch = new Int32Array(Math.ceil(ramSize / 4096));
  }
}

function noInsn(): void {}

/** The lookup key for the current mode. */
export function icKey(c: Cpu): number {
  return c.icache.gen * 2 + (c.code32 ? 1 : 0);
}

/** Starts a new generation: entries must be revalidated against RAM before reuse. */
export function icNewGeneration(c: Cpu): void {
  const ic = c.icache;
  if (++ic.gen >= 0x3fffffff) {
    ic.gen = 1;
    ic.tag.fill(-1);
  }
}

/**
 * Revalidates the entry at `pa` from an older generation: usable again (and renewed) when it was
 * decoded in the same CS.D and its bytes in RAM are unchanged.
 */
export function icRevalidate(c: Cpu, pa: number, key: number): boolean {
  const ic = c.icache;
  const i = pa & IC_MASK;
  if (ic.tag[i] !== (pa | 0) || (ic.key[i] & 1) !== (key & 1)) return false;
  const n = ic.len[i];
  const ram = c.ram;
  const at = i << 4;
  for (let k = 0; k < n; k++) if (ram[pa + k] !== ic.bytes[at + k]) return false;
  ic.key[i] = key;
  return true;
}

/** Caches `fn`, the instruction of `len` bytes at physical `pa` (plain RAM, one page). */
export function icInsert(c: Cpu, pa: number, len: number, key: number, fn: InsnFn): void {
  const ic = c.icache;
  const i = pa & IC_MASK;
  ic.tag[i] = pa | 0;
  ic.key[i] = key;
  ic.len[i] = len;
  ic.fn[i] = fn;
  ic.jumps[i] = c.insnJumps ? 1 : 0;
  ic.disp[i] = c.insnDisp;
  ic.bytes.set(c.ram.subarray(pa, pa + len), i << 4);
  dropBlock(c, i);
  c.memory.codePages[pa >>> 12] = 1;
}

/** Physical addresses are passed unsigned; tags hold them as int32. */

/** Drops the cached instructions overlapping the `n` bytes written at physical `pa`. */
export function icWritten(c: Cpu, pa: number, n: number): void {
  const ic = c.icache;
  ic.pageEpoch[pa >>> 12]++;
  for (let a = pa - MAX_LEN + 1; a < pa + n; a++) {
    const i = a & IC_MASK;
    if (ic.tag[i] === (a | 0) && a + ic.len[i] > pa) {
      ic.tag[i] = -1;
      // A block may hold the instruction (even the very next one): leave it after this one.
      c.breakLoop = true;
    }
  }
}

/** Drops every cached instruction of physical page `page` (memory.onCodeWrite). */
export function icDropPage(c: Cpu, page: number): void {
  const ic = c.icache;
  ic.pageEpoch[page]++;
  const first = (page << 12) & IC_MASK;
  for (let i = first; i < first + 4096; i++) {
    if (ic.tag[i] >>> 12 === page) ic.tag[i] = -1;
  }
  c.memory.codePages[page] = 0;
  c.breakLoop = true;
}
