/**
 * Interpreter throughput in MIPS (million guest instructions per second of this process's CPU
 * time, user + system, so that a loaded shared host distorts it less than wall time).
 *
 * Cases:
 *  - `loop`: a flat 32-bit protected-mode loop (ALU, load/store, compare, branch), hand-encoded
 *    in memory, paging off;
 *  - `int`: `guests/cputests/images/bench_int.elf` (sieve, CRC-32, multiply/divide; flat, paging
 *    off), booted with `Machine.bootMultiboot`;
 *  - `mem`: `guests/cputests/images/bench_mem.elf` (paging on, scattered page copies, CR3
 *    reloads).
 *
 * Each repetition runs a fresh machine for a fixed instruction budget (a slice of the kernel,
 * default 30 M); the first repetition also warms the JIT and is reported but not counted.
 *
 * As a report (min / median over repetitions):
 *   deno run -A bench/cpu_mips_bench.ts [--reps 5] [--insns 30M] [--case loop,int,mem] [--full]
 * `--full` runs each kernel to its isa-debug-exit instead and prints its serial output, to check
 * the checksum. Under `deno bench` every case is one benchmark of 10 M instructions.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { Machine } from "../core/machine.ts";
import { makeMachine, protectedMode } from "../tests/cpu/machine.ts";

const IMAGES = new URL("../guests/cputests/images/", import.meta.url).pathname;

/**
 * The `loop` case, at 0x10000:
 * ```
 *   mov esi, 0x20000
 * outer: mov ecx, 1000
 *   xor eax, eax
 * 1: add eax, ecx
 *   mov [esi+ecx*4], eax
 *   mov edx, [esi+ecx*4]
 *   cmp edx, eax
 *   jne 2f
 *   dec ecx
 *   jnz 1b
 *   jmp outer
 * 2: hlt
 * ```
 */
const LOOP = new Uint8Array([
  0xbe,
  0x00,
  0x00,
  0x02,
  0x00, // mov esi, 0x20000
  0xb9,
  0xe8,
  0x03,
  0x00,
  0x00, // outer: mov ecx, 1000
  0x31,
  0xc0, // xor eax, eax
  0x01,
  0xc8, // 1: add eax, ecx
  0x89,
  0x04,
  0x8e, // mov [esi+ecx*4], eax
  0x8b,
  0x14,
  0x8e, // mov edx, [esi+ecx*4]
  0x39,
  0xc2, // cmp edx, eax
  0x75,
  0x05, // jne 2f
  0x49, // dec ecx
  0x75,
  0xf1, // jnz 1b
  0xeb,
  0xe8, // jmp outer
  0xf4, // 2: hlt
]);

/** Runs `insns` instructions of case `name` on a fresh machine; returns retired instructions. */
type Runner = (insns: number) => { instructions: number; serial: string; reason: string };

function loopRunner(insns: number): ReturnType<Runner> {
  const m = makeMachine();
  m.mem.load(0x10000, LOOP);
  protectedMode(m, 0x10000);
  const start = m.clock.icount;
  const reason = m.cpu.run(insns);
  return { instructions: m.clock.icount - start, serial: "", reason };
}

function kernelRunner(file: string): Runner {
  const bytes = Deno.readFileSync(`${IMAGES}${file}`);
  return (insns) => {
    let serial = "";
    const m = new Machine({
      memMiB: 64,
      serialOut: (b: number) => serial += String.fromCharCode(b),
    });
    m.bootMultiboot(bytes, { file, cmdline: "" });
    const r = m.run(insns);
    return { instructions: r.instructions, serial, reason: r.reason };
  };
}

const CASES: Record<string, () => Runner> = {
  loop: () => loopRunner,
  int: () => kernelRunner("bench_int.elf"),
  mem: () => kernelRunner("bench_mem.elf"),
};

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function parseCount(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kMG]?)$/.exec(s);
  if (!m) throw new Error(`--insns: expected a count like 30M, got '${s}'`);
  return Math.round(Number(m[1]) * ({ "": 1, k: 1e3, M: 1e6, G: 1e9 }[m[2]] ?? 1));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      reps: { type: "string", default: "5" },
      insns: { type: "string", default: "30M" },
      case: { type: "string", default: "loop,int,mem" },
      full: { type: "boolean", default: false },
    },
  });
  const reps = Math.max(1, Number(values.reps));
  const insns = values.full ? 1e10 : parseCount(values.insns);
  for (const name of values.case.split(",")) {
    const make = CASES[name];
    if (!make) throw new Error(`--case: unknown case '${name}' (loop, int, mem)`);
    const runner = make();
    const mips: number[] = [];
    let cold = 0, n = 0;
    for (let k = 0; k <= reps; k++) {
      const c0 = cpuSeconds();
      const r = runner(insns);
      const secs = cpuSeconds() - c0;
      n = r.instructions;
      if (values.full && k === 0) console.log(`${name}: ${r.reason} ${JSON.stringify(r.serial)}`);
      if (k === 0) cold = n / secs / 1e6;
      else mips.push(n / secs / 1e6);
    }
    console.log(
      `${name.padEnd(4)} ${(n / 1e6).toFixed(1)} M insns: MIPS (CPU time) min ${
        Math.min(...mips).toFixed(1)
      } median ${median(mips).toFixed(1)} max ${Math.max(...mips).toFixed(1)} (cold ${
        cold.toFixed(1)
      }, ${reps} reps)`,
    );
  }
} else {
  for (const name of Object.keys(CASES)) {
    const runner = CASES[name]();
    Deno.bench({
      name: `cpu ${name} 10M insns`,
      group: "cpu_mips",
      warmup: 1,
      n: 3,
      fn() {
        const r = runner(10_000_000);
        if (r.instructions < 10_000_000 && r.reason !== "debug-exit") {
          throw new Error(`${name}: stopped early (${r.reason})`);
        }
      },
    });
  }
}
