import assert from "node:assert/strict";
import { parseCpuLog } from "./qemu_cpu_log.ts";

/** One record as QEMU 7.2 writes it with `-d cpu,fpu` (XMM lines omitted: not read). */
function record(
  eip: number,
  ecx: number,
  r3: string,
  ccs = "CCS=00000044 CCD=00000000 CCO=ADDL",
): string {
  const h = (v: number) => v.toString(16).padStart(8, "0");
  return [
    `EAX=00000001 EBX=00000002 ECX=${h(ecx)} EDX=00000004`,
    "ESI=00000005 EDI=00000006 EBP=00000007 ESP=00148000",
    `EIP=${h(eip)} EFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=0`,
    "ES =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]",
    "CS =0008 00000000 ffffffff 00cf9b00 DPL=0 CS32 [-RA]",
    "SS =0018 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]",
    "DS =0010 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]",
    "FS =0020 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]",
    "GS =0028 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]",
    "CR0=00000011 CR2=00000000 CR3=00000000 CR4=00000000",
    ccs,
    "FCW=037f FSW=3800 [ST=7] FTW=80 MXCSR=00001f80",
    "FPR0=0000000000000000 0000 FPR1=0000000000000000 0000",
    `FPR2=0000000000000000 0000 FPR3=${r3}`,
    "FPR4=0000000000000000 0000 FPR5=0000000000000000 0000",
    "FPR6=0000000000000000 0000 FPR7=8000000000000000 3fff",
    "XMM00=0000000000000000 0000000000000000 XMM01=0000000000000000 0000000000000000",
    "",
  ].join("\n");
}

Deno.test("parseCpuLog reads GPRs in pvreplay's order, selectors and R0-R7", () => {
  const [s] = parseCpuLog(record(0x110000, 3, "c90fdaa22168c000 4000"), true);
  assert.deepEqual(s.regs, [1, 3, 4, 2, 0x148000, 7, 5, 6]);
  assert.equal(s.eflags, 0x246);
  assert.deepEqual(s.sel, [0x10, 0x08, 0x18, 0x10, 0x20, 0x28]);
  assert.equal(s.fpu[0], "037f");
  assert.equal(s.fpu[1], "3800");
  assert.equal(s.fpu[2 + 3], "4000c90fdaa22168c000"); // sign/exponent first
  assert.equal(s.fpu[2 + 7], "3fff8000000000000000");
  assert.equal(parseCpuLog(record(0x110000, 3, "0 0"), false)[0].fpu.length, 0);
});

Deno.test("parseCpuLog drops a repeated record but keeps REP iterations", () => {
  const z = "0000000000000000 0000";
  const a = record(0x110000, 3, z), rep2 = record(0x110000, 2, z), b = record(0x110002, 2, z);
  // The re-entered block's record has the lazy flags folded into EFLAGS: still a repeat.
  const a2 = record(0x110000, 3, z, "CCS=00000044 CCD=00000000 CCO=EFLAGS");
  const states = parseCpuLog(a + a2 + rep2 + b + b + b, true);
  assert.deepEqual(states.map((s) => [s.eip, s.regs[1]]), [[0x110000, 3], [0x110000, 2], [
    0x110002,
    2,
  ]]);
});

Deno.test("parseCpuLog stops before a record still being written", () => {
  const full = record(0x110000, 3, "0000000000000000 0000");
  const cut = record(0x110004, 3, "0000000000000000 0000");
  assert.equal(parseCpuLog(full + cut.slice(0, cut.indexOf("FPR7")), true).length, 1);
  assert.equal(parseCpuLog(full + cut, true).length, 2);
});

Deno.test("parseCpuLog names the record that lacks a field", () => {
  const broken = record(0x110000, 3, "0000000000000000 0000").replace("EIP=", "XIP=");
  assert.throws(() => parseCpuLog(broken, true), /record 0 has no 'EIP='/);
});
