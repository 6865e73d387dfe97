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
 * whose image overlaps 0x500-0x6FFF (one linked below 1 MiB) gets the same layout at the first
 * page boundary above its image instead, as QEMU's Multiboot loader puts its structures after
 * the kernel (hw/i386/multiboot.c, `mb_buf` at the page-aligned end of the image).
 *
 * @module
 */

import type { PhysicalMemory } from "../memory.ts";
import { type ElfImage, type ElfSegment, isElf, loadSegment, parseElf } from "./elf.ts";
import { ImageError } from "./image_error.ts";
import { pcMemoryMap, writeFlatGdt } from "./boot_tables.ts";

/** Header magic (§3.1.1). */
export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** EAX at kernel entry (§3.2). */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** Header search window (§3.1.1). */
const SEARCH_BYTES = 8192;
/** Required-feature bits understood: 0 page-align modules, 1 memory info, 2 video mode. */
const KNOWN_REQUIRED = 0x7;
const FLAG_ADDRESSES = 1 << 16;

/** Boot scratch layout (see module doc): offsets from the area's base. */
export const BOOT_GDT = 0x500;
const AREA_INFO = 0x100;
const AREA_MMAP = 0x200;
const AREA_NAME = 0x300;
const AREA_CMDLINE = 0x400;
const AREA_CMDLINE_END = 0x3b00;
const AREA_SIZE = 0x6b00;
/** The information structure's address in the default area. */
export const BOOT_INFO = BOOT_GDT + AREA_INFO;
/** The initial ESP in the default area. */
export const BOOT_STACK = BOOT_GDT + AREA_SIZE;

/** Flat code selector of the boot GDT. */
export const BOOT_CS = 0x08;
/** Flat data selector of the boot GDT. */
export const BOOT_DS = 0x10;

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
  /** ESI (default 0; the Linux zero page). */
  esi?: number;
  /** A GDT with a flat code (`cs`) and data (`ds`) descriptor, already in memory. */
  gdtBase: number;
  gdtLimit: number;
  /** Code selector (default BOOT_CS). */
  cs?: number;
  /** Selector of DS, ES, FS, GS and SS (default BOOT_DS). */
  ds?: number;
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
 * import assert from "node:assert/strict";
 * import { findMultibootHeader } from "./multiboot.ts";
 * const img = new Uint8Array(64);
 * const dv = new DataView(img.buffer);
 * dv.setUint32(8, 0x1badb002, true);
 * dv.setUint32(12, 0, true);
 * dv.setUint32(16, -0x1badb002 >>> 0, true);
 * assert.equal(findMultibootHeader(img, "k")?.offset, 8);
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

/** Writes the §3.3 information structure and what it points to in the area at `base`. */
function writeBootInfo(memory: PhysicalMemory, base: number, cmdline: string, file: string): void {
  const ram = memory.ramSize;
  const dv = memory.view;
  const enc = new TextEncoder();
  const info = base + AREA_INFO;
  const mmap = base + AREA_MMAP;
  memory.ram.fill(0, info, base + AREA_CMDLINE_END);
  memory.noteWrite(info, AREA_CMDLINE_END - AREA_INFO);
  let p = mmap;
  for (const r of pcMemoryMap(ram)) {
    dv.setUint32(p, 20, true); // size of the entry excluding this field
    dv.setUint32(p + 4, r.base, true);
    dv.setUint32(p + 8, 0, true);
    dv.setUint32(p + 12, r.length, true);
    dv.setUint32(p + 16, 0, true);
    dv.setUint32(p + 20, r.type, true);
    p += 24;
  }
  const name = enc.encode("pvreplay\0");
  memory.ram.set(name, base + AREA_NAME);
  const cmd = enc.encode(cmdline + "\0");
  if (cmd.length > AREA_CMDLINE_END - AREA_CMDLINE) {
    throw new ImageError(
      file,
      `command line too long (${cmd.length} bytes, max ${AREA_CMDLINE_END - AREA_CMDLINE})`,
    );
  }
  memory.ram.set(cmd, base + AREA_CMDLINE);
  const lowTop = Math.min(0x9fc00, ram);
  // flags: 0 mem_lower/upper, 2 cmdline, 6 mmap, 9 boot_loader_name.
  dv.setUint32(info + 0, (1 << 0) | (1 << 2) | (1 << 6) | (1 << 9), true);
  dv.setUint32(info + 4, Math.floor(lowTop / 1024), true);
  dv.setUint32(info + 8, Math.max(0, Math.floor((ram - 0x100000) / 1024)), true);
  dv.setUint32(info + 16, base + AREA_CMDLINE, true);
  dv.setUint32(info + 44, p - mmap, true);
  dv.setUint32(info + 48, mmap, true);
  dv.setUint32(info + 64, base + AREA_NAME, true);
}

/**
 * Loads a Multiboot kernel into `memory` and builds the boot information. The caller puts the
 * CPU into the returned entry state (`Machine.enterProtectedMode`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadMultiboot } from "./multiboot.ts";
 * import { PhysicalMemory } from "../memory.ts";
 * const mem = new PhysicalMemory({ size: 8 << 20 });
 * // const boot = loadMultiboot(mem, await Deno.readFile("kernel.elf"), { cmdline: "quiet" });
 * assert.equal(typeof loadMultiboot, "function");
 * assert.ok(mem.ramSize > 0);
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
  let area = BOOT_GDT;
  if (start < BOOT_GDT + AREA_SIZE && end > BOOT_GDT) area = (end + 0xfff) & ~0xfff;
  if (area + AREA_SIZE > memory.ramSize) {
    throw new ImageError(
      file,
      `no room for the boot information above the image ${hex(start)}-${hex(end)} in ${
        memory.ramSize >>> 20
      } MiB of RAM`,
    );
  }
  for (const s of segments) loadSegment(memory, bytes, s, file);
  const gdtLimit = writeFlatGdt(memory, area, BOOT_CS, BOOT_DS);
  writeBootInfo(memory, area, options.cmdline ?? "", file);
  return {
    entry: {
      eip,
      eax: MULTIBOOT_BOOTLOADER_MAGIC,
      ebx: area + AREA_INFO,
      esp: area + AREA_SIZE,
      gdtBase: area,
      gdtLimit,
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
 * import assert from "node:assert/strict";
 * import { flatEntry } from "./multiboot.ts";
 * import { PhysicalMemory } from "../memory.ts";
 * const e = flatEntry(new PhysicalMemory({ size: 1 << 20 }), 0x100000);
 * assert.equal(e.eip, 0x100000);
 * assert.equal(e.gdtBase, 0x500);
 * ```
 */
export function flatEntry(memory: PhysicalMemory, eip: number): ProtectedModeEntry {
  const gdtLimit = writeFlatGdt(memory, BOOT_GDT, BOOT_CS, BOOT_DS);
  return { eip, eax: 0, ebx: 0, esp: BOOT_STACK, gdtBase: BOOT_GDT, gdtLimit };
}
