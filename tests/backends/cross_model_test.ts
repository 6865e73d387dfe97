import { assert, assertEquals, assertThrows } from "./assert.ts";
import { createBackend, listBackends } from "../../backends/registry.ts";
import { CANONICAL_OPS } from "../../vocabulary/canonical_ops.ts";
import { CPUID_SIGNATURE } from "../../core/cpu/system.ts";
import { makeEvent, type TraceEvent } from "../../vocabulary/event.ts";
import type { TraceHeader } from "../../traces/format/header.ts";
import { replayCross } from "../../traces/session/replay.ts";
import { CROSS_DIVERGENCE_CLASSES } from "../../vocabulary/divergence.ts";
import {
  type AbiCall,
  type CallModel,
  isUnsupported,
  type Unsupported,
} from "../../backends/model.ts";

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
  vmcall: [1, 0, 0, 0, 0, 0, 0, 0],
  clock_update: [100, 0, 1000],
};

/** Every profile of every backend. */
const SPECS = listBackends().flatMap((b) => b.versions.map((v) => `${b.name}@${v}`));

function call(m: CallModel, op: string, args: number[]): AbiCall {
  const c = m.translate(op, args);
  if (isUnsupported(c)) throw new Error(`${m.backend}: ${op} unsupported: ${c.reason}`);
  return c;
}

for (const spec of SPECS) {
  Deno.test(`${spec}: every canonical op translates and applies (or is named unsupported)`, () => {
    const m = createBackend(spec).model(ENV);
    for (const op of CANONICAL_OPS) {
      const args = SAMPLE[op.name] ?? [];
      assertEquals(args.length, op.args.length, `sample for ${op.name}`);
      const t = m.translate(op.name, args);
      if (isUnsupported(t)) {
        // Only what the ABI cannot express: kvmclock on a profile without it; on lguest a
        // periodic timer and the local APIC (docs/abi/lguest.md); on Xen the local APIC, a
        // periodic timer before 3.1, and VMCALL, a trap (docs/abi/xen.md §9).
        const allowed = spec.startsWith("lguest@")
          ? ["clock_update", "set_timer", "apic_write", "apic_read"]
          : spec.startsWith("xen@")
          ? ["clock_update", "apic_write", "apic_read", "vmcall"].concat(
            ["xen@3.1", "xen@3.2"].includes(spec) ? [] : ["set_timer"],
          )
          : ["clock_update"];
        assert(allowed.includes(t.op), `${spec}: ${t.op} unsupported: ${t.reason}`);
        assertEquals(t.class, t.op === "vmcall" ? "trap" : "unsupported", spec);
        continue;
      }
      const c = t;
      assert(c.steps.length >= 1, op.name);
      assertEquals([c.nr, c.name], [c.steps.at(-1)!.nr, c.steps.at(-1)!.name]);
      for (const n of c.notes) assert(CROSS_DIVERGENCE_CLASSES.includes(n.class), n.class);
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
  assertEquals(k33.args[0], 0x11);
  const k35 = call(createBackend("kvm@2.6.35").model(ENV), "get_wallclock", [0, 0]);
  assertEquals(k35.args[0], 0x4b564d00);
  const old = call(createBackend("kvm@2.6.22").model(ENV), "get_wallclock", [0, 0]);
  assertEquals(old.steps.map((s) => s.name), ["EXIT_REASON_IO_INSTRUCTION", "in"]);
});

Deno.test("cpuid: EAX per profile; hypervisor leaves exist only on KVM >= 2.6.25", () => {
  const eax = (spec: string, leaf: number) => {
    const m = createBackend(spec).model(ENV);
    const c = call(m, "cpuid", [leaf, 0, 0, 0, 0, 0]);
    assertEquals(c.notes, [], spec); // the answers themselves are compared
    return m.apply(c, 0).ret;
  };
  // Bare hardware: beyond the highest basic leaf, that leaf's data (SDM CPUID).
  for (const spec of ["native", "kvm@2.6.20", "kvm@2.6.22"]) {
    assertEquals(eax(spec, 0x40000000), CPUID_SIGNATURE, spec);
    assertEquals(eax(spec, 0x40000001), CPUID_SIGNATURE, spec);
  }
  // KVM: max leaf 0 ("0x40000001 only", Documentation/kvm/cpuid.txt), features per profile.
  assertEquals(eax("kvm@2.6.25", 0x40000000), 0);
  assertEquals(eax("kvm@2.6.25", 0x40000001), 0b11);
  assertEquals(eax("kvm@2.6.33", 0x40000001), 0b11);
  assertEquals(eax("kvm@2.6.35", 0x40000001), 0b1011);
  // Basic leaves are the CPU's on every backend.
  for (const spec of SPECS) {
    assertEquals(eax(spec, 0), 1, spec);
    assertEquals(eax(spec, 1), CPUID_SIGNATURE, spec);
  }
});

Deno.test("write_msr of kvmclock MSRs: #GP(0) where the MSR does not exist", () => {
  const cases: Array<[string, number, boolean]> = [
    ["native", 0x12, false],
    ["native", 0x11, false],
    ["native", 0x4b564d01, false],
    ["kvm@2.6.20", 0x12, false],
    ["kvm@2.6.22", 0x12, false],
    ["kvm@2.6.25", 0x12, true],
    ["kvm@2.6.25", 0x11, true],
    ["kvm@2.6.25", 0x4b564d01, false],
    ["kvm@2.6.33", 0x4b564d00, false],
    ["kvm@2.6.35", 0x12, true],
    ["kvm@2.6.35", 0x4b564d01, true],
    ["kvm@2.6.35", 0x4b564d02, false], // ASYNC_PF_EN: later still
  ];
  for (const [spec, msr, ok] of cases) {
    const m = createBackend(spec).model(ENV);
    const c = call(m, "write_msr", [msr, 0x5001, 0]);
    const label = `${spec} 0x${msr.toString(16)}`;
    if (ok) {
      assertEquals(c.notes, [], label);
      assertEquals(c.steps.map((s) => s.name), [
        spec === "native" ? "wrmsr" : "EXIT_REASON_MSR_WRITE",
      ]);
    } else {
      assertEquals(c.notes.map((n) => n.class), ["trap"], label);
      assert(/raises #GP\(0\)/.test(c.notes[0].reason), c.notes[0].reason);
      assertEquals([c.nr, c.name], [13, "general_protection"], label);
    }
    m.apply(c, 0);
    // A faulting write changes nothing; a read of it faults too and returns nothing.
    const r = m.apply(call(m, "read_msr", [msr, 0x777, 0]), 0);
    assertEquals(r.ret, ok ? 0x5001 : null, label);
  }
  // Identical wording wherever the behaviour is identical, so those pairs do not diverge.
  const gp = (spec: string) =>
    call(createBackend(spec).model(ENV), "write_msr", [0x12, 1, 0]).notes[0].reason;
  assertEquals(gp("native"), gp("kvm@2.6.20"));
  assertEquals(gp("native"), gp("kvm@2.6.22"));
});

Deno.test("read_msr: kvmclock MSRs read 0 before a write on KVM; CPU MSRs everywhere", () => {
  const kvm = createBackend("kvm@2.6.25").model(ENV);
  assertEquals(kvm.apply(call(kvm, "read_msr", [0x12, 0x999, 0]), 0).ret, 0);
  const native = createBackend("native").model(ENV);
  const gp = call(native, "read_msr", [0x12, 0, 0]);
  assertEquals([gp.name, gp.notes[0].class], ["general_protection", "trap"]);
  assert(/RDMSR of MSR 0x12 raises #GP\(0\)/.test(gp.notes[0].reason));
  for (const spec of SPECS) {
    const m = createBackend(spec).model(ENV);
    for (const msr of [0x10, 0x1b, 0x174, 0x175, 0x176]) {
      assertEquals(call(m, "read_msr", [msr, 5, 0]).notes, [], `${spec} ${msr}`);
    }
  }
});

Deno.test("MSR_KVM_API_MAGIC: only kvm@2.6.22 has it, and only for a page-aligned GPA", () => {
  const magic = 0x87655678;
  const k22 = createBackend("kvm@2.6.22").model(ENV);
  assertEquals(call(k22, "write_msr", [magic, 0x3000, 0]).notes, []);
  const bad = call(k22, "write_msr", [magic, 0x3004, 0]);
  assertEquals(bad.notes.map((n) => n.class), ["trap"]);
  assert(/page aligned/.test(bad.notes[0].reason));
  assertEquals(call(k22, "read_msr", [magic, 0, 0]).name, "general_protection");
  for (const spec of ["native", "kvm@2.6.20", "kvm@2.6.25"]) {
    const c = call(createBackend(spec).model(ENV), "write_msr", [magic, 0x3000, 0]);
    assertEquals(c.name, "general_protection", spec);
  }
});

Deno.test("vmcall: #UD on native, VM stops on 2.6.20, EBX-numbered on 2.6.22, -1000/0/-1 later", () => {
  // EAX, EBX, ECX, EDX, ESI, EDI, EBP, CPL
  const poll = [1, 7, 0, 0, 0, 0, 0, 0];
  const unknown = [0x7fff, 7, 0, 0, 0, 0, 0, 0];
  const run = (spec: string, regs: number[]) => {
    const m = createBackend(spec).model(ENV);
    const c = call(m, "vmcall", regs);
    return { c, ret: m.apply(c, 0).ret };
  };
  const n = run("native", poll);
  assertEquals([n.c.name, n.c.nr, n.c.notes.map((x) => x.class), n.ret], [
    "invalid_op",
    6,
    ["trap"],
    null,
  ]);
  assert(/#UD/.test(n.c.notes[0].reason));
  const k20 = run("kvm@2.6.20", poll);
  assertEquals([k20.c.name, k20.c.args, k20.c.notes.map((x) => x.class), k20.ret], [
    "KVM_EXIT_UNKNOWN",
    [18],
    ["fatal"],
    null,
  ]);
  const k22 = run("kvm@2.6.22", poll);
  assertEquals([k22.c.nr, k22.c.name, k22.c.notes, k22.ret], [
    7,
    "KVM_EXIT_HYPERCALL",
    [],
    0xffffffff,
  ]);
  for (const v of ["2.6.25", "2.6.33", "2.6.35"]) {
    assertEquals(run(`kvm@${v}`, poll).ret, 0, v);
    assertEquals(run(`kvm@${v}`, unknown).ret, 0xfffffc18, v); // -KVM_ENOSYS
    assertEquals(run(`kvm@${v}`, poll).c.name, "KVM_HC_VAPIC_POLL_IRQ", v);
  }
  const ring3 = [1, 0, 0, 0, 0, 0, 0, 3];
  assertEquals(run("kvm@2.6.25", ring3).ret, 0);
  assertEquals(run("kvm@2.6.33", ring3).ret, 0xffffffff); // -KVM_EPERM
});

Deno.test("clock_update: only kvmclock profiles publish one, at the registered address", () => {
  for (const spec of ["native", "kvm@2.6.20", "kvm@2.6.22"]) {
    const t = createBackend(spec).model(ENV).translate("clock_update", [1, 0, 10]);
    assert(isUnsupported(t), spec);
    assertEquals(t.class, "unsupported");
  }
  const m = createBackend("kvm@2.6.25").model(ENV);
  assertEquals(call(m, "clock_update", [1, 0, 10]).nr, -1); // nothing registered yet
  m.apply(call(m, "write_msr", [0x12, 0x6041, 0]), 0);
  const c = call(m, "clock_update", [1, 0, 10]);
  assertEquals([c.nr, c.name], [0x6040, "pvclock_vcpu_time_info"]);
});

/** A header for synthetic cross replays. */
function header(backend: string, profile: string): TraceHeader {
  return {
    toolVersion: "test",
    guest: { name: "synthetic", sha256: "0".repeat(64), cmdline: "" },
    backend: { name: backend, profile },
    machine: {
      memMiB: 16,
      ips: 100_000_000,
      tscHz: ENV.tscHz,
      apicHz: 100_000_000,
      epoch: ENV.epoch,
      serialInput: "",
    },
    cpu: { cpuid: [] },
    seed: 0,
    quirks: [],
  };
}

function ev(seq: number, op: string, opArgs: number[], name = op): TraceEvent {
  return { ...makeEvent({ icount: seq * 10, kind: "exit", name, eip: 0, op, opArgs }), seq };
}

Deno.test("cross replay kvm@2.6.25 -> native/kvm@2.6.20/kvm@2.6.35: each difference classified", () => {
  const events = [
    ev(0, "cpuid", [0x40000000, 0, 0, 0x4b4d564b, 0x564b4d56, 0x4d]),
    ev(1, "write_msr", [0x12, 0x6041, 0]),
    ev(2, "clock_update", [100, 0, 1000], "pvclock_vcpu_time_info"),
    ev(3, "read_msr", [0x12, 0x6041, 0]),
    ev(4, "vmcall", [1, 0, 0, 0, 0, 0, 0, 0]),
    ev(5, "write_msr", [0x174, 0x60, 0]),
  ];
  const classes = (target: string) =>
    replayCross(header("kvm", "2.6.25"), events, target).divergences.map((d) => [d.seq, d.class]);
  assertEquals(classes("native"), [
    [0, "different-result"],
    [1, "trap"],
    [2, "unsupported"],
    [3, "trap"],
    [4, "trap"],
  ]);
  assertEquals(classes("kvm@2.6.20"), [
    [0, "different-result"],
    [1, "trap"],
    [2, "unsupported"],
    [3, "trap"],
    [4, "fatal"],
  ]);
  assertEquals(classes("kvm@2.6.22"), [
    [0, "different-result"],
    [1, "trap"],
    [2, "unsupported"],
    [3, "trap"],
    [4, "different-result"], // EBX (0) read as the number, -KVM_EINVAL
  ]);
  assertEquals(classes("kvm@2.6.35"), []);
  // kvm@2.6.35's CLOCKSOURCE2 MSR traps on 2.6.25 and 2.6.33.
  const newMsr = [ev(0, "write_msr", [0x4b564d01, 0x6041, 0])];
  for (const target of ["kvm@2.6.25", "kvm@2.6.33"]) {
    const r = replayCross(header("kvm", "2.6.35"), newMsr, target);
    assertEquals(r.divergences.map((d) => [d.class, d.target?.name]), [[
      "trap",
      "general_protection",
    ]]);
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
