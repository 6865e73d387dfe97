import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { PcInterruptRouter } from "../../core/devices/interrupt_router.ts";
import { ApicBus } from "../../core/devices/apic_bus.ts";
import { LAPIC_VERSION, LocalApic } from "../../core/devices/lapic.ts";
import { Pic } from "../../core/devices/pic.ts";
import { advance } from "./clock_util.ts";

function setup(hz = 100_000_000) {
  const clock = new VirtualClock();
  const apic = new LocalApic({ clock, hz });
  const rd = (o: number) => apic.mmioRead(o, 4);
  const wr = (o: number, v: number) => apic.mmioWrite(o, 4, v);
  return { clock, apic, rd, wr };
}

Deno.test("LAPIC: reset values (SDM 10.4.7.1) and version 0x00050014", () => {
  const { rd } = setup();
  assertEquals(rd(0x20), 0);
  assertEquals(rd(0x30), LAPIC_VERSION);
  assertEquals(rd(0x30) >>> 16 & 0xff, 5); // six LVT entries
  assertEquals(rd(0xe0), 0xffffffff);
  assertEquals(rd(0xf0), 0xff);
  assertEquals(rd(0x320), 0x10000);
  assertEquals(rd(0x350), 0x700); // LINT0 ExtINT (virtual wire)
  assertEquals(rd(0x360), 0x10000);
  assertEquals(rd(0x370), 0x10000);
  assertEquals(rd(0x380), 0);
});

Deno.test("LAPIC: self IPI, TPR/PPR arbitration, EOI retires the highest ISR bit", () => {
  const { apic, rd, wr } = setup();
  wr(0x300, 0x40050); // shorthand self, fixed, vector 0x50: APIC still disabled
  assertEquals(apic.hasInterrupt(), false);
  wr(0xf0, 0x1ff);
  assertEquals(apic.hasInterrupt(), true);
  assertEquals(rd(0x200 + 0x20), 1 << 16); // IRR bit 0x50
  wr(0x80, 0x50); // TPR class 5 blocks vector class 5
  assertEquals(apic.hasInterrupt(), false);
  wr(0x80, 0x40);
  assertEquals(apic.acknowledge(), 0x50);
  assertEquals(rd(0xa0), 0x50); // PPR = ISR class
  wr(0x300, 0x40045); // class 4 <= PPR class 5
  assertEquals(apic.hasInterrupt(), false);
  assertEquals(apic.acknowledge(), 0xff); // spurious
  wr(0x300, 0x40061);
  assertEquals(apic.acknowledge(), 0x61);
  wr(0xb0, 0); // EOI 0x61
  assertEquals(rd(0x100 + 0x30), 0);
  assertEquals(rd(0x100 + 0x20), 1 << 16);
  wr(0xb0, 0); // EOI 0x50
  assertEquals(apic.hasInterrupt(), false); // 0x45 still below TPR class 4
  wr(0x80, 0);
  assertEquals(apic.acknowledge(), 0x45);
});

Deno.test("LAPIC: physical/logical destinations and illegal vectors set ESR", () => {
  const { apic, rd, wr } = setup();
  wr(0xf0, 0x100 | 0xef);
  wr(0x310, 0x01000000); // physical dest 1: not us (ID 0)
  wr(0x300, 0x00070);
  assertEquals(apic.hasInterrupt(), false);
  wr(0xd0, 0x02000000); // logical ID bit 1, flat model
  wr(0x310, 0x02000000);
  wr(0x300, 0x00870);
  assertEquals(apic.acknowledge(), 0x70);
  wr(0x300, 0x4000a); // vector 10: send illegal vector
  wr(0x280, 0);
  assertEquals(rd(0x280), 0x20);
  wr(0x280, 0);
  assertEquals(rd(0x280), 0);
  rd(0x040); // reserved register
  wr(0x280, 0);
  assertEquals(rd(0x280), 0x80);
});

Deno.test("LAPIC: software disable masks every LVT and keeps masks set", () => {
  const { rd, wr } = setup();
  wr(0xf0, 0x1ff);
  wr(0x320, 0x20);
  assertEquals(rd(0x320), 0x20);
  wr(0xf0, 0x0ff);
  assertEquals(rd(0x320), 0x10020);
  assertEquals(rd(0x350), 0x10700);
  wr(0x320, 0x30);
  assertEquals(rd(0x320), 0x10030);
});

Deno.test("LAPIC timer: one-shot count derived from the bus clock and divider", () => {
  const { clock, apic, rd, wr } = setup(50_000_000); // 2 instructions per bus tick
  wr(0xf0, 0x1ff);
  wr(0x3e0, 0x1); // divide by 4 -> one count per 8 instructions
  wr(0x320, 0x31);
  wr(0x380, 1000);
  assertEquals(rd(0x390), 1000);
  advance(clock, clock.icount + 800);
  assertEquals(rd(0x390), 900);
  assertEquals(apic.hasInterrupt(), false);
  advance(clock, 7999);
  assertEquals(apic.hasInterrupt(), false);
  advance(clock, 8000);
  assertEquals(apic.acknowledge(), 0x31);
  assertEquals(rd(0x390), 0);
  advance(clock, 100_000);
  assertEquals(apic.hasInterrupt(), false);
});

Deno.test("LAPIC timer: periodic mode fires every period without drift; masked LVT counts", () => {
  const { clock, apic, rd, wr } = setup();
  wr(0xf0, 0x1ff);
  wr(0x3e0, 0xb); // divide by 1
  wr(0x320, 0x20000 | 0x40);
  wr(0x380, 333);
  const fired: number[] = [];
  for (let t = 1; t <= 3400; t++) {
    advance(clock, t);
    if (apic.hasInterrupt()) {
      fired.push(clock.icount);
      apic.acknowledge();
      wr(0xb0, 0);
    }
  }
  assertEquals(fired, [333, 666, 999, 1332, 1665, 1998, 2331, 2664, 2997, 3330]);
  wr(0x320, 0x30040); // masked periodic: no interrupts but the count runs
  const c0 = rd(0x390);
  advance(clock, 3500);
  ok(rd(0x390) !== c0);
  assertEquals(apic.hasInterrupt(), false);
  wr(0x380, 0); // writing 0 stops the timer
  assertEquals(rd(0x390), 0);
});

Deno.test("LAPIC timer: state round-trip re-arms the timer at the same instruction", () => {
  const a = setup();
  a.wr(0xf0, 0x1ff);
  a.wr(0x320, 0x20000 | 0x41);
  a.wr(0x380, 12_345);
  advance(a.clock, 100_000);
  const state = JSON.parse(JSON.stringify(a.apic.saveState()));
  const b = setup();
  b.clock.icount = a.clock.icount;
  b.apic.loadState(state);
  assertEquals(b.rd(0x390), a.rd(0x390));
  assertEquals(b.clock.nextDeadline, a.clock.nextDeadline);
});

Deno.test("Router: APIC fixed vectors first, then the 8259A through LINT0 ExtINT", () => {
  const clock = new VirtualClock();
  const apic = new LocalApic({ clock });
  const pic = new Pic();
  const router = new PcInterruptRouter(apic, pic);
  for (const [p, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 0x04], [0x21, 0x01]]) {
    pic.portWrite(p, 1, v);
  }
  pic.setIrq(0, true);
  apic.mmioWrite(0xf0, 4, 0x1ff);
  apic.mmioWrite(0x300, 4, 0x400ef);
  assertEquals(router.hasInterrupt(), true);
  assertEquals(router.acknowledge(), 0xef);
  assertEquals(router.acknowledge(), 0x20);
  assertEquals(router.hasInterrupt(), false);
  pic.portWrite(0x20, 1, 0x20); // EOI IRQ0
  // LINT0 masked: the PIC no longer reaches the CPU.
  pic.setIrq(1, true);
  apic.mmioWrite(0x350, 4, 0x10700);
  assertEquals(router.hasInterrupt(), false);
  apic.mmioWrite(0x350, 4, 0x700);
  assertEquals(router.acknowledge(), 0x21);
});

Deno.test("Router: APIC globally disabled (IA32_APIC_BASE bit 11 = 0) - PIC drives INTR", () => {
  const clock = new VirtualClock();
  const apic = new LocalApic({ clock });
  const pic = new Pic();
  let enabled = true;
  const router = new PcInterruptRouter(apic, pic, () => enabled);
  for (const [p, v] of [[0x20, 0x11], [0x21, 0x30], [0x21, 0x04], [0x21, 0x01]]) {
    pic.portWrite(p, 1, v);
  }
  apic.mmioWrite(0x350, 4, 0x10700); // LINT0 masked: blocked while the APIC is enabled
  pic.setIrq(3, true);
  assertEquals(router.hasInterrupt(), false);
  enabled = false;
  assertEquals(router.hasInterrupt(), true);
  assertEquals(router.acknowledge(), 0x33);
});

Deno.test("LAPIC: ICR NMI (100b) to a destination and with the self shorthand reaches the NMI input", () => {
  const clock = new VirtualClock();
  const bus = new ApicBus();
  const nmis: number[] = [];
  const a = new LocalApic({ clock, bus, id: 0, onNmi: () => nmis.push(0) });
  const b = new LocalApic({ clock, bus, id: 1, bsp: false, onNmi: () => nmis.push(1) });
  a.mmioWrite(0xf0, 4, 0x1ff);
  // b stays software-disabled: an NMI is accepted anyway (SDM 10.4.7.2).
  a.mmioWrite(0x310, 4, 0x01000000);
  a.mmioWrite(0x300, 4, 0x00400); // NMI, physical dest 1; vector 0 ignored
  assertEquals(nmis, [1]);
  a.mmioWrite(0x300, 4, 0x40400); // NMI, self
  assertEquals(nmis, [1, 0]);
  a.mmioWrite(0x300, 4, 0xc0400); // NMI, all excluding self
  assertEquals(nmis, [1, 0, 1]);
  a.mmioWrite(0x280, 4, 0);
  assertEquals(a.mmioRead(0x280, 4), 0, "no illegal-vector error for an NMI");
  assertEquals(a.hasInterrupt() || b.hasInterrupt(), false, "an NMI is not a fixed interrupt");
});

Deno.test("LAPIC: LINT1 delivers as its LVT says (NMI, fixed, masked); globally disabled it is NMI", () => {
  const clock = new VirtualClock();
  let nmis = 0;
  const apic = new LocalApic({ clock, onNmi: () => nmis++ });
  apic.lint1();
  assertEquals(nmis, 0, "LINT1 is masked after reset");
  apic.mmioWrite(0xf0, 4, 0x1ff);
  apic.mmioWrite(0x360, 4, 0x400); // LINT1: NMI
  apic.lint1();
  assertEquals(nmis, 1);
  apic.mmioWrite(0x360, 4, 0x10400); // masked
  apic.lint1();
  assertEquals(nmis, 1);
  apic.mmioWrite(0x360, 4, 0x0051); // fixed, vector 0x51
  apic.lint1();
  assertEquals([nmis, apic.acknowledge()], [1, 0x51]);
  apic.lint1(true);
  assertEquals(nmis, 2);
});
