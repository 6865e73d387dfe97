import assert from "node:assert/strict";
import { gate, makeMachine, protectedMode, realMode, setIdt } from "./machine.ts";

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

/**
 * Random bytes as code: every guest exception must be delivered (or end in shutdown), and no host
 * exception may escape run(). Every IDT/IVT vector points back into the random code, so execution
 * keeps wandering through handlers, privilege checks and faults.
 */
function fuzz(mode: "real" | "protected", seed: number, insns: number): void {
  const m = makeMachine(2);
  const next = rng(seed);
  const code = new Uint8Array(0x10000);
  for (let i = 0; i < code.length; i++) code[i] = next() & 0xff;
  m.mem.load(0x10000, code);
  if (mode === "protected") {
    protectedMode(m, 0x10000);
    for (let v = 0; v < 256; v++) setIdt(m, v, gate(0x08, 0x10000 + (next() & 0xfff0), 0x8e));
  } else {
    realMode(m.cpu, 0x1000, 0);
    for (let v = 0; v < 256; v++) m.mem.write32(v * 4, (0x1000 << 16) | (next() & 0xfff0));
    m.cpu.regs[4] = 0x8000;
  }
  let done = 0, rounds = 0;
  while (done < insns && rounds++ < insns) {
    const before = m.clock.icount;
    const r = m.cpu.run(1000);
    done += m.clock.icount - before + 1;
    if (r === "shutdown" || r === "idle") {
      // Restart from fresh random state to keep exercising code.
      m.cpu.reset();
      if (mode === "protected") protectedMode(m, 0x10000 + (next() & 0xfff0));
      else realMode(m.cpu, 0x1000, next() & 0xfff0);
      m.cpu.regs[4] = 0x8000;
    }
    assert.ok(m.cpu.eip >= 0 && m.cpu.eip <= 0xffffffff);
  }
}

for (const seed of [1, 2, 3, 4]) {
  Deno.test(`fuzz: random code in protected mode never throws a host exception (seed ${seed})`, () => {
    fuzz("protected", seed, 30000);
  });
  Deno.test(`fuzz: random code in real mode never throws a host exception (seed ${seed})`, () => {
    fuzz("real", seed * 7919, 30000);
  });
}
