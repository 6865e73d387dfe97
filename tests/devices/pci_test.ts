/** PCI configuration mechanism #1 and the 440FX host bridge (core/devices/pci.ts). */

import assert from "node:assert/strict";
import { PciHostBridge } from "../../core/devices/pci.ts";
import { Machine } from "../../core/machine.ts";

const cfg = (bus: number, dev: number, fn: number, reg: number) =>
  (0x8000_0000 | (bus << 16) | (dev << 11) | (fn << 8) | reg) >>> 0;

Deno.test("CONFIG_ADDRESS: dword only, reserved bits read 0; Linux's type-1 probe succeeds", () => {
  const p = new PciHostBridge();
  // pci_check_type1: outb(0x01, 0xCFB); save inl(0xCF8); outl(0x80000000); read it back.
  p.portWrite(0xcfb, 1, 0x01);
  assert.equal(p.portRead(0xcf8, 4), 0);
  p.portWrite(0xcf8, 4, 0x8000_0000);
  assert.equal(p.portRead(0xcf8, 4), 0x8000_0000);
  p.portWrite(0xcf8, 4, 0xffff_ffff);
  assert.equal(p.portRead(0xcf8, 4), 0x80ff_fffc);
  // Byte/word accesses are not CONFIG_ADDRESS.
  p.portWrite(0xcf8, 2, 0);
  assert.equal(p.portRead(0xcf8, 4), 0x80ff_fffc);
  assert.equal(p.portRead(0xcf9, 1), 0xffff_ffff);
});

Deno.test("82441FX at 00:00.0: ids, class, byte/word/dword reads, write masks, master abort", () => {
  const p = new PciHostBridge();
  const read = (a: number, port: number, size: 1 | 2 | 4) => {
    p.portWrite(0xcf8, 4, a);
    return p.portRead(port, size);
  };
  assert.equal(read(cfg(0, 0, 0, 0), 0xcfc, 4), 0x1237_8086);
  assert.equal(read(cfg(0, 0, 0, 0), 0xcfe, 2), 0x1237);
  assert.equal(read(cfg(0, 0, 0, 8), 0xcfc, 4), 0x0600_0002); // class 060000, revision 2
  assert.equal(read(cfg(0, 0, 0, 0x0a), 0xcfe, 2), 0x0600); // pci_sanity_check's class word
  assert.equal(read(cfg(0, 0, 0, 0x0c), 0xcfe, 1), 0); // header type 0
  assert.equal(read(cfg(0, 0, 0, 0x70), 0xcfe, 1), 0x02); // SMRAM
  // Command keeps its defined bits (bit 7 hard-wired 0); status stays 0.
  p.portWrite(0xcf8, 4, cfg(0, 0, 0, 4));
  p.portWrite(0xcfc, 4, 0xffff_ffff);
  assert.equal(p.portRead(0xcfc, 4), 0x0000_077f);
  // Interrupt line is writable; the ID and the chipset registers are not.
  p.portWrite(0xcf8, 4, cfg(0, 0, 0, 0x3c));
  p.portWrite(0xcfc, 1, 0x0b);
  assert.equal(p.portRead(0xcfc, 4), 0x0b);
  p.portWrite(0xcf8, 4, cfg(0, 0, 0, 0));
  p.portWrite(0xcfc, 4, 0);
  assert.equal(p.portRead(0xcfc, 4), 0x1237_8086);
  p.portWrite(0xcf8, 4, cfg(0, 0, 0, 0x58));
  p.portWrite(0xcfc, 4, 0x3333_3300);
  assert.equal(p.portRead(0xcfc, 4), 0);
  // No device elsewhere, and nothing with the enable bit clear.
  assert.equal(read(cfg(0, 1, 0, 0), 0xcfc, 4), 0xffff_ffff);
  assert.equal(read(cfg(0, 0, 1, 0), 0xcfc, 4), 0xffff_ffff);
  assert.equal(read(cfg(1, 0, 0, 0), 0xcfc, 2), 0xffff_ffff);
  assert.equal(read(0, 0xcfc, 4), 0xffff_ffff);
  // State round-trips.
  const q = new PciHostBridge();
  q.loadState(JSON.parse(JSON.stringify(p.saveState())));
  assert.deepEqual(q.saveState(), p.saveState());
});

Deno.test("the machine decodes 0xCF8-0xCFF to the host bridge", () => {
  const m = new Machine({ memMiB: 1 });
  m.io.write(0xcf8, 4, 0x8000_0000);
  assert.equal(m.io.read(0xcfc, 4), 0x1237_8086);
  assert.equal(m.saveState().pci?.address, 0x8000_0000);
});
