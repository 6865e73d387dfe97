/**
 * The translator's string instructions, chained regions and system instructions (MOV CRn, the
 * timer handler's IRET) against the interpreter, with timer interrupts arriving mid-REP: at every interrupt the instruction count and ECX/ESI/EDI must be
 * the interpreter's, and the run must end in its exact state (tests/cpu/translator_test.ts has
 * the random-code cases).
 */

import assert from "node:assert/strict";
import { REGION_THRESHOLD } from "../../core/cpu/jit.ts";
import { assemble, gate, makeMachine, protectedMode, setIdt, type TestMachine } from "./machine.ts";
import { JIT_THRESHOLD } from "./machine.ts";

const CODE = 0x10000, DATA = 0x40000, HANDLER = 0x30000, COUNTER = 0x30100;

/**
 * MOVSB of ECX bytes and a STOSD, each across a page end into the next page; an overlapping
 * MOVSB (destination 3 bytes above the source, whose first dword changes with EAX).
 */
const PAGE_EDGES = `
  mov esi, ${DATA + 0xf80}
  mov edi, ${DATA + 0x1f90}
  rep movsb
  mov ecx, 30
  mov edi, ${DATA + 0x2fc0}
  rep stosd
  mov esi, ${DATA + 0x3100}
  mov [esi], eax
  lea edi, [esi + 3]
  mov ecx, 200
  rep movsb`;

/** Every string form: sizes, REP/REPE/REPNE, DF, 16-bit addresses, overrides; a count in EBX. */
const STRINGS = `
  sti
  mov ebp, ${REGION_THRESHOLD + 200}
1:
  lea ecx, [ebx + 1]
  and ecx, 63
  mov esi, ${DATA}
  mov edi, ${DATA + 0x800}
  rep movsd
  mov ecx, ebx
  and ecx, 31
  mov esi, ${DATA}
  mov edi, ${DATA + 0x400}
  repe cmpsb
  mov al, bl
  mov ecx, 200
  mov edi, ${DATA + 0x900}
  repne scasb
  mov ax, bx
  mov ecx, 50
  rep stosw
  lodsb
  lodsd
  stosb
  cmpsw
  scasd
  movsb
  mov esi, 0x8000
  mov edi, 0x9000
  mov ecx, 0x10020
  addr16 rep movsb
  std
  mov ecx, 40
  mov esi, ${DATA + 0x200}
  mov edi, ${DATA + 0xa00}
  rep movsw
  cld
  mov ecx, 9
  rep movs byte ptr es:[edi], byte ptr fs:[esi]
  mov ecx, 0
  rep stosd
  std
  mov esi, ${DATA + 0x3f0}
  mov edi, ${DATA + 0x7f0}
  mov ecx, 40
  repe cmpsw
  mov al, bl
  mov edi, ${DATA + 0x300}
  mov ecx, 100
  repne scasb
  cld
  lea ecx, [ebx + 0x100]
  and ecx, 0x1ff
${PAGE_EDGES}
  add ebx, 7
  dec ebp
  jnz 1b
  hlt
`;

/** What must agree at an interrupt: instruction count, EIP, ECX, ESI, EDI. */
function snapshot(m: TestMachine): number[] {
  const r = m.cpu.regs;
  return [m.clock.icount, m.cpu.eip, r[1], r[6], r[7]];
}

/**
 * A loop spanning a page boundary (the head block at the end of one page jumps to blocks at the
 * start of the next and back), both sides chained into regions, that now and then rewrites an
 * immediate of an instruction in the other page.
 */
const CROSSING = `
  sti
  mov ebp, ${16 * REGION_THRESHOLD}
1:
  add eax, ecx
  inc ecx
  test ecx, 4095
  jnz 3f
  mov byte ptr [2f + 2], ch
3:
  jmp 2f
.org 0x40
2:
  add edx, 3
  test dl, 1
  jz 4f
  xor esi, edx
4:
  dec ebp
  jnz 1b
  hlt
`;

/** The program at `org` with an IRQ 0x20 handler counting at COUNTER, timers every 1-400 insns. */
function machine(
  jit: boolean,
  code: Uint8Array,
  org: number,
  timers: boolean,
  paging = false,
): { m: TestMachine; at: number[][] } {
  const m = makeMachine(4);
  if (!jit) m.cpu.jit = null;
  m.mem.load(org, code);
  // inc dword [COUNTER]; iret
  m.mem.load(HANDLER, Uint8Array.from([0xff, 0x05, ...le32(COUNTER), 0xcf]));
  for (let i = 0; i < 0x1000; i++) m.mem.write8(DATA + i, (i * 7) & 0x3f);
  for (let i = 0; i < 0x2000; i++) m.mem.write8(0x8000 + i, i & 0xff);
  protectedMode(m, org);
  for (let v = 0; v < 32; v++) {
    m.mem.write8(HANDLER + 0x200 + v, 0xf4);
    setIdt(m, v, gate(0x08, HANDLER + 0x200 + v, 0x8e));
  }
  setIdt(m, 0x20, gate(0x08, HANDLER, 0x8e));
  if (paging) {
    // The first 4 MiB identity-mapped except the data pages, swapped in pairs: a string
    // operation crossing a page boundary there is not physically contiguous.
    const pd = 0x100000, pt = 0x101000, data = DATA >>> 12;
    m.mem.write32(pd, pt | 3);
    for (let p = 0; p < 1024; p++) {
      const to = p >= data && p < data + 4 ? p ^ 1 : p;
      m.mem.write32(pt + 4 * p, (to << 12) | 3);
    }
    m.cpu.cr3 = pd;
    m.cpu.cr0 |= 0x80000000;
    m.cpu.updateMode();
  }
  const at: number[][] = [];
  let seed = 12345;
  const arm = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    m.clock.scheduleIn(1 + (seed >>> 8) % 400, () => {
      at.push(snapshot(m));
      m.pic.pending.push(0x20);
      arm();
    });
  };
  if (timers) arm();
  return { m, at };
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

function state(m: TestMachine): string {
  let h = 0;
  for (let i = 0; i < 0x4000; i++) h = (Math.imul(h, 31) + m.mem.read8(DATA + i)) | 0;
  for (let i = 0; i < 0x2000; i++) h = (Math.imul(h, 31) + m.mem.read8(0x8000 + i)) | 0;
  return JSON.stringify({ s: m.cpu.saveState(), icount: m.clock.icount, h });
}

/** Runs `code` at `org` on the interpreter and the translator in equal slices, comparing. */
function runBoth(code: Uint8Array, org: number, irqs: number, paging = false) {
  const timers = irqs > 0;
  const a = machine(false, code, org, timers, paging);
  const b = machine(true, code, org, timers, paging);
  for (let k = 0; k < 40; k++) {
    const ra = a.m.cpu.run(200_000), rb = b.m.cpu.run(200_000);
    assert.equal(rb, ra);
    assert.equal(state(b.m), state(a.m));
    if (ra !== "budget") break;
  }
  assert.equal(a.m.cpu.halted, true, "the program ran to its end");
  assert.deepEqual(b.at, a.at);
  assert.ok(a.at.length >= irqs, `only ${a.at.length} interrupts`);
  assert.equal(b.m.events.join(";"), a.m.events.join(";"));
  return { a, b };
}

Deno.test("translator: string instructions interrupted by timers match the interpreter", () => {
  const { b } = runBoth(assemble(STRINGS, 32, CODE), CODE, 1000);
  // Some interrupts arrived in the middle of a REP (EIP at a string instruction, count left).
  const mid = b.at.filter(([, eip]) => [0xf3, 0xf2, 0x67].includes(b.m.mem.read8(eip))).length;
  assert.ok(mid > 100, `only ${mid} interrupts inside a REP`);
  assert.ok(b.m.cpu.jit!.compiled > 0 && b.m.cpu.jit!.regions > 0);
});

Deno.test("translator: string instructions over pages mapped out of order match", () => {
  const { b } = runBoth(assemble(STRINGS, 32, CODE), CODE, 1000, true);
  assert.ok(b.m.cpu.jit!.compiled > 0);
});

Deno.test("translator: REP MOVSB / STOSD crossing into a page mapped elsewhere, overlapping", () => {
  // The bulk path (one copy per page) must stop at the page end: the next linear page is not
  // the next physical one here; and an overlapping MOVSB repeats its pattern, unlike memmove.
  const code = assemble(
    `
  mov ebp, ${2 * JIT_THRESHOLD}
1:
  mov ecx, 300
${PAGE_EDGES}
  inc eax
  dec ebp
  jnz 1b
  hlt`,
    32,
    CODE,
  );
  const a = machine(false, code, CODE, false, true), b = machine(true, code, CODE, false, true);
  a.m.cpu.run(1_000_000);
  b.m.cpu.run(1_000_000);
  assert.equal(a.m.cpu.halted, true);
  assert.equal(state(b.m), state(a.m));
  assert.ok(b.m.cpu.jit!.compiled > 0);
});

Deno.test("translator: MOV from/to CRn and IRET in translated code match", () => {
  // Paging on, so the CR3 reload flushes the TLB; the timer handler's IRET is hot too.
  const code = assemble(
    `
  sti
  mov ebp, ${200 * JIT_THRESHOLD}
1:
  mov eax, cr0
  add ebx, eax
  mov ecx, cr3
  mov cr3, ecx
  mov edx, cr2
  add esi, [${DATA}]
  dec ebp
  jnz 1b
  hlt`,
    32,
    CODE,
  );
  runBoth(code, CODE, 100, true);
});

Deno.test("translator: chained loop across a page boundary rewriting itself", () => {
  const org = CODE + 0x1000 - 0x20;
  const code = assemble(CROSSING, 32, org);
  runBoth(code, org, 1000);
  // Without interrupts both pages' loops become regions before the next rewrite.
  const { b } = runBoth(code, org, 0);
  assert.ok(b.m.cpu.jit!.regions >= 3, `${b.m.cpu.jit!.regions} regions`);
});
