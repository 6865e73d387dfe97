/**
 * The Linux/x86 boot protocol, 32-bit entry (the kernel's Documentation/arch/x86/boot.rst,
 * "32-bit Boot Protocol"): a bzImage (setup header version 2.03 or later, LOADED_HIGH) or an
 * uncompressed vmlinux ELF, a `boot_params` "zero page" with the E820 memory map, the command
 * line and the initrd, and the entry state: flat protected mode with paging off, interrupts
 * off, CS = `__BOOT_CS` (0x10), DS = ES = SS = `__BOOT_DS` (0x18), ESI = the zero page, EBP =
 * EDI = EBX = 0.
 *
 * bzImage: the setup header (offset 0x1F1 up to 0x202 + the byte at 0x201) is copied into the
 * zero page; the protected-mode part (after `(setup_sects || 4) + 1` sectors) is loaded at 1 MiB,
 * and entered at its start, as QEMU's `-kernel` does for protocol 2.03+ (hw/i386/x86.c).
 * vmlinux: PT_LOAD segments at their physical addresses, entered at the physical `e_entry`
 * (`phys_startup_32`); the zero page gets a header the loader writes itself ("HdrS", version
 * 2.15, boot_flag 0xAA55), because an uncompressed kernel carries none.
 *
 * Placement is a parameter ({@link LinuxBootLayout}): the zero page at `zeroPage`, the boot GDT
 * at `zeroPage + 0x1000`, the command line at `zeroPage + 0x2000`, the initial stack top at
 * `zeroPage + 0x4000` (the protocol leaves ESP open; the decompressor sets its own). The default
 * puts the zero page at 0x10000 (QEMU's real-mode setup address for protocol 2.02+); lguest's
 * launcher puts it at guest-physical 0 and sets `hardware_subarch` 1 (the lguest convention).
 * The initrd goes at the highest page-aligned address below min(RAM top, initrd_addr_max + 1)
 * (as QEMU places it); the kernel's decompression area (`pref_address` .. + `init_size`) must
 * stay clear of it, or loading fails naming the memory size needed.
 *
 * @module
 */

import type { PhysicalMemory } from "../memory.ts";
import { type MemoryRange, pcMemoryMap, writeFlatGdt } from "./boot_tables.ts";
import { isElf, loadSegment, parseElf } from "./elf.ts";
import { ImageError } from "./image_error.ts";
import type { ProtectedModeEntry } from "./multiboot.ts";

/** Selectors the 32-bit protocol requires (boot.rst: `__BOOT_CS` 0x10, `__BOOT_DS` 0x18). */
export const LINUX_BOOT_CS = 0x10;
export const LINUX_BOOT_DS = 0x18;

/** `hardware_subarch` values (arch/x86/include/uapi/asm/bootparam.h `X86_SUBARCH_*`). */
export const SUBARCH_PC = 0;
export const SUBARCH_LGUEST = 1;
export const SUBARCH_XEN = 2;

/** Zero-page offsets (bootparam.h `struct boot_params`, boot.rst "The real-mode kernel header"). */
export const BP = {
  extCmdLinePtr: 0x0c8,
  altMemK: 0x1e0,
  e820Entries: 0x1e8,
  setupSects: 0x1f1,
  bootFlag: 0x1fe,
  jump: 0x200,
  header: 0x202,
  version: 0x206,
  typeOfLoader: 0x210,
  loadflags: 0x211,
  code32Start: 0x214,
  ramdiskImage: 0x218,
  ramdiskSize: 0x21c,
  cmdLinePtr: 0x228,
  initrdAddrMax: 0x22c,
  kernelAlignment: 0x230,
  relocatableKernel: 0x234,
  cmdlineSize: 0x238,
  hardwareSubarch: 0x23c,
  hardwareSubarchData: 0x240,
  prefAddress: 0x258,
  initSize: 0x260,
  e820Table: 0x2d0,
} as const;

/** "HdrS" little-endian. */
const HDRS = 0x53726448;
const LOADED_HIGH = 0x01;
/** `E820_MAX_ENTRIES_ZEROPAGE`. */
const E820_MAX = 128;
/** Loader type 0xFF "undefined" (boot.rst, type_of_loader). */
const LOADER_UNDEFINED = 0xff;
/** The version this loader writes into a vmlinux's synthesised header. */
const SYNTH_VERSION = 0x020f;
/** Where the protected-mode part of a bzImage is loaded (boot.rst; QEMU `prot_addr`). */
const BZIMAGE_LOAD = 0x100000;

/** Where the loader's own structures go. */
export interface LinuxBootLayout {
  /** Physical address of the zero page (4 KiB aligned); GDT, command line and stack follow. */
  zeroPage: number;
  /**
   * Offset of the command line from the zero page (default 0x2000). lguest's launcher puts it
   * right after the 4 KiB `boot_params` (docs/abi/lguest.md §2), i.e. 0x1000.
   */
  cmdlineOffset?: number;
  /** Write the loader's flat boot GDT at `zeroPage + 0x1000` (default true; lguest: false). */
  bootGdt?: boolean;
}

/** Default placement (see the module doc). */
export const DEFAULT_LINUX_LAYOUT: LinuxBootLayout = { zeroPage: 0x10000 };
const AREA_GDT = 0x1000;
const AREA_CMDLINE = 0x2000;
const AREA_SIZE = 0x4000;

/** Options of {@link loadLinux}. */
export interface LinuxBootOptions {
  cmdline?: string;
  initrd?: Uint8Array;
  /** Name of the kernel file in errors. */
  file?: string;
  /** Name of the initrd file in errors. */
  initrdFile?: string;
  /** `hardware_subarch` (default {@link SUBARCH_PC}). */
  hardwareSubarch?: number;
  layout?: LinuxBootLayout;
  /** The memory map to write (default the PC's, `pcMemoryMap`); lguest passes one RAM entry. */
  e820?: readonly MemoryRange[];
  /**
   * Setup-header version to write for a vmlinux, whose header the loader synthesises (default
   * 2.15); lguest's launcher writes 0x207 (docs/abi/lguest.md §2).
   */
  vmlinuxVersion?: number;
  /** Bits ORed into `loadflags` (lguest: KEEP_SEGMENTS, 0x40). */
  loadflags?: number;
}

/** `loadflags` bit 6: the kernel must not reload its segment registers (boot.rst). */
export const KEEP_SEGMENTS = 0x40;

/** Result of {@link loadLinux}. */
export interface LinuxBoot {
  entry: ProtectedModeEntry;
  /** "bzImage" or "vmlinux". */
  format: "bzImage" | "vmlinux";
  /** Boot protocol version from the setup header (synthesised for vmlinux). */
  protocol: number;
  /** Physical range of the loaded kernel image. */
  kernelStart: number;
  kernelEnd: number;
  /** Physical address and size of the initrd (0, 0 without one). */
  initrdAddr: number;
  initrdSize: number;
}

const hex = (v: number) => `0x${(v >>> 0).toString(16)}`;
const mib = (bytes: number) => Math.ceil(bytes / 1048576);

/** True when `bytes` carries a Linux setup header ("HdrS" at 0x202, boot_flag 0xAA55). */
export function isBzImage(bytes: Uint8Array): boolean {
  if (bytes.length < 0x264) return false;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return dv.getUint32(BP.header, true) === HDRS && dv.getUint16(BP.bootFlag, true) === 0xaa55;
}

interface KernelImage {
  format: "bzImage" | "vmlinux";
  protocol: number;
  start: number;
  end: number;
  eip: number;
  /** Highest byte an initrd may use + 1 per the header. */
  initrdTop: number;
  /** The kernel's decompression/working area [start, end) to keep the initrd out of. */
  workStart: number;
  workEnd: number;
  cmdlineMax: number;
}

/** Copies the bzImage's setup header and loads its protected-mode part. */
function loadBzImage(
  memory: PhysicalMemory,
  bytes: Uint8Array,
  zp: number,
  file: string,
): KernelImage {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const protocol = dv.getUint16(BP.version, true);
  if (protocol < 0x203) {
    throw new ImageError(
      file,
      `Linux boot protocol ${(protocol >> 8)}.${(protocol & 0xff).toString().padStart(2, "0")} ` +
        `is older than 2.03, which this loader needs`,
    );
  }
  if (!(bytes[BP.loadflags] & LOADED_HIGH)) {
    throw new ImageError(file, "zImage (loadflags LOADED_HIGH clear): only bzImage is supported");
  }
  const setupSects = bytes[BP.setupSects] || 4;
  const pmOffset = (setupSects + 1) * 512;
  if (pmOffset >= bytes.length) {
    throw new ImageError(file, `setup_sects ${setupSects} runs past the end of the file`);
  }
  const headerEnd = Math.min(0x202 + bytes[BP.jump + 1], 0x1000, pmOffset);
  memory.ram.set(bytes.subarray(BP.setupSects, headerEnd), zp + BP.setupSects);
  const pmSize = bytes.length - pmOffset;
  const start = BZIMAGE_LOAD;
  const end = start + pmSize;
  loadSegment(
    memory,
    bytes,
    { paddr: start, vaddr: start, offset: pmOffset, fileSize: pmSize, memSize: pmSize, flags: 7 },
    file,
  );
  const initrdMax = dv.getUint32(BP.initrdAddrMax, true); // defined from 2.03 on
  let workStart = start;
  let workEnd = end;
  if (protocol >= 0x20a) {
    // The decompressor works at max(load address, pref_address) over init_size bytes.
    const pref = Number(dv.getBigUint64(BP.prefAddress, true));
    workStart = Math.max(start, pref);
    workEnd = Math.max(end, workStart + dv.getUint32(BP.initSize, true));
  }
  return {
    format: "bzImage",
    protocol,
    start,
    end,
    eip: start,
    initrdTop: initrdMax + 1,
    workStart,
    workEnd,
    cmdlineMax: protocol >= 0x206 ? dv.getUint32(BP.cmdlineSize, true) : 255,
  };
}

/** Loads a vmlinux ELF and writes the header an uncompressed kernel lacks. */
function loadVmlinux(
  memory: PhysicalMemory,
  bytes: Uint8Array,
  zp: number,
  file: string,
): KernelImage {
  const elf = parseElf(bytes, file);
  if (elf.segments.length === 0) throw new ImageError(file, "ELF has no PT_LOAD segment");
  let eip = elf.entry >>> 0;
  for (const s of elf.segments) {
    if (elf.entry >= s.vaddr && elf.entry - s.vaddr < s.memSize) {
      eip = (s.paddr + (elf.entry - s.vaddr)) >>> 0;
    }
  }
  for (const s of elf.segments) loadSegment(memory, bytes, s, file);
  const start = Math.min(...elf.segments.map((s) => s.paddr));
  const end = Math.max(...elf.segments.map((s) => s.paddr + s.memSize));
  const dv = memory.view;
  dv.setUint16(zp + BP.bootFlag, 0xaa55, true);
  dv.setUint32(zp + BP.header, HDRS, true);
  dv.setUint16(zp + BP.version, SYNTH_VERSION, true);
  memory.ram[zp + BP.loadflags] = LOADED_HIGH;
  dv.setUint32(zp + BP.code32Start, eip, true);
  dv.setUint32(zp + BP.initrdAddrMax, 0x7fffffff, true);
  return {
    format: "vmlinux",
    protocol: SYNTH_VERSION,
    start,
    end,
    eip,
    initrdTop: 0x80000000,
    workStart: start,
    workEnd: end,
    cmdlineMax: 2047,
  };
}

/**
 * Loads a Linux kernel (bzImage or vmlinux ELF), its initrd and the zero page. The caller puts
 * the CPU into the returned entry state (`Machine.enterProtectedMode`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadLinux } from "./linux_boot.ts";
 * import { PhysicalMemory } from "../memory.ts";
 * const mem = new PhysicalMemory({ size: 64 << 20 });
 * // const boot = loadLinux(mem, await Deno.readFile("vmlinuz"), { cmdline: "console=ttyS0" });
 * assert.equal(typeof loadLinux, "function");
 * assert.equal(mem.ramSize, 64 << 20);
 * ```
 */
export function loadLinux(
  memory: PhysicalMemory,
  bytes: Uint8Array,
  options: LinuxBootOptions = {},
): LinuxBoot {
  const file = options.file ?? "<kernel>";
  const layout = options.layout ?? DEFAULT_LINUX_LAYOUT;
  const zp = layout.zeroPage;
  if (zp % 4096 !== 0 || zp + AREA_SIZE > memory.ramSize) {
    throw new RangeError(`zero page ${hex(zp)} must be 4 KiB aligned and inside RAM`);
  }
  memory.ram.fill(0, zp, zp + AREA_SIZE);
  memory.noteWrite(zp, AREA_SIZE);
  let k: KernelImage;
  if (isBzImage(bytes)) k = loadBzImage(memory, bytes, zp, file);
  else if (isElf(bytes)) {
    k = loadVmlinux(memory, bytes, zp, file);
    if (options.vmlinuxVersion !== undefined) {
      memory.view.setUint16(zp + BP.version, options.vmlinuxVersion, true);
      k.protocol = options.vmlinuxVersion;
    }
  } else {throw new ImageError(
      file,
      'neither a bzImage (no "HdrS" setup header) nor an ELF vmlinux',
    );}
  if (k.start < zp + AREA_SIZE && k.end > zp) {
    throw new ImageError(
      file,
      `kernel ${hex(k.start)}-${hex(k.end)} overlaps the boot structures at ${hex(zp)}`,
    );
  }
  const ram = memory.ramSize;
  if (k.workEnd > ram) {
    throw new ImageError(
      file,
      `kernel needs RAM up to ${hex(k.workEnd)} (pref_address + init_size); give --mem ${
        mib(k.workEnd)
      } or more`,
    );
  }
  const dv = memory.view;
  memory.ram[zp + BP.typeOfLoader] = LOADER_UNDEFINED;
  dv.setUint32(zp + BP.hardwareSubarch, options.hardwareSubarch ?? SUBARCH_PC, true);

  if (options.loadflags) memory.ram[zp + BP.loadflags] |= options.loadflags;
  const cmdOff = layout.cmdlineOffset ?? AREA_CMDLINE;
  const cmd = new TextEncoder().encode((options.cmdline ?? "") + "\0");
  if (cmd.length - 1 > k.cmdlineMax || cmd.length > AREA_SIZE - cmdOff) {
    throw new ImageError(
      file,
      `command line is ${cmd.length - 1} bytes; the kernel takes at most ${k.cmdlineMax}`,
    );
  }
  memory.ram.set(cmd, zp + cmdOff);
  dv.setUint32(zp + BP.cmdLinePtr, zp + cmdOff, true);

  let initrdAddr = 0;
  const initrd = options.initrd;
  if (initrd && initrd.length > 0) {
    const top = Math.min(ram, k.initrdTop);
    initrdAddr = Math.floor((top - initrd.length) / 4096) * 4096;
    const name = options.initrdFile ?? "<initrd>";
    if (initrdAddr < Math.max(k.workEnd, zp + AREA_SIZE)) {
      throw new ImageError(
        name,
        `initrd of ${initrd.length} bytes does not fit above the kernel (up to ${
          hex(k.workEnd)
        }); give --mem ${mib(k.workEnd + initrd.length) + 1} or more`,
      );
    }
    memory.ram.set(initrd, initrdAddr);
    memory.noteWrite(initrdAddr, initrd.length);
    dv.setUint32(zp + BP.ramdiskImage, initrdAddr, true);
    dv.setUint32(zp + BP.ramdiskSize, initrd.length, true);
  }

  const map = options.e820 ?? pcMemoryMap(ram);
  if (map.length > E820_MAX) throw new RangeError("memory map exceeds the zero page's table");
  map.forEach((r, i) => {
    const p = zp + BP.e820Table + 20 * i;
    dv.setBigUint64(p, BigInt(r.base), true);
    dv.setBigUint64(p + 8, BigInt(r.length), true);
    dv.setUint32(p + 16, r.type, true);
  });
  memory.ram[zp + BP.e820Entries] = map.length;
  dv.setUint32(zp + BP.altMemK, Math.max(0, (ram - 0x100000) >>> 10), true);

  const gdtBase = zp + AREA_GDT;
  const gdtLimit = layout.bootGdt === false
    ? 0
    : writeFlatGdt(memory, gdtBase, LINUX_BOOT_CS, LINUX_BOOT_DS);
  return {
    entry: {
      eip: k.eip,
      eax: 0,
      ebx: 0,
      esi: zp,
      esp: zp + AREA_SIZE,
      gdtBase,
      gdtLimit,
      cs: LINUX_BOOT_CS,
      ds: LINUX_BOOT_DS,
    },
    format: k.format,
    protocol: k.protocol,
    kernelStart: k.start,
    kernelEnd: k.end,
    initrdAddr,
    initrdSize: initrd?.length ?? 0,
  };
}
