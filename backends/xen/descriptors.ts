/**
 * Xen's check of a guest segment descriptor (docs/abi/xen.md §4.1): what set_gdt and
 * update_descriptor accept, and how a descriptor is rewritten on the way in (DPL raised to
 * the kernel's ring, limits truncated below the end of the read-only M2P).
 *
 * @module
 */

import { GUEST_SEGMENT_MAX_ADDR } from "./domain_builder.ts";

const GUEST_KERNEL_RPL = 1;
const P = 1 << 15, S = 1 << 12, G = 1 << 23, DPL = 3 << 13;

/**
 * Checks descriptor (lo, hi); returns the descriptor as Xen stores it, or null when Xen
 * refuses it (a system descriptor other than a call gate, a base inside the hole, a
 * byte-granular segment that would need truncating).
 */
export function checkDescriptor(lo: number, hi: number): [number, number] | null {
  lo >>>= 0;
  hi >>>= 0;
  if (!(hi & P)) return [lo, hi];
  if ((hi & DPL) < GUEST_KERNEL_RPL << 13) hi = ((hi & ~DPL) | (GUEST_KERNEL_RPL << 13)) >>> 0;
  if (!(hi & S)) {
    if ((hi & 0xf00) !== 0xc00 || (hi & 0xe0) !== 0) return null; // only call gates
    let cs = lo >>> 16;
    if ((cs & 3) === 0) cs |= GUEST_KERNEL_RPL; // fixup_guest_code_selector
    // The target must be a guest selector, not Xen's reserved ones other than its flat ring-1 CS.
    if ((cs >>> 3) >= 0xe000 >>> 3 && cs !== 0xe019) return null;
    return [((lo & 0xffff) | (cs << 16)) >>> 0, hi];
  }
  const base = ((hi & 0xff000000) | ((hi & 0xff) << 16) | (lo >>> 16)) >>> 0;
  if (base >= GUEST_SEGMENT_MAX_ADDR - 4096) return null;
  let limit = ((hi & 0xf0000) | (lo & 0xffff)) + 1;
  if (hi & G) limit *= 4096;
  let truncate = -1;
  if ((hi & 0xc00) === 0x400) {
    // Data, expand-down: valid offsets run from limit to 4 GiB.
    if (base + limit < 2 ** 32) truncate = 2 ** 32 - (base & ~0xfff);
  } else if (base + limit > GUEST_SEGMENT_MAX_ADDR) {
    truncate = GUEST_SEGMENT_MAX_ADDR - base;
  }
  if (truncate < 0) return [lo, hi];
  if (!(hi & G)) return null;
  const l = (Math.floor(truncate / 4096) - 1) & 0xfffff;
  return [((lo & ~0xffff) | (l & 0xffff)) >>> 0, ((hi & ~0xf0000) | (l & 0xf0000)) >>> 0];
}
