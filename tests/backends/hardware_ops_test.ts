import { assertEquals } from "./assert.ts";
import { ExitKind, TrapKind } from "../../core/cpu/hooks.ts";
import { ops, rig } from "./fake_machine.ts";
import { APIC_BASE, cmosEpochSeconds } from "../../backends/common/hardware_ops.ts";
import { daysFromCivil } from "../../core/civil_date.ts";

Deno.test("sti immediately followed by hlt is safe_halt; sti alone is irq_enable", () => {
  const r = rig("native");
  r.backend.onExit(ExitKind.sti, 0, 0, 0);
  r.step(); // hlt is the next instruction, one byte later
  r.backend.onExit(ExitKind.hlt, 0, 0, 0);
  assertEquals(r.events.map((e) => [e.name, e.op, e.state]), [
    ["sti", null, [["IF", 1]]],
    ["hlt", "safe_halt", [["HALTED", 1]]],
  ]);
  // Waking up is recorded on the interrupt.
  r.backend.onTrap(TrapKind.interrupt, 0x20, 0, r.cpu.eip + 1, 0);
  assertEquals(r.events[2].state, [["HALTED", 0]]);

  const s = rig("native");
  s.backend.onExit(ExitKind.sti, 0, 0, 0);
  s.step(2, 2); // something else in between
  s.backend.onExit(ExitKind.hlt, 0, 0, 0);
  assertEquals(ops(s.events), ["irq_enable", "halt"]);

  const t = rig("native");
  t.backend.onExit(ExitKind.sti, 0, 0, 0);
  t.step();
  t.io.write(0x80, 1, 0); // an event between sti and hlt breaks the pair
  t.backend.onExit(ExitKind.hlt, 0, 0, 0);
  assertEquals(ops(t.events), ["irq_enable", "io_delay", "halt"]);
});

Deno.test("a held sti is released by flush() and before traps", () => {
  const r = rig("native");
  r.backend.onExit(ExitKind.sti, 0, 0, 0);
  assertEquals(r.events.length, 0);
  r.backend.flush();
  assertEquals(ops(r.events), ["irq_enable"]);
  r.backend.onExit(ExitKind.sti, 0, 0, 0);
  r.backend.onTrap(TrapKind.interrupt, 0x21, 0, 0x1001, 0);
  assertEquals(r.events.map((e) => e.name), ["sti", "sti", "vector_0x21"]);
});

Deno.test("sti; sysexit is irq_enable_sysexit; cli is irq_disable", () => {
  const r = rig("native");
  r.backend.onExit(ExitKind.cli, 0, 0, 0);
  r.backend.onExit(ExitKind.sti, 0, 0, 0);
  r.step();
  r.backend.onExit(ExitKind.sysexit, 0, 0, 0);
  assertEquals(ops(r.events), ["irq_disable", "irq_enable_sysexit"]);
  assertEquals(r.events[0].state, [["IF", 0]]);
});

Deno.test("CR3 reload is flush_tlb_user; a new CR3 is write_cr3", () => {
  const r = rig("native");
  r.backend.onExit(ExitKind.crWrite, 3, 0x1000, 0);
  r.backend.onExit(ExitKind.crWrite, 3, 0x1000, 0);
  r.backend.onExit(ExitKind.crWrite, 3, 0x2000, 0);
  assertEquals(r.events.map((e) => [e.op, e.opArgs]), [
    ["write_cr3", [0x1000]],
    ["flush_tlb_user", []],
    ["write_cr3", [0x2000]],
  ]);
});

Deno.test("CR4.PGE toggle (with CR reads and a CR3 reload inside) is one flush_tlb_kernel", () => {
  const r = rig("native");
  r.backend.onExit(ExitKind.crWrite, 3, 0x1000, 0);
  r.backend.onExit(ExitKind.crWrite, 4, 0x90, 0); // PSE|PGE on: write_cr4
  r.backend.onExit(ExitKind.crRead, 4, 0x90, 0);
  r.backend.onExit(ExitKind.crWrite, 4, 0x10, 0); // PGE off
  r.backend.onExit(ExitKind.crRead, 3, 0x1000, 0);
  r.backend.onExit(ExitKind.crWrite, 3, 0x1000, 0);
  r.backend.onExit(ExitKind.crWrite, 4, 0x90, 0); // PGE on again
  assertEquals(ops(r.events), ["write_cr3", "write_cr4", "read_cr4", "flush_tlb_kernel"]);
  assertEquals(r.events.length, 7);
  // PGE cleared and left off: just write_cr4.
  const s = rig("native");
  s.backend.onExit(ExitKind.crWrite, 4, 0x90, 0);
  s.backend.onExit(ExitKind.crWrite, 4, 0x10, 0);
  s.backend.onExit(ExitKind.cli, 0, 0, 0);
  assertEquals(ops(s.events), ["write_cr4", "write_cr4", "irq_disable"]);
});

Deno.test("invlpg, lgdt, clts, rdtsc, wrmsr map to their canonical ops", () => {
  const r = rig("native");
  r.cpu.regs[2] = 7; // EDX of rdtsc
  r.backend.onExit(ExitKind.invlpg, 0xc0100000, 0, 0);
  r.backend.onExit(ExitKind.lgdt, 0xc0300000, 0xff, 0);
  r.backend.onExit(ExitKind.clts, 0, 0, 0);
  r.backend.onExit(ExitKind.rdtsc, 1234, 0, 0);
  r.backend.onExit(ExitKind.wrmsr, 0x174, 0x60, 0);
  assertEquals(r.events.map((e) => [e.op, e.opArgs]), [
    ["flush_tlb_single", [0xc0100000]],
    ["load_gdt", [0xc0300000, 0xff]],
    ["clts", []],
    ["read_tsc", [1234, 7]],
    ["write_msr", [0x174, 0x60, 0]],
  ]);
  assertEquals(r.events[2].state, [["TS", 0]]);
});

Deno.test("lldt becomes set_ldt with base and entries read from the GDT descriptor", () => {
  const r = rig("native");
  r.cpu.gdtrBase = 0x9000;
  // Selector 0x28 -> descriptor 5: base 0x00123456, limit 0x3f (8 entries).
  r.memory.view.setUint32(0x9028, 0x3456003f, true);
  r.memory.view.setUint32(0x902c, 0x00008212, true);
  r.backend.onExit(ExitKind.lldt, 0x28, 0, 0);
  r.backend.onExit(ExitKind.lldt, 0, 0, 0);
  assertEquals(r.events.map((e) => e.opArgs), [[0x123456, 8], [0, 0]]);
});

Deno.test("popf and iret that change IF are restore_fl and iret (opcode at EIP)", () => {
  const r = rig("native");
  r.cpu.eip = 0x3000;
  r.memory.load(0x3000, Uint8Array.of(0x9d, 0x66, 0xcf));
  r.backend.onExit(ExitKind.ifChange, 1, 0, 0);
  r.cpu.eip = 0x3001; // 66 CF: iretw
  r.backend.onExit(ExitKind.ifChange, 0, 0, 0);
  assertEquals(r.events.map((e) => [e.op, e.opArgs, e.state]), [
    ["restore_fl", [0x200], [["IF", 1]]],
    ["iret", [0], [["IF", 0]]],
  ]);
});

Deno.test("port rules: io_delay, PIT channel 0 programming, KBC reset", () => {
  const r = rig("native");
  r.clock.icount = 100; // 1000 ns
  r.io.write(0x80, 1, 0);
  r.io.write(0x43, 1, 0x34); // ch0, lo/hi, mode 2 (rate generator)
  r.io.write(0x40, 1, 0x9c);
  r.io.write(0x40, 1, 0x2e); // 0x2e9c = 11932 ticks = HZ 100
  r.io.write(0x43, 1, 0x30); // mode 0, one-shot
  r.io.write(0x40, 1, 0);
  r.io.write(0x40, 1, 0); // 0 = 65536
  r.io.write(0x43, 1, 0xb6); // channel 2: not a timer interrupt
  r.io.write(0x42, 1, 0x10);
  r.io.write(0x64, 1, 0xfe);
  const timers = r.events.filter((e) => e.op === "set_timer");
  assertEquals(timers.map((e) => [e.opArgs, e.state]), [
    [[1, 10000151], [["TIMER", 10001151]]], // round(11932e9 / 1193182)
    [[0, 54925401], [["TIMER", 54926401]]],
  ]);
  assertEquals(ops(r.events), ["io_delay", "set_timer", "set_timer", "shutdown"]);
  assertEquals(r.events.find((e) => e.op === "shutdown")!.opArgs, [1]);
  const first = r.events[0];
  assertEquals([first.kind, first.nr, first.name, first.args], ["io", 0x80, "out", [1, 0]]);
});

Deno.test("CMOS RTC reads: get_wallclock on the year read, BCD and binary", () => {
  const r = rig("native");
  // 2008-03-15 13:45:30, BCD, as a device would answer.
  const regs: Record<number, number> = { 0: 0x30, 2: 0x45, 4: 0x13, 7: 0x15, 8: 0x03, 9: 0x08 };
  r.io.register(0x70, 2, {
    portRead: () => regs[idx] ?? 0,
    portWrite: (_p, _s, v) => {
      idx = v & 0x7f;
    },
  });
  let idx = 0;
  for (const i of [0, 2, 4, 7, 8, 9]) {
    r.io.write(0x70, 1, i);
    r.io.read(0x71, 1);
  }
  const wc = r.events.filter((e) => e.op === "get_wallclock");
  const expect = daysFromCivil(2008, 3, 15) * 86400 + 13 * 3600 + 45 * 60 + 30;
  assertEquals(wc.map((e) => e.opArgs), [[expect, 0]]);
  assertEquals(expect, 1205588730);
  // Binary mode (status B DM) with 12-hour clock: 1 PM is 13:00, 1 AM is 01:00.
  const bin = [30, -1, 45, -1, 0x81, -1, -1, 15, 3, 8, 0x04, -1];
  assertEquals(cmosEpochSeconds(bin), expect);
  bin[4] = 0x01;
  assertEquals(cmosEpochSeconds(bin), expect - 12 * 3600);
  // Century register read: 0x19 + 0x08 = 1908.
  assertEquals(
    cmosEpochSeconds([0, -1, 0, -1, 0, -1, -1, 1, 1, 0x08, -1, 0x19]),
    daysFromCivil(1908, 1, 1) * 86400,
  );
  assertEquals(cmosEpochSeconds([30, -1, 45, -1, 13, -1, -1, 15, 3, -1, -1, -1]), null);
});

Deno.test("LAPIC MMIO: initial-count write is set_timer using divide config and LVT mode", () => {
  const r = rig("native", { apicBusHz: 200_000_000 });
  r.backend.onMmioWrite(0xfee003e0, 4, 0x3); // divide by 16
  r.backend.onMmioWrite(0xfee00320, 4, 0x200ef); // periodic, vector 0xef
  r.backend.onMmioWrite(0xfee00380, 4, 125000); // 125000 * 16 / 200 MHz = 10 ms
  r.backend.onMmioRead(0xfee00390, 4, 5);
  assertEquals(r.events.map((e) => [e.op, e.opArgs]), [
    ["apic_write", [0x3e0, 3]],
    ["apic_write", [0x320, 0x200ef]],
    ["set_timer", [1, 10_000_000]],
    ["apic_read", [0x390, 5]],
  ]);
  assertEquals(r.events[2].kind, "mmio");
  // Through the real memory's MMIO observer; other MMIO windows are not recorded.
  const seen: number[] = [];
  const s = rig("native");
  s.backend.detach();
  s.memory.mapMmio(0xfee00000, 0x1000, { mmioRead: () => 0x14, mmioWrite: () => {} });
  s.memory.mapMmio(0xfeb00000, 0x1000, { mmioRead: () => 0, mmioWrite: () => {} });
  s.memory.mmioObserver = { onMmioRead: (pa) => seen.push(pa), onMmioWrite: () => {} };
  s.backend.attach(s.ctx);
  s.memory.read32(0xfee00030);
  s.memory.write32(0xfeb00010, 1);
  assertEquals(s.events.map((e) => [e.nr, e.name, e.op, e.opArgs]), [
    [0xfee00030, "mmio_read", "apic_read", [0x30, 0x14]],
  ]);
  assertEquals(seen, [0xfee00030]); // chained
});

Deno.test("traps: exception names, error codes, CR2, IRQ and software-interrupt names", () => {
  const r = rig("native", { irqOfVector: (v) => (v >= 0x20 && v < 0x30 ? v - 0x20 : -1) });
  r.backend.onTrap(TrapKind.exception, 14, 2, 0xc0100000, 0xdead000);
  r.backend.onTrap(TrapKind.exception, 13, 0x18, 0x1000, 0);
  r.backend.onTrap(TrapKind.exception, 6, 0, 0x1000, 0);
  r.backend.onTrap(TrapKind.interrupt, 0x20, 0, 0x1000, 0);
  r.backend.onTrap(TrapKind.interrupt, 0xef, 0, 0x1000, 0);
  r.backend.onTrap(TrapKind.software, 0x80, 0, 0x1002, 0);
  assertEquals(
    r.events.map((e) => [e.kind, e.name, e.vector, e.errorCode, e.cr2]),
    [
      ["exception", "page_fault", 14, 2, 0xdead000],
      ["exception", "general_protection", 13, 0x18, null],
      ["exception", "invalid_op", 6, null, null],
      ["interrupt", "irq0", 0x20, null, null],
      ["interrupt", "vector_0xef", 0xef, null, null],
      ["interrupt", "int_0x80", 0x80, null, null],
    ],
  );
  assertEquals(r.events[0].state, [["CR2", 0xdead000]]);
});

Deno.test("attach chains an existing MMIO observer and detach restores it", () => {
  const r = rig("native");
  r.backend.detach();
  const seen: number[] = [];
  const prev = { onMmioRead: () => {}, onMmioWrite: (pa: number) => void seen.push(pa) };
  r.memory.mmioObserver = prev;
  r.memory.mapMmio(APIC_BASE, 0x1000, { mmioRead: () => 0, mmioWrite: () => {} });
  r.backend.attach(r.ctx);
  r.memory.write32(APIC_BASE + 0xb0, 0);
  assertEquals(seen, [APIC_BASE + 0xb0]);
  assertEquals(r.events.at(-1)?.name, "mmio_write");
  r.backend.detach();
  assertEquals(r.memory.mmioObserver, prev);
});

Deno.test("saveState/loadState carry the decoders (PIT half-written count)", () => {
  const a = rig("native");
  a.io.write(0x43, 1, 0x34);
  a.io.write(0x40, 1, 0x9c);
  const snap = JSON.parse(JSON.stringify(a.backend.saveState()));
  const b = rig("native");
  b.backend.loadState(snap);
  b.io.write(0x40, 1, 0x2e);
  assertEquals(b.events[0].opArgs, [1, 10000151]);
});

Deno.test("CPUID, RDMSR and RDTSC events carry the EAX the guest saw as ret", () => {
  for (const spec of ["native", "kvm@2.6.25"]) {
    const r = rig(spec);
    // The CPU reports CPUID after writing its answer: EAX EBX ECX EDX = regs 0, 3, 1, 2.
    r.cpu.regs.set([0x633, 0, 0xa93d, 0]);
    r.backend.onExit(ExitKind.cpuid, 1, 0, 0);
    r.backend.onExit(ExitKind.rdmsr, 0x1b, 0xfee00900, 0);
    r.backend.onExit(ExitKind.rdtsc, 0x4260d, 0, 0);
    assertEquals(r.events.map((e) => [e.op, e.ret]), [
      ["cpuid", 0x633],
      ["read_msr", 0xfee00900],
      ["read_tsc", 0x4260d],
    ], spec);
    assertEquals(r.events[0].opArgs, [1, 0, 0x633, 0, 0, 0xa93d]);
  }
});
