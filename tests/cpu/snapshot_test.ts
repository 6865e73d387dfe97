import assert from "node:assert/strict";
import { assemble, makeMachine, protectedMode } from "./machine.ts";

const PROGRAM = `
    mov ecx, 5000
    xor eax, eax
    mov esi, 0x20000
  1:
    add eax, ecx
    rol eax, 3
    mov [esi+ecx*4], eax
    adc edx, eax
    pushfd
    pop ebx
    loop 1b
    hlt`;

function start() {
  const m = makeMachine();
  m.mem.load(0x10000, assemble(PROGRAM, 32, 0x10000));
  protectedMode(m, 0x10000);
  return m;
}

Deno.test("snapshot: save mid-run, restore into a fresh CPU, continue = straight run", () => {
  const straight = start();
  straight.cpu.run(1_000_000);
  assert.ok(straight.cpu.halted);

  const a = start();
  a.cpu.run(12345);
  const snap = JSON.parse(JSON.stringify(a.cpu.saveState()));
  const ram = a.mem.ram.slice();
  const b = start();
  b.mem.ram.set(ram);
  b.clock.icount = a.clock.icount;
  b.cpu.loadState(snap);
  b.cpu.run(1_000_000);
  assert.deepEqual(b.cpu.saveState(), straight.cpu.saveState());
  assert.equal(b.clock.icount, straight.clock.icount);
  assert.deepEqual(b.mem.ram, straight.mem.ram);
});

Deno.test("snapshot: malformed input is rejected with a message naming the field", () => {
  const m = start();
  const s = m.cpu.saveState();
  assert.throws(() => m.cpu.loadState({ ...s, regs: [1, 2] }), /regs/);
  assert.throws(() => m.cpu.loadState({ ...s, version: 2 as 1 }), /version/);
});
