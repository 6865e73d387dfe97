import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { Pic } from "../../core/devices/pic.ts";

/** PC BIOS-style initialisation: edge, cascade, 8086 mode, vectors 0x20 / 0x28. */
function initPic(opts: { autoEoi?: boolean; level?: boolean } = {}): Pic {
  const pic = new Pic();
  const icw1 = 0x11 | (opts.level ? 0x08 : 0);
  const icw4 = 0x01 | (opts.autoEoi ? 0x02 : 0);
  for (
    const [p, v] of [
      [0x20, icw1],
      [0x21, 0x20],
      [0x21, 0x04],
      [0x21, icw4],
      [0xa0, icw1],
      [0xa1, 0x28],
      [0xa1, 0x02],
      [0xa1, icw4],
    ]
  ) pic.portWrite(p, 1, v);
  return pic;
}

Deno.test("8259A: ICW1 clears IMR; OCW1 sets and reads back IMR", () => {
  const pic = new Pic();
  pic.portWrite(0x21, 1, 0xff); // before init: OCW1
  assertEquals(pic.portRead(0x21, 1), 0xff);
  const p = initPic();
  assertEquals(p.portRead(0x21, 1), 0x00);
  p.portWrite(0x21, 1, 0xa5);
  assertEquals(p.portRead(0x21, 1), 0xa5);
  pic.portWrite(0x20, 1, 0x11);
  assertEquals(pic.portRead(0x21, 1), 0x00);
});

Deno.test("8259A: edge-triggered request, INTA moves IRR to ISR, vector = base | level", () => {
  const pic = initPic();
  assertEquals(pic.hasInterrupt(), false);
  pic.setIrq(3, true);
  assertEquals(pic.hasInterrupt(), true);
  assertEquals(pic.portRead(0x20, 1), 0x08); // IRR (default read register)
  assertEquals(pic.acknowledge(), 0x23);
  assertEquals(pic.portRead(0x20, 1), 0x00);
  pic.portWrite(0x20, 1, 0x0b); // OCW3: read ISR
  assertEquals(pic.portRead(0x20, 1), 0x08);
  // A level held high is not a new edge.
  pic.portWrite(0x20, 1, 0x20); // non-specific EOI
  assertEquals(pic.hasInterrupt(), false);
  pic.setIrq(3, false);
  pic.setIrq(3, true);
  assertEquals(pic.hasInterrupt(), true);
});

Deno.test("8259A: fully nested priority; lower request waits for EOI of higher", () => {
  const pic = initPic();
  pic.setIrq(1, true);
  pic.setIrq(5, true);
  assertEquals(pic.acknowledge(), 0x21);
  assertEquals(pic.hasInterrupt(), false); // IR5 blocked by IR1 in service
  pic.setIrq(0, true);
  assertEquals(pic.hasInterrupt(), true); // IR0 outranks IR1
  assertEquals(pic.acknowledge(), 0x20);
  pic.portWrite(0x20, 1, 0x20); // EOI clears IR0 (highest in service)
  pic.portWrite(0x20, 1, 0x0b);
  assertEquals(pic.portRead(0x20, 1), 0x02);
  pic.portWrite(0x20, 1, 0x61); // specific EOI for IR1
  assertEquals(pic.portRead(0x20, 1), 0x00);
  assertEquals(pic.acknowledge(), 0x25);
});

Deno.test("8259A: masked lines do not interrupt; unmasking delivers the latched edge", () => {
  const pic = initPic();
  pic.portWrite(0x21, 1, 0x10);
  pic.setIrq(4, true);
  assertEquals(pic.hasInterrupt(), false);
  pic.portWrite(0x21, 1, 0x00);
  assertEquals(pic.acknowledge(), 0x24);
});

Deno.test("8259A: cascade - slave IRQ10 delivers slave vector, ISR bit 2 on master", () => {
  const pic = initPic();
  pic.setIrq(10, true);
  assertEquals(pic.hasInterrupt(), true);
  assertEquals(pic.acknowledge(), 0x2a);
  pic.portWrite(0x20, 1, 0x0b);
  pic.portWrite(0xa0, 1, 0x0b);
  assertEquals(pic.portRead(0x20, 1), 0x04);
  assertEquals(pic.portRead(0xa0, 1), 0x04);
  pic.portWrite(0xa0, 1, 0x20);
  pic.portWrite(0x20, 1, 0x20);
  assertEquals(pic.portRead(0x20, 1), 0x00);
  assertEquals(pic.portRead(0xa0, 1), 0x00);
});

Deno.test("8259A: spurious IRQ7 and IRQ15 when the request vanished before INTA", () => {
  const pic = initPic({ level: true });
  pic.setIrq(6, true);
  assertEquals(pic.hasInterrupt(), true);
  pic.setIrq(6, false); // level mode: request withdrawn
  assertEquals(pic.acknowledge(), 0x27);
  pic.portWrite(0x20, 1, 0x0b);
  assertEquals(pic.portRead(0x20, 1), 0x00); // spurious: ISR not set
  // Slave: the master sees IR2 (edge latched), the slave has nothing -> IRQ15 vector.
  const p2 = initPic();
  p2.portWrite(0xa1, 1, 0x00);
  p2.setIrq(9, true);
  p2.portWrite(0xa1, 1, 0x02); // mask IRQ9 after the cascade edge latched on the master
  assertEquals(p2.acknowledge(), 0x2f);
  p2.portWrite(0xa0, 1, 0x0b);
  assertEquals(p2.portRead(0xa0, 1), 0x00);
});

Deno.test("8259A: automatic EOI leaves ISR clear", () => {
  const pic = initPic({ autoEoi: true });
  pic.setIrq(2 + 1, true);
  assertEquals(pic.acknowledge(), 0x23);
  pic.portWrite(0x20, 1, 0x0b);
  assertEquals(pic.portRead(0x20, 1), 0x00);
});

Deno.test("8259A: rotate on non-specific EOI makes the serviced level lowest", () => {
  const pic = initPic();
  pic.setIrq(0, true);
  assertEquals(pic.acknowledge(), 0x20);
  pic.portWrite(0x20, 1, 0xa0); // rotate on non-specific EOI: IR0 now lowest
  pic.setIrq(0, false);
  pic.setIrq(0, true);
  pic.setIrq(7, true);
  assertEquals(pic.acknowledge(), 0x27); // IR7 now outranks IR0
  // Set priority: IR3 lowest -> IR4 highest.
  pic.portWrite(0x20, 1, 0xc3);
  pic.portWrite(0x20, 1, 0x20);
  pic.setIrq(4, true);
  assertEquals(pic.acknowledge(), 0x24);
});

Deno.test("8259A: poll command returns 0x80 | level and acknowledges", () => {
  const pic = initPic();
  pic.setIrq(5, true);
  pic.portWrite(0x20, 1, 0x0c); // OCW3 P=1
  assertEquals(pic.portRead(0x20, 1), 0x85);
  pic.portWrite(0x20, 1, 0x0c);
  assertEquals(pic.portRead(0x20, 1), 0x00);
});

Deno.test("8259A: special mask mode lets lower levels through a masked in-service level", () => {
  const pic = initPic();
  pic.setIrq(1, true);
  assertEquals(pic.acknowledge(), 0x21);
  pic.setIrq(6, true);
  assertEquals(pic.hasInterrupt(), false);
  pic.portWrite(0x21, 1, 0x02); // mask IR1
  pic.portWrite(0x20, 1, 0x68); // OCW3: set special mask mode
  assertEquals(pic.hasInterrupt(), true);
  assertEquals(pic.acknowledge(), 0x26);
});

Deno.test("8259A: state round-trips through JSON", () => {
  const pic = initPic();
  pic.portWrite(0x21, 1, 0x3c);
  pic.setIrq(1, true);
  pic.setIrq(9, true);
  const copy = new Pic();
  copy.loadState(JSON.parse(JSON.stringify(pic.saveState())));
  assertEquals(copy.portRead(0x21, 1), 0x3c);
  assertEquals(copy.acknowledge(), pic.acknowledge());
  assertEquals(copy.acknowledge(), pic.acknowledge());
});

Deno.test("8259A: irqOfVector maps delivered vectors back to IRQ lines", () => {
  const pic = initPic();
  assertEquals([0x20, 0x27, 0x28, 0x2f, 0x30, 0x1f].map((v) => pic.irqOfVector(v)), [
    0,
    7,
    8,
    15,
    -1,
    -1,
  ]);
});
