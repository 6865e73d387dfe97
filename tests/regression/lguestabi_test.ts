/**
 * A guest written only from the published lguest 2.6.23 layouts (guests/lguestabi: boot_params,
 * LHCALL numbers, lguest_data) gets the launcher's boot and the host's answers on lguest@2.6.23,
 * and is killed, with the reason in the trace, for a call before LGUEST_INIT or an unknown call
 * (docs/abi/lguest.md §3).
 */

import assert from "node:assert/strict";
import { EXIT_GUEST_KILLED } from "../../core/exit_status.ts";
import { recordCase } from "../../traces/session/suite.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";

const run = (cmdline: string, backend = "lguest@2.6.23") => {
  const events: TraceEvent[] = [];
  const r = recordCase({ image: "lguestabi.elf", cmdline, label: "lguestabi" }, backend, {
    events,
  });
  return { r, events, kills: events.filter((e) => e.name.startsWith("lguest_kill: ")) };
};

Deno.test("lguestabi guest passes on lguest@2.6.23 and powers off through LHCALL_CRASH", () => {
  const { r, events, kills } = run("");
  assert.equal(r.verdict.pass, true, r.serial);
  assert.equal(r.verdict.fields.reserve_mem, "0x400000");
  assert.equal(r.verdict.fields.tsc_khz, "100000"); // the machine's 100 MHz TSC
  assert.equal(r.result.exitCode, 0);
  assert.deepEqual(kills.map((e) => e.name), ["lguest_kill: CRASH: Power down"]);
  const init = events.find((e) => e.name === "LHCALL_LGUEST_INIT");
  assert.ok(init && init.kind === "hypercall");
  const async = events.filter((e) => e.name === "LHCALL_FLUSH_TLB (async)");
  assert.deepEqual(async.map((e) => e.op), ["flush_tlb_user", "flush_tlb_kernel"]);
  // SET_CLOCKEVENT is the canonical set_timer with a relative ns delta (one-shot).
  const timers = events.filter((e) => e.name === "LHCALL_SET_CLOCKEVENT");
  assert.deepEqual(timers.map((e) => e.opArgs), [[0, 1000000], [0, 1000]]);
  assert.equal(events.filter((e) => e.kind === "interrupt" && e.vector === 0x20).length, 2);
  assert.equal(events.find((e) => e.name === "LHCALL_HALT")?.op, "safe_halt");
  // Drained before the synchronous FLUSH_ASYNC that follows them.
  const i = events.findIndex((e) => e.name === "LHCALL_FLUSH_ASYNC");
  assert.ok(i > events.indexOf(async[1]));
});

Deno.test("lguest kills a guest whose first hypercall is not LGUEST_INIT", () => {
  const { r, kills } = run("early");
  assert.equal(r.result.reason, "shutdown");
  assert.equal(r.result.exitCode, EXIT_GUEST_KILLED);
  assert.deepEqual(kills.map((e) => e.name), ["lguest_kill: hypercall 5 before LGUEST_INIT"]);
});

Deno.test("lguest kills a guest on an unknown hypercall (no -ENOSYS)", () => {
  const { r, kills } = run("bad");
  assert.equal(r.result.exitCode, EXIT_GUEST_KILLED);
  assert.deepEqual(kills.map((e) => e.name), ["lguest_kill: Bad hypercall 99"]);
  assert.ok(!r.serial.includes("RESULT"), r.serial); // killed before its RESULT line
});

Deno.test("lguest@2.6.24 removed GET_WALLCLOCK and SEND_DMA: the 2.6.23 guest is killed", () => {
  const { r, kills } = run("", "lguest@2.6.24");
  assert.equal(r.result.exitCode, EXIT_GUEST_KILLED);
  assert.deepEqual(kills.map((e) => e.name), ["lguest_kill: Bad hypercall 13"]);
});

Deno.test("a kernel without lguest support is killed at its first privileged instruction", () => {
  const events: TraceEvent[] = [];
  const c = { image: "pvkernel-nopv.elf", cmdline: "", label: "nopv" };
  const r = recordCase(c, "lguest@2.6.23", { events });
  assert.equal(r.result.exitCode, EXIT_GUEST_KILLED);
  assert.match(events[events.length - 1].name, /^lguest_kill: Unhandled trap 13 /);
});
