/**
 * The decoded-instruction cache and blocks (core/cpu/icache.ts, blocks.ts) must be invisible:
 * self-modifying code, RAM written between runs (directly or through the memory API), clock
 * deadlines and faults inside hot blocks behave exactly as without caching.
 */

import assert from "node:assert/strict";
import { assemble, gate, makeMachine, protectedMode, setIdt, type TestMachine } from "./machine.ts";

const BASE = 0x10000;

function load(src: string): TestMachine {
  const m = makeMachine();
  m.mem.load(BASE, assemble(src, 32, BASE));
  protectedMode(m, BASE);
  return m;
}

/** 200 iterations of a block holding `mov eax, imm32`; a store at iteration 100 patches imm32. */
const PATCH_LOOP = `
    mov ecx, 200
    xor ebx, ebx
  1:
    cmp ecx, 100
    jne patch
    mov dword ptr [patch + 1], 0x22222222
  patch:
    mov eax, 0x11111111
    add ebx, eax
    dec ecx
    jnz 1b
    hlt`;

Deno.test("icache: a store into a hot block's instruction takes effect at the next execution", () => {
  const m = load(PATCH_LOOP);
  m.cpu.run(100_000);
  assert.ok(m.cpu.halted);
  assert.equal(m.cpu.regs[0] >>> 0, 0x22222222);
  assert.equal(m.cpu.regs[3] >>> 0, (100 * 0x11111111 + 100 * 0x22222222) % 2 ** 32);
});

const COUNT_LOOP = `
    xor ebx, ebx
  1:
  patch:
    mov eax, 0x11111111
    add ebx, eax
    jmp 1b`;

Deno.test("icache: RAM written between runs, directly or through the memory API, is re-decoded", () => {
  const m = load(COUNT_LOOP);
  const imm = BASE + 3; // xor ebx,ebx (2 bytes), mov eax opcode (1 byte)
  m.cpu.run(3000); // hot: cached and fused into a block
  assert.equal(m.cpu.regs[0] >>> 0, 0x11111111);
  m.mem.view.setUint32(imm, 0x33333333, true); // behind the memory API (loader, test, snapshot)
  m.cpu.run(300);
  assert.equal(m.cpu.regs[0] >>> 0, 0x33333333);
  m.cpu.run(3000);
  m.mem.write32(imm, 0x44444444); // a device / DMA write
  m.cpu.run(300);
  assert.equal(m.cpu.regs[0] >>> 0, 0x44444444);
});

/**
 * A hot loop with a fault every 37 iterations (#DE through an IDT gate whose handler bumps a
 * counter and skips the DIV), and a self-modifying immediate.
 */
const MIXED = `
    mov esi, 0x20000
    mov edi, 1000
  1:
    mov eax, edi
    xor edx, edx
    mov ecx, 37
    div ecx
    mov ecx, edx
    mov eax, 100
    xor edx, edx
  div_here:
    div ecx
    add [esi], eax
    lea ebx, [edi * 4 + 7]
    mov dword ptr [patch + 1], ebx
  patch:
    mov ebp, 0
    add [esi + 4], ebp
    dec edi
    jnz 1b
    hlt
  .org 0x100
    add dword ptr [esi + 8], 1
    add dword ptr [esp], 2
    iretd`;

function mixed(): TestMachine {
  const m = load(MIXED);
  setIdt(m, 0, gate(0x08, BASE + 0x100, 0x8e));
  return m;
}

Deno.test("icache: run(N) in batches equals N single steps (state, icount, faults, SMC)", () => {
  const a = mixed();
  a.cpu.run(1_000_000);
  assert.ok(a.cpu.halted, "program must finish");
  const n = a.clock.icount;
  const b = mixed();
  // A step that delivers a fault retires nothing: step until the same instruction count.
  while (b.clock.icount < n) b.cpu.step();
  assert.equal(b.clock.icount, n);
  assert.deepEqual(b.cpu.saveState(), a.cpu.saveState());
  assert.deepEqual(b.mem.ram.subarray(0x20000, 0x2000c), a.mem.ram.subarray(0x20000, 0x2000c));
  assert.equal(a.mem.read32(0x20008), 27); // #DE once per multiple of 37 in 1..1000
});

Deno.test("icache: clock deadlines inside hot blocks fire at the exact instruction", () => {
  // Every 7th instruction over most of the program (which retires 15057): deadlines fall inside
  // blocks at every offset.
  const at: number[] = [];
  for (let t = 3000; t < 15000; t += 7) at.push(t);
  const a = mixed();
  const seen: [number, number][] = [];
  for (const t of at) a.clock.schedule(t, () => seen.push([a.clock.icount, a.cpu.eip]));
  a.cpu.run(30_000);
  const b = mixed();
  const ref: [number, number][] = [];
  while (b.clock.icount <= at[at.length - 1]) {
    if (at.includes(b.clock.icount) && ref.at(-1)?.[0] !== b.clock.icount) {
      ref.push([b.clock.icount, b.cpu.eip]);
    }
    b.cpu.step();
  }
  assert.deepEqual(seen, ref);
});

/**
 * One-block loops (the block iterates in place): a counter; then a loop storing into a data word
 * on its own code page every iteration, and once (iteration 300) into its own `mov edx, imm32`.
 */
const TIGHT = `
    xor eax, eax
    xor ebx, ebx
  1:
    add eax, 3
    add ebx, eax
    cmp eax, 3000
    jne 1b
    xor ecx, ecx
    xor ebx, ebx
  2:
    xor eax, eax
    cmp ecx, 300
    sete al
    imul eax, eax, patch + 1 - data
    mov dword ptr [eax + data], 7
  patch:
    mov edx, 1
    add ebx, edx
    inc ecx
    cmp ecx, 500
    jne 2b
    hlt
  data:
    .long 0`;

Deno.test("icache: one-block loops stop at deadlines and see stores into their own code", () => {
  const a = load(TIGHT);
  const at: number[] = [];
  for (let t = 100; t < 8000; t += 13) at.push(t);
  const seen: [number, number][] = [];
  for (const t of at) a.clock.schedule(t, () => seen.push([a.clock.icount, a.cpu.eip]));
  a.cpu.run(100_000);
  assert.ok(a.cpu.halted);
  assert.equal(a.cpu.regs[3], 300 * 1 + 200 * 7);
  const b = load(TIGHT);
  const ref: [number, number][] = [];
  while (!b.cpu.halted) {
    if (at.includes(b.clock.icount) && ref.at(-1)?.[0] !== b.clock.icount) {
      ref.push([b.clock.icount, b.cpu.eip]);
    }
    b.cpu.step();
  }
  assert.deepEqual(seen, ref);
  assert.deepEqual(b.cpu.saveState(), a.cpu.saveState());
});
