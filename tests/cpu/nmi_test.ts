import assert from "node:assert/strict";
import { TrapKind } from "../../core/cpu/hooks.ts";
import { IF } from "../../core/cpu/flags.ts";
import { makeMachine, realMode, type TestMachine } from "./machine.ts";

/** Real mode: NMI handler at 0x200 (`inc byte [0x500]; iret`), vector 0x30 at 0x300 (same, 0x501). */
function setup(code: number[]): TestMachine {
  const m = makeMachine();
  const ivt = new DataView(m.mem.ram.buffer);
  ivt.setUint16(2 * 4, 0x200, true);
  ivt.setUint16(0x30 * 4, 0x300, true);
  m.mem.load(0x200, new Uint8Array([0xfe, 0x06, 0x00, 0x05, 0xcf]));
  m.mem.load(0x300, new Uint8Array([0xfe, 0x06, 0x01, 0x05, 0xcf]));
  m.mem.load(0x100, new Uint8Array(code));
  realMode(m.cpu, 0, 0x100);
  m.cpu.regs[4] = 0x8000;
  return m;
}

const traps = (m: TestMachine) =>
  m.events.filter((e) => e[0] === "trap").map((e) => [e[1], e[2], e[4]]);

Deno.test("NMI: waits out the STI shadow, then vector 2 whatever IF", () => {
  const m = setup([0xfa, 0xfb, 0x90, 0x90, 0x90, 0x90]); // cli; sti; nop...
  m.cpu.step(); // cli
  m.cpu.nmi();
  m.cpu.step(); // IF=0 is no mask for an NMI: taken before STI
  assert.deepEqual(traps(m), [[TrapKind.nmi, 2, 0x101]]);
  m.cpu.run(2); // handler: inc, iret
  assert.equal(m.cpu.eip, 0x101);
  m.cpu.step(); // sti
  m.cpu.nmi();
  m.cpu.step(); // the shadow boundary: the nop runs first
  assert.equal(m.cpu.eip, 0x103);
  assert.equal(traps(m).length, 1);
  m.cpu.step();
  assert.deepEqual(traps(m)[1], [TrapKind.nmi, 2, 0x103]);
  assert.equal(m.mem.ram[0x500], 1);
});

Deno.test("NMI: before INTR; blocked until IRET, one deep; blocking is in the snapshot", () => {
  const m = setup([0xfb, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90]); // sti; nop...
  m.cpu.step();
  m.pic.pending.push(0x30);
  m.cpu.nmi();
  m.cpu.step(); // shadow boundary: nop
  m.cpu.step(); // NMI first, though INTR is asserted and IF = 1
  assert.equal(m.cpu.eip, 0x200);
  m.cpu.nmi();
  m.cpu.nmi(); // latched once
  const snap = m.cpu.saveState();
  const ram = m.mem.ram.slice(0, 0x10000);
  assert.equal(snap.nmiBlocked, true);
  assert.equal(snap.nmiPending, true);
  m.cpu.step(); // inc: still blocked, and IF = 0 in the handler
  assert.equal(m.cpu.eip, 0x204);
  m.cpu.run(20);
  assert.deepEqual(traps(m).map((t) => t[1]), [2, 2, 0x30]);
  assert.equal(m.mem.ram[0x500], 2);
  assert.equal(m.mem.ram[0x501], 1);
  assert.equal(m.cpu.getEflags() & IF, IF);
  // The snapshot taken in the first handler restores the blocking and the latched NMI.
  const n = setup([]);
  n.mem.ram.set(ram);
  n.cpu.loadState(snap);
  n.cpu.run(3); // inc, iret, then the latched NMI
  assert.deepEqual(traps(n), [[TrapKind.nmi, 2, 0x102]]);
});

Deno.test("NMI: waits out the MOV SS shadow too", () => {
  const m = setup([0x8e, 0xd0, 0x90, 0x90]); // mov ss, ax; nop; nop
  m.cpu.step();
  m.cpu.nmi();
  m.cpu.step(); // the shadow boundary: the nop runs first
  assert.equal(m.cpu.eip, 0x103);
  assert.equal(traps(m).length, 0);
  m.cpu.step();
  assert.deepEqual(traps(m), [[TrapKind.nmi, 2, 0x103]]);
});
