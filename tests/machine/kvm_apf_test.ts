/**
 * KVM's async PF on a real machine (docs/abi/kvm.md §10): fixtures/kvm_apf_kernel.S registers
 * the 'page ready' vector and structure and meets the wake-all every enable queues: held while
 * the APIC is software-disabled or the token slot busy, dropped by a disable, delivered by the
 * SVR write, the ACK or the enable that allows it. On kvm@2.6.35 (no async PF) the MSRs #GP.
 */

import assert from "node:assert/strict";
import { assembleFixture } from "./fixture_kernel.ts";
import { openSession } from "../../traces/session/session.ts";
import { Recorder } from "../../traces/session/recorder.ts";
import { encodeTrace } from "../../traces/format/writer.ts";
import { readTrace } from "../../traces/format/reader.ts";
import { replaySame } from "../../traces/session/replay.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";

const APFDATA = 0xa000, RESULTS = 0xa100, LOG = 0xa200;
const VECTOR = 0xf3, WAKE_ALL = 0xffffffff;

async function record(backend: string, exitCode: number) {
  const image = await assembleFixture("kvm_apf_kernel");
  const events: TraceEvent[] = [];
  const s = openSession(
    { image, imageName: "apf.elf", cmdline: "", backend, memMiB: 4 },
    new Recorder({ append: (e) => events.push(e) }),
  );
  const r = s.run(5_000_000);
  assert.equal(r.reason, "debug-exit", `ended with ${r.reason}`);
  assert.equal(r.exitCode, exitCode);
  const u32 = (pa: number) => s.machine.memory.view.getUint32(pa, true);
  const results = Array.from({ length: 10 }, (_, i) => u32(RESULTS + 4 * i));
  const trace = encodeTrace(s.header, events, { finalDigest: s.digest() });
  return { image, events, trace, results, u32 };
}

Deno.test("kvm@6.1 async PF: the wake-all waits for an enabled APIC and a free slot, goes with a disable", async () => {
  const a = await record("kvm@6.1", 0x27);
  const [gp, enAfterFault, int, whileDisabled, slot, whileBusy, afterDrop, withoutInt, cpuid, n] =
    a.results;
  assert.equal(cpuid & (1 << 4 | 1 << 10 | 1 << 14), 1 << 4 | 1 << 10 | 1 << 14);
  assert.equal(gp, 3, "reserved bit 4, INT bit 8 and an enable above RAM raise #GP");
  assert.equal(
    enAfterFault,
    0x800009,
    "the faulting enable's value stays in the MSR (KVM's order)",
  );
  assert.equal(int, VECTOR);
  assert.equal(whileDisabled, 0, "no interrupt while the APIC is software-disabled");
  assert.equal(slot, 0, "nor a token written");
  assert.equal(whileBusy, 1, "a busy slot holds the next one");
  assert.equal(afterDrop, 2, "a disable drops a waiting wake-all");
  assert.equal(withoutInt, 2, "an enable without bit 3 delivers nothing");
  assert.equal(n, 3);
  assert.deepEqual([0, 1, 2].map((i) => a.u32(LOG + 4 * i)), [WAKE_ALL, WAKE_ALL, WAKE_ALL]);

  // Each delivery is a kvm_async_pf marker after the exit that allowed it (the SVR write, the
  // ACK, the enable), followed by the interrupt on the guest's vector.
  const ev = a.events;
  const marks = ev.filter((e) => e.name === "kvm_async_pf");
  assert.equal(marks.length, 3);
  const before = marks.map((e) => ev[ev.indexOf(e) - 1]);
  assert.deepEqual(before.map((e) => [e.name, e.nr]), [
    ["mmio_write", 0xfee000f0],
    ["EXIT_REASON_MSR_WRITE", 32],
    ["EXIT_REASON_MSR_WRITE", 32],
  ]);
  assert.deepEqual(before.slice(1).map((e) => e.args.slice(0, 2)), [
    [0x4b564d07, 1],
    [0x4b564d02, APFDATA + 9],
  ]);
  for (const m of marks) {
    assert.equal(m.kind, "marker");
    assert.equal(m.nr, APFDATA);
    assert.deepEqual(m.args, [WAKE_ALL, VECTOR]);
    assert.equal(m.op, null);
    const next = ev.slice(ev.indexOf(m) + 1).find((e) => e.kind === "interrupt");
    assert.equal(next?.vector, VECTOR);
  }
  assert.equal(ev.filter((e) => e.kind === "interrupt").length, 3);

  // Same inputs, same bytes; a same-backend replay matches event for event.
  const b = await record("kvm@6.1", 0x27);
  assert.deepEqual(b.trace, a.trace);
  const t = readTrace(a.trace);
  assert.equal(replaySame(t.header, t.events, a.image).mismatch, null);
});

Deno.test("kvm@2.6.35 has no async PF: its MSRs raise #GP, nothing is delivered", async () => {
  const a = await record("kvm@2.6.35", 0x2b);
  assert.equal(a.results[8] & (1 << 4 | 1 << 14), 0);
  assert.equal(a.results[0], 2);
  assert.equal(a.events.filter((e) => e.name === "kvm_async_pf").length, 0);
});
