/**
 * kvm@6.1 with --smp 2 (docs/abi/kvm.md §8): fixtures/kvm_smp_kernel.S registers a kvmclock
 * and a steal-time structure per CPU and drives KVM_HC_KICK_CPU, KVM_HC_SEND_IPI,
 * KVM_HC_SCHED_YIELD and the KVM_VCPU_FLUSH_TLB protocol; the guest's results, the host's
 * shared-memory updates and the trace are checked, and two recordings compared.
 */

import assert from "node:assert/strict";
import { KVM_PROFILES, kvmVmcall } from "../../backends/kvm/profiles.ts";
import { assembleFixture, recordSmp } from "./fixture_kernel.ts";
import { readTrace } from "../../traces/format/reader.ts";
import { replaySame } from "../../traces/session/replay.ts";

const CLOCK0 = 0xa000, CLOCK1 = 0xa040, STEAL0 = 0xa100, STEAL1 = 0xa140, RESULTS = 0xa200;

Deno.test("kvm@6.1 --smp 2: per-vCPU kvmclock and steal time, PV unhalt, send-IPI, sched yield, TLB flush", async () => {
  const a = recordSmp(await assembleFixture("kvm_smp_kernel"), "kvm@6.1");
  assert.equal(a.r.reason, "debug-exit", `ended with ${a.r.reason}`);
  assert.equal(a.r.exitCode, 0x25);
  const view = a.s.machine.memory.view;
  const res = Array.from({ length: 11 }, (_, i) => view.getUint32(RESULTS + 4 * i, true));
  const [kickAp, kickSelf, ipi2, ipiLogical, ipiAbsent, yieldRet, apKicked, ipis, v0, v1, pre] =
    res;
  assert.equal(kickAp, 0);
  assert.equal(kickSelf, 0);
  assert.equal(apKicked, 1, "the kick ended the AP's halt with IF = 0");
  assert.equal(ipi2, 2, "delivered to APIC 0 and 1");
  assert.equal(ipiLogical, -22 >>> 0, "logical destination: -KVM_EINVAL");
  assert.equal(ipiAbsent, 0, "APIC 5 does not exist");
  assert.equal(yieldRet, 0);
  assert.equal(ipis, 3);
  assert.equal(v1, v0 + 2, "the AP's steal time was rewritten on its wake-up");
  assert.equal(pre, 0, "the host took KVM_VCPU_FLUSH_TLB");

  // kvmclock per vCPU: each CPU's structure is its own, kept by the host with the stable flag.
  const ev = a.events;
  const updates = (vcpu: number, pa: number) =>
    ev.filter((e) => e.name === "pvclock_vcpu_time_info" && e.vcpu === vcpu && e.nr === pa);
  assert.ok(updates(0, CLOCK0).length >= 1 && updates(1, CLOCK1).length >= 1);
  assert.ok(
    !ev.some((e) => e.name === "pvclock_vcpu_time_info" && e.vcpu === 1 && e.nr === CLOCK0),
  );
  for (const pa of [CLOCK0, CLOCK1]) {
    const version = view.getUint32(pa, true);
    assert.ok(version > 0 && version % 2 === 0);
    assert.equal(view.getUint8(pa + 29), 1);
  }
  for (const pa of [STEAL0, STEAL1]) assert.equal(view.getUint32(pa + 8, true) % 2, 0);

  // The hypercalls, their results and the host's markers, on the right vCPU.
  const calls = ev.filter((e) => e.kind === "hypercall").map((e) => [e.vcpu, e.name, e.ret]);
  assert.deepEqual(calls, [
    [0, "KVM_HC_KICK_CPU", 0],
    [0, "KVM_HC_KICK_CPU", 0],
    [0, "KVM_HC_SEND_IPI", 2],
    [0, "KVM_HC_SEND_IPI", -22 >>> 0],
    [0, "KVM_HC_SEND_IPI", 0],
    [0, "KVM_HC_SCHED_YIELD", 0],
    [0, "KVM_HC_SEND_IPI", 1],
  ]);
  assert.ok(ev.filter((e) => e.kind === "hypercall").every((e) => e.op === "vmcall"));
  const unhalts = ev.filter((e) => e.name === "kvm_pv_unhalt");
  assert.deepEqual(unhalts.map((e) => [e.vcpu, e.args[0], e.state]), [
    [1, 1, [["HALTED", 0]]],
    [0, 0, []],
    [0, 1, [["HALTED", 0]]],
  ]);
  const flushes = ev.filter((e) => e.name === "kvm_steal_time" && e.op === "flush_tlb_kernel");
  assert.deepEqual(flushes.map((e) => [e.vcpu, e.nr, e.args[3]]), [[1, STEAL1, 2]]);
  const stealMsrs = ev.filter((e) => e.op === "write_msr" && e.opArgs[0] === 0x4b564d03);
  assert.deepEqual(stealMsrs.map((e) => [e.vcpu, e.opArgs[1]]), [[0, STEAL0 + 1], [1, STEAL1 + 1]]);

  // Same inputs, same bytes; a same-backend replay matches event for event.
  const image = await assembleFixture("kvm_smp_kernel");
  const b = recordSmp(image, "kvm@6.1");
  assert.deepEqual(b.trace, a.trace);
  const t = readTrace(a.trace);
  const replay = replaySame(t.header, t.events, image);
  assert.equal(replay.mismatch, null);
});

Deno.test("kvm@6.1 PV hypercalls are gated by the profile's CPUID features", () => {
  const regs = (
    nr: number,
    a0: number,
    a1: number,
    a2 = 0,
    a3 = 0,
  ) => [nr, a0, a1, a2, a3, 0, 0, 0];
  const enosys = -1000 >>> 0;
  for (const [nr, a] of [[5, regs(5, 0, 1)], [10, regs(10, 1, 0, 0, 0x41)], [11, regs(11, 1, 0)]]) {
    assert.equal(kvmVmcall(KVM_PROFILES["2.6.35"], a as number[]).ret, enosys, `nr ${nr}`);
    assert.notEqual(kvmVmcall(KVM_PROFILES["6.1"], a as number[]).ret, enosys, `nr ${nr}`);
  }
  // The model's SEND_IPI count: every named APIC that accepts.
  const p = KVM_PROFILES["6.1"];
  assert.equal(kvmVmcall(p, regs(10, 0b1011, 1, 0, 0x41)).ret, 4);
  assert.equal(kvmVmcall(p, regs(10, 0b1011, 1, 0, 0x41), (id) => id < 2).ret, 2);
  assert.equal(kvmVmcall(p, regs(10, 1, 0, 0, 0x80041)).ret, -22 >>> 0, "shorthand");
});
