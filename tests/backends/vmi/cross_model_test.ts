/**
 * Cross-backend replay from and to `vmi` for the canonical operations the scenarios use, one
 * test per row of the VMI divergences (docs/abi/vmi.md §5, §6): cycles with an absolute expiry
 * versus relative ns/PIT ticks, the wall clock in ns, FlushTLB flags instead of CR3/CR4 writes,
 * SetLDT's selector, "every halt is safe", missing calls keeping the native path, the refused
 * major running native.
 */

import assert from "node:assert/strict";
import { createBackend } from "../../../backends/registry.ts";
import { isUnsupported } from "../../../backends/model.ts";
import { readTrace } from "../../../traces/format/reader.ts";
import { replayCross } from "../../../traces/session/replay.ts";
import { recordCase, suiteCase } from "../../../traces/session/suite.ts";

const traces = new Map<string, ReturnType<typeof readTrace>>();
async function trace(scenario: string, backend: string) {
  const key = `${scenario}/${backend}`;
  if (!traces.has(key)) {
    const out = await Deno.makeTempFile({ suffix: ".pvt" });
    recordCase(suiteCase("2.6.23", scenario), backend, { out });
    traces.set(key, readTrace(out));
    await Deno.remove(out);
  }
  return traces.get(key)!;
}

async function cross(scenario: string, from: string, to: string) {
  const t = await trace(scenario, from);
  return replayCross(t.header, t.events, to).divergences;
}

Deno.test("row 1 timer units: a native PIT timer onto vmi becomes an absolute cycle alarm", async () => {
  const d = (await cross("timer", "native", "vmi")).filter((x) => x.op === "set_timer");
  const units = d.find((x) => x.class === "different-units")!;
  assert.match(units.reason, /absolute expiry on the REAL cycle counter at 100000000 Hz/);
  assert.equal(units.target?.name, "VMI_CALL_SetAlarm");
});

Deno.test("row 1 timer units: a vmi alarm onto native becomes PIT ticks", async () => {
  const d = (await cross("timer", "vmi", "native")).filter((x) => x.op === "set_timer");
  const units = d.find((x) => x.class === "different-units")!;
  assert.equal(units.recorded.name, "VMI_CALL_SetAlarm");
  assert.match(units.reason, /PIT counts 1193182 Hz ticks/);
});

Deno.test("row 4 wall-clock units: GetWallclockTime is ns since 1970", async () => {
  const d = (await cross("clock", "native", "vmi")).find((x) => x.op === "get_wallclock");
  assert.equal(d?.class, "different-units");
  assert.match(d!.reason, /u64 ns since 1970/);
  assert.equal(d!.target?.name, "VMI_CALL_GetWallclockTime");
});

Deno.test("row 15 TLB flushes: FlushTLB flags 1 and 3 instead of CR3/CR4 writes", async () => {
  const d = await cross("mmu", "native", "vmi");
  const user = d.find((x) => x.op === "flush_tlb_user")!;
  const kernel = d.find((x) => x.op === "flush_tlb_kernel")!;
  assert.deepEqual([user.target?.name, user.target?.args], ["VMI_CALL_FlushTLB", [1]]);
  assert.deepEqual([kernel.target?.name, kernel.target?.args], ["VMI_CALL_FlushTLB", [3]]);
  assert.equal(kernel.class, "different-units");
});

Deno.test("row 21 LDT: SetLDT takes the selector", async () => {
  const d = (await cross("boot", "native", "vmi")).find((x) => x.op === "set_ldt");
  assert.equal(d?.class, "different-units");
  assert.equal(d!.target?.name, "VMI_CALL_SetLDT");
});

Deno.test("row 7 safe_halt: Halt; a plain halt has no VMI equivalent that keeps IF", () => {
  const m = createBackend("vmi").model();
  const safe = m.translate("safe_halt", []);
  assert.ok(!isUnsupported(safe));
  assert.equal(safe.name, "VMI_CALL_Halt");
  assert.deepEqual(safe.notes, []);
  const halt = m.translate("halt", []);
  assert.ok(!isUnsupported(halt));
  assert.equal(halt.notes[0].class, "implicit-side-effect");
  assert.deepEqual(m.apply(halt, 0).state, [["IF", 1], ["HALTED", 1]]);
});

Deno.test("rows 5, 26, 27: interrupt mask, APIC and io_delay are ROM calls", () => {
  const m = createBackend("vmi").model();
  for (
    const [op, args, name] of [
      ["irq_disable", [], "VMI_CALL_DisableInterrupts"],
      ["restore_fl", [0x200], "VMI_CALL_SetInterruptMask"],
      ["apic_write", [0x320, 0xef], "VMI_CALL_APICWrite"],
      ["io_delay", [], "VMI_CALL_IODelay"],
      ["write_cr3", [0x1000], "VMI_CALL_SetCR3"],
    ] as const
  ) {
    const c = m.translate(op, [...args]);
    assert.ok(!isUnsupported(c), op);
    assert.equal(c.name, name);
  }
});

Deno.test("row 23 missing calls: without the timer block set_timer stays on the PIT", async () => {
  const m = createBackend("vmi@3.0-notimer").model();
  const c = m.translate("set_timer", [0, 2_000_000]);
  assert.ok(!isUnsupported(c));
  assert.equal(c.name, "out"); // PIT port writes, as the kernel falls back
  const d = (await cross("timer", "native", "vmi@3.0-notimer")).filter((x) => x.op === "set_timer");
  assert.equal(d.length, 0);
});

Deno.test("row 29 API major: on vmi@13.3 the kernel runs native, so nothing diverges", async () => {
  assert.deepEqual(await cross("timer", "native", "vmi@13.3"), []);
});
