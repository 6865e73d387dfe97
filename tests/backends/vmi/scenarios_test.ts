/**
 * Every scenario of the suite runs on `vmi` with the 2.6.23 kernel, which finds the ROM,
 * activates VMI paravirt_ops and passes; the ROM without the timer block leaves the kernel on
 * its native timers; the pre-mainline major is refused and the kernel runs native; with no ROM
 * (native, kvm) the kernel behaves as before (docs/abi/vmi.md §1, §5, §6). A VMI trace replays
 * on its own backend with no divergence. The 2.6.21-vmi variant's NO_IDLE_HZ safe_halt wraps
 * Halt in CancelAlarm / one-shot SetAlarm / periodic SetAlarm (docs/abi/vmi.md §5).
 */

import assert from "node:assert/strict";
import { readTrace } from "../../../traces/format/reader.ts";
import { replaySame } from "../../../traces/session/replay.ts";
import { vdsoRow } from "../../../traces/session/matrix.ts";
import { recordCase, SCENARIOS, suiteCase } from "../../../traces/session/suite.ts";
import type { TraceEvent } from "../../../vocabulary/event.ts";

for (const s of SCENARIOS) {
  Deno.test(`2.6.23 scenario=${s} passes on vmi@3.0 through the ROM`, () => {
    const r = recordCase(suiteCase("2.6.23", s), "vmi@3.0", {});
    assert.equal(r.verdict.pass, true, r.serial);
    assert.equal(r.verdict.fields.backend, "vmi", r.serial);
    assert.match(r.serial, /VMI: activated, ROM at 0xc0000 API 3\.0 virtual_top 0xff000000/);
  });
}

Deno.test("vmi@3.0: boot reserves virtual_top, the compat vDSO moves to 0xfeffe000", () => {
  const r = recordCase(suiteCase("2.6.23", "boot"), "vmi@3.0", {});
  assert.equal(r.verdict.fields.fixaddr_top, "0xfefff000");
  assert.equal(r.verdict.fields.vdso_fixmap, "0xfeffe000");
});

Deno.test("vmi@3.0 timer: SetAlarm/CancelAlarm carry set_timer, no PIT channel-0 programming", () => {
  const events: TraceEvent[] = [];
  const r = recordCase(suiteCase("2.6.23", "timer"), "vmi@3.0", { events });
  assert.equal(r.verdict.pass, true, r.serial);
  const alarms = events.filter((e) => e.name === "VMI_CALL_SetAlarm");
  assert.ok(alarms.length >= 4);
  assert.deepEqual(alarms[0].opArgs, [1, 10_000_000]); // periodic, 100 Hz
  assert.ok(alarms.slice(1, 4).every((e) => e.opArgs[0] === 0)); // the one-shots
  // The PIT was parked (0x3a) and never reprogrammed for channel 0.
  const pitCw = events.filter((e) => e.kind === "io" && e.nr === 0x43).map((e) => e.args[1]);
  assert.ok(pitCw.includes(0x3a));
  assert.ok(!pitCw.includes(0x34) && !pitCw.includes(0x30), String(pitCw));
  assert.ok(events.some((e) => e.name === "VMI_CALL_Halt" && e.op === "safe_halt"));
});

Deno.test("vmi@3.0-notimer: the kernel keeps the PIT (get_reloc NONE for the timer calls)", () => {
  const events: TraceEvent[] = [];
  const r = recordCase(suiteCase("2.6.23", "timer"), "vmi@3.0-notimer", { events });
  assert.equal(r.verdict.pass, true, r.serial);
  assert.match(r.serial, /VMI: no timer calls in the ROM, native timers/);
  assert.equal(events.filter((e) => e.name === "VMI_CALL_SetAlarm").length, 0);
  assert.ok(events.some((e) => e.kind === "io" && e.nr === 0x43 && e.args[1] === 0x34));
  // get_reloc answered NONE (0) for GetCycleFrequency (66).
  assert.equal(events.find((e) => e.name === "get_reloc" && e.args[0] === 66)?.ret, 0);
});

Deno.test("vmi@13.3: mismatched major, the kernel refuses the ROM and runs native", () => {
  const events: TraceEvent[] = [];
  const r = recordCase(suiteCase("2.6.23", "boot"), "vmi@13.3", { events });
  assert.equal(r.verdict.pass, true, r.serial);
  assert.match(r.serial, /VMI: Found mismatched rom version 13\.3 at 0xc0000/);
  assert.equal(r.verdict.fields.backend, "native");
  assert.equal(events.filter((e) => e.kind === "hypercall").length, 0);
});

for (const backend of ["native", "kvm"]) {
  Deno.test(`2.6.23 on ${backend} finds no VMI ROM`, () => {
    const r = recordCase(suiteCase("2.6.23", "boot"), backend, {});
    assert.equal(r.verdict.pass, true, r.serial);
    assert.doesNotMatch(r.serial, /VMI/);
  });
}

Deno.test("a vmi trace replays on vmi with zero divergence", async () => {
  const out = await Deno.makeTempFile({ suffix: ".pvt" });
  try {
    recordCase(suiteCase("2.6.23", "halt"), "vmi@3.0", { out });
    const t = readTrace(out);
    const image = await Deno.readFile("guests/images/pvkernel-2.6.23.elf");
    const r = replaySame(t.header, t.events, image);
    assert.equal(r.mismatch, null);
  } finally {
    await Deno.remove(out);
  }
});

Deno.test("2.6.21-vmi: NO_IDLE_HZ safe_halt stops the tick around Halt and re-arms it", () => {
  const events: TraceEvent[] = [];
  const r = recordCase(suiteCase("2.6.21-vmi", "timer"), "vmi@3.0", { events });
  assert.equal(r.verdict.pass, true, r.serial);
  assert.match(r.serial, /NO_IDLE_HZ safe_halt/);
  // The wake-up interrupt's handler returns through the ROM's IRET: left out here.
  const calls = events.filter((e) => e.kind === "hypercall" && e.name !== "VMI_CALL_IRET")
    .map((e) => e.name);
  const halt = calls.indexOf("VMI_CALL_Halt");
  assert.deepEqual(calls.slice(halt - 2, halt + 3), [
    "VMI_CALL_CancelAlarm",
    "VMI_CALL_SetAlarm",
    "VMI_CALL_Halt",
    "VMI_CALL_GetCycleCounter",
    "VMI_CALL_SetAlarm",
  ]);
  // The 100 Hz tick from boot, on the AVAILABLE counter (flags 0x101).
  assert.equal(events.find((e) => e.name === "VMI_CALL_SetAlarm")?.args[0], 0x101);
});

Deno.test("vDSO row on vmi@3.0: compat vDSO below virtual_top, old glibc breaks", () => {
  const row = vdsoRow("2.6.23", "", "vmi@3.0");
  assert.equal(row.sysinfo, "0xfeffe400"); // virtual_top - 0x2000 + 0x400
  assert.equal(row.newGlibc, "vdso-sysenter");
  assert.equal(row.oldGlibc, "#PF@0xffffe400");
  const native = vdsoRow("2.6.23", "", "native");
  assert.equal(native.oldGlibc === row.oldGlibc, false);
});
