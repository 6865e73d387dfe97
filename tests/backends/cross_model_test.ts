import { assert, assertEquals, assertThrows } from "./assert.ts";
import { createBackend } from "../../backends/backend.ts";
import { CANONICAL_OPS } from "../../backends/canonical_ops.ts";
import {
  type AbiCall,
  type CallModel,
  DIVERGENCE_CLASSES,
  isUnsupported,
  type Unsupported,
} from "../../backends/cross_model.ts";

const ENV = { epoch: 1_200_000_000, tscHz: 100_000_000 };

/** Sample canonical arguments per op (arity from the catalogue). */
const SAMPLE: Record<string, number[]> = {
  restore_fl: [0x200],
  save_fl: [0x200],
  write_cr0: [0x8001003b],
  write_cr3: [0x5000],
  write_cr4: [0x90],
  read_cr0: [0x8001003b],
  read_cr2: [0xdead000],
  read_cr3: [0x5000],
  read_cr4: [0x90],
  load_gdt: [0xc0300000, 0xff],
  load_idt: [0xc0301000, 0x7ff],
  load_tr_desc: [0x80],
  set_ldt: [0xc0400000, 8],
  write_msr: [0x174, 0x60, 0],
  read_msr: [0x1b, 0xfee00900, 0],
  cpuid: [0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d],
  read_tsc: [5, 0],
  flush_tlb_single: [0xc0100000],
  set_timer: [1, 10_000_000],
  get_wallclock: [1_200_000_002, 500_000_000],
  sched_clock: [2_500_000_000],
  apic_write: [0x380, 1000],
  apic_read: [0x390, 5],
  set_debugreg: [7, 0x400],
  shutdown: [1],
  iret: [0],
};

function call(m: CallModel, op: string, args: number[]): AbiCall {
  const c = m.translate(op, args);
  if (isUnsupported(c)) throw new Error(`${m.backend}: ${op} unsupported: ${c.reason}`);
  return c;
}

for (const spec of ["native", "kvm@2.6.20", "kvm@2.6.22", "kvm@2.6.25", "kvm@2.6.33"]) {
  Deno.test(`${spec}: every canonical op translates and applies`, () => {
    const m = createBackend(spec).model(ENV);
    for (const op of CANONICAL_OPS) {
      const args = SAMPLE[op.name] ?? [];
      assertEquals(args.length, op.args.length, `sample for ${op.name}`);
      const c = call(m, op.name, args);
      assert(c.steps.length >= 1, op.name);
      assertEquals([c.nr, c.name], [c.steps.at(-1)!.nr, c.steps.at(-1)!.name]);
      for (const n of c.notes) assert(DIVERGENCE_CLASSES.includes(n.class), n.class);
      const r = m.apply(c, 2_500_000_000);
      for (const [k, v] of r.state) assertEquals(m.state.regs[k], v, `${op.name} ${k}`);
    }
  });
}

Deno.test("native model: steps named like recorded native events, state effects", () => {
  const m = createBackend("native").model(ENV);
  const sh = call(m, "safe_halt", []);
  assertEquals(sh.steps.map((s) => s.name), ["sti", "hlt"]);
  assertEquals(m.apply(sh, 0), { ret: null, state: [["IF", 1], ["HALTED", 1]] });
  const cli = call(m, "irq_disable", []);
  assertEquals([cli.nr, cli.name], [0, "cli"]);
  assertEquals(m.apply(cli, 0).state, [["IF", 0]]);
  assertEquals(m.apply(call(m, "save_fl", [0]), 0).ret, 0);
  m.apply(call(m, "write_cr3", [0x5000]), 0);
  const fu = call(m, "flush_tlb_user", []);
  assertEquals([fu.name, fu.args], ["crWrite", [3, 0x5000]]);
  assertEquals(m.apply(call(m, "read_cr3", [0]), 0).ret, 0x5000);
  const w0 = m.apply(call(m, "write_cr0", [0x8000003b]), 0);
  assertEquals(w0.state, [["CR0", 0x8000003b], ["TS", 1]]);
  assertEquals(m.apply(call(m, "clts", []), 0).state, [["TS", 0]]);
});

Deno.test("set_timer on native/KVM: PIT ticks, unit rounding and range notes", () => {
  for (const spec of ["native", "kvm"]) {
    const m = createBackend(spec).model(ENV);
    const exact = call(m, "set_timer", [1, 10_000_151]);
    assertEquals(exact.steps.map((s) => [s.nr, s.args[1]]), [[0x43, 0x34], [0x40, 0x9c], [
      0x40,
      0x2e,
    ]]);
    assertEquals(exact.notes, []);
    assertEquals(m.apply(exact, 1000).state, [["TIMER", 10_001_151]]);
    const rounded = call(m, "set_timer", [0, 10_000_000]);
    assertEquals(rounded.notes.map((n) => n.class), ["different-units"]);
    const tooLong = call(m, "set_timer", [0, 100_000_000]);
    assertEquals(tooLong.notes.map((n) => n.class), ["different-result"]);
    assertEquals(m.apply(tooLong, 0).state, [["TIMER", 54_925_401]]);
    assertEquals(m.apply(call(m, "set_timer", [0, 0]), 0).state, [["TIMER", 0]]);
  }
});

Deno.test("get_wallclock and sched_clock: CMOS/TSC on native, kvmclock on KVM 2.6.25+", () => {
  const native = createBackend("native").model(ENV);
  const n = call(native, "get_wallclock", [1_200_000_002, 500_000_000]);
  assertEquals(n.notes.map((x) => x.class), ["different-units"]);
  assertEquals(native.apply(n, 2_500_000_000).ret, 1_200_000_002);
  const ns = call(native, "sched_clock", [2_500_000_000]);
  assertEquals(ns.notes.map((x) => x.class), ["different-units"]);
  assertEquals(native.apply(ns, 2_500_000_000).ret, 250_000_000); // TSC cycles at 100 MHz

  const kvm = createBackend("kvm@2.6.25").model(ENV);
  const k = call(kvm, "get_wallclock", [1_200_000_002, 500_000_000]);
  assertEquals([k.nr, k.name, k.args, k.notes], [32, "EXIT_REASON_MSR_WRITE", [0x11, 0, 0], []]);
  assertEquals(kvm.apply(k, 2_500_000_000).ret, 1_200_000_002);
  const ks = call(kvm, "sched_clock", [2_500_000_000]);
  assertEquals([ks.nr, ks.name, ks.notes], [-1, "pvclock_read", []]);
  assertEquals(kvm.apply(ks, 2_500_000_000).ret, 2_500_000_000);
  const k33 = call(createBackend("kvm@2.6.33").model(ENV), "get_wallclock", [0, 0]);
  assertEquals(k33.args[0], 0x4b564d00);
  const old = call(createBackend("kvm@2.6.22").model(ENV), "get_wallclock", [0, 0]);
  assertEquals(old.steps.map((s) => s.name), ["EXIT_REASON_IO_INSTRUCTION", "in"]);
});

Deno.test("cpuid hypervisor leaves: KVM answers, native and old KVM diverge", () => {
  const sig = [0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d];
  const kvm = createBackend("kvm@2.6.25").model(ENV);
  assertEquals(kvm.apply(call(kvm, "cpuid", sig), 0).ret, 0x40000001);
  assertEquals(kvm.apply(call(kvm, "cpuid", [0x40000001, 0, 3, 0, 0, 0]), 0).ret, 3);
  for (const spec of ["native", "kvm@2.6.20"]) {
    const m = createBackend(spec).model(ENV);
    const c = call(m, "cpuid", sig);
    assertEquals(c.notes.map((n) => n.class), ["different-result"], spec);
    assertEquals(m.apply(c, 0).ret, null);
    assertEquals(m.apply(call(m, "cpuid", [1, 0, 0x6f6, 0, 0, 0]), 0).ret, 0x6f6);
  }
});

Deno.test("KVM model names steps with VMX exit reasons", () => {
  const m = createBackend("kvm@2.6.25").model(ENV);
  assertEquals(call(m, "write_cr3", [0x5000]).name, "EXIT_REASON_CR_ACCESS");
  assertEquals(call(m, "halt", []).nr, 12);
  assertEquals([call(m, "irq_disable", []).nr, call(m, "irq_disable", []).name], [-1, "cli"]);
  assertEquals(call(m, "flush_tlb_single", [0]).nr, 14);
  assertEquals(call(createBackend("kvm@2.6.20").model(ENV), "flush_tlb_single", [0]).nr, -1);
  assertEquals(call(m, "io_delay", []).args, [1, 0, 1]);
});

Deno.test("unsupported operations and bad input are reported by name", () => {
  const m = createBackend("native").model(ENV);
  const off = m.translate("shutdown", [0]) as Unsupported;
  assert(isUnsupported(off));
  assertEquals(off.class, "unsupported");
  assert(/ACPI/.test(off.reason));
  assert(/unknown canonical operation "frobnicate"/.test(
    assertThrows(() => m.translate("frobnicate", [])).message,
  ));
  assert(/set_timer takes 2 argument\(s\) \(mode:/.test(
    assertThrows(() => m.translate("set_timer", [1])).message,
  ));
  // The MSR model remembers writes; unknown MSRs answer as recorded.
  m.apply(call(m, "write_msr", [0x174, 0x60, 0]), 0);
  assertEquals(m.apply(call(m, "read_msr", [0x174, 0, 0]), 0).ret, 0x60);
  assertEquals(m.apply(call(m, "read_msr", [0x10, 7, 0]), 0).ret, 7);
});
