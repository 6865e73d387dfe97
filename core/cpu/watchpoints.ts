/**
 * Data breakpoints: DR0-DR3 with R/W = 01 (data writes) or 11 (data reads and writes), SDM
 * Vol.3 17.2.4-17.2.5 and 17.3.1.2. A matching access sets the breakpoint's pending bit; the
 * #DB is a trap delivered after the instruction (after the iteration, for REP string
 * instructions) with DR6.Bn set (`cpu.ts` stepSlow).
 *
 * LENn: 00 one byte, 01 two, 11 four; 10 is undefined on 32-bit processors and is taken as
 * eight bytes, as later processors and QEMU (`hw_breakpoint_len`) do. The breakpoint covers the
 * LEN-aligned range containing DRn (the low address bits are ignored, SDM 17.2.5), and an access
 * matches when any of its bytes falls in that range. R/W = 10 (I/O) is not modelled (CR4.DE
 * I/O breakpoints), so it never matches.
 *
 * Cost: nothing while no data breakpoint is enabled. While one is, the CPU runs one instruction
 * at a time (as for execution breakpoints) and the TLB never gives a watched linear page the
 * direct-RAM fast path, so every access to it passes {@link watchAccess}.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";

/** True when DR7 enables breakpoint `i` (L or G bit). */
function enabled(d7: number, i: number): boolean {
  return ((d7 >>> (i * 2)) & 3) !== 0;
}

/** R/W field of breakpoint `i`. */
function rwField(d7: number, i: number): number {
  return (d7 >>> (16 + i * 4)) & 3;
}

function lenBytes(d7: number, i: number): number {
  const len = (d7 >>> (18 + i * 4)) & 3;
  return len === 2 ? 8 : len + 1;
}

/** True when DR7 enables at least one data breakpoint (R/W = 01 or 11). */
export function anyDataBreakpoint(c: Cpu): boolean {
  const d7 = c.dr[7];
  for (let i = 0; i < 4; i++) {
    const rw = rwField(d7, i);
    if (enabled(d7, i) && (rw === 1 || rw === 3)) return true;
  }
  return false;
}

/** True when linear page `page` holds part of an enabled data breakpoint's range. */
export function watchedPage(c: Cpu, page: number): boolean {
  const d7 = c.dr[7];
  for (let i = 0; i < 4; i++) {
    const rw = rwField(d7, i);
    if (!enabled(d7, i) || (rw !== 1 && rw !== 3)) continue;
    const n = lenBytes(d7, i);
    const base = (c.dr[i] & ~(n - 1)) >>> 0;
    if (base >>> 12 === page || ((base + n - 1) >>> 12) === page) return true;
  }
  return false;
}

/** Records the breakpoints that `size` bytes at `lin` (a write when `write`) match. */
export function watchAccess(c: Cpu, lin: number, size: number, write: boolean): void {
  const d7 = c.dr[7];
  const a = lin >>> 0;
  for (let i = 0; i < 4; i++) {
    const rw = rwField(d7, i);
    if (!enabled(d7, i) || !(rw === 3 || (rw === 1 && write))) continue;
    const n = lenBytes(d7, i);
    const base = (c.dr[i] & ~(n - 1)) >>> 0;
    if (a < base + n && base < a + size) c.dataHits |= 1 << i;
  }
}
