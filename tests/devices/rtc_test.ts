import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { DEFAULT_EPOCH } from "../../core/clock.ts";
import { Rtc } from "../../core/devices/rtc.ts";
import { advance, recordingIrq } from "./clock_util.ts";

const SECOND = 100_000_000; // instructions per virtual second at the default rate

function setup(epoch?: number, ramBytes = 64 << 20) {
  const clock = new VirtualClock();
  const irq = recordingIrq(clock);
  const rtc = new Rtc({ clock, irq, epoch, ramBytes });
  const read = (reg: number) => {
    rtc.portWrite(0x70, 1, reg);
    return rtc.portRead(0x71, 1);
  };
  const write = (reg: number, v: number) => {
    rtc.portWrite(0x70, 1, reg);
    rtc.portWrite(0x71, 1, v);
  };
  return { clock, irq, rtc, read, write };
}

Deno.test("MC146818: default epoch 2007-03-09 00:00:00 UTC (Friday) in BCD, 24h", () => {
  const { read } = setup();
  assertEquals(DEFAULT_EPOCH, 1173398400);
  assertEquals([0, 2, 4, 6, 7, 8, 9].map(read), [0x00, 0x00, 0x00, 0x06, 0x09, 0x03, 0x07]);
  assertEquals(read(0x32), 0x20);
  assertEquals(read(0x0d), 0x80);
});

Deno.test("MC146818: time advances with virtual time only", () => {
  const { clock, read } = setup(1173398400 + 3600 * 13 + 60 * 59 + 58);
  assertEquals([read(4), read(2), read(0)], [0x13, 0x59, 0x58]);
  advance(clock, 3 * SECOND);
  assertEquals([read(4), read(2), read(0)], [0x14, 0x00, 0x01]);
});

Deno.test("MC146818: binary mode and 12-hour mode with the PM bit", () => {
  const { read, write } = setup(1173398400 + 3600 * 15 + 60 * 7);
  write(0x0b, 0x06); // binary, 24h
  assertEquals([read(4), read(2)], [15, 7]);
  write(0x0b, 0x04); // binary, 12h
  assertEquals(read(4), 0x80 | 3);
  write(0x0b, 0x00); // BCD, 12h
  assertEquals(read(4), 0x83);
});

Deno.test("MC146818: UIP is set only in the 2228 us before each second boundary", () => {
  const { clock, read } = setup();
  advance(clock, SECOND / 2);
  assertEquals(read(0x0a) & 0x80, 0);
  advance(clock, SECOND - 200_000); // 2 ms before the boundary
  assertEquals(read(0x0a) & 0x80, 0x80);
  assertEquals(read(0), 0x00);
  advance(clock, SECOND + 10);
  assertEquals(read(0x0a) & 0x80, 0);
  assertEquals(read(0), 0x01);
  assertEquals(read(0x0a) & 0x7f, 0x26);
});

Deno.test("MC146818: SET freezes updates; writes take effect when SET clears", () => {
  const { clock, read, write } = setup();
  write(0x0b, 0x82); // SET, 24h, BCD
  write(0x04, 0x23);
  write(0x02, 0x59);
  write(0x00, 0x50);
  write(0x07, 0x31);
  write(0x08, 0x12);
  write(0x09, 0x99);
  advance(clock, 5 * SECOND);
  assertEquals(read(0), 0x50); // frozen while SET
  write(0x0b, 0x02);
  advance(clock, clock.icount + 11 * SECOND);
  // 20(century)99-12-31 23:59:50 + 11 s = 2100-01-01 00:00:01 (year register 00)
  assertEquals([read(9), read(8), read(7), read(4), read(2), read(0)], [0x00, 0x01, 0x01, 0, 0, 1]);
});

Deno.test("MC146818: periodic interrupt on IRQ8 at the RS rate; register C read clears it", () => {
  const { clock, irq, read, write } = setup();
  write(0x0a, 0x2f); // RS = 15: 2 Hz
  write(0x0b, 0x42); // PIE
  advance(clock, SECOND / 2 + 5);
  assertEquals(irq.rising(8).length, 1);
  assertEquals(read(0x0c), 0xc0); // IRQF | PF
  assertEquals(read(0x0c), 0x00);
  advance(clock, 2 * SECOND + 5);
  assertEquals(irq.rising(8).length, 2); // IRQ stays asserted until C is read
  assertEquals(read(0x0c) & 0xc0, 0xc0);
  advance(clock, 3 * SECOND + 5);
  assertEquals(irq.rising(8).length, 3);
});

Deno.test("MC146818: update-ended flag polled without interrupts; alarm interrupt", () => {
  const { clock, irq, read, write } = setup();
  read(0x0c);
  advance(clock, SECOND + 1);
  assertEquals(read(0x0c) & 0x10, 0x10); // UF set by the update, no IRQ (UIE = 0)
  assertEquals(irq.rising(8).length, 0);
  write(0x01, 0x05); // alarm at xx:00:05 (BCD)
  write(0x03, 0xc0); // any minute
  write(0x05, 0xc0); // any hour
  write(0x0b, 0x22); // AIE
  advance(clock, 4 * SECOND + 1);
  assertEquals(irq.rising(8).length, 0);
  advance(clock, 5 * SECOND + 1);
  assertEquals(irq.rising(8).length, 1);
  assertEquals(read(0x0c) & 0xa0, 0xa0);
});

Deno.test("CMOS: memory size registers, checksum, RAM bytes, NMI mask bit", () => {
  const { rtc, read, write } = setup(undefined, 64 << 20);
  assertEquals(read(0x15) | (read(0x16) << 8), 640);
  assertEquals(read(0x17) | (read(0x18) << 8), 63 * 1024);
  assertEquals(read(0x30) | (read(0x31) << 8), 63 * 1024);
  assertEquals(read(0x34) | (read(0x35) << 8), (48 << 20) / 65536);
  let sum = 0;
  for (let i = 0x10; i <= 0x2d; i++) sum += read(i);
  assertEquals((read(0x2e) << 8) | read(0x2f), sum);
  write(0x50, 0xab);
  assertEquals(read(0x50), 0xab);
  rtc.portWrite(0x70, 1, 0x80 | 0x50);
  ok(rtc.nmiMasked);
  assertEquals(rtc.portRead(0x71, 1), 0xab);
});

Deno.test("MC146818: state round-trip keeps time and periodic interrupts in step", () => {
  const a = setup();
  a.write(0x0a, 0x26);
  a.write(0x0b, 0x42);
  advance(a.clock, 12_345_678);
  const state = JSON.parse(JSON.stringify(a.rtc.saveState()));
  const b = setup();
  b.clock.icount = a.clock.icount;
  b.rtc.loadState(state);
  for (const s of [a, b]) {
    for (let t = 1; t <= 50; t++) {
      advance(s.clock, 12_345_678 + t * 40_000);
      s.read(0x0c);
    }
  }
  assertEquals(b.irq.rising(8), a.irq.rising(8).filter((t) => t > 12_345_678));
  assertEquals(b.read(0), a.read(0));
});
