/**
 * The Intel MultiProcessor Specification 1.4 tables a PC BIOS leaves for the kernel
 * (docs/smp.md §4): the MP floating pointer structure and the MP configuration table with its
 * processor, bus, I/O APIC, I/O interrupt and local interrupt entries.
 *
 * Layout: both in the first kilobyte of the EBDA (0x9FC00, which the memory map reports
 * reserved), the pointer first; the kernel finds it by scanning the last kilobyte of base memory
 * (MP spec §4). Buses: PCI bus 0 (the host bridge of `core/devices/pci.ts`) and ISA bus 1.
 * ISA IRQ n reaches I/O APIC input n, but IRQ0 (the PIT), which the chipset wires to input 2,
 * and IRQ2, the 8259A cascade, which has no input of its own (the wiring QEMU's pc machine has).
 * Local interrupts: the 8259A's INTR as ExtINT on the BSP's LINT0, NMI on every LINT1.
 *
 * @module
 */

import { CPUID_1_EDX, CPUID_SIGNATURE } from "../cpu/system.ts";
import type { PhysicalMemory } from "../memory.ts";

/** Where the MP floating pointer structure is written (first KiB of the EBDA). */
export const MP_FLOATING_POINTER = 0x9fc00;
/** Most processors the tables describe: they must fit the EBDA's first kilobyte. */
export const MP_MAX_CPUS = 16;

/** What the tables describe. */
export interface MpMachine {
  /** Processors, APIC IDs 0..cpus-1; 0 is the BSP. */
  cpus: number;
  /** I/O APIC ID (after the processors' IDs). */
  ioapicId: number;
  /** I/O APIC physical base. */
  ioapicBase: number;
  /** Local APIC physical base. */
  lapicBase: number;
}

const PCI_BUS = 0;
const ISA_BUS = 1;
const INT_VECTORED = 0;
const INT_NMI = 1;
const INT_EXTINT = 3;

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum += b;
  return (256 - (sum & 0xff)) & 0xff;
}

/**
 * The MP configuration table's bytes (MP spec 1.4 §4.2, Tables 4-3 to 4-10), entries in type
 * order as §4.3 requires.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mpConfigTable } from "./mp_table.ts";
 * const t = mpConfigTable({ cpus: 2, ioapicId: 2, ioapicBase: 0xfec00000, lapicBase: 0xfee00000 });
 * assert.equal(new TextDecoder().decode(t.subarray(0, 4)), "PCMP");
 * assert.equal(t.reduce((a, b) => a + b, 0) & 0xff, 0);
 * ```
 */
export function mpConfigTable(m: MpMachine): Uint8Array {
  if (!Number.isInteger(m.cpus) || m.cpus < 1 || m.cpus > MP_MAX_CPUS) {
    throw new RangeError(`the MP table describes 1 to ${MP_MAX_CPUS} processors, not ${m.cpus}`);
  }
  const entries: Uint8Array[] = [];
  for (let id = 0; id < m.cpus; id++) {
    const e = new Uint8Array(20);
    const dv = new DataView(e.buffer);
    e[0] = 0; // processor
    e[1] = id;
    e[2] = 0x14; // local APIC version (core/devices/lapic.ts LAPIC_VERSION)
    e[3] = 1 | (id === 0 ? 2 : 0); // EN, BP
    dv.setUint32(4, CPUID_SIGNATURE, true);
    dv.setUint32(8, CPUID_1_EDX, true);
    entries.push(e);
  }
  for (const [id, name] of [[PCI_BUS, "PCI   "], [ISA_BUS, "ISA   "]] as const) {
    const e = new Uint8Array(8);
    e[0] = 1; // bus
    e[1] = id;
    e.set(new TextEncoder().encode(name), 2);
    entries.push(e);
  }
  const io = new Uint8Array(8);
  io[0] = 2; // I/O APIC
  io[1] = m.ioapicId;
  io[2] = 0x11; // 82093AA version (core/devices/ioapic.ts IOAPIC_VERSION)
  io[3] = 1; // EN
  new DataView(io.buffer).setUint32(4, m.ioapicBase, true);
  entries.push(io);
  const interrupt = (type: number, kind: number, irq: number, dest: number, pin: number) => {
    // Flags 0: polarity and trigger conform to the bus (ISA: active high, edge).
    entries.push(new Uint8Array([type, kind, 0, 0, ISA_BUS, irq, dest, pin]));
  };
  for (let irq = 0; irq < 16; irq++) {
    if (irq !== 2) interrupt(3, INT_VECTORED, irq, m.ioapicId, irq === 0 ? 2 : irq);
  }
  interrupt(4, INT_EXTINT, 0, 0, 0);
  interrupt(4, INT_NMI, 0, 0xff, 1);

  const length = 44 + entries.reduce((n, e) => n + e.length, 0);
  const t = new Uint8Array(length);
  const dv = new DataView(t.buffer);
  const ascii = new TextEncoder();
  t.set(ascii.encode("PCMP"), 0);
  dv.setUint16(4, length, true);
  t[6] = 4; // specification revision 1.4
  t.set(ascii.encode("PVREPLAY"), 8); // OEM ID
  t.set(ascii.encode("PC          "), 16); // product ID
  dv.setUint16(34, entries.length, true);
  dv.setUint32(36, m.lapicBase, true);
  let at = 44;
  for (const e of entries) {
    t.set(e, at);
    at += e.length;
  }
  t[7] = checksum(t);
  return t;
}

/**
 * Writes the floating pointer at {@link MP_FLOATING_POINTER} and the configuration table after
 * it (MP spec 1.4 §4.1, Table 4-1: feature byte 1 = 0, a table is present; feature byte 2
 * bit 7 IMCRP = 0, virtual wire mode). Returns the configuration table's address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MP_FLOATING_POINTER, writeMpTables } from "./mp_table.ts";
 * import { PhysicalMemory } from "../memory.ts";
 * const mem = new PhysicalMemory({ size: 1 << 20 });
 * writeMpTables(mem, { cpus: 1, ioapicId: 1, ioapicBase: 0xfec00000, lapicBase: 0xfee00000 });
 * assert.equal(mem.read32(MP_FLOATING_POINTER), 0x5f504d5f); // "_MP_"
 * ```
 */
export function writeMpTables(memory: PhysicalMemory, m: MpMachine): number {
  const table = mpConfigTable(m);
  const tableAt = MP_FLOATING_POINTER + 16;
  const fp = new Uint8Array(16);
  fp.set(new TextEncoder().encode("_MP_"), 0);
  new DataView(fp.buffer).setUint32(4, tableAt, true);
  fp[8] = 1; // length in 16-byte paragraphs
  fp[9] = 4; // specification revision 1.4
  fp[10] = checksum(fp);
  memory.load(MP_FLOATING_POINTER, fp);
  memory.load(tableAt, table);
  return tableAt;
}
