import assert from "node:assert/strict";
import { translatorDefault } from "../../core/cpu/cpu.ts";
import { Machine } from "../../core/machine.ts";
import { encodeTrace } from "../../traces/format/writer.ts";
import { Recorder } from "../../traces/session/recorder.ts";
import { openSession } from "../../traces/session/session.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";
import { assembleFixture } from "./fixture_kernel.ts";

async function record(backend: string, jit: boolean) {
  const image = await assembleFixture("nmi_kernel");
  const before = translatorDefault(jit);
  try {
    const events: TraceEvent[] = [];
    const s = openSession(
      { image, imageName: "nmi.elf", cmdline: "", backend, memMiB: 4 },
      new Recorder({ append: (e) => events.push(e) }),
    );
    const r = s.run(1_000_000);
    const trace = encodeTrace(s.header, events, { finalDigest: s.digest() });
    return { r, s, events, trace };
  } finally {
    translatorDefault(before);
  }
}

for (const backend of ["native", "kvm@6.1"]) {
  Deno.test(`self-NMI through the ICR with IF=0 on ${backend}: vector 2, the second held until IRET`, async () => {
    const a = await record(backend, true);
    assert.equal(a.r.reason, "debug-exit");
    assert.equal(a.r.exitCode, 0x23, "the kernel's checks passed");
    const nmis = a.events.filter((e) => e.kind === "interrupt" && e.name === "nmi");
    assert.equal(nmis.length, backend === "native" ? 2 : 3);
    if (backend !== "native") {
      const ipi = a.events.filter((e) => e.name === "KVM_HC_SEND_IPI").map((e) => e.ret);
      assert.deepEqual(ipi, [1], "the PV send-IPI counts the NMI as delivered");
    }
    assert.ok(nmis.every((e) => e.vector === 2));
    // The second is taken at the boundary after the first handler's IRET: the same return EIP.
    assert.equal(nmis[0].eip, nmis[1].eip);
    assert.ok(nmis[1].icount > nmis[0].icount);
    assert.equal(a.s.machine.cpu.nmiBlocked, false, "the last handler's IRET unblocked NMIs");
    const again = await record(backend, true);
    assert.deepEqual(again.trace, a.trace);
    const off = await record(backend, false);
    assert.equal(off.s.machine.cpu.jit, null);
    assert.deepEqual(off.trace, a.trace, "translator on and off give the same trace");
  });
}

Deno.test("--smp 2: an ICR NMI wakes another CPU halted with IF=0; it runs its handler, then goes on", () => {
  const run = () => {
    const m = new Machine({ memMiB: 2, cpus: 2 });
    // AP at 0x9000 (real mode, DS = 0): cli; hlt; inc byte [0x100]; cli; hlt; jmp $-2.
    m.memory.load(
      0x9000,
      new Uint8Array([0xfa, 0xf4, 0xfe, 0x06, 0x00, 0x01, 0xfa, 0xf4, 0xeb, 0xfe]),
    );
    // Its NMI handler at 0x9100: inc byte [0x101]; iret. IVT entry 2 -> 0000:9100.
    m.memory.load(0x9100, new Uint8Array([0xfe, 0x06, 0x01, 0x01, 0xcf]));
    m.memory.load(8, new Uint8Array([0x00, 0x91, 0x00, 0x00]));
    m.memory.mapRom(0xfffffff0, new Uint8Array([0xeb, 0xfe])); // BSP: jmp $
    m.processors!.startup(1, 6, 0x09);
    m.run(50_000);
    assert.ok(m.cpus[1].halted, "the AP halted with IF = 0");
    assert.equal(m.memory.ram[0x101], 0);
    const bsp = m.processors!.slots[0].lapic;
    bsp.mmioWrite(0x310, 4, 1 << 24);
    bsp.mmioWrite(0x300, 4, 0x400); // NMI to APIC ID 1
    m.run(50_000);
    return [m.memory.ram[0x101], m.memory.ram[0x100], m.cpus[1].halted, m.cpus[1].nmiBlocked];
  };
  const got = run();
  assert.deepEqual(got, [1, 1, true, false]);
  assert.deepEqual(run(), got);
});
