/**
 * Debian 12's i386 kernel 6.1 (guests/linux/fetch.sh, out/linux/) boots to userspace under
 * `kvm@6.1`: it detects KVM through CPUID.1:ECX[31] and the signature leaf, registers kvmclock
 * through the 0x4b564dxx MSRs, switches to the kvm-clock clocksource and runs the init script as
 * on native. The trace holds the registration and the host's time-structure updates with
 * PVCLOCK_TSC_STABLE_BIT, the steal-time and PV EOI registrations, and no MSR of a PV feature
 * the profile leaves clear (docs/abi/kvm.md §4). About two minutes; skips without out/linux/
 * (fails under CI=true).
 */

import assert from "node:assert/strict";
import { openSession } from "../../traces/session/session.ts";
import { Recorder } from "../../traces/session/recorder.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";
import { needs } from "../requirements.ts";
import { LINUX_DIR as DIR, linuxFetched } from "./linux_files.ts";

const ignore = needs(
  "Debian's i386 kernel and busybox initramfs (run guests/linux/fetch.sh)",
  linuxFetched(),
  "tests/guests/linux_kvm_test.ts",
);

Deno.test({
  name: "Debian 686 kernel on kvm@6.1: Hypervisor detected: KVM, kvm-clock, userspace",
  ignore,
  fn() {
    const msrWrites: TraceEvent[] = [];
    const clockUpdates: TraceEvent[] = [];
    let events = 0;
    const session = openSession(
      {
        image: Deno.readFileSync(`${DIR}vmlinuz`),
        imageName: "vmlinuz",
        cmdline: "console=ttyS0",
        initrd: Deno.readFileSync(`${DIR}initrd.cpio`),
        initrdName: "initrd.cpio",
        backend: "kvm@6.1",
      },
      new Recorder({
        append(e) {
          events++;
          if (e.name === "EXIT_REASON_MSR_WRITE") msrWrites.push(e);
          else if (e.name === "pvclock_vcpu_time_info" && clockUpdates.length < 100) {
            clockUpdates.push(e);
          }
        },
      }),
    );
    assert.equal(session.header.boot, "linux");
    const r = session.run(12_000_000_000);
    const serial = new TextDecoder().decode(Uint8Array.from(session.serial));
    assert.equal(r.reason, "debug-exit", serial.slice(-2000));
    assert.equal(r.exitCode, 0x21);
    for (
      const line of [
        "Hypervisor detected: KVM",
        "kvm-clock: Using msrs 4b564d01 and 4b564d00",
        "Booting paravirtualized kernel on KVM",
        "clocksource: Switched to clocksource kvm-clock",
        "pvreplay-init: userspace up",
        "arith: 42 525 -3",
        "awk: 3.141593 2.1078e+03 301",
        "pvreplay-init: done",
      ]
    ) assert.ok(serial.includes(line), `missing "${line}"`);

    // kvmclock: the system-time structure registered (bit 0 set) through the new MSR, the
    // wall clock read through its pair; the host's updates carry the stable flag (bit 0).
    const msrs = new Set(msrWrites.map((e) => e.args[0] >>> 0));
    assert.ok(
      msrs.has(0x4b564d01) && msrs.has(0x4b564d00),
      [...msrs].map((m) => m.toString(16)).join(","),
    );
    const reg = msrWrites.find((e) => e.args[0] >>> 0 === 0x4b564d01)!;
    assert.equal(reg.args[1] & 1, 1);
    assert.ok(clockUpdates.length > 10);
    for (const u of clockUpdates) assert.equal(u.args[7], 1);
    // Steal time and PV EOI are registered (docs/abi/kvm.md §8, §9); the features left clear are
    // not used: no async PF, poll control MSRs.
    assert.ok(msrs.has(0x4b564d03), "MSR_KVM_STEAL_TIME written");
    const eoi = msrWrites.find((e) => e.args[0] >>> 0 === 0x4b564d04);
    assert.equal(eoi && eoi.args[1] & 3, 1, "MSR_KVM_PV_EOI_EN enabled, word 4-byte aligned");
    for (const m of [0x4b564d02, 0x4b564d05, 0x4b564d06]) {
      assert.ok(!msrs.has(m), `MSR 0x${m.toString(16)} written`);
    }
    assert.ok(events > 100_000);
  },
});
