/**
 * Cross-ABI divergences of Xen PV (docs/abi/xen.md §9), one test per row the scenarios
 * exercise: the model names each one for a single operation, and a cross replay of a real
 * bare-hardware trace of the same kernel onto xen@3.1 / xen@3.0.2 finds them where the
 * scenario performs the operation; Xen's own 100 Hz ticks are named in a Xen trace.
 */

import assert from "node:assert/strict";
import { createBackend } from "../../../backends/registry.ts";
import { type AbiCall, isUnsupported, type Unsupported } from "../../../backends/model.ts";
import { replayCross } from "../../../traces/session/replay.ts";
import { recordCase, suiteCase } from "../../../traces/session/suite.ts";
import type { TraceEvent } from "../../../vocabulary/event.ts";
import { readTrace } from "../../../traces/format/reader.ts";

const m31 = () => createBackend("xen@3.1").model();
const m302 = () => createBackend("xen@3.0.2").model();
const classes = (c: AbiCall | Unsupported) =>
  isUnsupported(c) ? [c.class] : c.notes.map((n) => n.class);

function ok(c: AbiCall | Unsupported): AbiCall {
  assert.ok(!isUnsupported(c), JSON.stringify(c));
  return c;
}

Deno.test("xen row 1, timer units: a relative one-shot becomes an absolute-ns deadline", () => {
  const c = ok(m31().translate("set_timer", [0, 2_000_000]));
  assert.equal(c.name, "vcpu_op");
  assert.equal(c.args[0], 8); // VCPUOP_set_singleshot_timer
  assert.ok(classes(c).includes("different-units"));
  const old = ok(m302().translate("set_timer", [0, 2_000_000]));
  assert.equal(old.name, "set_timer_op");
  assert.ok(classes(old).includes("different-units"));
  // Periodic mode: VCPUOP_set_periodic_timer from 3.1, nothing before.
  assert.equal(ok(m31().translate("set_timer", [1, 10_000_000])).args[0], 6);
  assert.deepEqual(classes(m302().translate("set_timer", [1, 10_000_000])), ["unsupported"]);
});

Deno.test("xen row 2, default tick: every timer program carries the unrequested 100 Hz tick", () => {
  const note = (m: ReturnType<typeof m31>) =>
    ok(m.translate("set_timer", [0, 1_000_000])).notes.find((n) =>
      n.class === "implicit-side-effect"
    )!;
  assert.match(note(m31()).reason, /100 Hz until the guest stops it/);
  assert.match(note(m302()).reason, /no way to stop it before Xen 3\.1/);
});

Deno.test("xen rows 5/6, IRQ flag: upcall-mask stores, unmasking needs a hypercall", () => {
  const off = ok(m31().translate("irq_disable", []));
  assert.deepEqual([off.name, off.args], ["vcpu_info.evtchn_upcall_mask", [1]]);
  assert.deepEqual(classes(off), ["different-state"]);
  const on = ok(m31().translate("irq_enable", []));
  assert.deepEqual(on.steps.map((s) => s.name), ["vcpu_info.evtchn_upcall_mask", "xen_version"]);
  assert.deepEqual(classes(on), ["needs-batch"]);
});

Deno.test("xen row 7, safe_halt: SCHEDOP_block unmasks events itself", () => {
  const m = m31();
  const c = ok(m.translate("safe_halt", []));
  assert.deepEqual([c.name, c.args], ["sched_op", [1, 0]]);
  assert.deepEqual(classes(c), ["implicit-side-effect"]);
  assert.deepEqual(m.apply(c, 0).state, [["IF", 1], ["HALTED", 1]]);
});

Deno.test("xen row 13, frames: the base pointer is a machine frame", () => {
  const c = ok(m31().translate("write_cr3", [0x125000]));
  assert.deepEqual([c.name, c.args], ["mmuext_op", [5, 0x125]]);
  assert.deepEqual(classes(c), ["different-units"]);
});

Deno.test("xen row 15, TLB: a global flush is the user flush (PGE hidden)", () => {
  const user = ok(m31().translate("flush_tlb_user", []));
  const global = ok(m31().translate("flush_tlb_kernel", []));
  assert.deepEqual(global.args, user.args);
  assert.deepEqual(classes(global), ["different-state"]);
});

Deno.test("xen rows 17/26/23: filtered CPUID, no local APIC, VMCALL is #UD", () => {
  const m = m31(), id = ok(m.translate("cpuid", [0x40000000, 0, 0, 0, 0, 0]));
  assert.equal(id.name, "forced_cpuid");
  assert.equal(m.apply(id, 0).ret, 0x40000002); // "XenVMMXenVMM", max leaf
  assert.equal(createBackend("xen@3.0.2").model().apply(id, 0).ret, 0x633); // no leaves yet
  assert.deepEqual(classes(m31().translate("apic_write", [0x380, 1])), ["unsupported"]);
  assert.deepEqual(classes(m31().translate("vmcall", [0, 0, 0, 0, 0, 0, 0, 0])), ["trap"]);
});

Deno.test("cross replay of pvkernel-2.6.23 halt from bare hardware onto Xen names the rows", () => {
  const out = Deno.makeTempFileSync({ suffix: ".pvt" });
  recordCase(suiteCase("2.6.23", "halt"), "native", { out });
  const t = readTrace(out);
  const found = (target: string) => {
    const r = replayCross(t.header, t.events, target);
    return (op: string, cls: string, re: RegExp) =>
      assert.ok(
        r.divergences.some((d) => d.op === op && d.class === cls && re.test(d.reason)),
        `${target}: ${op} ${cls} ${re}`,
      );
  };
  const x31 = found("xen@3.1");
  x31("set_timer", "different-units", /absolute deadline in ns/); // row 1
  x31("set_timer", "implicit-side-effect", /100 Hz/); // row 2
  x31("irq_disable", "different-state", /evtchn_upcall_mask/); // row 5
  x31("irq_enable", "needs-batch", /xen_version/); // row 6
  x31("safe_halt", "implicit-side-effect", /clears evtchn_upcall_mask/); // row 7
  x31("write_cr3", "different-units", /machine frame/); // row 13
  x31("cpuid", "different-result", /./); // row 17: the 0x40000000 probe
  x31("apic_write", "unsupported", /no local APIC/); // row 26
  found("xen@3.0.2")("set_timer", "implicit-side-effect", /no way to stop it/);
});

Deno.test("a Xen trace names Xen's own ticks: xen@3.0.2 keeps them, xen@3.1 stops them", () => {
  const ticks = (backend: string) => {
    const events: TraceEvent[] = [];
    recordCase(suiteCase("2.6.23", "timer"), backend, { events });
    return events.filter((e) => e.name === "virq_timer_periodic").length;
  };
  assert.ok(ticks("xen@3.0.2") >= 10);
  assert.equal(ticks("xen@3.1"), 0);
});
