/**
 * Run control on a real machine: a backend's stop request ends the run where it was made, an
 * interrupted async run ends at a slice boundary, and slicing is invisible to the guest.
 */

import assert from "node:assert/strict";
import { Machine } from "../../core/machine.ts";
import { EXIT_STOPPED } from "../../core/exit_status.ts";
import { createBackend } from "../../backends/registry.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";
import { Recorder } from "../../traces/session/recorder.ts";
import { openSession } from "../../traces/session/session.ts";
import { IMAGE_DIR } from "../../traces/format/guest_image.ts";

/** A machine under `spec` whose reset vector holds `code`; events collected. */
function machineUnder(spec: string, code: number[]) {
  const m = new Machine({ memMiB: 2 });
  m.memory.mapRom(0xfffffff0, new Uint8Array(code));
  const events: Array<Omit<TraceEvent, "seq">> = [];
  const backend = createBackend(spec);
  backend.attach({
    cpu: m.cpu,
    memory: m.memory,
    io: m.io,
    clock: m.clock,
    sink: { emit: (e) => events.push(e) },
  });
  m.cpu.hooks = backend;
  return { m, events, backend };
}

// vmcall; mov al,0x41; out 0x80,al; hlt
const VMCALL_THEN_IO = [0x0f, 0x01, 0xc1, 0xb0, 0x41, 0xe6, 0x80, 0xf4];

Deno.test("kvm@2.6.20: the VM stops at the VMCALL; no later guest I/O reaches the trace", () => {
  const { m, events } = machineUnder("kvm@2.6.20", VMCALL_THEN_IO);
  const r = m.run(1000);
  assert.equal(r.reason, "stopped");
  assert.equal(r.exitCode, EXIT_STOPPED);
  assert.equal(r.instructions, 1);
  assert.equal(r.post, -1, "the OUT to port 0x80 after the VMCALL must not run");
  const last = events.at(-1)!;
  assert.equal(last.name, "KVM_EXIT_UNKNOWN");
  assert.equal(events.filter((e) => e.kind === "io").length, 0);
});

Deno.test("the same guest on kvm@2.6.25 runs on through the OUT to its halt", () => {
  const { m, events } = machineUnder("kvm@2.6.25", VMCALL_THEN_IO);
  const r = m.run(1000);
  assert.equal(r.reason, "idle");
  assert.equal(r.post, 0x41);
  assert.equal(events.filter((e) => e.kind === "io").length, 1);
});

Deno.test("runAsync: interrupted ends at the slice boundary after the request", async () => {
  const m = new Machine({ memMiB: 2 });
  m.memory.mapRom(0xfffffff0, new Uint8Array([0xeb, 0xfe])); // jmp $
  let slices = 0;
  const r = await m.runAsync(1_000_000, {
    progressEvery: 1000,
    onProgress: () => slices++,
    interrupted: () => slices >= 3,
  });
  assert.equal(r.reason, "interrupted");
  assert.equal(r.instructions, 3000);
});

Deno.test("runAsync in small slices gives the guest exactly what run gives it", async () => {
  const image = Deno.readFileSync(`${IMAGE_DIR}/pvkernel-2.6.22.elf`);
  const go = () => {
    const events: TraceEvent[] = [];
    const s = openSession(
      { image, imageName: "pvkernel-2.6.22.elf", cmdline: "scenario=timer", backend: "kvm" },
      new Recorder({ append: (e) => events.push(e) }),
    );
    return { s, events };
  };
  const a = go();
  const ra = a.s.run(400_000_000);
  const b = go();
  const rb = await b.s.runAsync(400_000_000, { progressEvery: 199_999 });
  assert.equal(ra.reason, "debug-exit");
  assert.deepEqual(rb, ra);
  assert.deepEqual(b.events, a.events);
  assert.equal(b.s.digest(), a.s.digest());
});
