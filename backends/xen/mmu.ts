/**
 * Xen's direct-paging MMU for a 32-bit non-PAE PV domU (docs/abi/xen.md §3, §4.1): page-table
 * frames typed L1/L2 and validated when they become tables, every PTE checked against the
 * frames the domain owns, no writable mapping of a table or descriptor frame, the
 * hypervisor's L2 slots copied into each page directory that becomes a base, mmu_update,
 * update_va_mapping, mmuext_op, set_gdt, update_descriptor, and the emulated store of the
 * writable-page-tables assist.
 *
 * @module
 */

import type { Platform } from "../../core/platform.ts";
import {
  type DomainLayout,
  FIRST_RESERVED_GDT_ENTRY,
  GUEST_GDT_FRAMES,
  HYPERVISOR_VIRT_START,
} from "./domain_builder.ts";
import { checkDescriptor } from "./descriptors.ts";
import { XEN_EINVAL, XEN_ESRCH } from "./hypercalls.ts";

const PAGE = 4096;
const DOMID_SELF = 0x7ff0;
/** First L2 slot of the hypervisor hole: guest updates of it and above are refused. */
const HOLE_SLOT = HYPERVISOR_VIRT_START >>> 22;

/** Guest-virtual access for hypercall arguments (throws on an unmapped address). */
export interface GuestAccess {
  r32(va: number): number;
  w32(va: number, v: number): void;
}

/** The domain's page-table and descriptor-frame state. */
export class XenMmu {
  /** Frames validated as page tables: mfn -> level (1 = L1, 2 = L2). */
  readonly tables = new Map<number, 1 | 2>();
  /** Frames given to set_gdt (Xen's seg_desc pages): never mapped writable. */
  readonly gdtFrames = new Set<number>();
  /**
   * References that keep a frame's table type: L2 entries naming an L1, pins, the current
   * base. At zero the frame is an ordinary page again (Xen's type count).
   */
  readonly #refs = new Map<number, number>();
  readonly #pinned = new Set<number>();

  constructor(
    readonly platform: Platform,
    readonly layout: DomainLayout,
    readonly owned: (mfn: number) => boolean,
  ) {
    const mem = platform.memory, pgd = layout.pgdMfn * PAGE;
    this.tables.set(layout.pgdMfn, 2);
    // The builder pins its directory and makes it the base: two references.
    this.#pinned.add(layout.pgdMfn);
    this.#ref(layout.pgdMfn, 2);
    for (let i = 0; i < HOLE_SLOT; i++) {
      const e = mem.read32(pgd + i * 4);
      if (e & 1) this.tables.set(e >>> 12, 1), this.#ref(e >>> 12, 1);
    }
  }

  get #mem() {
    return this.platform.memory;
  }

  /** A new L1 entry: a present frame must be the domain's (or shared_info), never a table RW. */
  validPte(v: number): boolean {
    if (!(v & 1)) return true;
    const mfn = v >>> 12;
    if (mfn === this.layout.sharedInfoMa / PAGE) return true;
    if (!this.owned(mfn)) return false;
    return !((v & 2) && (this.tables.has(mfn) || this.gdtFrames.has(mfn)));
  }

  /** A new L2 entry below the hole: its frame must be (or validate as) an L1 table. */
  #validPde(v: number): boolean {
    if (!(v & 1)) return true;
    if (v & 0x80) return false; // no 4 MiB pages: Xen hides PSE
    return this.#typeAs(v >>> 12, 1);
  }

  #ref(mfn: number, d: number): void {
    const n = (this.#refs.get(mfn) ?? 0) + d;
    if (n > 0) this.#refs.set(mfn, n);
    else this.#refs.delete(mfn), this.#untype(mfn);
  }

  /** A table whose last reference went: its L1 references go too (an L2's entries). */
  #untype(mfn: number): void {
    const level = this.tables.get(mfn);
    this.tables.delete(mfn);
    if (level !== 2) return;
    for (let i = 0; i < HOLE_SLOT; i++) {
      const e = this.#mem.read32(mfn * PAGE + i * 4);
      if (e & 1) this.#ref(e >>> 12, -1);
    }
  }

  /** Gives `mfn` page-table type `level`, validating every entry the first time. */
  #typeAs(mfn: number, level: 1 | 2): boolean {
    const have = this.tables.get(mfn);
    if (have !== undefined) return have === level;
    if (!this.owned(mfn) || this.gdtFrames.has(mfn)) return false;
    const base = mfn * PAGE, n = level === 2 ? HOLE_SLOT : 1024;
    for (let i = 0; i < n; i++) {
      const e = this.#mem.read32(base + i * 4) >>> 0;
      if (!(level === 2 ? this.#validPde(e) : this.validPte(e))) return false;
    }
    if (level === 2) {
      for (let i = 0; i < n; i++) {
        const e = this.#mem.read32(base + i * 4);
        if (e & 1) this.#ref(e >>> 12, 1);
      }
    }
    this.tables.set(mfn, level);
    if (level === 2) this.#installHypervisorSlots(mfn);
    return true;
  }

  /** Xen's own L2 slots (M2P, per-domain area) in a page directory (docs/abi/xen.md §1). */
  #installHypervisorSlots(mfn: number): void {
    for (const [i, pde] of this.layout.hypervisorPdes) this.#mem.write32(mfn * PAGE + i * 4, pde);
  }

  /** Validates and writes one table entry at machine address `ma`; false if Xen refuses it. */
  writeEntry(ma: number, val: number): boolean {
    const level = this.tables.get(ma >>> 12);
    if (level === undefined || ma & 3) return false;
    if (level === 2) {
      if (((ma & 4095) >>> 2) >= HOLE_SLOT || !this.#validPde(val)) return false;
      const old = this.#mem.read32(ma);
      if (val & 1) this.#ref(val >>> 12, 1);
      this.#mem.write32(ma, val);
      if (old & 1) this.#ref(old >>> 12, -1);
      return true;
    }
    if (!this.validPte(val)) return false;
    this.#mem.write32(ma, val);
    return true;
  }

  /** Machine address of the L1 entry mapping `va` in the current address space, or -1. */
  pteAddress(va: number): number {
    const pde = this.#mem.read32((this.platform.cpu.cr3 & ~4095) + (va >>> 22) * 4);
    if (!(pde & 1) || this.tables.get(pde >>> 12) !== 1) return -1;
    return (pde & ~4095) + ((va >>> 12) & 1023) * 4;
  }

  mmuUpdate(g: GuestAccess, reqs: number, count: number, doneVa: number, dom: number): number {
    if (dom !== DOMID_SELF && dom !== 0) return -XEN_ESRCH;
    let done = 0, ret = 0;
    for (; done < count; done++) {
      const ptr = g.r32(reqs + done * 16), val = g.r32(reqs + done * 16 + 8);
      const cmd = ptr & 3, ma = (ptr & ~3) >>> 0;
      if (cmd === 1) continue; // MMU_MACHPHYS_UPDATE: the M2P is the builder's, kept as built
      if (cmd !== 0 || !this.writeEntry(ma, val)) {
        ret = -XEN_EINVAL;
        break;
      }
    }
    this.platform.flushTlb(false);
    if (doneVa) g.w32(doneVa, done);
    return ret;
  }

  updateVaMapping(va: number, lo: number, flags: number): number {
    if (this.platform.linearReservation(va, 1)) return -XEN_EINVAL;
    const pte = this.pteAddress(va);
    if (pte < 0 || !this.writeEntry(pte, lo)) return -XEN_EINVAL;
    // UVMF_TLB_FLUSH 1, UVMF_INVLPG 2 (xen.h).
    if ((flags & 3) === 2) this.platform.invlpg(va);
    else if ((flags & 3) === 1) this.platform.flushTlb(false);
    return 0;
  }

  mmuextOp(g: GuestAccess, ops: number, count: number, doneVa: number): number {
    let done = 0, ret = 0;
    for (; done < count && ret === 0; done++) {
      const o = ops + done * 12;
      ret = this.#mmuext(g.r32(o), g.r32(o + 4), g.r32(o + 8));
      if (ret) break;
    }
    if (doneVa) g.w32(doneVa, done);
    return ret;
  }

  #mmuext(cmd: number, arg1: number, arg2: number): number {
    const p = this.platform;
    switch (cmd) {
      case 0: // PIN_L1_TABLE
      case 1: // PIN_L2_TABLE
        if (this.#pinned.has(arg1) || !this.#typeAs(arg1, cmd === 0 ? 1 : 2)) return -XEN_EINVAL;
        this.#pinned.add(arg1);
        this.#ref(arg1, 1);
        return 0;
      case 4: // UNPIN_TABLE
        if (!this.#pinned.delete(arg1)) return -XEN_EINVAL;
        this.#ref(arg1, -1);
        return 0;
      case 5: { // NEW_BASEPTR: the frame becomes (or is) an L2; the old base loses a reference
        if (!this.#typeAs(arg1, 2)) return -XEN_EINVAL;
        const old = p.cpu.cr3 >>> 12;
        this.#ref(arg1, 1);
        p.setCr3(arg1 * PAGE);
        this.#ref(old, -1);
        return 0;
      }
      case 6: // TLB_FLUSH_LOCAL
      case 8: // TLB_FLUSH_MULTI
      case 10: // TLB_FLUSH_ALL
        p.flushTlb(false);
        return 0;
      case 7: // INVLPG_LOCAL
      case 9: // INVLPG_MULTI
      case 11: // INVLPG_ALL
        p.invlpg(arg1);
        return 0;
      case 13: // SET_LDT {linear_addr, nr_ents}
        return this.#setLdt(arg1, arg2);
      default:
        return -XEN_EINVAL;
    }
  }

  /** MMUEXT_SET_LDT: a page-aligned linear address below the hole, at most 8192 entries. */
  #setLdt(va: number, entries: number): number {
    const c = this.platform.cpu;
    if (entries > 8192 || (va & 4095) || (entries && va + entries * 8 > HYPERVISOR_VIRT_START)) {
      return -XEN_EINVAL;
    }
    c.segSel[6] = 0;
    c.segBase[6] = entries ? va | 0 : 0;
    c.segLimit[6] = entries ? entries * 8 - 1 : 0;
    c.segAttr[6] = entries ? 0x82 : 0;
    return 0;
  }

  /** set_gdt: the frames hold `entries` descriptors, each checked; slots 14, 15 stay Xen's. */
  setGdt(g: GuestAccess, frameList: number, entries: number): number {
    if (entries > FIRST_RESERVED_GDT_ENTRY) return -XEN_EINVAL;
    const n = Math.ceil(entries / 512), frames: number[] = [];
    for (let i = 0; i < n; i++) frames.push(g.r32(frameList + i * 4));
    for (const f of frames) {
      if (!this.owned(f) || this.tables.has(f) || this.#writablyMapped(f)) return -XEN_EINVAL;
      for (let i = 0; i < 512; i++) {
        const pa = f * PAGE + i * 8, mem = this.#mem;
        const d = checkDescriptor(mem.read32(pa), mem.read32(pa + 4));
        if (!d) return -XEN_EINVAL;
        mem.write32(pa, d[0]);
        mem.write32(pa + 4, d[1]);
      }
    }
    this.gdtFrames.clear();
    const l1 = this.layout.perdomainL1Ma;
    for (let i = 0; i < GUEST_GDT_FRAMES; i++) {
      const f = frames[i];
      if (f !== undefined) this.gdtFrames.add(f);
      this.#mem.write32(l1 + i * 4, f === undefined ? 0 : (f * PAGE) | 0x61);
    }
    this.platform.flushTlb(true);
    return 0;
  }

  /** update_descriptor: one 8-byte descriptor at machine address `ma` (a GDT frame or a plain page). */
  updateDescriptor(ma: number, lo: number, hi: number): number {
    const f = ma >>> 12;
    if ((ma & 7) || !this.owned(f) || this.tables.has(f)) return -XEN_EINVAL;
    const d = checkDescriptor(lo, hi);
    if (!d) return -XEN_EINVAL;
    this.#mem.write32(ma, d[0]);
    this.#mem.write32(ma + 4, d[1]);
    return 0;
  }

  /** True when the current address space maps machine frame `mfn` writable (a bounded scan). */
  #writablyMapped(mfn: number): boolean {
    const mem = this.#mem, pgd = this.platform.cpu.cr3 & ~4095;
    for (let i = 0; i < HOLE_SLOT; i++) {
      const pde = mem.read32(pgd + i * 4);
      if (!(pde & 1)) continue;
      for (let j = 0; j < 1024; j++) {
        const e = mem.read32((pde & ~4095) + j * 4);
        if ((e & 3) === 3 && e >>> 12 === mfn) return true;
      }
    }
    return false;
  }
}
