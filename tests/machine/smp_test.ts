import assert from "node:assert/strict";
import { Machine } from "../../core/machine.ts";
import { readTrace } from "../../traces/format/reader.ts";
import { checkReplayable } from "../../traces/format/header.ts";
import { assembleFixture, recordSmp } from "./fixture_kernel.ts";

Deno.test({
  name:
    "--smp 2: the BSP starts the AP by INIT/SIPI, the AP's IPI wakes the BSP; traces byte-identical",
  async fn() {
    const image = await assembleFixture("smp_kernel");
    const a = recordSmp(image, "native");
    assert.equal(String.fromCharCode(...a.s.serial), "AB");
    assert.equal(a.r.reason, "debug-exit");
    assert.equal(a.r.exitCode, 0x25);
    assert.deepEqual(a.s.machine.processors!.states, ["running", "running"]);
    assert.equal(a.s.header.machine.cpus, 2);
    const ap = a.events.filter((e) => e.vcpu === 1);
    assert.ok(ap.some((e) => e.kind === "io" && e.nr === 0x3f8), "the AP's COM1 write is vcpu 1");
    assert.ok(a.events.some((e) => e.vcpu === 0 && e.kind === "interrupt" && e.vector === 0x40));
    const b = recordSmp(image, "native");
    assert.deepEqual(b.trace, a.trace);
    // The CPU count is in the header: a one-CPU replay environment is refused.
    const h = readTrace(a.trace).header;
    const one = { ...h, machine: { ...h.machine, cpus: undefined } };
    const check = checkReplayable(h, one);
    assert.ok(!check.ok && check.problems.some((p) => p.field === "machine.cpus" && p.fatal));
  },
});

Deno.test("--smp: an AP waits for its SIPI; a SIPI to a running CPU is ignored; host slicing is not guest-visible", () => {
  const run = (every: number) => {
    const m = new Machine({ memMiB: 2, cpus: 2 });
    // AP code at 0x9000: inc byte [0x100]; jmp $-5 (real mode, DS = 0).
    m.memory.load(0x9000, new Uint8Array([0xfe, 0x06, 0x00, 0x01, 0xeb, 0xfa]));
    // BSP: jmp $ at the reset vector.
    m.memory.mapRom(0xfffffff0, new Uint8Array([0xeb, 0xfe]));
    assert.deepEqual(m.processors!.states, ["running", "wait-for-sipi"]);
    m.processors!.startup(1, 6, 0x09);
    assert.equal(m.cpus[1].segBase[1], 0x9000);
    m.processors!.startup(1, 6, 0x0a); // running: ignored
    assert.equal(m.cpus[1].segBase[1], 0x9000);
    const r = m.run(100_000, { progressEvery: every });
    assert.equal(r.reason, "budget");
    return [m.memory.ram[0x100], m.cpus[0].eip, m.cpus[1].eip, m.clock.icount];
  };
  const whole = run(4_000_000);
  assert.ok((whole[0] as number) > 0, "the AP ran");
  assert.deepEqual(run(777), whole);
});
