/**
 * The Xen backend: domain builder layout, per-profile hypercall answers, event channels,
 * page-table validation refusals and shutdown statuses, driven through the xenabi guest and the
 * backend's own pieces; and a same-backend replay of a xenabi trace with zero divergence.
 */

import assert from "node:assert/strict";
import type { TraceEvent } from "../../../vocabulary/event.ts";
import { Recorder } from "../../../traces/session/recorder.ts";
import { replaySame } from "../../../traces/session/replay.ts";
import { openSession } from "../../../traces/session/session.ts";
import { IMAGE_DIR } from "../../../traces/format/guest_image.ts";
import { PhysicalMemory } from "../../../core/memory.ts";
import { readXenNotes, shuffledP2m, SI } from "../../../backends/xen/domain_builder.ts";
import { EventChannels, EvtchnStat, SH } from "../../../backends/xen/event_channels.ts";
import {
  EXIT_GUEST_CRASHED,
  EXIT_GUEST_KILLED,
  EXIT_GUEST_SUSPENDED,
  EXIT_RESET,
  EXIT_SUCCESS,
} from "../../../core/exit_status.ts";
import { SHUTDOWN_EXIT, XEN_PROFILES } from "../../../backends/xen/profiles.ts";
import { describeXen } from "../../../backends/xen/description.ts";
import { createBackend } from "../../../backends/registry.ts";

const IMAGE = Deno.readFileSync(`${IMAGE_DIR}/xenabi.elf`);

function record(backend: string) {
  const events: TraceEvent[] = [];
  const s = openSession(
    { image: IMAGE, imageName: "xenabi.elf", cmdline: "", backend },
    new Recorder({ append: (e) => events.push(e) }),
  );
  const result = s.run(50_000_000);
  return {
    events,
    header: s.header,
    result,
    session: s,
    serial: new TextDecoder().decode(Uint8Array.from(s.serial)),
  };
}

Deno.test("ELF notes: entry, hypercall page, virt base, guest OS, loader", () => {
  const n = readXenNotes(IMAGE, "xenabi.elf");
  assert.equal(n.virtBase, 0xc0000000);
  assert.equal(n.guestOs, "pvreplay-xenabi");
  assert.equal(n.loader, "generic");
  assert.equal(n.xenVersion, "xen-3.0");
  assert.ok(n.entry >= 0xc0000000 && n.hypercallPage % 4096 === 0);
});

Deno.test("the P2M is a permutation that is never the identity", () => {
  const p = shuffledP2m(7936);
  assert.equal(new Set(p).size, 7936);
  assert.ok([...p].every((mfn, pfn) => mfn !== pfn && mfn >= 0x100 && mfn < 0x100 + 7936));
  assert.deepEqual(shuffledP2m(7936), p);
});

Deno.test("start_info: magic by profile, console channel, pt_base and mfn_list virtual", () => {
  const r = record("xen@3.1");
  const m = r.session.machine.memory;
  const esiStart = r.serial.match(/pt_base=0x([0-9a-f]+) mfn_list=0x([0-9a-f]+)/);
  assert.ok(esiStart, r.serial);
  assert.equal(r.result.reason, "shutdown");
  assert.equal(r.result.exitCode, SHUTDOWN_EXIT[0]);
  assert.match(r.serial, /magic=xen-3\.0-x86_32 nr_pages=32512 /);
  // ESI at entry was start_info; its console fields name the ring's machine frame and port 1.
  const cpu = r.session.machine.cpu;
  const si = cpu.translate(parseInt(esiStart[1], 16) - 0x3000 + 0x1000);
  assert.ok(si > 0 && m.ramSize > si);
  assert.equal(SI.cmdLine, 80);
  assert.equal(SI.consoleEvtchn, 56);
});

Deno.test("every hypercall is a trace event with its number, arguments and errno", () => {
  const r = record("xen@3.2");
  const hc = r.events.filter((e) => e.kind === "hypercall");
  const nosys = hc.find((e) => e.nr === 11);
  assert.equal(nosys?.ret, (-38) >>> 0);
  assert.ok(hc.some((e) => e.name === "sched_op" && e.args[0] === 2));
  assert.ok(hc.some((e) => e.name === "iret" && e.op === "iret"));
  assert.ok(hc.some((e) => e.op === "shutdown" && e.opArgs[0] === 0));
  assert.ok(hc.some((e) => e.op === "set_timer" && e.opArgs[1] > 0));
  assert.ok(r.events.some((e) => e.kind === "exception" && e.nr === 14));
});

Deno.test("3.0.0: no hypercall page, crash status, reason on the console and in the trace", () => {
  const r = record("xen@3.0.0");
  assert.match(r.serial, /hypercall page not filled/);
  assert.equal(r.result.exitCode, SHUTDOWN_EXIT[3]);
  const last = r.events.filter((e) => e.kind === "hypercall").at(-1);
  assert.equal(last?.name, "sched_op_compat");
  assert.equal(last?.args[1], 3);
});

Deno.test("profiles: sched_op, new event_channel_op and VCPUOP timers by release", () => {
  assert.equal(XEN_PROFILES["3.0.0"].schedOpNew, false);
  assert.equal(XEN_PROFILES["3.0.2"].eventChannelOpNew, false);
  assert.equal(XEN_PROFILES["3.0.3"].eventChannelOpNew, true);
  assert.equal(XEN_PROFILES["3.0.4"].vcpuTimers, false);
  assert.equal(XEN_PROFILES["3.1"].vcpuTimers, true);
  assert.ok(!describeXen(XEN_PROFILES["3.0.0"]).calls.some((c) => c.name === "sched_op"));
  assert.equal(createBackend("xen").version, "3.1");
  assert.equal(createBackend("xen").bootProtocol, "xen");
});

Deno.test("shutdown reasons map to distinct exit statuses, each one of pvreplay's own", () => {
  assert.equal(new Set(Object.values(SHUTDOWN_EXIT)).size, 4);
  assert.deepEqual(
    [0, 1, 2, 3].map((r) => SHUTDOWN_EXIT[r]),
    [EXIT_SUCCESS, EXIT_RESET, EXIT_GUEST_SUSPENDED, EXIT_GUEST_CRASHED],
  );
  // Not lguest's kill: a suspended Xen guest must not read as one the hypervisor killed.
  assert.ok(!Object.values(SHUTDOWN_EXIT).includes(EXIT_GUEST_KILLED));
});

Deno.test("event channels: masked pending does not raise; unmask does", () => {
  const mem = new PhysicalMemory({ size: 1 << 16 });
  const ev = new EventChannels(mem, 0x1000);
  const port = ev.alloc(EvtchnStat.virq, 0);
  assert.equal(port, 1);
  mem.write32(0x1000 + SH.evtchnMask, 1 << port);
  assert.equal(ev.setPending(port), false);
  assert.equal(mem.read8(0x1000 + SH.upcallPending), 0);
  ev.unmask(port);
  assert.equal(mem.read8(0x1000 + SH.upcallPending), 1);
  assert.equal(mem.read32(0x1000 + SH.pendingSel), 1);
  ev.mask = 1;
  assert.equal(ev.upcallDue(), false);
  ev.mask = 0;
  assert.equal(ev.upcallDue(), true);
  assert.equal(ev.portOfVirq(0), port);
  ev.close(port);
  assert.equal(ev.isOpen(port), false);
});

Deno.test("page-table validation refusals: the hole and foreign frames are -EINVAL", () => {
  const r = record("xen@3.1");
  assert.match(r.serial, /PASS update_va_mapping inside the hypervisor hole -EINVAL/);
  assert.match(r.serial, /PASS mmu_update on a frame the domain does not own -EINVAL/);
});

Deno.test("same-backend replay of a xenabi trace shows zero divergence", () => {
  for (const spec of ["xen@3.1", "xen@3.0.2"]) {
    const r = record(spec);
    const rep = replaySame(r.header, r.events, IMAGE);
    assert.equal(rep.mismatch, null, spec);
    assert.equal(rep.checked, r.events.length);
  }
});
