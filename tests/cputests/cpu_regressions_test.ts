/**
 * Minimal reproductions of CPU divergences found by lockstep and the cputests kernels, runnable
 * without QEMU: each builds a flat 32-bit protected-mode CPU whose every vector v < 32 points to
 * a HLT at 0x3000 + 16*v, runs a few bytes and checks the SDM-defined outcome (the one QEMU and
 * the cputests expected files show).
 */

import assert from "node:assert/strict";
import { IoBus } from "../../core/bus.ts";
import { VirtualClock } from "../../core/clock.ts";
import { PhysicalMemory } from "../../core/memory.ts";
import type { LockstepCpu } from "../lockstep/lockstep.ts";
import { Cpu } from "../../core/cpu/cpu.ts";

interface TestCpu extends LockstepCpu {
  dr: Int32Array;
}

/** Handler address of vector `v`. */
const handler = (v: number) => 0x3000 + 16 * v;

function flatCpu(code: number[]): { cpu: TestCpu; memory: PhysicalMemory } {
  const memory = new PhysicalMemory({ size: 16 << 20 });
  const cpu: TestCpu = new Cpu({
    memory,
    io: new IoBus(),
    clock: new VirtualClock(),
    intr: { hasInterrupt: () => false, acknowledge: () => 0 },
  });
  // GDT at 0x500: 0x08 flat code, 0x10 flat data. IDT at 0x2000: interrupt gates.
  memory.write32(0x508, 0x0000ffff);
  memory.write32(0x50c, 0x00cf9b00);
  memory.write32(0x510, 0x0000ffff);
  memory.write32(0x514, 0x00cf9300);
  for (let v = 0; v < 32; v++) {
    memory.write32(0x2000 + 8 * v, (0x08 << 16) | handler(v));
    memory.write32(0x2004 + 8 * v, 0x8e00);
    memory.write8(handler(v), 0xf4);
  }
  cpu.cr0 = 0x11;
  cpu.gdtrBase = 0x500;
  cpu.gdtrLimit = 0x17;
  cpu.idtrBase = 0x2000;
  cpu.idtrLimit = 32 * 8 - 1;
  for (let i = 0; i < 6; i++) {
    cpu.segSel[i] = i === 1 ? 0x08 : 0x10;
    cpu.segBase[i] = 0;
    cpu.segLimit[i] = -1;
    cpu.segAttr[i] = i === 1 ? 0xc09b : 0xc093;
  }
  cpu.regs[4] = 0x9000;
  cpu.eip = 0x1000;
  memory.load(0x1000, Uint8Array.from(code));
  cpu.updateMode?.();
  return { cpu, memory };
}

const opts = {};

Deno.test({
  ...opts,
  name: "#PF on a read crossing into a not-present page reports CR2 = start of that page",
  async fn() {
    // mov eax, [0x50ffe]: bytes 0x50ffe..0x51001, page 0x51000 not present. (paging.elf: QEMU
    // reports CR2 = 0x350000 for the same access at 0x34fffe.)
    const { cpu, memory } = await flatCpu([0xa1, 0xfe, 0x0f, 0x05, 0x00]);
    memory.write32(0x10000, 0x11000 | 3);
    for (let i = 0; i < 1024; i++) memory.write32(0x11000 + 4 * i, (i << 12) | 3);
    memory.write32(0x11000 + 4 * 0x51, 0);
    cpu.cr3 = 0x10000;
    cpu.cr0 |= 0x80000000;
    cpu.updateMode?.();
    cpu.flushTlb?.(true);
    cpu.step();
    assert.equal(cpu.eip, handler(14));
    assert.equal(cpu.cr2 >>> 0, 0x51000);
  },
});

Deno.test({
  ...opts,
  name: "INT3 with TF=1 delivers #BP only (no single-step trap at the handler entry)",
  async fn() {
    // SDM Vol.3 6.12.1.2 / 17.3.1.4: the gate clears TF; INT n does not single-step trap.
    const { cpu } = await flatCpu([0xcc, 0x90]);
    cpu.setEflags(0x102);
    cpu.step();
    assert.equal(cpu.eip, handler(3));
    assert.equal(cpu.regs[4], 0x9000 - 12);
  },
});

Deno.test({
  ...opts,
  name: "DR0 execution breakpoint raises #DB before the instruction with DR6.B0",
  async fn() {
    // SDM Vol.3 17.2.4, 17.3.1.1 (single_step.elf: QEMU hits it once, DR6 & 0xf00f = 1).
    const { cpu } = await flatCpu([0x90, 0x90, 0x90]);
    cpu.dr[0] = 0x1001;
    cpu.dr[7] = 0x401; // L0, execute, length 1
    cpu.step();
    cpu.step();
    assert.equal(cpu.eip, handler(1));
    assert.equal(cpu.dr[6] & 0xf, 1);
  },
});

Deno.test({
  ...opts,
  name: "IRET restoring RF=1 resumes past a DR0 execution breakpoint",
  async fn() {
    // SDM Vol.3 17.3.1.1: a #DB handler sets RF in the saved EFLAGS so that the IRET back to the
    // breakpointed instruction does not fault again (single_step.elf loops forever otherwise).
    const { cpu, memory } = await flatCpu([0x90, 0x90, 0x90]);
    // #DB handler: or dword [esp+8], 0x10000 ; inc esi ; iret
    memory.load(
      handler(1),
      Uint8Array.of(0x81, 0x4c, 0x24, 0x08, 0x00, 0x00, 0x01, 0x00, 0x46, 0xcf),
    );
    cpu.dr[0] = 0x1001;
    cpu.dr[7] = 0x401;
    cpu.regs[6] = 0;
    for (let i = 0; i < 8 && cpu.eip !== 0x1003; i++) cpu.step();
    assert.equal(cpu.eip, 0x1003, "the NOP at the breakpoint must execute after the IRET");
    assert.equal(cpu.regs[6], 1, "exactly one #DB");
  },
});
