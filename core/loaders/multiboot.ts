/**
 * Multiboot (version 0.6.96) kernel loading: header search and validation, ELF or a.out-kludge
 * loading, the Multiboot information structure and the entry state.
 *
 * All numbers are from the Multiboot Specification 0.6.96 (GNU GRUB legacy manual set):
 * §3.1.1 header in the first 8192 bytes, 32-bit aligned, magic 0x1BADB002, `magic + flags +
 * checksum == 0`; §3.1.2 flags (bits 0-15 required features, bit 16 address fields valid);
 * §3.1.3 address fields; §3.2 machine state; §3.3 boot information format.
 *
 * Boot scratch area (pvreplay's choice, in conventional memory as GRUB does): boot GDT at
 * 0x500, information structure at 0x600, memory map at 0x700, boot loader name at 0x800,
 * command line at 0x900-0x3FFF, initial ESP 0x7000 (ESP is undefined in the spec). A kernel
 * whose segments overlap 0x500-0x6FFF is rejected.
 *
 * @module
 */

import type { PhysicalMemory } from "../memory.ts";
import { type ElfImage, type ElfSegment, isElf, loadSegment, parseElf } from "./elf.ts";
import { ImageError } from "./image_error.ts";

/** Header magic (§3.1.1). */
export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** EAX at kernel entry (§3.2). */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** Header search window (§3.1.1). */
const SEARCH_BYTES = 8192;
/** Required-feature bits understood: 0 page-align modules, 1 memory info, 2 video mode. */
const KNOWN_REQUIRED = 0x7;
const FLAG_ADDRESSES = 1 << 16;

/** Boot scratch layout (see module doc). */
export const BOOT_GDT = 0x500;
export const BOOT_INFO = 0x600;
const BOOT_MMAP = 0x700;
const BOOT_NAME = 0x800;
const BOOT_CMDLINE = 0x900;
const BOOT_CMDLINE_END = 0x4000;
export const BOOT_STACK = 0x7000;
const BOOT_AREA_END = 0x7000;

/** Flat code selector of the boot GDT. */
export const BOOT_CS = 0x08;
/** Flat data selector of the boot GDT. */
export const BOOT_DS = 0x10;

/** The LAPIC page, reported reserved in the memory map. */
const APIC_BASE = 0xfee00000;

/** A parsed Multiboot header (§3.1). */
export interface MultibootHeader {
  /** File offset of the magic. */
  offset: number;
  flags: number;
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

/**
 * The 32-bit flat protected-mode entry state shared by the Multiboot loader and by backends that
 * start kernels their own way (see `core/machine.ts` `enterProtectedMode`).
 */
export interface ProtectedModeEntry {
  eip: number;
  eax: number;
  ebx: number;
  esp: number;
  /** A GDT with a flat code (BOOT_CS) and data (BOOT_DS) descriptor, already in memory. */
  gdtBase: number;
  gdtLimit: number;
}

/** Result of {@link loadMultiboot}. */
export interface MultibootBoot {
  entry: ProtectedModeEntry;
  header: MultibootHeader;
  /** The ELF image when the kernel was loaded as ELF (symbols for reports). */
  elf: ElfImage | null;
  /** Lowest and highest+1 physical address written by the kernel image. */
  loadStart: number;
  loadEnd: number;
}

/** Options for {@link loadMultiboot}. */
export interface MultibootOptions {
  /** The kernel command line (`--append`). */
  cmdline?: string;
  /** Name used in error messages. */
  file?: string;
}

const hex = (v: number) => `0x${(v >>> 0).toString(16)}`;

/**
 * Finds and validates the Multiboot header; null if there is none.
 *
 * @example
 * ```ts
 * import { findMultibootHeader } from "./multiboot.ts";
 * const img = new Uint8Array(64);
 * const dv = new DataView(img.buffer);
 * dv.setUint32(8, 0x1badb002, true);
 * dv.setUint32(12, 0, true);
 * dv.setUint32(16, -0x1badb002 >>> 0, true);
 * console.assert(findMultibootHeader(img, "k")?.offset === 8);
 * ```
 */
export function findMultibootHeader(bytes: Uint8Array, file: string): MultibootHeader | null {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = Math.min(SEARCH_BYTES, bytes.length) - 12;
  for (let off = 0; off <= end; off += 4) {
    if (dv.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = dv.getUint32(off + 4, true);
    const checksum = dv.getUint32(off + 8, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) !== 0) continue;
    const unknown = flags & 0xffff & ~KNOWN_REQUIRED;
    if (unknown) {
      throw new ImageError(file, `Multiboot header requires unsupported features ${hex(unknown)}`);
    }
    const header: MultibootHeader = {
      offset: off,
      flags,
      headerAddr: 0,
      loadAddr: 0,
      loadEndAddr: 0,
      bssEndAddr: 0,
      entryAddr: 0,
    };
    if (flags & FLAG_ADDRESSES) {
      if (off + 32 > bytes.length) {
        throw new ImageError(file, "Multiboot header address fields run past the end of the file");
      }
      header.headerAddr = dv.getUint32(off + 12, true);
      header.loadAddr = dv.getUint32(off + 16, true);
      header.loadEndAddr = dv.getUint32(off + 20, true);
      header.bssEndAddr = dv.getUint32(off + 24, true);
      header.entryAddr = dv.getUint32(off + 28, true);
    }
    return header;
  }
  return null;
}

/** Loads using the header's address fields (§3.1.3, the "a.out kludge"). */
function kludgeSegment(bytes: Uint8Array, h: MultibootHeader, file: string): ElfSegment {
  if (h.loadAddr > h.headerAddr) {
    throw new ImageError(file, `Multiboot load_addr ${hex(h.loadAddr)} above header_addr`);
  }
  const fileStart = h.offset - (h.headerAddr - h.loadAddr);
  if (fileStart < 0) {
    throw new ImageError(
      file,
      `Multiboot header_addr - load_addr exceeds the header's file offset`,
    );
  }
  const loadEnd = h.loadEndAddr === 0 ? h.loadAddr + (bytes.length - fileStart) : h.loadEndAddr;
  if (loadEnd < h.loadAddr || fileStart + (loadEnd - h.loadAddr) > bytes.length) {
    throw new ImageError(file, `Multiboot load_end_addr ${hex(h.loadEndAddr)} is outside the file`);
  }
  const bssEnd = h.bssEndAddr === 0 ? loadEnd : h.bssEndAddr;
  if (bssEnd < loadEnd) {
    throw new ImageError(file, `Multiboot bss_end_addr ${hex(bssEnd)} below load_end_addr`);
  }
  return {
    paddr: h.loadAddr,
    vaddr: h.loadAddr,
    offset: fileStart,
    fileSize: loadEnd - h.loadAddr,
    memSize: bssEnd - h.loadAddr,
    flags: 7,
  };
}

/** e_entry is a virtual address; a loader running with paging off needs the physical one. */
function physicalEntry(elf: ElfImage): number {
  for (const s of elf.segments) {
    if (elf.entry >= s.vaddr && elf.entry - s.vaddr < s.memSize) {
      return (s.paddr + (elf.entry - s.vaddr)) >>> 0;
    }
  }
  return elf.entry;
}

/** Writes the boot GDT: null, flat 4 GiB code (0x08), flat 4 GiB data (0x10). */
function writeBootGdt(memory: PhysicalMemory): void {
  const dv = memory.view;
  dv.setUint32(BOOT_GDT, 0, true);
  dv.setUint32(BOOT_GDT + 4, 0, true);
  // Base 0, limit 0xFFFFF pages, G=1 D=1 P=1 DPL0 S=1: code type 0xB, data type 0x3 (accessed).
  dv.setUint32(BOOT_GDT + 8, 0x0000ffff, true);
  dv.setUint32(BOOT_GDT + 12, 0x00cf9b00, true);
  dv.setUint32(BOOT_GDT + 16, 0x0000ffff, true);
  dv.setUint32(BOOT_GDT + 20, 0x00cf9300, true);
  memory.noteWrite(BOOT_GDT, 24);
}

/** Writes the §3.3 information structure and what it points to. */
function writeBootInfo(memory: PhysicalMemory, cmdline: string, file: string): void {
  const ram = memory.ramSize;
  const dv = memory.view;
  const enc = new TextEncoder();
  memory.ram.fill(0, BOOT_INFO, BOOT_CMDLINE_END);
  memory.noteWrite(BOOT_INFO, BOOT_CMDLINE_END - BOOT_INFO);
  // Conventional memory below the EBDA (as a PC BIOS reports it), the BIOS area and the LAPIC
  // page reserved, everything from 1 MiB up usable.
  const lowTop = Math.min(0x9fc00, ram);
  const map: Array<[number, number, number]> = [
    [0, lowTop, 1],
    [0x9fc00, 0xa0000 - 0x9fc00, 2],
    [0xf0000, 0x10000, 2],
  ];
  if (ram > 0x100000) map.push([0x100000, ram - 0x100000, 1]);
  map.push([APIC_BASE, 0x1000, 2]);
  let p = BOOT_MMAP;
  for (const [base, len, type] of map) {
    dv.setUint32(p, 20, true); // size of the entry excluding this field
    dv.setUint32(p + 4, base, true);
    dv.setUint32(p + 8, 0, true);
    dv.setUint32(p + 12, len, true);
    dv.setUint32(p + 16, 0, true);
    dv.setUint32(p + 20, type, true);
    p += 24;
  }
  const name = enc.encode("pvreplay\0");
  memory.ram.set(name, BOOT_NAME);
  const cmd = enc.encode(cmdline + "\0");
  if (cmd.length > BOOT_CMDLINE_END - BOOT_CMDLINE) {
    throw new ImageError(
      file,
      `command line too long (${cmd.length} bytes, max ${BOOT_CMDLINE_END - BOOT_CMDLINE})`,
    );
  }
  memory.ram.set(cmd, BOOT_CMDLINE);
  // flags: 0 mem_lower/upper, 2 cmdline, 6 mmap, 9 boot_loader_name.
  dv.setUint32(BOOT_INFO + 0, (1 << 0) | (1 << 2) | (1 << 6) | (1 << 9), true);
  dv.setUint32(BOOT_INFO + 4, Math.floor(lowTop / 1024), true);
  dv.setUint32(BOOT_INFO + 8, Math.max(0, Math.floor((ram - 0x100000) / 1024)), true);
  dv.setUint32(BOOT_INFO + 16, BOOT_CMDLINE, true);
  dv.setUint32(BOOT_INFO + 44, p - BOOT_MMAP, true);
  dv.setUint32(BOOT_INFO + 48, BOOT_MMAP, true);
  dv.setUint32(BOOT_INFO + 64, BOOT_NAME, true);
}

/**
 * Loads a Multiboot kernel into `memory` and builds the boot information. The caller puts the
 * CPU into the returned entry state (`Machine.enterProtectedMode`).
 *
 * @example
 * ```ts
 * import { loadMultiboot } from "./multiboot.ts";
 * import { PhysicalMemory } from "../memory.ts";
 * const mem = new PhysicalMemory({ size: 8 << 20 });
 * // const boot = loadMultiboot(mem, await Deno.readFile("kernel.elf"), { cmdline: "quiet" });
 * console.assert(typeof loadMultiboot === "function" && mem.ramSize > 0);
 * ```
 */
export function loadMultiboot(
  memory: PhysicalMemory,
  bytes: Uint8Array,
  options: MultibootOptions = {},
): MultibootBoot {
  const file = options.file ?? "<kernel>";
  const header = findMultibootHeader(bytes, file);
  if (!header) {
    throw new ImageError(file, "no Multiboot header (magic 0x1BADB002) in the first 8 KiB");
  }
  let elf: ElfImage | null = null;
  let eip: number;
  let segments: ElfSegment[];
  if (header.flags & FLAG_ADDRESSES) {
    // §3.1.3: the address fields take precedence over the ELF headers when flag 16 is set.
    segments = [kludgeSegment(bytes, header, file)];
    eip = header.entryAddr;
  } else {
    if (!isElf(bytes)) {
      throw new ImageError(
        file,
        "Multiboot kernel is not ELF and its header has no address fields (flag 16)",
      );
    }
    elf = parseElf(bytes, file);
    segments = elf.segments;
    eip = physicalEntry(elf);
  }
  const start = Math.min(...segments.map((s) => s.paddr));
  const end = Math.max(...segments.map((s) => s.paddr + s.memSize));
  if (start < BOOT_AREA_END && end > BOOT_GDT) {
    throw new ImageError(
      file,
      `kernel image ${hex(start)}-${hex(end)} overlaps the boot area ${hex(BOOT_GDT)}-${
        hex(BOOT_AREA_END)
      }`,
    );
  }
  for (const s of segments) loadSegment(memory, bytes, s, file);
  writeBootGdt(memory);
  writeBootInfo(memory, options.cmdline ?? "", file);
  return {
    entry: {
      eip,
      eax: MULTIBOOT_BOOTLOADER_MAGIC,
      ebx: BOOT_INFO,
      esp: BOOT_STACK,
      gdtBase: BOOT_GDT,
      gdtLimit: 23,
    },
    header,
    elf,
    loadStart: start,
    loadEnd: end,
  };
}

/**
 * Writes the boot GDT and returns a flat entry state for a plain ELF kernel loaded by
 * `loadElf` (for backends that start kernels their own way; EAX/EBX are 0).
 *
 * @example
 * ```ts
 * import { flatEntry } from "./multiboot.ts";
 * import { PhysicalMemory } from "../memory.ts";
 * const e = flatEntry(new PhysicalMemory({ size: 1 << 20 }), 0x100000);
 * console.assert(e.eip === 0x100000 && e.gdtBase === 0x500);
 * ```
 */
export function flatEntry(memory: PhysicalMemory, eip: number): ProtectedModeEntry {
  writeBootGdt(memory);
  return { eip, eax: 0, ebx: 0, esp: BOOT_STACK, gdtBase: BOOT_GDT, gdtLimit: 23 };
}
