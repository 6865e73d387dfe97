import assert from "node:assert/strict";
import { createBackend } from "../../../backends/registry.ts";
import { isUnsupported } from "../../../backends/model.ts";

Deno.test("lguest cross model: one-shot relative-ns timers only, 100 ns minimum", () => {
  const m = createBackend("lguest@2.6.23").model();
  const periodic = m.translate("set_timer", [1, 10_000_000]);
  assert.ok(isUnsupported(periodic) && periodic.class === "unsupported");
  const short = m.translate("set_timer", [0, 50]);
  assert.ok(!isUnsupported(short));
  assert.equal(short.name, "LHCALL_SET_CLOCKEVENT");
  assert.deepEqual(short.notes.map((n) => n.class), ["different-result"]);
  const ok = m.translate("set_timer", [0, 1_000_000]);
  assert.ok(!isUnsupported(ok) && ok.notes.length === 0 && ok.args[0] === 1_000_000);
});

Deno.test("lguest cross model: irq_enabled stores, HALT's implicit enable, no APIC", () => {
  const m = createBackend("lguest@2.6.23").model();
  const en = m.translate("irq_enable", []);
  assert.ok(!isUnsupported(en) && en.name === "lguest_data.irq_enabled" && en.args[0] === 0x200);
  const halt = m.translate("safe_halt", []);
  assert.ok(!isUnsupported(halt));
  assert.deepEqual(halt.notes.map((n) => n.class), ["implicit-side-effect"]);
  assert.ok(isUnsupported(m.translate("apic_write", [0x380, 1])));
});

Deno.test("lguest cross model: wall clock by hypercall on 2.6.23, lguest_data.time on 2.6.24", () => {
  const a = createBackend("lguest@2.6.23").model().translate("get_wallclock", [1, 5]);
  const b = createBackend("lguest@2.6.24").model().translate("get_wallclock", [1, 5]);
  assert.ok(!isUnsupported(a) && a.name === "LHCALL_GET_WALLCLOCK");
  assert.deepEqual(a.notes.map((n) => n.class), ["different-units"]);
  assert.ok(!isUnsupported(b) && b.name === "lguest_data.time");
});
