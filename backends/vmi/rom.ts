/**
 * Builds the VMI option-ROM image a profile offers: the `vrom_header` (docs/abi/vmi.md §4), the
 * license string, the PCI data structure, `vmi_init` and `get_reloc` behind the two header
 * stubs, the relocation tables and the routine of every call the profile has
 * (`calls.ts`). The code is real i386 code; `get_reloc` is position independent (it finds the
 * ROM's base with call/pop), so the kernel may call the ROM at any linear address it maps it to.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRom } from "./rom.ts";
 * import { VMI_PROFILES } from "./profiles.ts";
 * const rom = buildRom(VMI_PROFILES["3.0"]);
 * assert.equal(rom.bytes[0] | (rom.bytes[1] << 8), 0xaa55);
 * assert.equal(rom.bytes.reduce((s, b) => (s + b) & 0xff, 0), 0); // option-ROM checksum
 * ```
 *
 * @module
 */

import {
  Hdr,
  NUM_VMI_CALLS,
  PCI_DEVICE_VMI,
  PCI_VENDOR_VMWARE,
  Reloc,
  ROM_SIGNATURE,
  VMI_SIGNATURE,
} from "./abi.ts";
import { INIT_CODE, TRAP, VMI_ROUTINES } from "./calls.ts";
import type { VmiProfile } from "./profiles.ts";

/** Trap-site ids that are not call numbers: the two header entry points (their offsets). */
export const SITE_INIT = Hdr.vmiInit;
export const SITE_GET_RELOC = Hdr.getReloc;

/** A trap site: which call it belongs to, and whether it is the first of two (CPUID). */
export interface TrapSite {
  nr: number;
  /** 0 for the only/last trap of a routine, 1 for an earlier one (CPUID's input stash). */
  early: boolean;
}

/** The built ROM. */
export interface VmiRom {
  bytes: Uint8Array;
  /** ROM offset of each trap (the VMCALL's first byte) -> its site. */
  sites: ReadonlyMap<number, TrapSite>;
  /** ROM offset of each call's routine. */
  routines: ReadonlyMap<number, number>;
  /** Relocation type `get_reloc` answers per call number. */
  relocs: ReadonlyMap<number, number>;
}

/** Layout (ROM offsets). */
export const Layout = {
  license: 0x90,
  pci: 0xa0,
  getReloc: 0xc0,
  types: 0x100,
  offsets: 0x150,
  init: 0x280,
  routines: 0x290,
} as const;

/** Builds the ROM for `p`. */
export function buildRom(p: VmiProfile): VmiRom {
  const buf = new Uint8Array(0x1000);
  const v = new DataView(buf.buffer);
  const sites = new Map<number, TrapSite>();
  const routines = new Map<number, number>();
  const relocs = new Map<number, number>();

  const emit = (at: number, code: ReadonlyArray<number | "V">, nr: number): number => {
    const traps = code.filter((c) => c === "V").length;
    let seen = 0;
    for (const c of code) {
      if (c === "V") {
        sites.set(at, { nr, early: ++seen < traps });
        buf.set(TRAP, at);
        at += TRAP.length;
      } else buf[at++] = c;
    }
    return at;
  };

  // ---- header (docs/abi/vmi.md §4) ----
  v.setUint16(Hdr.romSignature, ROM_SIGNATURE, true);
  buf[Hdr.romEntry] = 0xcb; // retf: nothing to initialise in real mode
  v.setUint32(Hdr.vromSignature, VMI_SIGNATURE, true);
  buf[Hdr.apiMinor] = p.apiMinor;
  buf[Hdr.apiMajor] = p.apiMajor;
  buf[Hdr.jumpSlots] = 0;
  v.setUint32(Hdr.virtualTop, p.virtualTop >>> 0, true);
  v.setUint16(Hdr.licenseOffs, Layout.license, true);
  v.setUint16(Hdr.pciHeaderOffs, Layout.pci, true);
  v.setUint16(Hdr.pnpHeaderOffs, 0, true);
  // The two 8-byte stubs: jmp rel32; nop; nop; nop.
  const stub = (at: number, target: number) => {
    buf[at] = 0xe9;
    v.setInt32(at + 1, target - (at + 5), true);
    buf.fill(0x90, at + 5, at + 8);
  };
  stub(Hdr.vmiInit, Layout.init);
  stub(Hdr.getReloc, Layout.getReloc);

  buf.set(new TextEncoder().encode(p.license + "\0"), Layout.license);

  // ---- PCI data structure (PCI firmware spec; docs/abi/vmi.md §4) ----
  const pci = Layout.pci;
  buf.set([0x50, 0x43, 0x49, 0x52], pci); // "PCIR"
  v.setUint16(pci + 4, PCI_VENDOR_VMWARE, true);
  v.setUint16(pci + 6, PCI_DEVICE_VMI, true);
  v.setUint16(pci + 10, 24, true); // structure length
  buf[pci + 12] = 0; // structure revision
  buf.set([0x00, 0x80, 0x05], pci + 13); // class 05 80 00: other memory controller (KB 1003644)
  buf[pci + 20] = 0; // code type: x86
  buf[pci + 21] = 0x80; // last image

  // ---- get_reloc (EAX = call) -> EAX = routine, EDX = type ----
  let at: number = Layout.getReloc;
  const label1 = at + 8; // address pushed by the call below
  const grl: number[] = [
    0x53, // push %ebx
    0x89,
    0xc3, // mov %eax,%ebx  (the call number, for the trap)
    0xe8,
    0,
    0,
    0,
    0, // call 1f
    0x59, // 1: pop %ecx
    0x81,
    0xe9,
    ...le32(label1), // sub $label1,%ecx   -> ROM base
    0x83,
    0xf8,
    NUM_VMI_CALLS, // cmp $NUM_VMI_CALLS,%eax
    0x73,
    0x17, // jae none
    0x0f,
    0xb6,
    0x94,
    0x01,
    ...le32(Layout.types), // movzbl types(%ecx,%eax,1),%edx
    0x85,
    0xd2, // test %edx,%edx
    0x74,
    0x0b, // jz none
    0x8b,
    0x84,
    0x81,
    ...le32(Layout.offsets), // mov offsets(%ecx,%eax,4),%eax
    0x01,
    0xc8, // add %ecx,%eax
    0xeb,
    0x04, // jmp out
    0x31,
    0xc0, // none: xor %eax,%eax
    0x31,
    0xd2, // xor %edx,%edx
  ];
  at = emit(at, [...grl, "V", 0x5b, 0xc3], SITE_GET_RELOC); // out: trap; pop %ebx; ret
  if (at > Layout.types) throw new Error("vmi rom: get_reloc overflows its slot");

  emit(Layout.init, INIT_CODE, SITE_INIT);

  // ---- routines and relocation tables ----
  at = Layout.routines;
  for (const rt of VMI_ROUTINES) {
    if (!p.calls.includes(rt.nr)) continue;
    routines.set(rt.nr, at);
    relocs.set(rt.nr, rt.reloc);
    buf[Layout.types + rt.nr] = rt.reloc;
    v.setUint32(Layout.offsets + 4 * rt.nr, at, true);
    at = emit(at, rt.code, rt.nr);
    at = (at + 3) & ~3;
  }
  for (let nr = 0; nr < NUM_VMI_CALLS; nr++) if (!relocs.has(nr)) relocs.set(nr, Reloc.NONE);

  // Whole 512-byte blocks, the last byte making the sum 0 (PC option-ROM checksum).
  const size = (at + 1 + 511) & ~511;
  const bytes = buf.slice(0, size);
  bytes[Hdr.romLength] = size / 512;
  bytes[size - 1] = 0;
  bytes[size - 1] = (256 - bytes.reduce((s, b) => (s + b) & 0xff, 0)) & 0xff;
  return { bytes, sites, routines, relocs };
}

function le32(x: number): number[] {
  return [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, (x >>> 24) & 0xff];
}
