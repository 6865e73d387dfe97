import assert from "node:assert/strict";
import { ApicBus, Delivery } from "../../core/devices/apic_bus.ts";
import { IoApic, IOAPIC_VERSION } from "../../core/devices/ioapic.ts";
import { LocalApic } from "../../core/devices/lapic.ts";
import { VirtualClock } from "../../core/clock.ts";

/** Two local APICs (IDs 0, 1) and an I/O APIC (ID 2) on one bus, both APICs software-enabled. */
function rig() {
  const clock = new VirtualClock();
  const bus = new ApicBus();
  const starts: string[] = [];
  const apics = [0, 1].map((id) =>
    new LocalApic({
      clock,
      id,
      bus,
      bsp: id === 0,
      onStartup: (m, v) => starts.push(`${id}:${m}:${v}`),
    })
  );
  for (const a of apics) a.mmioWrite(0xf0, 4, 0x1ff);
  const io = new IoApic(bus, 2);
  const entry = (pin: number, low: number, high = 0) => {
    io.mmioWrite(0, 4, 0x11 + 2 * pin);
    io.mmioWrite(0x10, 4, high);
    io.mmioWrite(0, 4, 0x10 + 2 * pin);
    io.mmioWrite(0x10, 4, low);
  };
  const reg = (r: number) => {
    io.mmioWrite(0, 4, r);
    return io.mmioRead(0x10, 4);
  };
  return { apics, io, entry, reg, starts };
}

Deno.test("82093AA: ID, version and arbitration registers; entries masked after reset", () => {
  const { reg, io } = rig();
  assert.equal(reg(0x00), 2 << 24);
  assert.equal(reg(0x01), IOAPIC_VERSION);
  assert.equal(IOAPIC_VERSION & 0xff, 0x11);
  assert.equal((IOAPIC_VERSION >> 16) & 0xff, 23);
  assert.equal(reg(0x02), 2 << 24);
  io.mmioWrite(0, 4, 0x01);
  io.mmioWrite(0x10, 4, 0); // read-only
  assert.equal(reg(0x01), IOAPIC_VERSION);
  for (let pin = 0; pin < 24; pin++) assert.equal(reg(0x10 + 2 * pin), 1 << 16);
  assert.equal(reg(0x10 + 2 * 24), 0); // beyond entry 23: reserved
});

Deno.test("82093AA: edge entry delivers on the rising edge only, to its physical destination", () => {
  const { apics, io, entry } = rig();
  entry(4, 0x34, 1 << 24); // vector 0x34 fixed physical to APIC 1, edge, high
  io.setIrq(4, true);
  assert.ok(!apics[0].hasInterrupt());
  assert.equal(apics[1].acknowledge(), 0x34);
  io.setIrq(4, true); // still high: no new edge
  assert.ok(!apics[1].hasInterrupt());
  apics[1].mmioWrite(0xb0, 4, 0);
  io.setIrq(4, false);
  io.setIrq(4, true);
  assert.equal(apics[1].acknowledge(), 0x34);
});

Deno.test("82093AA: an edge on a masked input is lost", () => {
  const { apics, io, entry } = rig();
  entry(3, 0x10033); // masked
  io.setIrq(3, true);
  io.setIrq(3, false);
  entry(3, 0x33);
  assert.ok(!apics[0].hasInterrupt());
});

Deno.test("82093AA: level entry sets remote IRR until the EOI broadcast, then re-delivers", () => {
  const { apics, io, entry, reg } = rig();
  entry(9, 0x8039); // vector 0x39, level, to APIC 0
  io.setIrq(9, true);
  assert.ok(reg(0x10 + 18) & (1 << 14), "remote IRR set");
  assert.equal(apics[0].acknowledge(), 0x39);
  assert.equal(apics[0].mmioRead(0x180 + 0x10, 4) & (1 << 25), 1 << 25, "TMR bit of 0x39");
  apics[0].mmioWrite(0xb0, 4, 0); // EOI: broadcast, the line is still asserted
  assert.ok(reg(0x10 + 18) & (1 << 14), "delivered again");
  assert.equal(apics[0].acknowledge(), 0x39);
  io.setIrq(9, false);
  apics[0].mmioWrite(0xb0, 4, 0);
  assert.equal(reg(0x10 + 18) & (1 << 14), 0, "remote IRR clear");
  assert.ok(!apics[0].hasInterrupt());
});

Deno.test("82093AA: unmasking an asserted level input delivers it; edge EOI does not touch it", () => {
  const { apics, io, entry } = rig();
  entry(11, 0x1803b); // masked level
  io.setIrq(11, true);
  assert.ok(!apics[0].hasInterrupt());
  entry(11, 0x803b);
  assert.equal(apics[0].acknowledge(), 0x3b);
});

Deno.test("82093AA: logical and lowest-priority destinations", () => {
  const { apics, io, entry } = rig();
  apics[0].mmioWrite(0xd0, 4, 0x01 << 24); // flat model, LDR bit 0
  apics[1].mmioWrite(0xd0, 4, 0x02 << 24);
  entry(5, 0x835, 0x02 << 24); // logical, fixed, mask 0x02
  io.setIrq(5, true);
  assert.ok(!apics[0].hasInterrupt());
  assert.equal(apics[1].acknowledge(), 0x35);
  apics[1].mmioWrite(0xb0, 4, 0);
  apics[0].mmioWrite(0x80, 4, 0x20); // APIC 0 busier
  entry(6, 0x936, 0x03 << 24); // logical, lowest priority, both
  io.setIrq(6, true);
  assert.equal(apics[1].acknowledge(), 0x36, "the lower task priority wins");
  assert.ok(!apics[0].hasInterrupt());
});

Deno.test("local APIC ICR: INIT and SIPI reach the addressed CPU, never the sender; IPIs cross", () => {
  const { apics, starts } = rig();
  const icr = (a: LocalApic, dest: number, lo: number) => {
    a.mmioWrite(0x310, 4, dest << 24);
    a.mmioWrite(0x300, 4, lo);
  };
  icr(apics[0], 1, 0x4500); // INIT, assert
  icr(apics[0], 1, 0x8500); // INIT level de-assert: no effect
  icr(apics[0], 0, 0x4600 | 0x9f); // SIPI to itself: ignored
  icr(apics[0], 1, 0x4600 | 0x9f); // SIPI vector 0x9F
  icr(apics[0], 0, 0xc4500); // INIT to all excluding self
  assert.deepEqual(starts, [
    `1:${Delivery.init}:0`,
    `1:${Delivery.startup}:159`,
    `1:${Delivery.init}:0`,
  ]);
  apics[1].mmioWrite(0xf0, 4, 0x1ff); // INIT reset the APIC: enable it again
  icr(apics[1], 0, 0x0041); // fixed vector 0x41 to APIC 0
  assert.equal(apics[0].acknowledge(), 0x41);
  apics[0].mmioWrite(0xb0, 4, 0);
  icr(apics[0], 0, 0x80042); // all including self
  assert.equal(apics[0].acknowledge(), 0x42);
  assert.equal(apics[1].acknowledge(), 0x42);
});

Deno.test("82093AA: state round-trips (entries, selector, asserted lines)", () => {
  const a = rig();
  a.entry(9, 0x8039);
  a.io.setIrq(9, true);
  const b = rig();
  b.io.loadState(JSON.parse(JSON.stringify(a.io.saveState())));
  assert.deepEqual(b.io.saveState(), a.io.saveState());
  assert.ok(b.reg(0x10 + 18) & (1 << 14));
});

Deno.test("82093AA routes(): every entry decoded, masked ones too; LAPIC eoi() ends a level entry's wait", () => {
  const { apics, io, entry } = rig();
  entry(4, 0x8844, 0x0300_0000); // level, logical, vector 0x44, destination 3
  entry(8, 0x1_0038); // masked edge entry, vector 0x38
  const routes = io.routes();
  assert.equal(routes.length, 24);
  assert.deepEqual(routes[4], {
    pin: 4,
    vector: 0x44,
    level: true,
    logical: true,
    dest: 3,
    masked: false,
  });
  assert.deepEqual([routes[8].vector, routes[8].level, routes[8].masked], [0x38, false, true]);
  // Level entry to APIC 0: delivered, TMR set; the APIC's eoi() (the EOI register's work, also a
  // hypervisor's PV EOI) broadcasts it, so the still-asserted input delivers again.
  entry(5, 0x8045);
  const a = apics[0];
  let accepted = 0;
  a.onAccept = () => accepted++;
  io.setIrq(5, true);
  assert.equal(accepted, 1);
  assert.ok(a.irrPending());
  assert.equal(a.acknowledge(), 0x45);
  assert.ok(!a.irrPending());
  assert.equal(a.highestInService(), 0x45);
  assert.equal(a.eoi(), 0x45);
  assert.equal(a.highestInService(), -1);
  assert.equal(accepted, 2, "remote IRR cleared by the EOI: the asserted input is delivered again");
  assert.equal(a.acknowledge(), 0x45);
  io.setIrq(5, false);
  assert.equal(a.eoi(), 0x45);
  assert.equal(a.eoi(), -1, "nothing in service");
  assert.equal(accepted, 2);
});
