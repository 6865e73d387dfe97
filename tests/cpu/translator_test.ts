/**
 * The translator (core/cpu/jit.ts) against the interpreter: random loops of translatable and
 * untranslatable instructions, self-modifying code, faults inside blocks, and a host that forbids
 * code generation must all end in the interpreter's exact state (registers, EFLAGS, EIP, icount,
 * memory). tests/regression/translator_equality_test.ts compares whole guests.
 */

import assert from "node:assert/strict";
import { Cpu } from "../../core/cpu/cpu.ts";
import { REGION_THRESHOLD } from "../../core/cpu/jit.ts";
import {
  gate,
  JIT_THRESHOLD,
  makeMachine,
  protectedMode,
  setIdt,
  type TestMachine,
} from "./machine.ts";

/** xorshift32: a seeded generator so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const CODE = 0x10000, DATA = 0x40000, HANDLERS = 0x30000;

/**
 * One random instruction: destinations are EAX ECX EDX EBX only (ESI/EDI point at data, EBP
 * counts the loop, ESP balanced by push/pop pairs); memory operands at [ESI+d8] / [EDI+d32],
 * now and then [ESI+EBX*4] (anywhere: MMIO, code, page faults beyond RAM with paging off are
 * all fine, both sides must agree).
 */
function randomInsn(next: () => number, narrow: boolean): number[] {
  const r = () => next() & 3, r8 = () => next() & 7;
  const d8 = () => next() & 0x7c;
  const imm32 = () => {
    const v = next();
    return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
  };
  const mem = (reg: number): number[] => {
    const k = next() % 8;
    if (k < 5) return [0x46 | (reg << 3), d8()];
    if (k < 7) return [0x87 | (reg << 3), ...imm32().slice(0, 2), 0, 0];
    return [0x04 | (reg << 3), 0x9e]; // [esi+ebx*4]
  };
  const alu = (next() % 8) << 3;
  // Narrow: register ALU ops on small values only, so that operands are often equal.
  const k = narrow ? NARROW[next() % NARROW.length] : next() % 46;
  if (narrow && k === 3) return [0x83, 0xc0 | alu | r(), next() & 7];
  switch (k) {
    case 0:
      return [alu | 1, 0xc0 | (r() << 3) | r()];
    case 1:
      return [alu | 3, ...mem(r())];
    case 2:
      return [alu | 1, ...mem(r())];
    case 3:
      return [0x83, 0xc0 | alu | r(), next() & 0xff];
    case 4:
      return [0x81, 0xc0 | alu | r(), ...imm32()];
    case 5:
      return [alu, 0xc0 | (r8() << 3) | r8()];
    case 6:
      return [0x66, alu | 1, 0xc0 | (r() << 3) | r()];
    case 7:
      return [alu | 5, ...imm32()];
    case 8:
      return [0x80, ...mem(alu >> 3), next() & 0xff];
    case 9:
      return [0x40 | (next() & 8) | r()];
    case 10:
      return [0xff, ...mem(next() & 1)];
    case 11:
      return [0xfe, 0xc0 | ((next() & 1) << 3) | r8()];
    case 12:
      return [0x85, 0xc0 | (r() << 3) | r()];
    case 13:
      return [0x89, ...mem(r())];
    case 14:
      return [0x8b, ...mem(r())];
    case 15:
      return [0x0f, [0xb6, 0xb7, 0xbe, 0xbf][next() & 3], 0xc0 | (r() << 3) | r8()];
    case 16:
      return [0x8d, 0x44 | (r() << 3), 0x5e, d8()]; // lea r, [esi+ebx*2+d8]
    case 17:
      return [0xc1, 0xc0 | ([4, 5, 7, 6][next() & 3] << 3) | r(), next() & 0x3f];
    case 18:
      return [0xd1, 0xc0 | ([4, 5, 7][next() % 3] << 3) | r()];
    case 19:
      return [0xd3, 0xc0 | ([4, 5, 7][next() % 3] << 3) | r()];
    case 20:
      return [0x0f, 0x90 | (next() & 15), 0xc0 | r8()];
    case 21:
      return [0x0f, 0x40 | (next() & 15), 0xc0 | (r() << 3) | r()];
    case 22:
      return [0x0f, 0xaf, 0xc0 | (r() << 3) | r()];
    case 23:
      return [0x6b, 0xc0 | (r() << 3) | r(), next() & 0xff];
    case 24:
      return [0xf7, 0xe3 | ((next() & 1) << 3)]; // mul/imul ebx
    case 25:
      return [0xf7, 0xd0 | ((next() & 1) << 3) | r()]; // not/neg
    case 26:
      return [[0xf8, 0xf9, 0xf5][next() % 3]];
    case 27:
      return [[0x98, 0x99][next() & 1]];
    case 28:
      return [0x87, 0xc0 | (r() << 3) | r()];
    case 29:
      return [0x50 | r(), 0x58 | r()];
    case 30:
      return [0x70 | (next() & 15), 2, 0x89, 0xc0 | (r() << 3) | r()]; // jcc over a mov
    case 31:
      return [0x0f, 0xa3, 0xc0 | (r() << 3) | r()]; // bt: not translated
    case 32:
      return [0xc1, 0xc0 | (r() << 3) | r(), next() & 0x1f]; // rotates (RCL/RCR not translated)
    case 33:
      return [0x9c, 0x58 | r()]; // pushf; pop r: flags leave through the interpreter
    case 34:
      return [0x83, 0xc9, 0x01, 0x31, 0xd2, 0xf7, 0xf1 | ((next() & 1) << 3)]; // or ecx,1; xor edx,edx; div/idiv ecx
    case 35:
      return [0x99, 0x83, 0xc9, 0x01, 0xf7, 0xf9]; // cdq; or ecx,1; idiv ecx
    case 36:
      return [0x66, 0x81, 0xc0 | alu | r(), next() & 0xff, next() & 0xff];
    case 37:
      return [0x88, ...mem(r8())];
    case 38:
      return [0x66, 0x89, ...mem(r())];
    case 39:
      return [0xa1, ...imm32().slice(0, 2), 0x04, 0];
    case 40:
      return [0x0f, 0xb6, ...mem(r())];
    case 41:
      return [0xc6, ...mem(0), next() & 0xff];
    case 42:
      return [0x6a, next() & 0xff, 0x58 | r()];
    case 43:
      return [0xff, 0x76, d8(), 0x58 | r()]; // push [esi+d8]; pop r
    case 44:
      return [0x86, 0xc0 | (r8() << 3) | r8()];
    default:
      return [0xa8, next() & 0xff]; // test al, imm8
  }
}

const NARROW = [0, 3, 5, 6, 9, 11, 12, 25, 26, 44];

/** Instructions that read the flags: SETcc, Jcc, CMOVcc, PUSHF, ADC/SBB, with any condition. */
const READERS: ((next: () => number) => number[])[] = [
  (next) => [0x0f, 0x90 | (next() & 15), 0xc0 | (next() & 3)],
  (next) => [0x70 | (next() & 15), 2, 0x89, 0xc0 | (next() & 15)],
  (next) => [0x0f, 0x40 | (next() & 15), 0xc0 | (next() & 15)],
  (next) => [0x9c, 0x58 | (next() & 3)],
  (next) => [0x11 | (next() & 8), 0xc0 | (next() & 15)],
];

/** A loop of `n` random instructions run `passes` times, then HLT; every vector halts too. */
function program(seed: number, n: number, passes: number): { code: Uint8Array; regs: number[] } {
  const next = rng(seed);
  const body: number[] = [];
  for (let i = 0; i < n; i++) {
    body.push(...randomInsn(next, (seed & 3) === 1));
    // A flag reader right after most writers: every condition after every kind of writer.
    if (next() % 3 !== 0) body.push(...READERS[next() % READERS.length](next));
  }
  const head = [0xbd, passes & 0xff, passes >> 8, 0, 0]; // mov ebp, passes
  const back = -(body.length + 7); // dec ebp; jnz rel32 back to the body
  const rel = [0, 8, 16, 24].map((s) => (back >> s) & 0xff);
  const code = [...head, ...body, 0x4d, 0x0f, 0x85, ...rel, 0xf4];
  // Small values for half the seeds, so that equal operands (the edges of < and <=) occur.
  const v = () => seed & 1 ? next() & 7 : next();
  const regs = [v(), v(), v(), next() & 0xff, 0x90000, 0, DATA, DATA + 0x800];
  return { code: Uint8Array.from(code), regs };
}

function machine(jit: boolean, code: Uint8Array, regs: number[]): TestMachine {
  const m = makeMachine(4);
  if (!jit) m.cpu.jit = null;
  m.mem.load(CODE, code);
  const next = rng(99);
  const data = new Uint8Array(0x1000);
  for (let i = 0; i < data.length; i++) data[i] = next() & 0xff;
  m.mem.load(DATA, data);
  protectedMode(m, CODE);
  for (let v = 0; v < 32; v++) {
    m.mem.write8(HANDLERS + 16 * v, 0xf4);
    setIdt(m, v, gate(0x08, HANDLERS + 16 * v, 0x8e));
  }
  regs.forEach((v, i) => m.cpu.regs[i] = v);
  return m;
}

/** The state both sides must agree on. */
function state(m: TestMachine): string {
  const c = m.cpu;
  let h = 0;
  for (const a of [0x8f000, DATA, CODE]) {
    for (let i = 0; i < 0x1000; i++) h = (Math.imul(h, 31) + m.mem.read8(a + i)) | 0;
  }
  return JSON.stringify({ s: c.saveState(), icount: m.clock.icount, halted: c.halted, h });
}

function runBoth(code: Uint8Array, regs: number[], budget: number, slice: number): void {
  const a = machine(false, code, regs), b = machine(true, code, regs);
  for (let done = 0; done < budget; done += slice) {
    const ra = a.cpu.run(slice), rb = b.cpu.run(slice);
    assert.equal(rb, ra);
    assert.equal(state(b), state(a));
    if (ra !== "budget") break;
  }
  assert.equal(a.events.join(";"), b.events.join(";"));
}

Deno.test("translator: random loops end in the interpreter's state", () => {
  let compiled = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const { code, regs } = program(seed, 4 + (seed % 12), 3 * JIT_THRESHOLD);
    try {
      runBoth(code, regs, 20_000, seed % 3 === 0 ? 20_000 : 777);
    } catch (e) {
      throw new Error(`seed ${seed}: ${(e as Error).message}`);
    }
    const m = machine(true, code, regs);
    m.cpu.run(20_000);
    compiled += m.cpu.jit!.compiled;
  }
  assert.ok(compiled > 300, `only ${compiled} blocks compiled`);
});

Deno.test("translator: random loops chained into regions end in the interpreter's state", () => {
  let regions = 0;
  for (let seed = 1000; seed < 1060; seed++) {
    const passes = REGION_THRESHOLD + 300, n = 3 + (seed % 6);
    const { code, regs } = program(seed, n, passes);
    const budget = passes * n * 8;
    try {
      runBoth(code, regs, budget, seed % 2 === 0 ? budget : 1999);
    } catch (e) {
      throw new Error(`seed ${seed}: ${(e as Error).message}`);
    }
    const m = machine(true, code, regs);
    m.cpu.run(budget);
    regions += m.cpu.jit!.regions;
  }
  assert.ok(regions > 20, `only ${regions} regions compiled`);
});

Deno.test("translator: a loop that rewrites its own next pass", () => {
  // mov ebp,N; 1: add eax,1 (imm byte patched below); mov byte [1b+2], cl; inc ecx; dec ebp; jnz 1b
  const at = CODE + 5;
  const code = Uint8Array.from([
    0xbd,
    200,
    0,
    0,
    0,
    0x83,
    0xc0,
    0x01,
    0x88,
    0x0d,
    ...[0, 8, 16, 24].map((s) => ((at + 2) >> s) & 0xff),
    0x41,
    0x4d,
    0x75,
    0xf1 - 1,
    0xf4,
  ]);
  code[code.length - 2] = (-(code.length - 1 - 5)) & 0xff;
  runBoth(code, [0, 1, 0, 0, 0x90000, 0, DATA, DATA], 10_000, 10_000);
  const m = machine(true, code, [0, 1, 0, 0, 0x90000, 0, DATA, DATA]);
  m.cpu.run(10_000);
  // Pass p adds the imm8 pass p-1 stored (CL = p-1, sign-extended by ADD r/m32, imm8).
  let sum = 1;
  for (let k = 1; k < 200; k++) sum += (k << 24) >> 24;
  assert.equal(m.cpu.regs[0], sum);
  assert.ok(m.cpu.jit!.compiled > 0);
});

Deno.test("translator: page faults inside a block are delivered at the interpreter's count", () => {
  // Paging on; the loop walks EDI over pages, the last of which is not present.
  const m0 = (jit: boolean) => {
    const code = Uint8Array.from([
      0x8b,
      0x07, // 1: mov eax,[edi]
      0x01,
      0xc3, // add ebx,eax
      0x81,
      0xc7,
      0x00,
      0x01,
      0,
      0, // add edi,0x100
      0x49,
      0x75,
      0xf3, // dec ecx; jnz 1b
      0xf4,
    ]);
    const m = machine(jit, code, [0, 5000, 0, 0, 0x90000, 0, DATA, 0x200000]);
    const pd = 0x100000, pt = 0x101000;
    m.mem.write32(pd, pt | 3);
    for (let i = 0; i < 1024; i++) m.mem.write32(pt + 4 * i, i < 0x208 ? (i << 12) | 3 : 0);
    m.cpu.cr3 = pd;
    m.cpu.cr0 |= 0x80000000;
    m.cpu.updateMode();
    return m;
  };
  const a = m0(false), b = m0(true);
  a.cpu.run(100_000);
  b.cpu.run(100_000);
  assert.equal(state(b), state(a));
  assert.ok(b.events.some((e) => e[2] === 14), "a #PF was delivered");
  assert.deepEqual(b.events, a.events);
  assert.ok(b.cpu.jit!.compiled > 0);
});

Deno.test("translator: off where code generation from strings is disallowed", async () => {
  const src = `
    import { makeMachine, protectedMode } from "${new URL("./machine.ts", import.meta.url)}";
    const m = makeMachine(1);
    m.mem.load(0x10000, Uint8Array.from([0xb9, 0, 1, 0, 0, 0x01, 0xc8, 0x49, 0x75, 0xfb, 0xf4]));
    protectedMode(m, 0x10000);
    m.cpu.run(10000);
    console.log(JSON.stringify([m.cpu.regs[0], m.clock.icount, m.cpu.jit === null]));`;
  // "deno" by name: the test task allows running it (the npx binary's own path is not listed).
  const out = await new Deno.Command("deno", {
    args: ["eval", "--v8-flags=--disallow-code-generation-from-strings", src],
  }).output();
  assert.equal(new TextDecoder().decode(out.stderr), "");
  // ECX 256..1 summed into EAX; 1 + 3 * 256 instructions, then HLT.
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [32896, 770, true]);
});

Deno.test("translator: switched off per CPU", () => {
  const m = makeMachine(1);
  const off = new Cpu({ memory: m.mem, io: m.io, clock: m.clock, intr: m.pic, jit: false });
  assert.equal(off.jit, null);
  assert.notEqual(m.cpu.jit, null);
});

Deno.test("translator: IMUL's CF/OF at the edges of the int32 range", () => {
  const le = (v: number) => [0, 8, 16, 24].map((s) => (v >>> s) & 0xff);
  const pairs = [
    [0x7fffffff, 1],
    [0x7fffffff, 2],
    [0x10000, 0x8000],
    [-0x10000, 0x8000],
    [0x80000000, -1],
    [0x80000000, 1],
    [46341, 46341],
    [46340, 46340],
    [-46341, 46341],
    [-1, -1],
    [0x80000000, 0x80000000],
    [3, 0x2aaaaaab],
    [-3, 0x2aaaaaab],
  ];
  for (const [a, b] of pairs) {
    const body = [
      [0xb8, ...le(a)], // mov eax, a
      [0x89, 0x06], // mov [esi], eax
      [0xb9, ...le(b)], // mov ecx, b
      [0x0f, 0xaf, 0xc1], // imul eax, ecx
      [0x0f, 0x90, 0xc2, 0x01, 0xd3], // seto dl; add ebx, edx
      [0x0f, 0xaf, 0x0e], // imul ecx, [esi]
      [0x0f, 0x92, 0xc2, 0x01, 0xd3], // setc dl; add ebx, edx
      [0x69, 0x06, ...le(b)], // imul eax, [esi], b
      [0x0f, 0x90, 0xc2, 0x01, 0xd3], // seto dl; add ebx, edx
      [0x6b, 0xc1, b & 0xff], // imul eax, ecx, (b as imm8)
    ].flat();
    const back = -(body.length + 3); // dec ebp; jnz rel8 back to the body
    const code = [0xbd, ...le(3 * JIT_THRESHOLD), ...body, 0x4d, 0x75, back & 0xff, 0xf4];
    try {
      runBoth(Uint8Array.from(code), [0, 0, 0, 0, 0x90000, 0, DATA, DATA], 50_000, 50_000);
    } catch (e) {
      throw new Error(`${a} * ${b}: ${(e as Error).message}`);
    }
  }
});

Deno.test("translator: ROL/ROR by constant counts, register and memory, match", () => {
  // Each form is followed by SETO/SETC (OF and CF as the rotate left them) and ADC (CF).
  const forms: number[][] = [];
  for (const o of [0, 1]) {
    for (const cnt of [0, 1, 4, 7, 8, 9, 15, 16, 17, 31]) {
      forms.push([0xc1, 0xc0 | (o << 3), cnt]); // rol/ror eax, cnt
      forms.push([0xc0, 0xc4 | (o << 3), cnt]); // rol/ror ah, cnt
      forms.push([0x66, 0xc1, 0xc1 | (o << 3), cnt]); // rol/ror cx, cnt
      forms.push([0xc1, 0x06 | (o << 3), cnt]); // rol/ror dword [esi], cnt
      forms.push([0xc0, 0x46 | (o << 3), 5, cnt]); // rol/ror byte [esi+5], cnt
    }
    forms.push([0xd1, 0xc3 | (o << 3)], [0xd0, 0xc7 | (o << 3)], [0x66, 0xd1, 0x46 | (o << 3), 2]);
  }
  for (let k = 0; k < forms.length; k += 6) {
    const body: number[] = [];
    for (const f of forms.slice(k, k + 6)) {
      body.push(0x81, 0xc0, 0x35, 0x9a, 0x57, 0xc3); // add eax, 0xc3579a35: fresh operand bits
      body.push(0x01, 0x06); // add [esi], eax
      body.push(...f);
      body.push(0x0f, 0x90, 0xc2, 0x01, 0xd3); // seto dl; add ebx, edx
      body.push(0x0f, 0x92, 0xc2, 0x11, 0xd3); // setc dl; adc ebx, edx
    }
    const back = -(body.length + 3); // dec ebp; jnz rel8 back to the body
    const code = [0xbd, 3 * JIT_THRESHOLD, 0, 0, 0, ...body, 0x4d, 0x75, back & 0xff, 0xf4];
    runBoth(
      Uint8Array.from(code),
      [0x12345678, 0x9abc, 0, 0, 0x90000, 0, DATA, DATA],
      50_000,
      50_000,
    );
  }
});
