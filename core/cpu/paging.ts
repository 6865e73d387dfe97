/**
 * Two-level IA-32 paging (4 KiB pages and 4 MiB PSE pages, CR4.PGE global pages, CR0.WP) and the
 * software TLB that caches its results.
 *
 * TLB layout: per linear page, `tlbInfo` holds permission bits (supervisor read/write, user
 * read/write, plain-RAM, global) and `tlbPhys` the physical page base. A write permission is only
 * cached once the page's dirty bit is set, so the first write still walks and sets D.
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { Vec } from "./fault.ts";
import { watchedPage } from "./watchpoints.ts";

export const TLB_R = 1;
export const TLB_W = 2;
export const TLB_UR = 4;
export const TLB_UW = 8;
export const TLB_RAM = 16;
export const TLB_G = 32;
/** Filled pages remembered for a cheap flush; beyond this the whole TLB is cleared. */
export const TLB_LIST = 4096;

const CR0_WP = 0x10000;
const CR0_PG = 0x80000000 | 0;
const CR4_PSE = 0x10;
const CR4_PGE = 0x80;

/** #PF error code bits (SDM Vol.3 4.7). */
const PF_P = 1, PF_W = 2, PF_U = 4, PF_RSVD = 8;

function pageFault(c: Cpu, lin: number, err: number): never {
  c.cr2 = lin >>> 0;
  return c.fault(Vec.PF, err);
}

/**
 * Walks the page tables for an access (SDM Vol.3 4.3), sets accessed/dirty bits, fills the TLB
 * and returns the physical address. Raises #PF with CR2 on failure.
 */
export function fillTlb(c: Cpu, lin: number, write: boolean, user: boolean): number {
  const page = lin >>> 12;
  const mem = c.memory;
  let frame: number;
  let perm: number;
  if ((c.cr0 & CR0_PG) === 0) {
    frame = page << 12;
    perm = TLB_R | TLB_W | TLB_UR | TLB_UW;
  } else {
    const errBase = (write ? PF_W : 0) | (user ? PF_U : 0);
    const pdeAddr = ((c.cr3 & 0xfffff000) + ((lin >>> 22) << 2)) >>> 0;
    const pde = mem.read32(pdeAddr);
    if ((pde & 1) === 0) pageFault(c, lin, errBase);
    let rw: number, us: number, global: number, dirty: number;
    if ((pde & 0x80) !== 0 && (c.cr4 & CR4_PSE) !== 0) {
      // 4 MiB page. Bit 21 is reserved; bits 20:13 (PSE-36 address bits) are ignored since
      // physical memory ends below 4 GiB (QEMU treats only bit 21 as reserved as well).
      if (pde & 0x200000) pageFault(c, lin, errBase | PF_P | PF_RSVD);
      rw = pde & 2;
      us = pde & 4;
      checkAccess(c, lin, write, user, rw, us, errBase);
      const upd = pde | 0x20 | (write ? 0x40 : 0);
      if (upd !== pde) mem.write32(pdeAddr, upd);
      frame = (pde & 0xffc00000) | (lin & 0x3ff000);
      global = pde & 0x100;
      dirty = upd & 0x40;
    } else {
      const pteAddr = ((pde & 0xfffff000) + (((lin >>> 12) & 0x3ff) << 2)) >>> 0;
      const pte = mem.read32(pteAddr);
      if ((pte & 1) === 0) pageFault(c, lin, errBase);
      rw = pde & pte & 2;
      us = pde & pte & 4;
      checkAccess(c, lin, write, user, rw, us, errBase);
      if ((pde & 0x20) === 0) mem.write32(pdeAddr, pde | 0x20);
      const upd = pte | 0x20 | (write ? 0x40 : 0);
      if (upd !== pte) mem.write32(pteAddr, upd);
      frame = pte & 0xfffff000;
      global = pte & 0x100;
      dirty = upd & 0x40;
    }
    const supWrite = (rw !== 0 || (c.cr0 & CR0_WP) === 0) && dirty !== 0;
    perm = TLB_R | (supWrite ? TLB_W : 0);
    if (us) perm |= TLB_UR | (rw && dirty ? TLB_UW : 0);
    if (global && (c.cr4 & CR4_PGE)) perm |= TLB_G;
  }
  frame = (frame & c.memory.a20Mask) >>> 0;
  if (c.memory.isPlainRam(frame, 4096)) {
    perm |= TLB_RAM;
    // Writes through this entry bypass the memory's write methods (memory.ts, written pages).
    if (perm & (TLB_W | TLB_UW)) c.memory.writtenPages[frame >>> 12] = 1;
    // A watched page takes the slow path, where data breakpoints are checked.
    if (c.dataBp && watchedPage(c, page)) perm &= ~TLB_RAM;
  }
  if (c.tlbInfo[page] === 0) {
    if (c.tlbCount < TLB_LIST) c.tlbList[c.tlbCount++] = page;
    else c.tlbCount = TLB_LIST + 1; // overflowed: next flush clears everything
  }
  c.tlbInfo[page] = perm;
  c.tlbPhys[page] = frame;
  c.a20 = c.memory.a20Mask;
  return (frame | (lin & 0xfff)) >>> 0;
}

function checkAccess(
  c: Cpu,
  lin: number,
  write: boolean,
  user: boolean,
  rw: number,
  us: number,
  errBase: number,
): void {
  // SDM Vol.3 4.6: user accesses need U/S=1 (and R/W=1 to write); supervisor writes need R/W=1
  // only when CR0.WP=1.
  if (user) {
    if (us === 0 || (write && rw === 0)) pageFault(c, lin, errBase | PF_P);
  } else if (write && rw === 0 && (c.cr0 & CR0_WP) !== 0) {
    pageFault(c, lin, errBase | PF_P);
  }
}

/** Invalidates the TLB; `all` false keeps global entries (MOV CR3 with CR4.PGE). */
export function flushTlb(c: Cpu, all: boolean): void {
  const info = c.tlbInfo;
  if (c.tlbCount > TLB_LIST) {
    if (all) {
      info.fill(0);
      c.tlbCount = 0;
      return;
    }
    c.tlbCount = 0;
    for (let p = 0; p < info.length; p++) {
      if (info[p] === 0) continue;
      if (info[p] & TLB_G) {
        if (c.tlbCount < TLB_LIST) c.tlbList[c.tlbCount++] = p;
        else c.tlbCount = TLB_LIST + 1;
      } else info[p] = 0;
    }
    return;
  }
  let kept = 0;
  for (let i = 0; i < c.tlbCount; i++) {
    const p = c.tlbList[i];
    if (!all && (info[p] & TLB_G)) c.tlbList[kept++] = p;
    else info[p] = 0;
  }
  c.tlbCount = kept;
}

/** Drops one page (INVLPG), global or not. */
export function invalidatePage(c: Cpu, lin: number): void {
  c.tlbInfo[lin >>> 12] = 0;
  c.fwLen = 0;
}

/** Side-effect-free translation for debuggers: physical address or -1. */
export function probe(c: Cpu, lin: number): number {
  if ((c.cr0 & CR0_PG) === 0) return (lin & c.memory.a20Mask) >>> 0;
  const mem = c.memory;
  const pde = mem.read32(((c.cr3 & 0xfffff000) + ((lin >>> 22) << 2)) >>> 0);
  if ((pde & 1) === 0) return -1;
  if ((pde & 0x80) !== 0 && (c.cr4 & CR4_PSE) !== 0) {
    if (pde & 0x200000) return -1;
    return (((pde & 0xffc00000) | (lin & 0x3fffff)) & mem.a20Mask) >>> 0;
  }
  const pte = mem.read32(((pde & 0xfffff000) + (((lin >>> 12) & 0x3ff) << 2)) >>> 0);
  if ((pte & 1) === 0) return -1;
  return (((pte & 0xfffff000) | (lin & 0xfff)) & mem.a20Mask) >>> 0;
}
