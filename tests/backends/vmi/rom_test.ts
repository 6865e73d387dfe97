/**
 * The VMI option ROM image (backends/vmi/rom.ts) against the published header layout and
 * get_reloc convention (docs/abi/vmi.md §1, §2, §4), and the backend's private trap: a VMCALL
 * at a ROM trap site is a call, anywhere else it raises #UD as on hardware.
 */

import assert from "node:assert/strict";
import { buildRom, Layout } from "../../../backends/vmi/rom.ts";
import { VMI_PROFILES } from "../../../backends/vmi/profiles.ts";
import { Reloc, VmiCall } from "../../../backends/vmi/abi.ts";
import { createBackend, listBackends } from "../../../backends/registry.ts";

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number) => (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0;

Deno.test("vmi ROM header: 0xAA55, cVmi, API 3.0, virtual_top, GPL, PCI 15ad:0801, checksum", () => {
  const { bytes } = buildRom(VMI_PROFILES["3.0"]);
  assert.equal(u16(bytes, 0), 0xaa55);
  assert.equal(bytes[2] * 512, bytes.length);
  assert.equal(u32(bytes, 8), 0x696d5663);
  assert.deepEqual(new TextDecoder().decode(bytes.subarray(8, 12)), "cVmi");
  assert.equal(bytes[13], 3);
  assert.equal(bytes[12], 0);
  assert.equal(u32(bytes, 16), 0xff000000);
  const lic = u16(bytes, 22);
  assert.equal(new TextDecoder().decode(bytes.subarray(lic, lic + 7)), "GPL v2\0");
  const pci = u16(bytes, 24);
  assert.equal(new TextDecoder().decode(bytes.subarray(pci, pci + 4)), "PCIR");
  assert.equal(u16(bytes, pci + 4), 0x15ad);
  assert.equal(u16(bytes, pci + 6), 0x0801);
  assert.equal(bytes.reduce((s, b) => (s + b) & 0xff, 0), 0);
  // The entry stubs jump to vmi_init and get_reloc.
  for (const [stub, target] of [[128, Layout.init], [136, Layout.getReloc]]) {
    assert.equal(bytes[stub], 0xe9);
    assert.equal(stub + 5 + (u32(bytes, stub + 1) | 0), target);
  }
});

Deno.test("vmi relocation table: every defined call, IRET/SYSEXIT jumped to, gaps NONE", () => {
  const rom = buildRom(VMI_PROFILES["3.0"]);
  const defined = [...Array(49).keys(), ...Array.from({ length: 11 }, (_, i) => 61 + i), 73];
  for (const nr of defined) {
    const want = nr === VmiCall.IRET || nr === VmiCall.SYSEXIT ? Reloc.JUMP_REL : Reloc.CALL_REL;
    assert.equal(rom.relocs.get(nr), want, `call ${nr}`);
    assert.equal(rom.bytes[Layout.types + nr], want);
    assert.equal(u32(rom.bytes, Layout.offsets + 4 * nr), rom.routines.get(nr));
  }
  for (const nr of [49, 55, 60, 72]) assert.equal(rom.relocs.get(nr), Reloc.NONE);
  const notimer = buildRom(VMI_PROFILES["3.0-notimer"]);
  for (const nr of [66, 67, 68, 69, 70, 71]) assert.equal(notimer.relocs.get(nr), Reloc.NONE);
  assert.equal(notimer.relocs.get(VmiCall.Halt), Reloc.CALL_REL);
});

Deno.test("vmi is registered with its profiles, 3.0 the default", () => {
  const vmi = listBackends().find((b) => b.name === "vmi");
  assert.deepEqual(vmi?.versions, ["3.0", "3.0-notimer", "13.3"]);
  assert.equal(createBackend("vmi").version, "3.0");
  assert.throws(() => createBackend("vmi@2.0"), /no version/);
});
