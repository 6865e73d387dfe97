import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { Pit, PIT_HZ } from "../../core/devices/pit.ts";
import { advance, recordingIrq } from "./clock_util.ts";

function setup() {
  const clock = new VirtualClock();
  const irq = recordingIrq(clock);
  const pit = new Pit(clock, irq);
  return { clock, irq, pit };
}

function program(pit: Pit, ch: number, mode: number, count: number, access = 3) {
  pit.portWrite(0x43, 1, (ch << 6) | (access << 4) | (mode << 1));
  if (access & 1) pit.portWrite(0x40 + ch, 1, count & 0xff);
  if (access & 2) pit.portWrite(0x40 + ch, 1, count >> 8);
}

function readCount(pit: Pit, ch: number): number {
  pit.portWrite(0x43, 1, ch << 6); // counter latch
  return pit.portRead(0x40 + ch, 1) | (pit.portRead(0x40 + ch, 1) << 8);
}

Deno.test("8254 mode 2: IRQ0 rising edges every N PIT clocks from the load clock", () => {
  const { clock, irq, pit } = setup();
  const n = 1193; // ~1 kHz
  program(pit, 0, 2, n);
  const load = clock.ticksAt(PIT_HZ) + 1;
  advance(clock, clock.icountAtTicks(load + 5 * n, PIT_HZ));
  const want = [1, 2, 3, 4, 5].map((k) => clock.icountAtTicks(load + k * n, PIT_HZ));
  assertEquals(irq.rising(0), want);
  // OUT is low for exactly one clock before each edge.
  const falls = irq.log.filter(([, n0, l]) => n0 === 0 && !l).map(([t]) => t);
  assertEquals(
    falls.slice(-5),
    [1, 2, 3, 4, 5].map((k) => clock.icountAtTicks(load + k * n - 1, PIT_HZ)),
  );
});

Deno.test("8254: counter latch freezes the value until both bytes are read", () => {
  const { clock, pit } = setup();
  program(pit, 0, 2, 10000);
  advance(clock, clock.icountAtTicks(clock.ticksAt(PIT_HZ) + 101, PIT_HZ));
  pit.portWrite(0x43, 1, 0x00);
  advance(clock, clock.icount + 100_000);
  const lo = pit.portRead(0x40, 1);
  const hi = pit.portRead(0x40, 1);
  assertEquals(lo | (hi << 8), 10000 - 100);
  // Unlatched read now reflects the further elapsed time.
  ok(readCount(pit, 0) < 10000 - 100);
});

Deno.test("8254 mode 0: OUT low after the write, rises N+1 clocks later, stays high", () => {
  const { clock, irq, pit } = setup();
  const t = clock.ticksAt(PIT_HZ);
  program(pit, 0, 0, 50);
  advance(clock, clock.icountAtTicks(t + 500, PIT_HZ));
  assertEquals(irq.rising(0), [clock.icountAtTicks(t + 51, PIT_HZ)]);
  // Counter wrapped past zero and keeps counting down.
  ok(readCount(pit, 0) > 60000);
});

Deno.test("8254: read-back status reports OUT, null count, access, mode, BCD", () => {
  const { clock, pit } = setup();
  pit.portWrite(0x43, 1, 0xb7); // ch2, lohi, mode 3, BCD
  pit.portWrite(0x43, 1, 0xe8); // read-back: status only, ch2
  assertEquals(pit.portRead(0x42, 1), 0x80 | 0x40 | 0x30 | 0x06 | 0x01);
  pit.portWrite(0x61, 1, 0x01); // gate on
  pit.portWrite(0x42, 1, 0x00);
  pit.portWrite(0x42, 1, 0x10); // 1000 in BCD
  advance(clock, clock.icountAtTicks(clock.ticksAt(PIT_HZ) + 2, PIT_HZ));
  pit.portWrite(0x43, 1, 0xc8); // read-back count + status, ch2
  const status = pit.portRead(0x42, 1);
  assertEquals(status & 0x40, 0); // count loaded
  const count = pit.portRead(0x42, 1) | (pit.portRead(0x42, 1) << 8);
  ok(count <= 0x1000 && (count & 0xf) <= 9, `BCD count ${count.toString(16)}`);
});

Deno.test("8254: LSB-only and MSB-only access modes", () => {
  const { pit } = setup();
  program(pit, 1, 2, 0x80, 1);
  assertEquals(pit.portRead(0x41, 1) <= 0x80, true);
  program(pit, 1, 2, 0x1200, 2);
  pit.portWrite(0x43, 1, 0x40);
  assertEquals(pit.portRead(0x41, 1), 0x12);
});

Deno.test("8254 + port 0x61: channel 2 gate and square-wave OUT2 in bit 5", () => {
  const { clock, pit } = setup();
  assertEquals(pit.portRead(0x61, 1) & 1, 0);
  program(pit, 2, 3, 100);
  const frozen = readCount(pit, 2);
  advance(clock, clock.icount + 100_000);
  assertEquals(readCount(pit, 2), frozen); // gate low: not counting
  pit.portWrite(0x61, 1, 0x03);
  assertEquals(pit.portRead(0x61, 1) & 3, 3);
  const t0 = clock.ticksAt(PIT_HZ) + 1;
  let high = 0;
  for (let k = 0; k < 100; k++) {
    advance(clock, clock.icountAtTicks(t0 + k, PIT_HZ));
    if (pit.portRead(0x61, 1) & 0x20) high++;
  }
  assertEquals(high, 50);
});

Deno.test("8254 mode 2: a new count takes effect at the end of the current period", () => {
  const { clock, irq, pit } = setup();
  program(pit, 0, 2, 1000);
  const load = clock.ticksAt(PIT_HZ) + 1;
  advance(clock, clock.icountAtTicks(load + 500, PIT_HZ));
  pit.portWrite(0x40, 1, 2000 & 0xff);
  pit.portWrite(0x40, 1, 2000 >> 8);
  advance(clock, clock.icountAtTicks(load + 5000, PIT_HZ));
  assertEquals(irq.rising(0), [1000, 3000, 5000].map((d) => clock.icountAtTicks(load + d, PIT_HZ)));
});

Deno.test("8254: snapshot mid-period re-arms IRQ0 at the same instruction", () => {
  const a = setup();
  program(a.pit, 0, 2, 4321);
  advance(a.clock, 1_000_000);
  const state = JSON.parse(JSON.stringify(a.pit.saveState()));
  const b = setup();
  b.clock.icount = a.clock.icount;
  b.pit.loadState(state);
  advance(a.clock, 5_000_000);
  advance(b.clock, 5_000_000);
  const after = (log: number[]) => log.filter((t) => t > 1_000_000);
  assertEquals(after(b.irq.rising(0)), after(a.irq.rising(0)));
  ok(after(a.irq.rising(0)).length > 10);
});
