/**
 * The Xen domain builder for a 32-bit non-PAE PV guest (docs/abi/xen.md §1): reads the guest's
 * Xen ELF notes, lays the kernel out in pseudo-physical frames backed by a shuffled (but
 * deterministic) set of machine frames, writes the phys-to-machine list, start_info, the
 * console ring page, bootstrap page tables and stack, fills the hypercall transfer page when
 * the profile does, and enters the kernel in ring 1 with ESI = start_info.
 *
 * @module
 */

import { ImageError } from "../../core/loaders/image_error.ts";
import { parseElf } from "../../core/loaders/elf.ts";
import type { GuestImage, Platform } from "../../core/platform.ts";
import type { XenProfile } from "./profiles.ts";

const PAGE = 4096;
/** Non-PAE hypervisor hole (docs/abi/xen.md §1). */
export const HYPERVISOR_VIRT_START = 0xfc000000;
const GDT_FRAMES = 16;
/** Ring-1 flat selectors in Xen's reserved GDT area (docs/abi/xen.md §1). */
export const FLAT_KERNEL_CS = 0xe019;
export const FLAT_KERNEL_DS = 0xe021;
/** First GDT entry Xen reserves (docs/abi/xen.md §4: 0xe000 / 8). */
export const FIRST_RESERVED_GDT_ENTRY = 0xe000 / 8;

/** Machine frames the hypervisor keeps for itself (below 640 KiB, outside the domain). */
export const HV_GDT_MFN = 0x10;
export const HV_SHARED_INFO_MFN = 0x20;
const HV_M2P_L1_MFN = 0x21;
const HV_PERDOMAIN_L1_MFN = 0x22;
const HV_TSS_MFN = 0x23;
const HV_M2P_MFN = 0x24;
/** The M2P may use machine frames up to the 640 KiB hole. */
const HV_M2P_LAST_MFN = 0x9f;
/**
 * The hole's layout (docs/abi/xen.md §1): the read-only machine-to-phys table at its start
 * (Xen's RO_MPT_VIRT_START), then the per-domain area with the 16 GDT frames (guest frames
 * from set_gdt in slots 0..13, Xen's reserved descriptors in 14 and 15) and the hypervisor's
 * TSS. The per-domain address is the model's choice (UNVERIFIED for real Xen).
 */
export const M2P_VIRT_START = HYPERVISOR_VIRT_START;
export const GDT_VIRT_START = 0xfc400000;
/**
 * Guest segments end where the read-only M2P ends (Xen's flat ring-1/3 descriptors are
 * "3.95GB": limit 0xFC3FF pages), so the kernel reads the M2P through its data segment.
 */
export const GUEST_SEGMENT_MAX_ADDR = GDT_VIRT_START;
export const TSS_VIRT = GDT_VIRT_START + GDT_FRAMES * PAGE;
/** Entries of a GDT frame the guest may give to set_gdt (FIRST_RESERVED_GDT_PAGE 14). */
export const GUEST_GDT_FRAMES = 14;
/** Selector of the hypervisor TSS (a reserved GDT entry; the model's choice). */
export const TSS_SELECTOR = 0xe000;
/** First machine frame given to the domain (above the PC's low-memory holes). */
const DOMAIN_FIRST_MFN = 0x100;

/** start_info field offsets (xen.h, x86_32; docs/abi/xen.md §1). */
export const SI = {
  magic: 0,
  nrPages: 32,
  sharedInfo: 36,
  flags: 40,
  storeMfn: 44,
  storeEvtchn: 48,
  consoleMfn: 52,
  consoleEvtchn: 56,
  ptBase: 60,
  nrPtFrames: 64,
  mfnList: 68,
  modStart: 72,
  modLen: 76,
  cmdLine: 80,
} as const;

/** The Xen ELF notes the builder reads (elfnote.h numbers). */
export interface XenNotes {
  entry: number;
  hypercallPage: number;
  virtBase: number;
  paddrOffset: number;
  xenVersion: string;
  guestOs: string;
  guestVersion: string;
  loader: string;
  features: string;
}

/** What the builder produced (the backend keeps it as the domain's memory map). */
export interface DomainLayout {
  notes: XenNotes;
  nrPages: number;
  /** pfn -> mfn. */
  p2m: Uint32Array;
  startInfoVa: number;
  ptBaseVa: number;
  pgdMfn: number;
  consoleMfn: number;
  consoleEvtchn: number;
  storeMfn: number;
  storeEvtchn: number;
  sharedInfoMa: number;
  stackTopVa: number;
  /** End of the bootstrap mapping (virtual). */
  mappedEnd: number;
  /** The hypervisor's L2 slots (index, PDE) that every guest page directory gets on pinning. */
  hypervisorPdes: [number, number][];
  /** Machine address of the per-domain L1 (its first 14 slots map the guest's GDT frames). */
  perdomainL1Ma: number;
}

/** Reads the PT_NOTE "Xen" notes of an ELF32 image. */
export function readXenNotes(bytes: Uint8Array, file: string): XenNotes {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const phoff = v.getUint32(28, true), phentsize = v.getUint16(42, true);
  const phnum = v.getUint16(44, true);
  const notes: Partial<XenNotes> = {};
  const str = (o: number, n: number) => {
    let s = "";
    for (let i = 0; i < n && bytes[o + i]; i++) s += String.fromCharCode(bytes[o + i]);
    return s;
  };
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (v.getUint32(ph, true) !== 4) continue; // PT_NOTE
    let o = v.getUint32(ph + 4, true);
    const end = o + v.getUint32(ph + 16, true);
    while (o + 12 <= end) {
      const namesz = v.getUint32(o, true), descsz = v.getUint32(o + 4, true);
      const type = v.getUint32(o + 8, true);
      const name = str(o + 12, namesz);
      const d = o + 12 + ((namesz + 3) & ~3);
      if (name === "Xen") {
        const num = descsz >= 4 ? v.getUint32(d, true) : 0;
        switch (type) {
          case 1:
            notes.entry = num;
            break;
          case 2:
            notes.hypercallPage = num;
            break;
          case 3:
            notes.virtBase = num;
            break;
          case 4:
            notes.paddrOffset = num;
            break;
          case 5:
            notes.xenVersion = str(d, descsz);
            break;
          case 6:
            notes.guestOs = str(d, descsz);
            break;
          case 7:
            notes.guestVersion = str(d, descsz);
            break;
          case 8:
            notes.loader = str(d, descsz);
            break;
          case 10:
            notes.features = str(d, descsz);
            break;
        }
      }
      o = d + ((descsz + 3) & ~3);
    }
  }
  if (notes.guestOs === undefined || notes.entry === undefined) {
    throw new ImageError(file, "no Xen ELF notes (GUEST_OS, ENTRY): not a Xen PV kernel");
  }
  // 3.x loaders demand XEN_VERSION "xen-3.0" (docs/abi/xen.md §1).
  if (notes.xenVersion !== "xen-3.0") {
    throw new ImageError(file, `Xen ELF note XEN_VERSION "${notes.xenVersion}" is not "xen-3.0"`);
  }
  return {
    entry: notes.entry,
    hypercallPage: notes.hypercallPage ?? 0,
    virtBase: notes.virtBase ?? 0xc0000000,
    paddrOffset: notes.paddrOffset ?? 0,
    xenVersion: notes.xenVersion,
    guestOs: notes.guestOs,
    guestVersion: notes.guestVersion ?? "",
    loader: notes.loader ?? "",
    features: notes.features ?? "",
  };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * The P2M: pfn -> mfn, a fixed stride permutation of the domain's machine frames, so that
 * machine frame numbers are never the pseudo-physical ones (docs/abi/xen.md §1).
 */
export function shuffledP2m(nrPages: number): Uint32Array {
  let stride = (nrPages >> 1) | 1;
  while (gcd(stride, nrPages) !== 1) stride += 2;
  const p2m = new Uint32Array(nrPages);
  for (let pfn = 0; pfn < nrPages; pfn++) {
    p2m[pfn] = DOMAIN_FIRST_MFN + (nrPages - 1 - (pfn * stride) % nrPages);
  }
  return p2m;
}

/** Writes a GDT descriptor for a flat ring-1 segment ending at GUEST_SEGMENT_MAX_ADDR. */
function writeDescriptor(p: Platform, index: number, type: number): void {
  const pa = HV_GDT_MFN * PAGE + index * 8;
  const limit = (GUEST_SEGMENT_MAX_ADDR >>> 12) - 1; // 4 KiB units
  p.memory.write32(pa, limit & 0xffff);
  // G=1, D=1, limit[19:16], P=1, DPL=1, S=1, type.
  p.memory.write32(
    pa + 4,
    0x00c00000 | (limit & 0xf0000) | 0x80 << 8 | 1 << 13 | 1 << 12 | type << 8,
  );
}

/** Builds the domain and enters the kernel; returns the layout. */
export function buildDomain(p: Platform, image: GuestImage, profile: XenProfile): DomainLayout {
  const notes = readXenNotes(image.bytes, image.file);
  const elf = parseElf(image.bytes, image.file);
  const mem = p.memory;
  const totalFrames = mem.ramSize / PAGE;
  const nrPages = totalFrames - DOMAIN_FIRST_MFN;
  const p2m = shuffledP2m(nrPages);
  const virtBase = notes.virtBase >>> 0;
  const ma = (pfn: number) => p2m[pfn] * PAGE;
  const writePseudo = (paddr: number, bytes: Uint8Array) => {
    for (let i = 0; i < bytes.length; i++) {
      const a = paddr + i;
      mem.write8(ma(a >>> 12) + (a & 4095), bytes[i]);
    }
  };
  let imageEnd = 0;
  for (const s of elf.segments) {
    const paddr = (s.vaddr - virtBase + notes.paddrOffset) >>> 0;
    if (paddr + s.memSize > nrPages * PAGE) throw new ImageError(image.file, "kernel too large");
    writePseudo(paddr, image.bytes.subarray(s.offset, s.offset + s.fileSize));
    writePseudo(paddr + s.fileSize, new Uint8Array(s.memSize - s.fileSize));
    imageEnd = Math.max(imageEnd, paddr + s.memSize);
  }
  // Boot layout after the kernel, in Xen's order (docs/abi/xen.md §1): P2M list, start_info,
  // xenstore page, console page, page tables, bootstrap stack.
  let next = Math.ceil(imageEnd / PAGE);
  const alloc = (n: number) => {
    const first = next;
    next += n;
    return first;
  };
  const p2mPfn = alloc(Math.ceil((nrPages * 4) / PAGE));
  const siPfn = alloc(1);
  const storePfn = alloc(1);
  const consPfn = alloc(1);
  const pgdPfn = alloc(1);
  // The bootstrap mapping covers everything up to the stack plus 512 KiB, in 4 MiB units.
  const l1Count = Math.ceil(((next + 2 + 128) * PAGE) / (4 << 20));
  const l1Pfn = alloc(l1Count);
  const stackPfn = alloc(1);
  const mappedEnd = virtBase + l1Count * (4 << 20);
  const va = (pfn: number) => (virtBase + pfn * PAGE) >>> 0;
  for (let pfn = p2mPfn; pfn < next; pfn++) mem.ram.fill(0, ma(pfn), ma(pfn) + PAGE);
  // The list is contiguous in pseudo-physical space only: write it frame by frame.
  for (let pfn = 0; pfn < nrPages; pfn++) {
    mem.write32(ma(p2mPfn + (pfn >>> 10)) + (pfn & 1023) * 4, p2m[pfn]);
  }
  // Page directory and L1 tables: kernel mappings; the page tables themselves read-only.
  const pgdMa = ma(pgdPfn);
  for (let i = 0; i < l1Count; i++) {
    mem.write32(pgdMa + ((virtBase >>> 22) + i) * 4, (ma(l1Pfn + i) | 0x67) >>> 0);
    for (let j = 0; j < 1024; j++) {
      const pfn = i * 1024 + j;
      if (pfn >= nrPages) break;
      const pt = pfn === pgdPfn || (pfn >= l1Pfn && pfn < l1Pfn + l1Count);
      mem.write32(ma(l1Pfn + i) + j * 4, (ma(pfn) | (pt ? 0x61 : 0x63)) >>> 0);
    }
  }
  // The hypervisor hole: Xen's own mapping of the GDT frames, not writable by the guest.
  const hypervisorPdes = buildHole(p, p2m, totalFrames, image.file);
  for (const [i, pde] of hypervisorPdes) mem.write32(pgdMa + i * 4, pde);
  // The hypervisor TSS: the ring-1 stack a bounce from ring 3 lands on (stack_switch).
  mem.write32(HV_TSS_MFN * PAGE + 4 + 8, va(stackPfn + 1)); // esp1
  mem.write32(HV_TSS_MFN * PAGE + 8 + 8, FLAT_KERNEL_DS); // ss1
  mem.ram.fill(0, HV_SHARED_INFO_MFN * PAGE, (HV_SHARED_INFO_MFN + 1) * PAGE);
  // Events masked at entry; every port masked except what the builder binds (docs §5).
  mem.write8(HV_SHARED_INFO_MFN * PAGE + 1, 1);
  p.reserveLinear("xen hypervisor hole", HYPERVISOR_VIRT_START, 0x1_0000_0000);
  p.reserveGdt(
    "xen reserved GDT entries",
    FIRST_RESERVED_GDT_ENTRY,
    8192 - FIRST_RESERVED_GDT_ENTRY,
  );
  p.reserveGdt("null descriptor", 0, 1);

  // start_info.
  const si = ma(siPfn);
  for (let i = 0; i < profile.magic.length; i++) mem.write8(si + i, profile.magic.charCodeAt(i));
  const consoleEvtchn = 1, storeEvtchn = 2;
  mem.write32(si + SI.nrPages, nrPages);
  mem.write32(si + SI.sharedInfo, HV_SHARED_INFO_MFN * PAGE);
  mem.write32(si + SI.storeMfn, p2m[storePfn]);
  mem.write32(si + SI.storeEvtchn, storeEvtchn);
  mem.write32(si + SI.consoleMfn, p2m[consPfn]);
  mem.write32(si + SI.consoleEvtchn, consoleEvtchn);
  mem.write32(si + SI.ptBase, va(pgdPfn));
  mem.write32(si + SI.nrPtFrames, 1 + l1Count);
  mem.write32(si + SI.mfnList, va(p2mPfn));
  const cmd = image.cmdline.slice(0, 1023);
  for (let i = 0; i < cmd.length; i++) mem.write8(si + SI.cmdLine + i, cmd.charCodeAt(i) & 0xff);

  // Hypercall transfer page: slot i = mov $i,%eax; int $0x82; ret, and the iret slot
  // push %eax; mov $23,%eax; int $0x82 (docs/abi/xen.md §2). Xen 3.0.0 leaves it alone.
  if (profile.hypercallPage && notes.hypercallPage) {
    const pfn = ((notes.hypercallPage - virtBase + notes.paddrOffset) >>> 0) >>> 12;
    const page = ma(pfn);
    for (let i = 0; i < 128; i++) {
      const s = page + i * 32;
      let o = s;
      if (i === 23) mem.write8(o++, 0x50);
      mem.write8(o++, 0xb8);
      mem.write32(o, i);
      o += 4;
      mem.write8(o++, 0xcd);
      mem.write8(o++, 0x82);
      if (i !== 23) mem.write8(o++, 0xc3);
    }
  }
  mem.noteWrite(0, mem.ramSize);

  // Enter ring 1: flat ring-1 segments, paging on the bootstrap tables, ESI = start_info.
  const c = p.cpu;
  c.regs.fill(0);
  c.regs[6] = va(siPfn) | 0;
  c.regs[4] = va(stackPfn + 1) | 0;
  c.cr0 = 0x80000011 | 0;
  c.cr3 = pgdMa;
  c.cr4 = 0;
  c.gdtrBase = GDT_VIRT_START | 0;
  c.gdtrLimit = GDT_FRAMES * PAGE - 1;
  c.idtrBase = 0;
  c.idtrLimit = 0;
  for (let i = 0; i < 6; i++) {
    const code = i === 1;
    c.segSel[i] = code ? FLAT_KERNEL_CS : FLAT_KERNEL_DS;
    c.segBase[i] = 0;
    c.segLimit[i] = GUEST_SEGMENT_MAX_ADDR - 1;
    c.segAttr[i] = code ? 0xc0bb : 0xc0b3;
  }
  c.segSel[7] = TSS_SELECTOR;
  c.segBase[7] = TSS_VIRT | 0;
  c.segLimit[7] = 103;
  c.segAttr[7] = 0x8b; // present 32-bit TSS, busy
  c.cpl = 1;
  c.halted = false;
  c.setEflags(0x202); // IF set: the guest's gate is evtchn_upcall_mask, not EFLAGS.IF
  c.eip = notes.entry >>> 0;
  p.memory.a20Mask = 0xffffffff;
  c.updateMode();
  p.setCr3(pgdMa);
  return {
    notes,
    nrPages,
    p2m,
    startInfoVa: va(siPfn),
    ptBaseVa: va(pgdPfn),
    pgdMfn: p2m[pgdPfn],
    consoleMfn: p2m[consPfn],
    consoleEvtchn,
    storeMfn: p2m[storePfn],
    storeEvtchn,
    sharedInfoMa: HV_SHARED_INFO_MFN * PAGE,
    stackTopVa: va(stackPfn + 1),
    mappedEnd,
    hypervisorPdes,
    perdomainL1Ma: HV_PERDOMAIN_L1_MFN * PAGE,
  };
}

/**
 * Fills the hypervisor's frames: the M2P (mfn -> pfn, ~0 for frames not the domain's) and its
 * read-only L1, the per-domain L1 with the GDT frames and the TSS, Xen's flat descriptors.
 * Returns the L2 slots that map them.
 */
function buildHole(p: Platform, p2m: Uint32Array, totalFrames: number, file: string) {
  const mem = p.memory;
  const m2pFrames = Math.ceil((totalFrames * 4) / PAGE);
  if (HV_M2P_MFN + m2pFrames > HV_M2P_LAST_MFN + 1) {
    throw new ImageError(file, `${totalFrames} frames need a larger M2P than the model keeps`);
  }
  mem.ram.fill(0xff, HV_M2P_MFN * PAGE, (HV_M2P_MFN + m2pFrames) * PAGE);
  for (let pfn = 0; pfn < p2m.length; pfn++) mem.write32(HV_M2P_MFN * PAGE + p2m[pfn] * 4, pfn);
  const m2pL1 = HV_M2P_L1_MFN * PAGE, pdL1 = HV_PERDOMAIN_L1_MFN * PAGE;
  mem.ram.fill(0, m2pL1, m2pL1 + PAGE);
  for (let i = 0; i < m2pFrames; i++) mem.write32(m2pL1 + i * 4, ((HV_M2P_MFN + i) * PAGE) | 0x61);
  mem.ram.fill(0, pdL1, pdL1 + PAGE);
  for (let i = 0; i < GDT_FRAMES; i++) mem.write32(pdL1 + i * 4, ((HV_GDT_MFN + i) * PAGE) | 0x63);
  mem.write32(pdL1 + GDT_FRAMES * 4, (HV_TSS_MFN * PAGE) | 0x63);
  mem.ram.fill(0, HV_GDT_MFN * PAGE, (HV_GDT_MFN + GDT_FRAMES) * PAGE);
  mem.ram.fill(0, HV_TSS_MFN * PAGE, (HV_TSS_MFN + 1) * PAGE);
  writeDescriptor(p, FLAT_KERNEL_CS >> 3, 0xb);
  writeDescriptor(p, FLAT_KERNEL_DS >> 3, 0x3);
  const pdes: [number, number][] = [
    [M2P_VIRT_START >>> 22, m2pL1 | 0x63],
    [GDT_VIRT_START >>> 22, pdL1 | 0x63],
  ];
  return pdes;
}
