/**
 * CPU throughput on a CPU-bound guest loop (ALU, memory, compare-and-branch). Reports million
 * instructions per CPU second of this process (user+system time, robust against a loaded host)
 * alongside wall-clock MIPS.
 *
 * Run: `deno run --allow-run --allow-read --allow-write tests/cpu/mips_bench.ts`
 *
 * @module
 */

import process from "node:process";
import { assemble, makeMachine, protectedMode } from "./machine.ts";

const m = makeMachine();
m.mem.load(
  0x10000,
  assemble(
    `
    mov esi, 0x20000
  outer:
    mov ecx, 1000
    xor eax, eax
  1:
    add eax, ecx
    mov [esi+ecx*4], eax
    mov edx, [esi+ecx*4]
    cmp edx, eax
    jne 2f
    dec ecx
    jnz 1b
    jmp outer
  2:
    hlt`,
    32,
    0x10000,
  ),
);
protectedMode(m, 0x10000);
const N = 20_000_000;
m.cpu.run(N); // warm-up: let the JIT optimise the interpreter
for (let k = 0; k < 5; k++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  m.cpu.run(N);
  const wall = performance.now() - t0;
  const c1 = process.cpuUsage(c0);
  const cpuMs = (c1.user + c1.system) / 1000;
  console.log(
    `${(N / cpuMs / 1000).toFixed(1)} MIPS per CPU second, ${
      (N / wall / 1000).toFixed(1)
    } MIPS wall`,
  );
}
