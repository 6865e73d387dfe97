import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { loadElf, parseElf, SymbolTable } from "../../core/loaders/elf.ts";
import { mapFirmware } from "../../core/loaders/firmware.ts";
import { ImageError } from "../../core/loaders/image_error.ts";
import {
  BOOT_GDT,
  BOOT_INFO,
  loadMultiboot,
  MULTIBOOT_BOOTLOADER_MAGIC,
} from "../../core/loaders/multiboot.ts";
import { PhysicalMemory } from "../../core/memory.ts";
import { buildElf, concat, multibootHeader } from "./elf_fixture.ts";

const CODE = new Uint8Array([0xfa, 0xf4, 0xeb, 0xfc]); // cli; hlt; jmp $-2

function mbElf(extra: Partial<Parameters<typeof buildElf>[0]> = {}) {
  return buildElf({
    entry: 0x100000,
    segments: [{ paddr: 0x100000, data: concat(multibootHeader(3), CODE), memSize: 0x2000 }],
    ...extra,
  });
}

function cstring(mem: PhysicalMemory, pa: number): string {
  let s = "";
  while (mem.ram[pa]) s += String.fromCharCode(mem.ram[pa++]);
  return s;
}

Deno.test("ELF: PT_LOAD segments copied to p_paddr, bss zeroed, symbols extracted", () => {
  const mem = new PhysicalMemory({ size: 4 << 20 });
  mem.ram.fill(0xaa, 0x200000, 0x201000);
  const img = buildElf({
    entry: 0xc0100000,
    segments: [{ paddr: 0x200000, vaddr: 0xc0100000, data: CODE, memSize: 0x1000 }],
    symbols: [
      { name: "start", value: 0xc0100000, size: 2 },
      { name: "spin", value: 0xc0100002, size: 2 },
      { name: "counter", value: 0xc0200000, size: 4, type: 1 },
    ],
  });
  const elf = loadElf(mem, img, "k.elf");
  assertEquals(elf.entry, 0xc0100000);
  assertEquals(Array.from(mem.ram.subarray(0x200000, 0x200005)), [0xfa, 0xf4, 0xeb, 0xfc, 0]);
  assertEquals(mem.ram[0x200fff], 0);
  const t = new SymbolTable(elf.symbols);
  assertEquals(t.address("counter"), 0xc0200000);
  assertEquals(t.functionAt(0xc0100003), { name: "spin", offset: 1 });
  assertEquals(t.functionAt(0xc0100000), { name: "start", offset: 0 });
  assertEquals(t.functionAt(0xc00fffff), undefined);
  assertEquals(t.functionAt(0xc0100010), undefined); // past spin's size
});

Deno.test("ELF: bad images raise ImageError naming the file and the problem", () => {
  const cases: Array<[Uint8Array, RegExp]> = [
    [new Uint8Array(10), /k\.elf: too short/],
    [new Uint8Array(64), /k\.elf: not an ELF file/],
    [mbElf({ elfClass: 2 }), /not a 32-bit ELF/],
    [mbElf({ machine: 62 }), /not an i386 ELF \(e_machine 62\)/],
    [mbElf({ type: 3 }), /not an executable/],
    [mbElf().subarray(0, 90), /lies outside the file/],
  ];
  for (const [bytes, re] of cases) {
    throws(
      () => parseElf(bytes, "k.elf"),
      (e: Error) => e instanceof ImageError && re.test(e.message),
    );
  }
  const mem = new PhysicalMemory({ size: 1 << 20 });
  throws(
    () => loadElf(mem, mbElf(), "big.elf"),
    /big\.elf: segment at 0x100000\+0x2000 does not fit in 1 MiB/,
  );
});

Deno.test("Multiboot: ELF kernel, entry state and information structure (spec 3.2, 3.3)", () => {
  const mem = new PhysicalMemory({ size: 32 << 20 });
  const boot = loadMultiboot(mem, mbElf(), { cmdline: "console=ttyS0 quiet", file: "k.elf" });
  assertEquals(boot.entry.eip, 0x100000);
  assertEquals(boot.entry.eax, MULTIBOOT_BOOTLOADER_MAGIC);
  assertEquals(boot.entry.ebx, BOOT_INFO);
  assertEquals(mem.ram[0x100000 + 12], 0xfa);
  const dv = mem.view;
  const flags = dv.getUint32(BOOT_INFO, true);
  assertEquals(flags, 0x245); // mem, cmdline, mmap, boot loader name
  assertEquals(dv.getUint32(BOOT_INFO + 4, true), 639);
  assertEquals(dv.getUint32(BOOT_INFO + 8, true), 31 * 1024);
  assertEquals(cstring(mem, dv.getUint32(BOOT_INFO + 16, true)), "console=ttyS0 quiet");
  assertEquals(cstring(mem, dv.getUint32(BOOT_INFO + 64, true)), "pvreplay");
  const mmap: number[][] = [];
  const base = dv.getUint32(BOOT_INFO + 48, true);
  for (let p = base; p < base + dv.getUint32(BOOT_INFO + 44, true);) {
    mmap.push([dv.getUint32(p + 4, true), dv.getUint32(p + 12, true), dv.getUint32(p + 20, true)]);
    p += dv.getUint32(p, true) + 4;
  }
  assertEquals(mmap, [
    [0, 0x9fc00, 1],
    [0x9fc00, 0x400, 2],
    [0xf0000, 0x10000, 2],
    [0x100000, 31 << 20, 1],
    [0xfee00000, 0x1000, 2],
  ]);
  // Flat GDT: code 0x08 (type 0xB), data 0x10 (type 0x3), 4 GiB.
  assertEquals([dv.getUint32(BOOT_GDT + 8, true), dv.getUint32(BOOT_GDT + 12, true)], [
    0xffff,
    0xcf9b00,
  ]);
  assertEquals([dv.getUint32(BOOT_GDT + 16, true), dv.getUint32(BOOT_GDT + 20, true)], [
    0xffff,
    0xcf9300,
  ]);
});

Deno.test("Multiboot: higher-half ELF entry is translated to its physical address", () => {
  const mem = new PhysicalMemory({ size: 8 << 20 });
  const img = buildElf({
    entry: 0xc010000c,
    segments: [{ paddr: 0x100000, vaddr: 0xc0100000, data: concat(multibootHeader(2), CODE) }],
  });
  assertEquals(loadMultiboot(mem, img).entry.eip, 0x10000c);
});

Deno.test("Multiboot: a.out kludge (flag 16) loads by the header's address fields", () => {
  const mem = new PhysicalMemory({ size: 8 << 20 });
  // Flat binary: 16 bytes of padding, header at file offset 16 = address 0x200010.
  const header = multibootHeader(0x10003, [0x200010, 0x200000, 0x200040, 0x201000, 0x200030]);
  const body = new Uint8Array(0x60).fill(0x90);
  const img = concat(new Uint8Array(16).fill(0x11), header, body);
  img[0x30] = 0xf4;
  mem.ram.fill(0xcc, 0x200000, 0x202000);
  const boot = loadMultiboot(mem, img, { file: "flat.bin" });
  assertEquals(boot.entry.eip, 0x200030);
  assertEquals(mem.ram[0x200000], 0x11);
  assertEquals(mem.ram[0x200030], 0xf4);
  assertEquals(mem.ram[0x20003f], 0x90);
  assertEquals(mem.ram[0x200040], 0); // past load_end_addr: bss zeroed
  assertEquals(mem.ram[0x200fff], 0);
  assertEquals(mem.ram[0x201000], 0xcc); // past bss_end_addr untouched
});

Deno.test("Multiboot: header errors are reported with the file name", () => {
  const mem = new PhysicalMemory({ size: 8 << 20 });
  const noHeader = buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: CODE }] });
  throws(() => loadMultiboot(mem, noHeader, { file: "a.elf" }), /a\.elf: no Multiboot header/);
  const badSum = concat(multibootHeader(3), CODE);
  badSum[8] ^= 1;
  throws(() => loadMultiboot(mem, badSum, { file: "b.bin" }), /b\.bin: no Multiboot header/);
  const required = buildElf({
    entry: 0x100000,
    segments: [{ paddr: 0x100000, data: concat(multibootHeader(0x8), CODE) }],
  });
  throws(
    () => loadMultiboot(mem, required, { file: "c.elf" }),
    /c\.elf: .*unsupported features 0x8/,
  );
  throws(
    () => loadMultiboot(mem, concat(multibootHeader(3), CODE), { file: "d.bin" }),
    /d\.bin: .*not ELF/,
  );
  const tiny = new PhysicalMemory({ size: 1 << 20 });
  const huge = buildElf({
    entry: 0x1000,
    segments: [{ paddr: 0x1000, data: concat(multibootHeader(3), CODE), memSize: 0xfc000 }],
  });
  throws(
    () => loadMultiboot(tiny, huge, { file: "e.elf" }),
    /e\.elf: no room for the boot information above the image 0x1000-0xfd000 in 1 MiB/,
  );
  // Header beyond the first 8 KiB is not found.
  const late = buildElf({
    entry: 0x100000,
    segments: [{ paddr: 0x100000, data: concat(new Uint8Array(8192), multibootHeader(3)) }],
  });
  throws(() => loadMultiboot(mem, late, { file: "f.elf" }), /no Multiboot header/);
});

Deno.test("Multiboot: an image linked below 1 MiB loads; the boot information goes above it", () => {
  // QEMU's loader does the same (hw/i386/multiboot.c puts mb_buf after the image).
  const mem = new PhysicalMemory({ size: 4 << 20 });
  const low = buildElf({
    entry: 0x1000,
    segments: [{ paddr: 0x1000, data: concat(multibootHeader(3), CODE), memSize: 0x8123 }],
  });
  const boot = loadMultiboot(mem, low, { file: "low.elf", cmdline: "x=1" });
  const area = 0xa000; // the first page boundary above 0x1000 + 0x8123
  assertEquals(boot.entry.gdtBase, area);
  assertEquals(boot.entry.ebx, area + (BOOT_INFO - BOOT_GDT));
  assertEquals(boot.entry.esp > boot.entry.ebx, true);
  assertEquals(mem.ram[0x1000 + 12], CODE[0]); // the image itself is intact
  const dv = mem.view;
  assertEquals(cstring(mem, dv.getUint32(boot.entry.ebx + 16, true)), "x=1");
  assertEquals(dv.getUint32(area + 12, true), 0x00cf9b00); // flat code at 0x08
  assertEquals(dv.getUint32(boot.entry.ebx + 48, true) > area, true);
});

Deno.test("Firmware: mapped at 4 GiB - size and its last 128 KiB below 1 MiB", () => {
  const mem = new PhysicalMemory({ size: 2 << 20 });
  const rom = new Uint8Array(256 * 1024);
  rom[0] = 0x01;
  rom[rom.length - 0x20000] = 0x02;
  rom[rom.length - 16] = 0xea;
  const m = mapFirmware(mem, rom, "bios.bin");
  assertEquals([m.highBase, m.isaBase], [0xfffc0000, 0xe0000]);
  assertEquals(mem.read8(0xfffc0000), 0x01);
  assertEquals(mem.read8(0xfffffff0), 0xea);
  assertEquals(mem.read8(0xe0000), 0x02);
  assertEquals(mem.read8(0xffff0), 0xea);
  mem.write8(0xffff0, 0x00); // ROM: writes ignored
  assertEquals(mem.read8(0xffff0), 0xea);
  throws(() => mapFirmware(mem, new Uint8Array(1000), "tiny.bin"), /tiny\.bin: firmware size 1000/);
});
