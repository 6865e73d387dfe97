/**
 * A guest written only from the public KVM ABI (guests/kvmabi: its own header with the CPUID
 * signature, vmcall numbers and kvmclock MSRs) gets the answers the real ABI gives on every KVM
 * profile, and finds no KVM on the profiles that predate the PV ABI (docs/abi/kvm.md §7).
 */

import assert from "node:assert/strict";
import { recordCase } from "../../traces/session/suite.ts";

const kvmabi = { image: "kvmabi.elf", cmdline: "", label: "kvmabi" };

for (const [profile, msr] of [["2.6.25", "0x12"], ["2.6.33", "0x12"], ["2.6.35", "0x4b564d01"]]) {
  Deno.test(`kvmabi guest passes on kvm@${profile} (kvmclock via MSR ${msr})`, () => {
    const r = recordCase(kvmabi, `kvm@${profile}`, {});
    assert.equal(r.verdict.pass, true, r.serial);
    assert.equal(r.verdict.fields.vmcall_unknown, "-1000");
    assert.equal(r.verdict.fields.vapic_poll, "0");
    assert.equal(r.verdict.fields.kvmclock_msr, msr);
    assert.equal(r.verdict.fields.kvmclock, "sane");
    assert.equal(r.result.reason, "debug-exit");
  });
}

for (const backend of ["kvm@2.6.20", "kvm@2.6.22", "native"]) {
  Deno.test(`kvmabi guest finds no KVM PV ABI on ${backend}`, () => {
    const r = recordCase(kvmabi, backend, {});
    assert.equal(r.verdict.fields.signature, "absent", r.serial);
    assert.equal(r.result.exitCode, 7); // (3 << 1) | 1: "no KVM", guests/kvmabi
  });
}
