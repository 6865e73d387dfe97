/**
 * A guest written only from the published VMI layouts (guests/vmiabi: the ROM header, the
 * get_reloc convention, the call numbers and timer flags of vmi.h/vmi_time.h) finds the ROM,
 * relocates and calls its routines and gets the results API 3.0 specifies on `vmi@3.0`; on a
 * ROM without the timer block it sees the calls missing (get_reloc NONE); it refuses the
 * pre-mainline major and finds no ROM on bare hardware (docs/abi/vmi.md §1, §2, §5, §6).
 */

import assert from "node:assert/strict";
import { recordCase } from "../../traces/session/suite.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";

const vmiabi = { image: "vmiabi.elf", cmdline: "", label: "vmiabi" };

Deno.test("vmiabi guest passes every check on vmi@3.0", () => {
  const events: TraceEvent[] = [];
  const r = recordCase(vmiabi, "vmi@3.0", { events });
  assert.equal(r.verdict.pass, true, r.serial);
  assert.doesNotMatch(r.serial, /FAIL/);
  assert.equal(r.verdict.fields.api, "3.0");
  assert.equal(r.verdict.fields.virtual_top, "0xff000000");
  assert.equal(r.verdict.fields.timer, "vmi");
  assert.equal(r.verdict.fields.halt_wakeups, "1");
  assert.equal(r.verdict.fields.periodic_ticks, "5");
  assert.equal(r.result.exitCode, 1); // (0 << 1) | 1
  // The ROM calls are hypercall events with their canonical operations; the ROM's own sti/hlt
  // are not guest exits.
  const calls = events.filter((e) => e.kind === "hypercall");
  const byName = (n: string) => calls.filter((e) => e.name === n);
  assert.equal(byName("vmi_init").length, 1);
  assert.deepEqual(byName("get_reloc").find((e) => e.args[0] === 50)?.ret, 0); // NONE
  assert.equal(byName("get_reloc").find((e) => e.args[0] === 33)?.ret, 2); // IRET: JUMP_REL
  const alarm = byName("VMI_CALL_SetAlarm")[0];
  assert.equal(alarm.op, "set_timer");
  // One-shot; the absolute expiry (counter read + 1 ms) becomes a relative ns delta, a little
  // under 1 ms since the counter was read a few instructions before the call.
  assert.equal(alarm.opArgs[0], 0);
  assert.ok(alarm.opArgs[1] > 990_000 && alarm.opArgs[1] <= 1_000_000, String(alarm.opArgs));
  assert.equal(byName("VMI_CALL_Halt")[0].op, "safe_halt");
  assert.equal(byName("VMI_CALL_GetWallclockTime")[0].op, "get_wallclock");
  assert.equal(events.filter((e) => e.kind === "exit" && e.name === "hlt").length, 0);
  assert.ok(events.some((e) => e.kind === "interrupt" && e.name === "irq0"));
});

Deno.test("vmiabi guest on vmi@3.0-notimer: the timer block is missing (get_reloc NONE)", () => {
  const r = recordCase(vmiabi, "vmi@3.0-notimer", {});
  assert.equal(r.verdict.pass, true, r.serial);
  assert.equal(r.verdict.fields.timer, "absent");
});

for (
  const [backend, rom] of [["vmi@13.3", "mismatched"], ["native", "absent"], ["kvm", "absent"]]
) {
  Deno.test(`vmiabi guest finds no acceptable VMI ROM on ${backend}`, () => {
    const r = recordCase(vmiabi, backend, {});
    assert.equal(r.verdict.fields.rom, rom, r.serial);
    assert.equal(r.result.exitCode, 7); // (3 << 1) | 1: nothing to test
  });
}
