/**
 * Boot structures every loader writes: the PC physical memory map (as a PC BIOS reports it
 * through INT 15h E820) and a flat 4 GiB boot GDT.
 *
 * @module
 */

import type { PhysicalMemory } from "../memory.ts";

/** E820 address-range types (ACPI 6.5 §15 "System Address Map Interfaces", Table 15.1). */
export const E820_RAM = 1;
export const E820_RESERVED = 2;

/** One memory-map range. */
export interface MemoryRange {
  base: number;
  length: number;
  type: number;
}

/** The local APIC page (reported reserved). */
const LAPIC_PAGE = 0xfee00000;

/**
 * The memory map of a PC with `ramBytes` of RAM: conventional memory below the EBDA, the EBDA
 * and the BIOS area reserved, everything from 1 MiB up usable, the local APIC page reserved.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pcMemoryMap } from "./boot_tables.ts";
 * const map = pcMemoryMap(32 << 20);
 * assert.equal(map[3].base, 0x100000);
 * assert.equal(map[3].length, 31 << 20);
 * ```
 */
export function pcMemoryMap(ramBytes: number): MemoryRange[] {
  const lowTop = Math.min(0x9fc00, ramBytes);
  const map: MemoryRange[] = [
    { base: 0, length: lowTop, type: E820_RAM },
    { base: 0x9fc00, length: 0xa0000 - 0x9fc00, type: E820_RESERVED },
    { base: 0xf0000, length: 0x10000, type: E820_RESERVED },
  ];
  if (ramBytes > 0x100000) {
    map.push({ base: 0x100000, length: ramBytes - 0x100000, type: E820_RAM });
  }
  map.push({ base: LAPIC_PAGE, length: 0x1000, type: E820_RESERVED });
  return map;
}

/**
 * Writes a GDT at `base` whose descriptor `codeSel` is flat 4 GiB code (type 0xB) and `dataSel`
 * flat 4 GiB data (type 0x3), both DPL 0, G = D = 1; every other entry up to the higher selector
 * is null. Returns the GDTR limit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFlatGdt } from "./boot_tables.ts";
 * import { PhysicalMemory } from "../memory.ts";
 * const mem = new PhysicalMemory({ size: 1 << 20 });
 * assert.equal(writeFlatGdt(mem, 0x500, 0x08, 0x10), 23);
 * ```
 */
export function writeFlatGdt(
  memory: PhysicalMemory,
  base: number,
  codeSel: number,
  dataSel: number,
): number {
  const size = Math.max(codeSel, dataSel) + 8;
  memory.ram.fill(0, base, base + size);
  const dv = memory.view;
  // Base 0, limit 0xFFFFF pages, G=1 D=1 P=1 DPL0 S=1.
  dv.setUint32(base + codeSel, 0x0000ffff, true);
  dv.setUint32(base + codeSel + 4, 0x00cf9b00, true);
  dv.setUint32(base + dataSel, 0x0000ffff, true);
  dv.setUint32(base + dataSel + 4, 0x00cf9300, true);
  memory.noteWrite(base, size);
  return size - 1;
}
