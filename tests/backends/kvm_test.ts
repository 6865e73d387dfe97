import { assert, assertEquals } from "./assert.ts";
import { ExitKind, TrapKind } from "../../core/cpu/hooks.ts";
import { ops, rig } from "./fake_machine.ts";
import { scaleDelta, timeScale } from "../../backends/common/pvclock.ts";
import { KVM_PROFILES, kvmMsrFault } from "../../backends/kvm/profiles.ts";

const EAX = 0, EBX = 3;

function cpuid(spec: string, leaf: number, native = [0x11, 0x22, 0x33, 0x44]): number[] {
  const r = rig(spec);
  const out = Int32Array.from(native);
  r.backend.cpuid(leaf, 0, out);
  return [...out].map((x) => x >>> 0);
}

Deno.test("KVM CPUID: signature and features per profile", () => {
  // "KVMKVMKVM\0\0\0" in EBX ECX EDX (docs/abi/kvm.md §1); EAX 0 = "0x40000001 only" on hosts of
  // this era (Documentation/kvm/cpuid.txt).
  const sig = [0, 0x4b4d564b, 0x564b4d56, 0x4d];
  for (const v of ["2.6.25", "2.6.33", "2.6.35"]) assertEquals(cpuid(`kvm@${v}`, 0x40000000), sig);
  // CLOCKSOURCE | NOP_IO_DELAY; 2.6.35 adds CLOCKSOURCE2 (bit 3) (docs/abi/kvm.md §4).
  assertEquals(cpuid("kvm@2.6.25", 0x40000001), [0b11, 0, 0, 0]);
  assertEquals(cpuid("kvm@2.6.33", 0x40000001), [0b11, 0, 0, 0]);
  assertEquals(cpuid("kvm@2.6.35", 0x40000001), [0b1011, 0, 0, 0]);
  // Old profiles leave the CPU's native answer alone.
  assertEquals(cpuid("kvm@2.6.20", 0x40000000), [0x11, 0x22, 0x33, 0x44]);
  assertEquals(cpuid("kvm@2.6.22", 0x40000001), [0x11, 0x22, 0x33, 0x44]);
  assertEquals(cpuid("native", 0x40000000), [0x11, 0x22, 0x33, 0x44]);
  // Basic leaves are never touched.
  assertEquals(cpuid("kvm@2.6.25", 1), [0x11, 0x22, 0x33, 0x44]);
});

Deno.test("KVM vmcall (2.6.25 ABI): VAPIC_POLL_IRQ returns 0, unknown returns -1000", () => {
  const r = rig("kvm@2.6.25");
  r.cpu.regs.set([1, 0x22, 0x33, 0x11, 0, 0, 0x44, 0x55]);
  assert(r.backend.hypercall("vmcall"));
  assertEquals(r.cpu.regs[EAX], 0);
  r.cpu.regs[EAX] = 77;
  assert(r.backend.hypercall("vmcall"));
  assertEquals(r.cpu.regs[EAX] >>> 0, 0xfffffc18); // -1000
  assertEquals(r.cpu.regs[EBX], 0x11); // no other register clobbered
  const [poll, unknown] = r.events;
  assertEquals(
    [poll.kind, poll.nr, poll.name, poll.args, poll.ret],
    ["hypercall", 1, "KVM_HC_VAPIC_POLL_IRQ", [0x11, 0x22, 0x33, 0x44], 0],
  );
  assertEquals([unknown.nr, unknown.name, unknown.ret], [77, "unknown", 0xfffffc18]);
  // The canonical op carries the registers as the guest set them, and the CPL.
  assertEquals([poll.op, poll.opArgs], ["vmcall", [1, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0]]);
  assertEquals(unknown.opArgs[0], 77);
});

Deno.test("KVM CPL check: 2.6.33 returns -KVM_EPERM from ring 3, 2.6.25 does not", () => {
  for (const [spec, expect] of [["kvm@2.6.33", -1], ["kvm@2.6.25", 0]] as const) {
    const r = rig(spec);
    r.cpu.cpl = 3;
    r.cpu.regs[EAX] = 1;
    r.backend.hypercall("vmcall");
    assertEquals(r.cpu.regs[EAX], expect, spec);
  }
});

Deno.test("KVM 2.6.22 experimental ABI: nr in EBX, exit to userspace, EAX = -1", () => {
  const r = rig("kvm@2.6.22");
  r.cpu.regs.set([10, 11, 12, 7, 0, 15, 16, 17]);
  assert(r.backend.hypercall("vmcall"));
  assertEquals(r.cpu.regs[EAX], -1);
  const e = r.events[0];
  assertEquals([e.nr, e.name, e.args, e.ret], [
    7,
    "KVM_EXIT_HYPERCALL",
    [10, 11, 12, 16, 17, 15],
    0xffffffff,
  ]);
  // No VMMCALL emulation before the PV ABI: #UD.
  assertEquals(r.backend.hypercall("vmmcall"), false);
});

Deno.test("KVM 2.6.20: vmcall has no handler, exits as KVM_EXIT_UNKNOWN", () => {
  // That the VM then stops is checked on a real machine in tests/machine/run_control_test.ts.
  const r = rig("kvm@2.6.20");
  assert(r.backend.hypercall("vmcall"));
  const e = r.events[0];
  assertEquals([e.kind, e.nr, e.name, e.args, e.ret, e.op], [
    "exit",
    0,
    "KVM_EXIT_UNKNOWN",
    [18],
    null,
    "vmcall",
  ]);
});

Deno.test("native: vmcall is not a hypercall (the CPU raises #UD)", () => {
  const r = rig("native");
  assertEquals(r.backend.hypercall("vmcall"), false);
  assertEquals(r.events.length, 0);
});

Deno.test("KVM 2.6.25 rewrites VMMCALL to VMCALL in guest memory and handles it", () => {
  const r = rig("kvm@2.6.25");
  r.cpu.eip = 0x2000;
  r.memory.load(0x2000, Uint8Array.of(0x0f, 0x01, 0xd9));
  r.cpu.regs[EAX] = 1;
  assert(r.backend.hypercall("vmmcall"));
  assertEquals([...r.memory.ram.subarray(0x2000, 0x2003)], [0x0f, 0x01, 0xc1]);
  assertEquals(r.cpu.regs[EAX], 0);
});

Deno.test("KVM 2.6.22 MSR_KVM_API_MAGIC registers kvm_vcpu_para_state and patches VMCALL", () => {
  const r = rig("kvm@2.6.22");
  const v = r.memory.view;
  v.setUint32(0x3000, 1, true); // guest_version
  v.setUint32(0x3010, 0x4000, true); // hypercall_gpa
  assert(r.backend.wrmsr(0x87655678, 0x3000, 0));
  r.backend.onExit(ExitKind.wrmsr, 0x87655678, 0x3000, 0);
  assertEquals(v.getUint32(0x3004, true), 1); // host_version
  assertEquals(v.getUint32(0x300c, true), 0); // ret
  assertEquals([...r.memory.ram.subarray(0x4000, 0x4003)], [0x0f, 0x01, 0xc1]);
  assertEquals(r.events.map((e) => e.name), ["EXIT_REASON_MSR_WRITE", "kvm_vcpu_para_state"]);
  // Newer guest version: ret = -KVM_EINVAL; unaligned: not handled (#GP).
  v.setUint32(0x5000, 2, true);
  assert(r.backend.wrmsr(0x87655678, 0x5000, 0));
  assertEquals(v.getUint32(0x500c, true), 0xffffffff);
  assertEquals(r.backend.wrmsr(0x87655678, 0x5004, 0), false);
  // Other profiles do not know the MSR.
  assertEquals(rig("kvm@2.6.25").backend.wrmsr(0x87655678, 0x3000, 0), false);
});

Deno.test("pvclock time scale matches the docs/abi/kvm.md §5 formula for several TSC rates", () => {
  for (const hz of [1_000_000_000, 100_000_000, 2_400_000_000, 1_193_182, 33_333_333, 3e9 + 7]) {
    const s = timeScale(hz);
    assert(s.mul >= 0x80000000 && s.mul <= 0xffffffff, `mul ${s.mul} normalised for ${hz}`);
    // One second of TSC ticks converts to 1e9 ns within the 32.32 truncation error.
    const ns = scaleDelta(BigInt(hz), s);
    const err = Number(1_000_000_000n - ns);
    assert(err >= 0 && err <= Math.ceil(hz / 2 ** 31) + 1, `${hz} Hz: ${ns} ns`);
    // CPU Hz = ((10^9 << 32) / mul) shifted by tsc_shift (docs/abi/kvm.md §5).
    const back = Number((1_000_000_000n << 32n) / BigInt(s.mul));
    const hzBack = s.shift >= 0 ? back / 2 ** s.shift : back * 2 ** -s.shift;
    assert(Math.abs(hzBack - hz) / hz < 1e-8, `${hz} Hz round-trips to ${hzBack}`);
  }
  assertEquals(timeScale(1_000_000_000), { mul: 0x80000000, shift: 1 });
  assertEquals(timeScale(100_000_000), { mul: 0xa0000000, shift: 4 });
});

Deno.test("kvmclock: system-time MSR fills pvclock_vcpu_time_info byte-exact", () => {
  const r = rig("kvm@2.6.25");
  r.clock.icount = 1_000_000; // 10 ms at 100 MIPS; TSC = icount at 100 MHz
  assert(r.backend.wrmsr(0x12, 0x6001, 0));
  r.backend.onExit(ExitKind.wrmsr, 0x12, 0x6001, 0);
  const expected = new Uint8Array(32);
  const v = new DataView(expected.buffer);
  v.setUint32(0, 2, true); // version: even after the update
  v.setBigUint64(8, 1_000_000n, true); // tsc_timestamp
  v.setBigUint64(16, 10_000_000n, true); // system_time (ns)
  v.setUint32(24, 0xa0000000, true); // 100 MHz: ns = (delta << 4) * 0xa0000000 >> 32
  v.setInt8(28, 4);
  assertEquals([...r.memory.ram.subarray(0x6000, 0x6020)], [...expected]);
  assertEquals(r.events.map((e) => e.name), ["EXIT_REASON_MSR_WRITE", "pvclock_vcpu_time_info"]);
  assertEquals(r.events[1].args, [2, 1_000_000, 0, 10_000_000, 0, 0xa0000000, 4, 0]);
  assertEquals([r.events[1].op, r.events[1].opArgs], ["clock_update", [1_000_000, 0, 10_000_000]]);
  // The guest-side formula reproduces the virtual clock exactly at a later TSC.
  const s = { mul: 0xa0000000, shift: 4 };
  assertEquals(10_000_000n + scaleDelta(3_000_000n - 1_000_000n, s), 30_000_000n);
  // An interrupt delivery refreshes it: version 4, new timestamps.
  r.clock.icount = 3_000_000;
  r.backend.onTrap(TrapKind.interrupt, 0x20, 0, 0x1234, 0);
  assertEquals(v.getUint32(0, true), 2); // (expected buffer untouched)
  const dv = r.memory.view;
  assertEquals(dv.getUint32(0x6000, true), 4);
  assertEquals(dv.getBigUint64(0x6008, true), 3_000_000n);
  assertEquals(dv.getBigUint64(0x6010, true), 30_000_000n);
  assertEquals(r.backend.rdmsr(0x12, new Int32Array(2)), true);
  // Disabling stops updates; reading returns the value written.
  r.backend.wrmsr(0x12, 0x6000, 0);
  r.clock.icount = 5_000_000;
  r.backend.onTrap(TrapKind.interrupt, 0x20, 0, 0x1234, 0);
  assertEquals(dv.getUint32(0x6000, true), 4);
  const out = new Int32Array(2);
  r.backend.rdmsr(0x12, out);
  assertEquals([...out], [0x6000, 0]);
});

Deno.test("kvmclock with a 2.4 GHz TSC: scaled delta equals elapsed virtual time", () => {
  const r = rig("kvm@2.6.35", {}, 2_400_000_000);
  r.clock.icount = 12_345;
  assert(r.backend.wrmsr(0x4b564d01, 0x7001, 0)); // CLOCKSOURCE2 MSR
  const dv = r.memory.view;
  const s = { mul: dv.getUint32(0x7018, true), shift: dv.getInt8(0x701c) };
  assertEquals(s, timeScale(2_400_000_000));
  const tsc0 = dv.getBigUint64(0x7008, true);
  assertEquals(tsc0, 296_280n); // 12345 insns * 24 ticks
  assertEquals(dv.getBigUint64(0x7010, true), 123_450n);
  // 1 virtual second later: the guest computes within 1 ns.
  const later = tsc0 + 2_400_000_000n;
  const now = dv.getBigUint64(0x7010, true) + scaleDelta(later - tsc0, s);
  assert(now >= 1_000_123_449n && now <= 1_000_123_450n, `${now}`);
  // 2.6.25 and 2.6.33 do not know the new MSRs.
  assertEquals(rig("kvm@2.6.25").backend.wrmsr(0x4b564d01, 0x7001, 0), false);
  assertEquals(rig("kvm@2.6.33").backend.wrmsr(0x4b564d01, 0x7001, 0), false);
});

Deno.test("kvmclock wall clock: epoch at system time 0, host version counter +2", () => {
  const r = rig("kvm@2.6.25", { epoch: 1_200_000_000 });
  // KVM writes its own counter (kvm_write_wall_clock), whatever the guest left there.
  r.memory.view.setUint32(0x8000, 5, true);
  r.clock.icount = 250_000_000; // 2.5 s
  assert(r.backend.wrmsr(0x11, 0x8000, 0));
  r.backend.onExit(ExitKind.wrmsr, 0x11, 0x8000, 0);
  const dv = r.memory.view;
  assertEquals(
    [dv.getUint32(0x8000, true), dv.getUint32(0x8004, true), dv.getUint32(0x8008, true)],
    [2, 1_200_000_000, 0],
  );
  const [exit, marker] = r.events;
  // The MSR write is the guest's get_wallclock: current wall time in canonical units.
  assertEquals([exit.op, exit.opArgs], ["get_wallclock", [1_200_000_002, 500_000_000]]);
  assertEquals([marker.kind, marker.name, marker.args], ["marker", "pvclock_wall_clock", [
    2,
    1_200_000_000,
    0,
  ]]);
  assertEquals(ops(r.events), ["get_wallclock"]);
  // A second registration (another structure) continues the host's counter.
  assert(r.backend.wrmsr(0x11, 0x9000, 0));
  assertEquals(dv.getUint32(0x9000, true), 4);
});

Deno.test("KVM exits are named by VMX basic exit reason; non-exiting instructions get nr -1", () => {
  const r = rig("kvm@2.6.25");
  r.backend.onExit(ExitKind.cpuid, 0, 0, 0);
  r.backend.onExit(ExitKind.crWrite, 3, 0x5000, 0);
  r.backend.onExit(ExitKind.crRead, 0, 0x11, 0);
  r.backend.onExit(ExitKind.cli, 0, 0, 0);
  r.backend.onExit(ExitKind.shutdown, 8, 0, 0);
  r.io.write(0x80, 1, 0);
  assertEquals(
    r.events.map((e) => [e.nr, e.name, e.args]),
    [
      [10, "EXIT_REASON_CPUID", [0, 0]],
      [28, "EXIT_REASON_CR_ACCESS", [3, 0, 0x5000]],
      [-1, "crRead", [0, 0x11]],
      [-1, "cli", []],
      [2, "EXIT_REASON_TRIPLE_FAULT", [8, 8]],
      [0x80, "EXIT_REASON_IO_INSTRUCTION", [1, 0, 1]],
    ],
  );
  // 2.6.20 has no INVLPG exit.
  const old = rig("kvm@2.6.20");
  old.backend.onExit(ExitKind.invlpg, 0xc0001000, 0, 0);
  assertEquals([old.events[0].nr, old.events[0].op], [-1, "flush_tlb_single"]);
  assertEquals(r.events.map((e) => e.op), [
    "cpuid",
    "write_cr3",
    "read_cr0",
    "irq_disable",
    "shutdown",
    "io_delay",
  ]);
});

Deno.test("kvm@6.1: hypervisor bit, signature leaf names 0x40000001, the modelled features", () => {
  // CPUID.1:ECX[31] is what a current guest checks first (docs/abi/kvm.md §1); the rest of
  // leaf 1 is the CPU's.
  assertEquals(cpuid("kvm@6.1", 1), [0x11, 0x22, (0x33 | 0x8000_0000) >>> 0, 0x44]);
  assertEquals(cpuid("kvm@6.1", 0x40000000), [0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d]);
  // CLOCKSOURCE | NOP_IO_DELAY | CLOCKSOURCE2 | STEAL_TIME | PV_EOI | PV_UNHALT |
  // PV_TLB_FLUSH | PV_SEND_IPI | PV_SCHED_YIELD | CLOCKSOURCE_STABLE_BIT (bit 24); nothing
  // unmodelled (async PF, poll control) is advertised (docs/abi/kvm.md §4, §8, §9).
  assertEquals(cpuid("kvm@6.1", 0x40000001), [0x01006efb, 0, 0, 0]);
  assertEquals(cpuid("kvm@2.6.35", 0x40000001), [0xb, 0, 0, 0]);
  // Older profiles leave leaf 1 alone.
  assertEquals(cpuid("kvm@2.6.35", 1), [0x11, 0x22, 0x33, 0x44]);
});

Deno.test("kvm@6.1: kvmclock flags carry PVCLOCK_TSC_STABLE_BIT; poll control #GPs", () => {
  const r = rig("kvm@6.1");
  r.clock.icount = 1_000_000;
  assert(r.backend.wrmsr(0x4b564d01, 0x6001, 0));
  r.backend.onExit(ExitKind.wrmsr, 0x4b564d01, 0x6001, 0);
  assertEquals(r.memory.view.getUint8(0x6000 + 29), 1); // flags
  assertEquals(r.events[1].args.at(-1), 1);
  // The originals stay accepted.
  assert(r.backend.wrmsr(0x12, 0x7001, 0));
  // POLL_CONTROL is not handled: the CPU raises #GP; async PF (enable only, no interrupt
  // delivery: accepted, docs/abi/kvm.md §10) and steal time are.
  assertEquals(r.backend.wrmsr(0x4b564d05, 1, 0), false);
  assert(r.backend.wrmsr(0x4b564d02, 0x9001, 0));
  // Steal time: bits 1-5 reserved (#GP); bit 0 enables and the host bumps the version by 2.
  assertEquals(r.backend.wrmsr(0x4b564d03, 0x8002, 0), false);
  r.memory.view.setUint32(0x8000 + 8, 5, true); // odd junk: made even first
  assert(r.backend.wrmsr(0x4b564d03, 0x8001, 0));
  assertEquals(r.memory.view.getUint32(0x8000 + 8, true), 8);
  // kvm@2.6.35 has no steal time.
  assertEquals(rig("kvm@2.6.35").backend.wrmsr(0x4b564d03, 0x8001, 0), false);
});

Deno.test("kvm@6.1 (EPT): CR3 moves and INVLPG do not exit; CR0/CR4 writes do", () => {
  const r = rig("kvm@6.1");
  r.backend.onExit(ExitKind.crWrite, 3, 0x5000, 0);
  r.backend.onExit(ExitKind.crRead, 3, 0x5000, 0);
  r.backend.onExit(ExitKind.invlpg, 0xc0001000, 0, 0);
  r.backend.onExit(ExitKind.crWrite, 0, 0x80050033, 0);
  assertEquals(r.events.map((e) => [e.nr, e.name, e.op]), [
    [-1, "crWrite", "write_cr3"],
    [-1, "crRead", "read_cr3"],
    [-1, "invlpg", "flush_tlb_single"],
    [28, "EXIT_REASON_CR_ACCESS", "write_cr0"],
  ]);
  const shadow = rig("kvm@2.6.35");
  shadow.backend.onExit(ExitKind.crWrite, 3, 0x5000, 0);
  assertEquals(shadow.events[0].nr, 28);
});

Deno.test("--smp: the halted flag and CR3/CR4 decoding are per vCPU (docs/smp.md §3)", () => {
  const r = rig("kvm@2.6.25");
  const b = r.backend;
  b.onExit(ExitKind.crWrite, 3, 0x5000, 0);
  b.onExit(ExitKind.hlt, 0, 0, 0);
  b.setVcpu(1);
  // vCPU 1 starts from power-on CR3 = 0: the same value is a new page directory there.
  b.onExit(ExitKind.crWrite, 3, 0x5000, 0);
  // vCPU 0's halt is not ended by vCPU 1's interrupt.
  b.onTrap(TrapKind.interrupt, 0x30, 0, 0x1000, 0);
  b.setVcpu(0);
  b.onExit(ExitKind.crWrite, 3, 0x5000, 0);
  b.onTrap(TrapKind.interrupt, 0x30, 0, 0x1000, 0);
  b.flush();
  assertEquals(r.events.map((e) => [e.vcpu, e.op ?? e.kind, e.state]), [
    [0, "write_cr3", [["CR3", 0x5000]]],
    [0, "halt", [["HALTED", 1]]],
    [1, "write_cr3", [["CR3", 0x5000]]],
    [1, "interrupt", []],
    [0, "flush_tlb_user", [["CR3", 0x5000]]],
    [0, "interrupt", [["HALTED", 0]]],
  ]);
});

Deno.test("MSR_KVM_PV_EOI_EN (docs/abi/kvm.md §9): #GP rules; older profiles do not have it", () => {
  const r = rig("kvm@6.1");
  const out = new Int32Array(2);
  const MSR = 0x4b564d04;
  // Unaligned (bit 1 set), enabled or not: #GP. Enabling above RAM (the rig has 1 MiB, and
  // EDX names GPAs from 4 GiB): #GP. Disabling takes any aligned value.
  for (const [lo, hi] of [[0x6002, 0], [0x6003, 0], [0x10_0001, 0], [0x6001, 1]]) {
    assertEquals(r.backend.wrmsr(MSR, lo, hi), false, `0x${hi.toString(16)}:${lo.toString(16)}`);
  }
  assert(r.backend.rdmsr(MSR, out));
  assertEquals([...out], [0, 0], "a refused write leaves the MSR as it was");
  assert(r.backend.wrmsr(MSR, 0x6000, 1));
  assert(r.backend.wrmsr(MSR, 0x6005, 0));
  assert(r.backend.rdmsr(MSR, out));
  assertEquals([...out], [0x6005, 0]);
  // The model knows the same rule (the RAM check needs the machine).
  const fault = kvmMsrFault(KVM_PROFILES["6.1"]);
  assert(fault(true, MSR, 0x6003, 0)?.includes("4-byte aligned"));
  assertEquals(fault(true, MSR, 0x6001, 0), null);
  assertEquals(fault(false, MSR, 0, 0), null);
  // Without PV_EOI in CPUID the MSR is unknown: #GP on write and read.
  for (const spec of ["kvm@2.6.35", "kvm@2.6.25"]) {
    const old = rig(spec);
    assertEquals(old.backend.wrmsr(MSR, 0x6001, 0), false, spec);
    assertEquals(old.backend.rdmsr(MSR, out), false, spec);
    assert(kvmMsrFault(KVM_PROFILES[spec.slice(4)])(true, MSR, 0x6001, 0)?.includes("#GP"));
  }
});

Deno.test("INIT ends the halt a backend recorded for that vCPU (docs/smp.md §3)", () => {
  for (const init of [false, true]) {
    const r = rig("kvm@2.6.25");
    const b = r.backend;
    b.setVcpu(1);
    b.onExit(ExitKind.hlt, 0, 0, 0);
    if (init) b.resetVcpu(1);
    b.onTrap(TrapKind.interrupt, 0x30, 0, 0x1000, 0);
    b.flush();
    const irq = r.events.find((e) => e.kind === "interrupt")!;
    assertEquals(irq.state, init ? [] : [["HALTED", 0]], `init ${init}`);
  }
});
