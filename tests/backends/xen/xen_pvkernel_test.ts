/**
 * The pvkernel's Xen paravirt_ops (guests/kernel/xen.c, variants 2.6.23 and 2.6.24) on the
 * Xen backend: every scenario passes on xen@3.1 and xen@3.2 with its console on the serial
 * output; on xen@3.0.2 the clock events fall back to set_timer_op as Linux did; on xen@3.0.0
 * the kernel stops at boot with the reason in the trace and on the console.
 */

import assert from "node:assert/strict";
import { recordCase, SCENARIOS, suiteCase } from "../../../traces/session/suite.ts";
import type { TraceEvent } from "../../../vocabulary/event.ts";
import { EXIT_GUEST_CRASHED, EXIT_SUCCESS } from "../../../core/exit_status.ts";

const VCPUOP_stop_periodic_timer = 7, VCPUOP_set_singleshot_timer = 8, ENOSYS = -38;

function record(variant: string, scenario: string, backend: string) {
  const events: TraceEvent[] = [];
  const r = recordCase(suiteCase(variant, scenario), backend, { events });
  return { ...r, events };
}

for (const variant of ["2.6.23", "2.6.24"]) {
  for (const profile of ["3.1", "3.2"]) {
    Deno.test(`pvkernel-${variant} passes every scenario on xen@${profile}`, () => {
      for (const scenario of SCENARIOS) {
        const r = record(variant, scenario, `xen@${profile}`);
        assert.equal(r.verdict.pass, true, `${scenario}:\n${r.serial}`);
        assert.equal(r.verdict.fields.backend, "xen", scenario);
        assert.equal(r.result.exitCode, EXIT_SUCCESS, scenario);
        // The console ring is the user's output: the boot banner comes through it.
        assert.match(r.serial, /^Xen: version 3\.\d, /m, scenario);
      }
    });
  }
}

const vcpuOps = (events: TraceEvent[], cmd: number) =>
  events.filter((e) => e.kind === "hypercall" && e.name === "vcpu_op" && e.args[0] === cmd);
const named = (events: TraceEvent[], name: string) => events.filter((e) => e.name === name);

Deno.test("pvkernel-2.6.23 timers: VCPUOP singleshot on xen@3.1, set_timer_op fallback on 3.0.2", () => {
  const vcpu = record("2.6.23", "timer", "xen@3.1");
  assert.equal(vcpuOps(vcpu.events, VCPUOP_stop_periodic_timer)[0].ret, 0);
  assert.ok(vcpuOps(vcpu.events, VCPUOP_set_singleshot_timer).length >= 10);
  assert.equal(named(vcpu.events, "set_timer_op").length, 0);
  assert.match(vcpu.serial, /using vcpuop timer interface/);

  const old = record("2.6.23", "timer", "xen@3.0.2");
  assert.equal(old.verdict.pass, true, old.serial);
  assert.equal(vcpuOps(old.events, VCPUOP_stop_periodic_timer)[0].ret, ENOSYS >>> 0);
  assert.equal(vcpuOps(old.events, VCPUOP_set_singleshot_timer).length, 0);
  const timerOps = named(old.events, "set_timer_op");
  assert.ok(timerOps.length >= 10);
  assert.ok(timerOps.every((e) => e.ret === 0 && e.op === "set_timer"));
  assert.match(old.serial, /using timerop \(set_timer_op\)/);
});

Deno.test("pvkernel-2.6.24 on xen@3.0.0 stops at boot: hypercall page not filled", () => {
  const r = record("2.6.24", "boot", "xen@3.0.0");
  assert.equal(r.result.exitCode, EXIT_GUEST_CRASHED);
  assert.equal(r.verdict.pass, null);
  const note = r.events.find((e) => e.name === "hypercall_page_not_filled");
  assert.ok(note, "the trace names the reason");
  assert.equal(r.events[0], note);
  const last = r.events.at(-1)!;
  assert.deepEqual([last.op, last.opArgs], ["shutdown", [3]]);
  assert.match(r.serial, /requires XEN_ELFNOTE_HYPERCALL_PAGE support/);
});
