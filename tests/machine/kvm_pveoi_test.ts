/**
 * KVM's PV EOI on a real machine (docs/abi/kvm.md §9): fixtures/kvm_pveoi_kernel.S registers
 * the EOI word and takes self-IPIs, I/O APIC edge and level interrupts and the PIT; the host's
 * bit, the EOIs it performs and the trace are checked, on kvm@6.1 and on kvm@2.6.35 (no
 * PV_EOI: the MSR raises #GP and every EOI is the guest's write).
 */

import assert from "node:assert/strict";
import { assembleFixture } from "./fixture_kernel.ts";
import { openSession } from "../../traces/session/session.ts";
import { Recorder } from "../../traces/session/recorder.ts";
import { encodeTrace } from "../../traces/format/writer.ts";
import { readTrace } from "../../traces/format/reader.ts";
import { replaySame } from "../../traces/session/replay.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";

const EOIWORD = 0xa000, RESULTS = 0xa100, LOG = 0xa200;
const EOI_REG = 0xfee000b0;

async function record(backend: string) {
  const image = await assembleFixture("kvm_pveoi_kernel");
  const events: TraceEvent[] = [];
  const s = openSession(
    { image, imageName: "pveoi.elf", cmdline: "", backend, memMiB: 4, ioapic: true },
    new Recorder({ append: (e) => events.push(e) }),
  );
  const r = s.run(5_000_000);
  assert.equal(r.reason, "debug-exit", `ended with ${r.reason}`);
  assert.equal(r.exitCode, 0x27);
  const view = s.machine.memory.view;
  const u32 = (pa: number) => view.getUint32(pa, true);
  const log = Array.from({ length: 9 }, (_, i) => [u32(LOG + 8 * i), u32(LOG + 8 * i + 4)]);
  const trace = encodeTrace(s.header, events, { finalDigest: s.digest() });
  return { image, events, trace, log, gp: u32(RESULTS), isr: u32(RESULTS + 4), u32 };
}

/** The vectors whose EOI the guest wrote to the APIC, from the trace. */
function guestEois(events: TraceEvent[]): number {
  return events.filter((e) => e.kind === "mmio" && e.nr === EOI_REG && e.name === "mmio_write")
    .length;
}

Deno.test("kvm@6.1 PV EOI: the host's bit, the EOIs it performs, the vectors it leaves alone", async () => {
  const a = await record("kvm@6.1");
  assert.equal(a.gp, 2, "an unaligned word and one above RAM raise #GP");
  // Bit 0 as each handler found it: set for local-APIC interrupts and the edge-triggered I/O
  // APIC input; clear for 0x50 (0x40 waited in IRR), the level-triggered 0x44 and the PIT's pin.
  assert.deepEqual(a.log, [
    [0x40, 1],
    [0x40, 1],
    [0x40, 1],
    [0x40, 1],
    [0x50, 0],
    [0x40, 1],
    [0x44, 0],
    [0x45, 1],
    [0x42, 0],
  ]);
  assert.equal(a.isr & 1, 0, "the ISR read's exit completed the EOI of 0x40 first");
  assert.equal(a.u32(RESULTS + 8) & 1, 0, "an exit before the guest took the bit clears it");
  assert.equal(a.u32(EOIWORD) & 1, 0);

  // Each EOI the host performed is a kvm_pv_eoi marker standing for the skipped EOI write.
  const pv = a.events.filter((e) => e.name === "kvm_pv_eoi");
  assert.deepEqual(pv.map((e) => e.args[0]), [0x40, 0x40, 0x40, 0x40, 0x45]);
  for (const e of pv) {
    assert.equal(e.kind, "marker");
    assert.equal(e.nr, EOIWORD);
    assert.equal(e.op, "apic_write");
    assert.deepEqual(e.opArgs, [0xb0, 0]);
    assert.equal(e.vcpu, 0);
  }
  // Each marker follows the exit that completed it: ISR read, ICR write, port 0x80 (twice) and
  // the UART's IER write.
  const before = pv.map((e) => a.events[a.events.indexOf(e) - 1]);
  assert.deepEqual(before.map((e) => [e.name, e.nr]), [
    ["mmio_read", 0xfee00120],
    ["mmio_write", 0xfee00300],
    ["EXIT_REASON_IO_INSTRUCTION", 0x80],
    ["EXIT_REASON_IO_INSTRUCTION", 0x80],
    ["EXIT_REASON_IO_INSTRUCTION", 0x3f9],
  ]);
  // The guest wrote EOI for the exit-first 0x40, 0x50, 0x44 and 0x42.
  assert.equal(guestEois(a.events), 4);
  // The registration is an MSR write like the other PV MSRs; the #GPs are exceptions.
  const reg = a.events.filter((e) => e.op === "write_msr" && e.opArgs[0] === 0x4b564d04);
  assert.deepEqual(reg.map((e) => e.opArgs.slice(1)), [[EOIWORD + 1, 0]]);
  assert.equal(a.events.filter((e) => e.name === "general_protection").length, 2);

  // Same inputs, same bytes; a same-backend replay matches event for event.
  const b = await record("kvm@6.1");
  assert.deepEqual(b.trace, a.trace);
  const t = readTrace(a.trace);
  assert.equal(replaySame(t.header, t.events, a.image).mismatch, null);
});

Deno.test("kvm@2.6.35 has no PV EOI: MSR_KVM_PV_EOI_EN raises #GP, every EOI is the guest's", async () => {
  const a = await record("kvm@2.6.35");
  assert.equal(a.gp, 3);
  assert.deepEqual(a.log.map(([v]) => v), [0x40, 0x40, 0x40, 0x40, 0x50, 0x40, 0x44, 0x45, 0x42]);
  assert.ok(a.log.every(([, bit]) => bit === 0));
  assert.equal(a.isr & 1, 0);
  assert.equal(a.events.filter((e) => e.name === "kvm_pv_eoi").length, 0);
  assert.equal(guestEois(a.events), 9);
});
