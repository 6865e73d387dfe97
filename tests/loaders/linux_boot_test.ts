import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import {
  BP,
  isBzImage,
  LINUX_BOOT_CS,
  LINUX_BOOT_DS,
  loadLinux,
  SUBARCH_LGUEST,
} from "../../core/loaders/linux_boot.ts";
import { PhysicalMemory } from "../../core/memory.ts";
import { Machine } from "../../core/machine.ts";
import { buildElf } from "./elf_fixture.ts";

const CODE = [0xfa, 0xf4, 0xeb, 0xfc]; // cli; hlt; jmp $-2

/** A bzImage: `setupSects` setup sectors with the header, then the protected-mode part. */
function bzImage(o: { version?: number; loadflags?: number; initSize?: number } = {}) {
  const setupSects = 4;
  const pm = new Uint8Array(0x3000);
  pm.set(CODE);
  const img = new Uint8Array((setupSects + 1) * 512 + pm.length);
  const dv = new DataView(img.buffer);
  img[BP.setupSects] = setupSects;
  dv.setUint16(BP.bootFlag, 0xaa55, true);
  img[BP.jump] = 0xeb;
  img[BP.jump + 1] = 0x264 - 0x202; // header end: 0x202 + this byte
  dv.setUint32(BP.header, 0x53726448, true);
  dv.setUint16(BP.version, o.version ?? 0x20f, true);
  img[BP.loadflags] = o.loadflags ?? 1;
  dv.setUint32(BP.code32Start, 0x100000, true);
  dv.setUint32(BP.initrdAddrMax, 0x7fffffff, true);
  dv.setUint32(BP.kernelAlignment, 0x1000000, true);
  dv.setUint32(BP.cmdlineSize, 0x7ff, true);
  dv.setBigUint64(BP.prefAddress, 0x1000000n, true);
  dv.setUint32(BP.initSize, o.initSize ?? 0x800000, true);
  img.set(pm, (setupSects + 1) * 512);
  return img;
}

function cstring(mem: PhysicalMemory, pa: number): string {
  let s = "";
  while (mem.ram[pa]) s += String.fromCharCode(mem.ram[pa++]);
  return s;
}

Deno.test("Linux: bzImage loaded at 1 MiB, zero page with header, cmdline, initrd and e820", () => {
  const mem = new PhysicalMemory({ size: 64 << 20 });
  const img = bzImage();
  assertEquals(isBzImage(img), true);
  const initrd = new Uint8Array(10000).fill(7);
  const boot = loadLinux(mem, img, { cmdline: "console=ttyS0", initrd, file: "bz" });
  const zp = 0x10000;
  const dv = mem.view;
  assertEquals(boot.format, "bzImage");
  assertEquals(Array.from(mem.ram.subarray(0x100000, 0x100004)), CODE);
  assertEquals(boot.entry.eip, 0x100000);
  assertEquals(boot.entry.esi, zp);
  assertEquals([boot.entry.cs, boot.entry.ds], [LINUX_BOOT_CS, LINUX_BOOT_DS]);
  assertEquals(dv.getUint32(zp + BP.header, true), 0x53726448); // header copied
  assertEquals(dv.getUint16(zp + BP.version, true), 0x20f);
  assertEquals(mem.ram[zp + BP.typeOfLoader], 0xff);
  assertEquals(cstring(mem, dv.getUint32(zp + BP.cmdLinePtr, true)), "console=ttyS0");
  // Initrd at the highest page boundary that fits below the top of RAM.
  const at = dv.getUint32(zp + BP.ramdiskImage, true);
  assertEquals(at, ((64 << 20) - 10000) & ~0xfff);
  assertEquals(dv.getUint32(zp + BP.ramdiskSize, true), 10000);
  assertEquals(mem.ram[at + 9999], 7);
  // E820: the PC map, RAM from 1 MiB to the top.
  const n = mem.ram[zp + BP.e820Entries];
  const entries = [];
  for (let i = 0; i < n; i++) {
    const p = zp + BP.e820Table + 20 * i;
    entries.push([
      Number(dv.getBigUint64(p, true)),
      Number(dv.getBigUint64(p + 8, true)),
      dv.getUint32(p + 16, true),
    ]);
  }
  assertEquals(entries[3], [0x100000, (64 << 20) - 0x100000, 1]);
  assertEquals(dv.getUint32(zp + BP.hardwareSubarch, true), 0);
  // The boot GDT has flat code at 0x10 and data at 0x18.
  assertEquals(dv.getUint32(boot.entry.gdtBase + 0x14, true), 0x00cf9b00);
  assertEquals(dv.getUint32(boot.entry.gdtBase + 0x1c, true), 0x00cf9300);
});

Deno.test("Linux: lguest placement (zero page at 0, hardware_subarch 1) is a parameter", () => {
  const mem = new PhysicalMemory({ size: 64 << 20 });
  const boot = loadLinux(mem, bzImage(), {
    layout: { zeroPage: 0 },
    hardwareSubarch: SUBARCH_LGUEST,
  });
  assertEquals(boot.entry.esi, 0);
  assertEquals(mem.view.getUint32(BP.hardwareSubarch, true), 1);
  assertEquals(mem.view.getUint32(BP.header, true), 0x53726448);
});

Deno.test("Linux: vmlinux ELF entered at the physical entry with a synthesised header", () => {
  const mem = new PhysicalMemory({ size: 64 << 20 });
  const elf = buildElf({
    entry: 0xc1000000,
    segments: [{ paddr: 0x1000000, vaddr: 0xc1000000, data: Uint8Array.from(CODE) }],
  });
  const boot = loadLinux(mem, elf, { cmdline: "x" });
  assertEquals(boot.format, "vmlinux");
  assertEquals(boot.entry.eip, 0x1000000);
  assertEquals(mem.view.getUint16(0x10000 + BP.version, true), 0x20f);
  assertEquals(mem.view.getUint16(0x10000 + BP.bootFlag, true), 0xaa55);
});

Deno.test("Linux: bad images and too little memory are refused with the reason", () => {
  const mem = new PhysicalMemory({ size: 64 << 20 });
  throws(() => loadLinux(mem, bzImage({ version: 0x202 }), { file: "old" }), /old: .*2\.02.*2\.03/);
  throws(() => loadLinux(mem, bzImage({ loadflags: 0 }), { file: "z" }), /z: zImage/);
  throws(() => loadLinux(mem, new Uint8Array(1024), { file: "j" }), /j: neither a bzImage/);
  const small = new PhysicalMemory({ size: 16 << 20 });
  throws(() => loadLinux(small, bzImage(), { file: "k" }), /k: kernel needs RAM up to .*--mem 24/);
  const tight = new PhysicalMemory({ size: 25 << 20 });
  throws(
    () => loadLinux(tight, bzImage(), { initrd: new Uint8Array(2 << 20), initrdFile: "i" }),
    /i: initrd of 2097152 bytes does not fit above the kernel/,
  );
  throws(
    () => loadLinux(mem, bzImage(), { cmdline: "x".repeat(2048), file: "c" }),
    /c: command line is 2048 bytes; the kernel takes at most 2047/,
  );
});

Deno.test("Linux: Machine.bootKernel enters the bzImage in 32-bit protected mode", () => {
  const m = new Machine({ memMiB: 64 });
  assertEquals(m.bootKernel(bzImage(), { file: "bz", cmdline: "" }), "linux");
  assertEquals(m.cpu.eip, 0x100000);
  assertEquals(m.cpu.regs[6], 0x10000);
  assertEquals(m.cpu.segSel[1], 0x10);
  assertEquals(m.cpu.segSel[2], 0x18);
  assertEquals(m.run(10).reason, "idle"); // cli; hlt
});
