import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { Machine, type RunResult } from "../../core/machine.ts";
import { encodeSnapshot, restoreSnapshot } from "../../core/snapshot.ts";
import {
  EXIT_BUDGET,
  EXIT_RESET,
  EXIT_SUCCESS,
  EXIT_TRIPLE_FAULT,
} from "../../core/exit_status.ts";
import { ImageError } from "../../core/loaders/image_error.ts";
import { buildElf, concat, multibootHeader } from "../loaders/elf_fixture.ts";
import { tickKernel } from "./fixture_kernel.ts";

const INPUT = "xyz";

function boot(kernel: Uint8Array, serial: number[], input = INPUT): Machine {
  const m = new Machine({ serialOut: (b) => serial.push(b), serialInput: input });
  m.bootMultiboot(kernel, { file: "tick.elf", cmdline: "test" });
  return m;
}

/** Everything a run exposes, for equality checks. */
function fingerprint(m: Machine, r: RunResult, serial: number[]) {
  return {
    reason: r.reason,
    exitCode: r.exitCode,
    icount: m.clock.icount,
    serial: new TextDecoder().decode(Uint8Array.from(serial)),
    regs: Array.from(m.cpu.regs),
    eip: m.cpu.eip,
    eflags: m.cpu.getEflags(),
  };
}

/** A Multiboot ELF whose code (32-bit, at 0x10000c) is `code`. */
function tinyKernel(code: number[]): Uint8Array {
  return buildElf({
    entry: 0x10000c,
    segments: [{ paddr: 0x100000, data: concat(multibootHeader(3), Uint8Array.from(code)) }],
  });
}

Deno.test("Machine: Multiboot entry state (spec 3.2) in the CPU", async () => {
  const m = boot(await tickKernel(), []);
  const c = m.cpu;
  assertEquals(c.regs[0] >>> 0, 0x2badb002);
  assertEquals(c.regs[3], 0x600);
  assertEquals(c.cr0 & 0x80000001, 1);
  assertEquals(c.getEflags() & 0x20200, 0); // IF = VM = 0
  assertEquals(Array.from(c.segSel.subarray(0, 6)), [0x10, 0x08, 0x10, 0x10, 0x10, 0x10]);
  assertEquals(c.segLimit[1] >>> 0, 0xffffffff);
  assertEquals(m.memory.a20Mask >>> 0, 0xffffffff);
});

Deno.test("Machine: tick kernel - PIT IRQ0 via 8259A, HLT idle skip, serial echo, debug-exit", async () => {
  const serial: number[] = [];
  const m = boot(await tickKernel(), serial);
  const r = m.run(100_000_000);
  assertEquals(r.reason, "debug-exit");
  assertEquals(r.debugExitValue, 3); // three bytes echoed
  assertEquals(r.exitCode, 7); // (3 << 1) | 1
  const text = new TextDecoder().decode(Uint8Array.from(serial));
  assertEquals(text, "xyz4567012345670123456701234567012345670");
  // 40 ticks of 1193 PIT clocks at 100 M insns/s: about 4.0 M instructions of virtual time.
  ok(Math.abs(r.instructions - 40 * 1193 * 100_000_000 / 1_193_182) < 20_000, `${r.instructions}`);
});

Deno.test("Machine: determinism - two runs give identical bytes, icount and registers", async () => {
  const k = await tickKernel();
  const s1: number[] = [];
  const s2: number[] = [];
  const m1 = boot(k, s1);
  const m2 = boot(k, s2);
  assertEquals(fingerprint(m2, m2.run(100_000_000), s2), fingerprint(m1, m1.run(100_000_000), s1));
});

Deno.test("Snapshot: run N, save, restore in a fresh machine, run on == straight run", async () => {
  const k = await tickKernel();
  const straight: number[] = [];
  const ms = boot(k, straight);
  const want = fingerprint(ms, ms.run(100_000_000), straight);
  for (const n of [1, 250_001, 1_234_567, 3_999_999]) {
    const before: number[] = [];
    const m1 = boot(k, before);
    const r1 = m1.run(n);
    assertEquals(r1.reason, "budget");
    assertEquals(m1.clock.icount, n);
    const snap = encodeSnapshot(m1);
    const after: number[] = [];
    const m2 = restoreSnapshot(snap, { serialOut: (b) => after.push(b) }, "mid.snap");
    const r2 = m2.run(100_000_000 - n);
    const got = fingerprint(m2, r2, [...before, ...after]);
    assertEquals(got, want, `split at ${n}`);
  }
});

Deno.test("Snapshot: corrupt files raise ImageError naming the file", () => {
  const m = new Machine({ memMiB: 2 });
  const snap = encodeSnapshot(m);
  throws(
    () => restoreSnapshot(snap.subarray(0, 10), {}, "a.snap"),
    /a\.snap: not a pvreplay snapshot/,
  );
  const badVersion = snap.slice();
  badVersion[8] = 99;
  throws(() => restoreSnapshot(badVersion, {}, "b.snap"), /b\.snap: snapshot format version 99/);
  throws(
    () => restoreSnapshot(snap.subarray(0, snap.length - 5), {}, "c.snap"),
    (e: Error) => e instanceof ImageError && /c\.snap: (truncated|corrupt)/.test(e.message),
  );
});

Deno.test("Machine: triple fault, reset, budget and idle outcomes with their statuses", () => {
  const run = (code: number[], budget = 1000) => {
    const m = new Machine({ memMiB: 4 });
    m.bootMultiboot(tinyKernel(code));
    return m.run(budget);
  };
  const tf = run([0x0f, 0x0b]); // ud2 with no IDT: #UD -> #DF -> shutdown
  assertEquals([tf.reason, tf.exitCode], ["triple-fault", EXIT_TRIPLE_FAULT]);
  const rst = run([0xb0, 0xfe, 0xe6, 0x64, 0xf4]); // 8042 pulse reset
  assertEquals([rst.reason, rst.exitCode], ["reset", EXIT_RESET]);
  const p92 = run([0xb0, 0x03, 0xe6, 0x92, 0xf4]); // port 0x92 fast reset
  assertEquals(p92.reason, "reset");
  const spin = run([0xeb, 0xfe], 12_345); // jmp $
  assertEquals([spin.reason, spin.exitCode, spin.instructions], ["budget", EXIT_BUDGET, 12_345]);
  const idle = run([0xb0, 0x2a, 0xe6, 0x80, 0xfa, 0xf4]); // POST 0x2A; cli; hlt
  assertEquals([idle.reason, idle.exitCode, idle.post], ["idle", EXIT_SUCCESS, 0x2a]);
});

Deno.test("Machine: raw firmware runs from the reset vector F000:FFF0", () => {
  const rom = new Uint8Array(65536).fill(0xf4);
  // mov al,'B'; out 0xe9,al; mov al,0x5a; out 0x80,al; mov al,4; out 0xf4,al
  rom.set([0xb0, 0x42, 0xe6, 0xe9, 0xb0, 0x5a, 0xe6, 0x80, 0xb0, 0x04, 0xe6, 0xf4], 0xfff0);
  const con: number[] = [];
  const m = new Machine({ memMiB: 2, debugconOut: (b) => con.push(b) });
  m.loadFirmware(rom, "bios.bin");
  const r = m.run(100);
  assertEquals([r.reason, r.exitCode, r.post, con], ["debug-exit", 9, 0x5a, [0x42]]);
  // The firmware travels in snapshots.
  const copy = restoreSnapshot(encodeSnapshot(m));
  assertEquals(copy.memory.read8(0xfffffff0), 0xb0);
});

Deno.test("Machine: configuration errors are RangeErrors naming the field", () => {
  throws(() => new Machine({ memMiB: 0 }), /memory size 0 MiB/);
  throws(() => new Machine({ memMiB: 4077 }), /from 1 to 4076/);
  throws(() => new Machine({ ips: 0 }), /ips must be a positive integer/);
});
