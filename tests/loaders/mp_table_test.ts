import assert from "node:assert/strict";
import { MP_FLOATING_POINTER, mpConfigTable, writeMpTables } from "../../core/loaders/mp_table.ts";
import { PhysicalMemory } from "../../core/memory.ts";

const machine = { cpus: 2, ioapicId: 2, ioapicBase: 0xfec00000, lapicBase: 0xfee00000 };
const sum = (b: Uint8Array) => b.reduce((a, x) => a + x, 0) & 0xff;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("MP 1.4 floating pointer: signature, pointer, length, revision, checksum, virtual wire", () => {
  const mem = new PhysicalMemory({ size: 1 << 20 });
  const at = writeMpTables(mem, machine);
  const fp = mem.ram.subarray(MP_FLOATING_POINTER, MP_FLOATING_POINTER + 16);
  assert.equal(text(fp.subarray(0, 4)), "_MP_");
  assert.equal(mem.read32(MP_FLOATING_POINTER + 4), at);
  assert.equal(fp[8], 1);
  assert.equal(fp[9], 4);
  assert.equal(sum(fp), 0);
  assert.equal(fp[11], 0, "a configuration table is present");
  assert.equal(fp[12] & 0x80, 0, "no IMCR: virtual wire mode");
  // Linux scans the last KiB of base memory (639 KiB) on 16-byte boundaries.
  assert.equal(MP_FLOATING_POINTER, 639 * 1024);
  const t = mpConfigTable(machine);
  assert.deepEqual(mem.ram.subarray(at, at + t.length), t);
});

Deno.test("MP 1.4 configuration table: processors, buses, I/O APIC, interrupts in type order", () => {
  const t = mpConfigTable(machine);
  const dv = new DataView(t.buffer);
  assert.equal(text(t.subarray(0, 4)), "PCMP");
  assert.equal(dv.getUint16(4, true), t.length);
  assert.equal(t[6], 4);
  assert.equal(sum(t), 0);
  assert.equal(dv.getUint32(36, true), 0xfee00000);
  const count = dv.getUint16(34, true);
  const entries: Uint8Array[] = [];
  let at = 44;
  for (let i = 0; i < count; i++) {
    const len = t[at] === 0 ? 20 : 8;
    entries.push(t.subarray(at, at + len));
    at += len;
  }
  assert.equal(at, t.length);
  const types = entries.map((e) => e[0]);
  assert.deepEqual(types, [...types].sort((a, b) => a - b), "sorted by type");
  const cpus = entries.filter((e) => e[0] === 0);
  assert.deepEqual(cpus.map((e) => [e[1], e[3]]), [[0, 3], [1, 1]], "APIC IDs, EN and BP flags");
  const buses = entries.filter((e) => e[0] === 1).map((e) => [e[1], text(e.subarray(2, 8))]);
  assert.deepEqual(buses, [[0, "PCI   "], [1, "ISA   "]]);
  const io = entries.find((e) => e[0] === 2)!;
  assert.deepEqual([io[1], io[2], io[3]], [2, 0x11, 1]);
  assert.equal(new DataView(io.buffer, io.byteOffset).getUint32(4, true), 0xfec00000);
  const routes = entries.filter((e) => e[0] === 3).map((e) => [e[5], e[7]]);
  assert.equal(routes.length, 15);
  assert.deepEqual(routes[0], [0, 2], "ISA IRQ0 on input 2");
  assert.ok(!routes.some(([irq]) => irq === 2), "no entry for the cascade");
  assert.ok(routes.slice(1).every(([irq, pin]) => irq === pin));
  const local = entries.filter((e) => e[0] === 4).map((e) => [e[1], e[6], e[7]]);
  assert.deepEqual(local, [[3, 0, 0], [1, 0xff, 1]], "ExtINT on the BSP's LINT0, NMI on LINT1");
});

Deno.test("MP table: processor count limits", () => {
  assert.throws(() => mpConfigTable({ ...machine, cpus: 0 }), RangeError);
  assert.throws(() => mpConfigTable({ ...machine, cpus: 17 }), RangeError);
  assert.ok(
    mpConfigTable({ ...machine, cpus: 16 }).length + 16 <= 1024,
    "fits the EBDA's first KiB",
  );
});
