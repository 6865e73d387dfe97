/**
 * pvkernel's lguest paravirt_ops (guests/kernel/lguest/) on the lguest backend: every scenario
 * of the 2.6.23 image passes on lguest@2.6.23 and of the 2.6.24 image on lguest@2.6.24, through
 * the hypercalls docs/abi/lguest.md describes; and since lguest has no ABI versioning, a guest
 * of the other release is killed by the host (docs/abi/lguest.md §8).
 */

import assert from "node:assert/strict";
import { EXIT_GUEST_KILLED } from "../../../core/exit_status.ts";
import { recordCase, SCENARIOS, suiteCase } from "../../../traces/session/suite.ts";
import type { TraceEvent } from "../../../vocabulary/event.ts";

const run = (variant: string, scenario: string, backend: string) => {
  const events: TraceEvent[] = [];
  const r = recordCase(suiteCase(variant, scenario), backend, { events });
  return { r, events, names: new Set(events.map((e) => e.name)) };
};

for (const v of ["2.6.23", "2.6.24"]) {
  Deno.test(`pvkernel-${v}: every scenario passes on lguest@${v}`, () => {
    for (const scenario of SCENARIOS) {
      const { r, events, names } = run(v, scenario, `lguest@${v}`);
      const what = `${scenario}: ${r.verdict.line}\n${r.serial.slice(-600)}`;
      assert.equal(r.verdict.pass, true, what);
      assert.equal(r.verdict.fields.backend, "lguest", what);
      // Power-off is LHCALL_CRASH("Power down"): the launcher exits 0.
      assert.equal(r.result.exitCode, 0, what);
      const kills = events.filter((e) => e.name.startsWith("lguest_kill: ")).map((e) => e.name);
      assert.deepEqual(kills, ["lguest_kill: CRASH: Power down"], what);
      // LGUEST_INIT first, then the console through the release's own call.
      assert.equal(events.find((e) => e.kind === "hypercall")?.name, "LHCALL_LGUEST_INIT");
      assert.ok(names.has(v === "2.6.23" ? "LHCALL_SEND_DMA" : "LHCALL_NOTIFY"), what);
      assert.ok(!names.has(v === "2.6.23" ? "LHCALL_NOTIFY" : "LHCALL_SEND_DMA"), what);
      if (scenario === "boot") {
        // The Switcher's 4 MiB moves the compat vDSO below it (reserve_mem).
        assert.equal(r.verdict.fields.vdso_fixmap, "0xffbfe000", what);
        for (const n of ["LHCALL_LOAD_GDT", "LHCALL_LOAD_IDT_ENTRY", "LHCALL_NEW_PGTABLE"]) {
          assert.ok(names.has(n), `${n} in ${what}`);
        }
        assert.ok(names.has("LHCALL_LOAD_TLS") && names.has("LHCALL_TS"), what);
      }
      if (scenario === "mmu") {
        // The lazy batch goes to the asynchronous ring, drained by FLUSH_ASYNC.
        const queued = events.filter((e) => e.name === "LHCALL_SET_PTE (async)");
        assert.equal(queued.length, 8, what); // the BATCH of pte_update notifications
        const flush = events.findIndex((e) => e.name === "LHCALL_FLUSH_ASYNC");
        assert.ok(flush > events.indexOf(queued[7]), what);
        assert.ok(names.has("LHCALL_SET_PMD") && names.has("LHCALL_FLUSH_ASYNC"), what);
      }
      if (scenario === "timer" || scenario === "clock") {
        const t = events.filter((e) => e.name === "LHCALL_SET_CLOCKEVENT");
        // One-shot relative ns only: the 100 Hz tick is re-armed from IRQ 0, 10 ms each.
        assert.ok(t.some((e) => e.opArgs?.[1] === 10_000_000), what);
        assert.ok(t.some((e) => e.opArgs?.[1] === 0), what); // 0 cancels
      }
      if (scenario === "halt") assert.ok(names.has("LHCALL_HALT"), what);
      if (scenario === "syscall") {
        // No SEP under lguest's CPUID: new glibc's vDSO uses int $0x80; old glibc's fixed
        // 0xffffe400 is inside the Switcher's reservation.
        assert.equal(r.verdict.fields.newglibc, "vdso-int80", what);
        assert.equal(r.verdict.fields.oldglibc, "#PF@0xffffe400", what);
      }
      if (v === "2.6.23" && scenario === "clock") assert.ok(names.has("LHCALL_GET_WALLCLOCK"));
    }
  });
}

Deno.test("lguest has no ABI versioning: a guest of the other release is killed", () => {
  // 2.6.24 guest, 2.6.23 host: the host reads the 2.6.24 lguest_data with the 2.6.23 layout,
  // sees the zero `time` field as pending ring status and runs ring entries made of the
  // guest's 0xff status bytes: an unknown call.
  let { r, events } = run("2.6.24", "boot", "lguest@2.6.23");
  assert.equal(r.result.exitCode, EXIT_GUEST_KILLED);
  let kill = events.find((e) => e.name.startsWith("lguest_kill: "))!;
  assert.equal(kill.name, "lguest_kill: Bad hypercall 4294967295");
  assert.ok(events.some((e) => e.name === "LHCALL_4294967295 (async)"));
  // 2.6.23 guest, 2.6.24 host: its first console write is SEND_DMA, removed in 2.6.24.
  ({ r, events } = run("2.6.23", "boot", "lguest@2.6.24"));
  assert.equal(r.result.exitCode, EXIT_GUEST_KILLED);
  kill = events.find((e) => e.name.startsWith("lguest_kill: "))!;
  assert.equal(kill.name, "lguest_kill: Bad hypercall 13");
  // A pre-2.6.23 kernel has no lguest entry: its first privileged instruction (cli) traps
  // before any IDT is registered.
  ({ r, events } = run("2.6.22", "boot", "lguest@2.6.23"));
  assert.equal(r.result.exitCode, EXIT_GUEST_KILLED);
  assert.match(events.find((e) => e.name.startsWith("lguest_kill: "))!.name, /Unhandled trap 13/);
});

Deno.test("lguest: an IRQ raised while the guest has interrupts off waits for a host entry", () => {
  // hostHz 0: no host ticks, delivery only at hypercalls, traps and exits; the scenario still
  // passes (its rdtsc exits count as host entries in this model).
  const events: TraceEvent[] = [];
  const r = recordCase(suiteCase("2.6.23", "irq"), "lguest@2.6.23", {
    events,
    profileTweak: { hostHz: 0 },
  });
  assert.equal(r.verdict.pass, true, r.serial);
  assert.equal(r.verdict.fields.held_while_disabled, "2");
});
