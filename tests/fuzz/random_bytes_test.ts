/**
 * Fuzz: seeded random bytes executed as code, in real mode and in 32-bit protected mode. Every
 * interrupt/exception vector leads to a distinct `jmp .` stub; when the CPU lands in one (or
 * halts, or shuts down, or has run long enough) the host re-seeds it at a fresh random spot.
 * Requirements: the CPU never throws a host exception (only guest exceptions), and the same seed
 * twice gives an identical final state (determinism).
 *
 * FUZZ_INSNS (default 200000) sets the instructions per mode; FUZZ_SEED (default 1) the seed.
 */

import assert from "node:assert/strict";
import { IoBus } from "../../core/bus.ts";
import { VirtualClock } from "../../core/clock.ts";
import { PhysicalMemory } from "../../core/memory.ts";
import { Prng } from "../lockstep/random_code.ts";
import type { LockstepCpu } from "../lockstep/lockstep.ts";
import { Cpu } from "../../core/cpu/cpu.ts";

const INSNS = Number(Deno.env.get("FUZZ_INSNS") ?? 200_000);
const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 1);
const MEM = 1 << 20;
/** Random code occupies 0x1000..0x9FFF; vector stubs at 0xA000 + 4*vector; GDT 0x800, IDT 0xB000. */
const CODE_LO = 0x1000, CODE_HI = 0xa000, STUBS = 0xa000, GDT = 0x800, IDT = 0xb000;

interface FuzzCpu extends LockstepCpu {
  reset(): void;
  run(n: number): string;
  clock: VirtualClock;
  saveState(): unknown;
}

/** Final state of one fuzz run, for the determinism comparison. */
interface FuzzResult {
  insns: number;
  reseeds: number;
  vectors: number[];
  state: string;
  ramHash: number;
}

function fnv(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

function fuzz(mode: "real" | "pm", seed: number, insns: number): FuzzResult {
  const memory = new PhysicalMemory({ size: MEM });
  const clock = new VirtualClock();
  const cpu: FuzzCpu = new Cpu({
    memory,
    io: new IoBus(),
    clock,
    intr: { hasInterrupt: () => false, acknowledge: () => 0 },
  });
  const r = new Prng(seed);
  const vectors = new Array(256).fill(0);
  for (let a = CODE_LO; a < CODE_HI; a++) memory.ram[a] = r.u32();
  // Restores the vector tables (random code may have overwritten them).
  const tables = () => {
    for (let v = 0; v < 256; v++) memory.write32(STUBS + 4 * v, 0x9090feeb); // jmp . ; nop ; nop
    // Real-mode IVT at 0 and the protected-mode GDT/IDT.
    for (let v = 0; v < 256; v++) {
      memory.write16(4 * v, (STUBS & 0xf) + 4 * v);
      memory.write16(4 * v + 2, STUBS >> 4);
      const off = STUBS + 4 * v;
      memory.write32(IDT + 8 * v, (0x08 << 16) | (off & 0xffff));
      memory.write32(IDT + 8 * v + 4, (off & 0xffff0000) | 0x8e00);
    }
    memory.write32(GDT + 8, 0x0000ffff);
    memory.write32(GDT + 12, 0x00cf9b00);
    memory.write32(GDT + 16, 0x0000ffff);
    memory.write32(GDT + 20, 0x00cf9300);
  };
  const reseed = () => {
    tables();
    cpu.reset();
    for (let i = 0; i < 8; i++) cpu.regs[i] = r.u32();
    cpu.regs[4] = 0xf000;
    const eip = CODE_LO + r.below(CODE_HI - CODE_LO - 64);
    // Through the write path, so the CPU's decoded-code cache sees the new bytes.
    for (let a = eip; a < eip + 64; a++) memory.write8(a, r.u32());
    if (mode === "real") {
      for (let i = 0; i < 6; i++) {
        cpu.segSel[i] = 0;
        cpu.segBase[i] = 0;
      }
    } else {
      cpu.cr0 |= 1;
      cpu.gdtrBase = GDT;
      cpu.gdtrLimit = 23;
      cpu.idtrBase = IDT;
      cpu.idtrLimit = 256 * 8 - 1;
      for (let i = 0; i < 6; i++) {
        cpu.segSel[i] = i === 1 ? 0x08 : 0x10;
        cpu.segBase[i] = 0;
        cpu.segLimit[i] = -1;
        cpu.segAttr[i] = i === 1 ? 0xc09b : 0xc093;
      }
    }
    cpu.eip = eip;
    cpu.setEflags(0x2 | (r.u32() & 0x8d5));
    cpu.updateMode?.();
    cpu.flushTlb?.(true);
  };
  reseed();
  let reseeds = 0, life = 0;
  const start = clock.icount;
  while (clock.icount - start < insns) {
    const before = clock.icount;
    let reason: string;
    try {
      reason = cpu.run(256);
    } catch (e) {
      const lin = (cpu.segBase[1] + cpu.eip) >>> 0;
      const bytes = Array.from(memory.ram.subarray(lin, lin + 8), (b) => b.toString(16));
      throw new Error(
        `${mode} seed ${seed}: host exception after ${clock.icount - start} insns at ` +
          `cs:eip=${cpu.segSel[1].toString(16)}:${cpu.eip.toString(16)} bytes ${bytes.join(" ")}: ${
            (e as Error).stack
          }`,
      );
    }
    // An idle HLT does not advance icount; count it so the loop always progresses.
    life += Math.max(1, clock.icount - before);
    const lin = (cpu.segBase[1] + cpu.eip) >>> 0;
    const inStub = lin >= STUBS && lin < STUBS + 1024;
    if (inStub) vectors[(lin - STUBS) >> 2]++;
    if (inStub || reason !== "budget" || life > 4096) {
      if (reason === "idle") clock.icount++;
      reseed();
      reseeds++;
      life = 0;
    }
  }
  return {
    insns: clock.icount - start,
    reseeds,
    vectors,
    state: JSON.stringify(cpu.saveState()),
    ramHash: fnv(memory.ram),
  };
}

for (const mode of ["real", "pm"] as const) {
  Deno.test({
    name:
      `fuzz: ${INSNS} random-byte instructions in ${mode} mode, deterministic, no host exception`,
    async fn() {
      const a = await fuzz(mode, SEED, INSNS);
      const b = await fuzz(mode, SEED, INSNS);
      assert.ok(a.insns >= INSNS);
      assert.ok(a.reseeds > 0, "random code should hit exceptions");
      assert.ok(a.vectors.some((n) => n > 0), "some vector stub should be reached");
      assert.deepEqual(a.vectors, b.vectors, "same seed, same exceptions");
      assert.equal(a.ramHash, b.ramHash, "same seed, same memory");
      assert.equal(a.state, b.state, "same seed, same CPU state");
      const hit = a.vectors.map((n, v) => n ? `${v}:${n}` : "").filter(Boolean).join(" ");
      console.log(`${mode}: ${a.insns} insns, ${a.reseeds} reseeds, vectors ${hit}`);
    },
  });
}
