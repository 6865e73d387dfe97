/**
 * lguest's launcher boot (docs/abi/lguest.md §2): the shared Linux loader
 * (core/loaders/linux_boot.ts) with the launcher's conventions — `boot_params` at guest-physical
 * 0 with version 0x207, `hardware_subarch` 1 and KEEP_SEGMENTS, the command line right after
 * it, one e820 entry covering all of RAM — then page tables mapping RAM at 0 and at the
 * kernel's page offset, the Switcher (host GDT and TSS) at the top 4 MiB, and the ring-1 entry
 * state the host sets (CS 0x61, DS/ES/SS 0x69, EFLAGS 0x202, ESI 0).
 *
 * @module
 */

import type { MmioDevice } from "../../core/bus.ts";
import type { Cpu } from "../../core/cpu/cpu.ts";
import { flushTlb } from "../../core/cpu/paging.ts";
import { E820_RAM } from "../../core/loaders/boot_tables.ts";
import { isElf, parseElf } from "../../core/loaders/elf.ts";
import { KEEP_SEGMENTS, loadLinux, SUBARCH_LGUEST } from "../../core/loaders/linux_boot.ts";
import type { PhysicalMemory } from "../../core/memory.ts";
import type { GuestImage, Platform } from "../../core/platform.ts";
import {
  GDT_ENTRIES,
  GDT_ENTRY_KERNEL_CS,
  GDT_ENTRY_KERNEL_DS,
  GDT_ENTRY_TSS,
  GUEST_CS,
  GUEST_DS,
  GUEST_PL,
  INITIAL_EFLAGS,
  LGUEST_BOOT_VERSION,
  SWITCHER_ADDR,
  SWITCHER_PGD_INDEX,
} from "./abi.ts";

const PAGE = 4096;
/** Host-owned Switcher pages: page table, GDT, TSS (emulator placement: physical = linear). */
export const SWITCHER_PA = SWITCHER_ADDR;
export const SWITCHER_GDT = SWITCHER_ADDR + PAGE;
export const SWITCHER_TSS = SWITCHER_ADDR + 2 * PAGE;
const TSS_LIMIT = 103;

/** The Switcher's pages, host memory the guest reaches only through the host's mappings. */
export class Switcher implements MmioDevice {
  readonly bytes = new Uint8Array(3 * PAGE);
  readonly view = new DataView(this.bytes.buffer);
  mmioRead(offset: number, size: 1 | 2 | 4): number {
    return size === 1
      ? this.bytes[offset]
      : size === 2
      ? this.view.getUint16(offset, true)
      : this.view.getUint32(offset, true);
  }
  mmioWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    if (size === 1) this.bytes[offset] = value;
    else if (size === 2) this.view.setUint16(offset, value, true);
    else this.view.setUint32(offset, value >>> 0, true);
  }
  /** Writes GDT entry `i` (lo, hi words). */
  setGdt(i: number, lo: number, hi: number): void {
    this.view.setUint32(PAGE + 8 * i, lo >>> 0, true);
    this.view.setUint32(PAGE + 8 * i + 4, hi >>> 0, true);
  }
  /** The ring-1 stack the CPU switches to from ring 3 (TSS ss1/esp1). */
  setStack(ss: number, esp: number): void {
    this.view.setUint32(2 * PAGE + 0x0c, esp >>> 0, true);
    this.view.setUint32(2 * PAGE + 0x10, ss & 0xffff, true);
  }
}

/** A flat 4 GiB descriptor (type 0xB code or 0x3 data) at privilege `dpl`, accessed. */
export function flatDescriptor(code: boolean, dpl: number): [number, number] {
  return [0x0000ffff, 0x00cf0000 | 0x9000 | (dpl << 13) | ((code ? 0xb : 0x3) << 8)];
}

/** Installs the Switcher's page-directory entry in the page directory at `pgdir`. */
export function mapSwitcher(memory: PhysicalMemory, pgdir: number): void {
  // Read-only, supervisor: the guest (ring 1) cannot rewrite the host's GDT/TSS (CR0.WP set).
  memory.write32((pgdir & ~0xfff) + 4 * SWITCHER_PGD_INDEX, SWITCHER_PA | 0x3);
}

/** Result of {@link bootLguest}. */
export interface LguestBoot {
  switcher: Switcher;
  pgdir: number;
  pageOffset: number;
  entry: number;
}

/** Loads `image` as lguest's launcher does and enters it in ring 1 (docs/abi/lguest.md §2). */
export function bootLguest(platform: Platform, image: GuestImage): LguestBoot {
  const memory = platform.memory;
  const ram = memory.ramSize;
  const boot = loadLinux(memory, image.bytes, {
    cmdline: image.cmdline,
    file: image.file,
    hardwareSubarch: SUBARCH_LGUEST,
    layout: { zeroPage: 0, cmdlineOffset: PAGE, bootGdt: false },
    e820: [{ base: 0, length: ram, type: E820_RAM }],
    vmlinuxVersion: LGUEST_BOOT_VERSION,
    loadflags: KEEP_SEGMENTS,
  });
  // bzImage keeps a 2.07+ header of its own; the launcher still stamps 0x207.
  memory.view.setUint16(0x206, LGUEST_BOOT_VERSION, true);
  let pageOffset = 0xc0000000;
  if (isElf(image.bytes)) {
    const s = parseElf(image.bytes, image.file).segments[0];
    pageOffset = (s.vaddr - s.paddr) >>> 0;
  }
  // Page tables at the top of RAM: every page mapped at 0 and at the page offset (P|RW|US).
  const ptPages = Math.ceil(ram / (1024 * PAGE));
  const pgdir = ram - PAGE;
  const ptBase = pgdir - ptPages * PAGE;
  memory.ram.fill(0, ptBase, ram);
  memory.noteWrite(ptBase, ram - ptBase);
  for (let i = 0; i < ram / PAGE; i++) memory.view.setUint32(ptBase + 4 * i, i * PAGE | 7, true);
  for (let t = 0; t < ptPages; t++) {
    const pde = (ptBase + t * PAGE) | 7;
    memory.view.setUint32(pgdir + 4 * t, pde, true);
    if (pageOffset !== 0) memory.view.setUint32(pgdir + 4 * ((pageOffset >>> 22) + t), pde, true);
  }
  const switcher = new Switcher();
  memory.mapMmio(SWITCHER_PA, switcher.bytes.length, switcher);
  // Linear = physical inside the Switcher: PTE 1 the GDT page, PTE 2 the TSS (present, read-only).
  switcher.view.setUint32(4, SWITCHER_GDT | 0x1, true);
  switcher.view.setUint32(8, SWITCHER_TSS | 0x1, true);
  mapSwitcher(memory, pgdir);
  const [cl, ch] = flatDescriptor(true, GUEST_PL);
  const [dl, dh] = flatDescriptor(false, GUEST_PL);
  switcher.setGdt(GDT_ENTRY_KERNEL_CS, cl, ch);
  switcher.setGdt(GDT_ENTRY_KERNEL_DS, dl, dh);
  // 32-bit TSS, busy (TR loaded), DPL 0; I/O bitmap beyond the limit: every port #GPs.
  switcher.setGdt(
    GDT_ENTRY_TSS,
    ((SWITCHER_TSS & 0xffff) << 16) | TSS_LIMIT,
    (SWITCHER_TSS & 0xff000000) | 0x8b00 | ((SWITCHER_TSS >>> 16) & 0xff),
  );
  switcher.view.setUint16(2 * PAGE + 0x66, TSS_LIMIT + 1, true);
  enterRing1(platform.cpu, boot.entry.eip, pgdir);
  return { switcher, pgdir, pageOffset, entry: boot.entry.eip };
}

function enterRing1(cpu: Cpu, eip: number, pgdir: number): void {
  cpu.regs.fill(0);
  for (let i = 0; i < 6; i++) {
    const sel = i === 1 ? GUEST_CS : i === 4 || i === 5 ? 0 : GUEST_DS;
    cpu.segSel[i] = sel;
    cpu.segBase[i] = 0;
    cpu.segLimit[i] = sel === 0 ? 0 : -1;
    cpu.segAttr[i] = i === 1 ? 0xc0bb : sel === 0 ? 0 : 0xc0b3;
  }
  cpu.segSel[7] = GDT_ENTRY_TSS << 3;
  cpu.segBase[7] = SWITCHER_TSS | 0;
  cpu.segLimit[7] = TSS_LIMIT;
  cpu.segAttr[7] = 0x8b;
  cpu.gdtrBase = SWITCHER_GDT;
  cpu.gdtrLimit = GDT_ENTRIES * 8 - 1;
  cpu.idtrBase = 0;
  cpu.idtrLimit = 0;
  cpu.cr0 = 0x80010011 | 0; // PG, WP, ET, PE: the host's paging and write protection
  cpu.cr3 = pgdir;
  cpu.cr4 = 0;
  cpu.cpl = GUEST_PL;
  cpu.halted = false;
  cpu.setEflags(INITIAL_EFLAGS);
  cpu.eip = eip >>> 0;
  cpu.updateMode();
  flushTlb(cpu, true);
}
