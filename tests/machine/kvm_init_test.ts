/**
 * INIT on kvm@6.1 --smp 2 (docs/abi/kvm.md §8, §9; docs/smp.md §3): fixtures/kvm_init_kernel.S
 * INITs an AP that had halted, then one whose `pv_unhalted` a kick had set and which had a PV
 * EOI word registered. The halt recorded before the first INIT ends with it (the AP's next
 * interrupt wakes nothing), and INIT clears `pv_unhalted` and the PV EOI, kvmclock, steal-time
 * and async-PF registrations, as KVM's `kvm_vcpu_reset` does for an INIT event.
 */

import assert from "node:assert/strict";
import { assembleFixture, recordSmp } from "./fixture_kernel.ts";

const RESULTS = 0xa200;

Deno.test("kvm@6.1 --smp 2: INIT ends a recorded halt, clears pv_unhalted and the PV MSRs", async () => {
  const a = recordSmp(await assembleFixture("kvm_init_kernel"), "kvm@6.1");
  assert.equal(a.r.reason, "debug-exit", `ended with ${a.r.reason}`);
  assert.equal(a.r.exitCode, 0x29);
  const view = a.s.machine.memory.view;
  const [boots, ipis, haltReturned, pvEoiMsr, kick, clock, steal, apfEn, apfInt] = Array.from(
    { length: 9 },
    (_, i) => view.getUint32(RESULTS + 4 * i, true),
  );
  assert.equal(boots, 3);
  assert.equal(ipis, 1);
  assert.equal(kick, 0);
  assert.equal(haltReturned, 0, "the kick's pv_unhalted did not survive INIT");
  assert.equal(pvEoiMsr, 0, "INIT cleared MSR_KVM_PV_EOI_EN");
  assert.deepEqual([clock, steal, apfEn, apfInt], [0, 0, 0, 0], "and the other PV MSRs");
  assert.equal(a.s.machine.cpus[1].halted, true);

  // The IPI reached the AP while it ran after its second start-up: it ended no halt, though
  // the AP had halted before the INIT that restarted it.
  const ev = a.events;
  const irq = ev.filter((e) => e.kind === "interrupt" && e.vcpu === 1);
  assert.deepEqual(irq.map((e) => [e.vector, e.state]), [[0x41, []]]);
  // The kick found the AP running: flag kept (args [0]); nothing consumed it afterwards.
  const unhalts = ev.filter((e) => e.name === "kvm_pv_unhalt");
  assert.deepEqual(unhalts.map((e) => [e.vcpu, e.args[0]]), [[1, 0]]);
  const halts = ev.filter((e) => e.vcpu === 1 && e.op === "halt");
  assert.equal(halts.length, 2, "start-ups 1 and 3 halt once each");
});
