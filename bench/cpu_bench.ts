/**
 * CPU throughput of pvreplay beside QEMU TCG on the same images:
 *  - guests/cputests/images/bench_int.elf: sieve + CRC-32 + multiply/divide (CPU-bound);
 *  - guests/cputests/images/bench_mem.elf: paging on, 4 MiB copied page by page in a scattered
 *    order with TLB flushes (memory/paging-bound);
 *  - guests/cputests/images/bench_str.elf: REP MOVS/STOS/CMPS/SCAS over 64 KiB buffers, both
 *    directions (string-instruction-bound).
 * All kernels print a checksum, and the run fails if pvreplay's differs from QEMU's or v86's
 * (npm `v86`, run by bench/v86_runner.ts; its column is n/a when the npm package cannot be had).
 *
 * Under `deno task bench` (deno bench) each kernel is one benchmark on pvreplay. Run as a script
 * for the report: MIPS with the translator (core/cpu/jit.ts) on and off, their ratio, and QEMU:
 *   deno run -A bench/cpu_bench.ts [--reps 3]
 * Each repetition runs translator off, on and QEMU back to back; the table shows the fastest of
 * each (the least disturbed by other load on a shared host).
 *
 * @module
 */

import { runUnderQemu } from "../guests/cputests/build.ts";
import { qemuAvailable } from "../tests/lockstep/gdb_remote.ts";

const IMAGES = new URL("../guests/cputests/images/", import.meta.url).pathname;
const MACHINE = new URL("../core/machine.ts", import.meta.url);
const CPU = new URL("../core/cpu/cpu.ts", import.meta.url);
const KERNELS = ["bench_int", "bench_mem", "bench_str"];

/** One pvreplay run of a bench kernel. */
export interface BenchRun {
  serial: string;
  instructions: number;
  seconds: number;
  reason: string;
}

/** Runs `name` on pvreplay's Machine and times it (boot excluded); `jit` false: interpreter. */
export async function runPvreplay(name: string, jit = true): Promise<BenchRun> {
  const { Machine } = await import(MACHINE.href);
  const { translatorDefault } = await import(CPU.href);
  let serial = "";
  const before = translatorDefault(jit);
  const m = new Machine({ memMiB: 64, serialOut: (b: number) => serial += String.fromCharCode(b) });
  translatorDefault(before);
  const file = `${IMAGES}${name}.elf`;
  m.bootMultiboot(Deno.readFileSync(file), { file, cmdline: "" });
  const t0 = performance.now();
  const r = m.run(5_000_000_000);
  const seconds = (performance.now() - t0) / 1000;
  return { serial, instructions: r.instructions, seconds, reason: r.reason };
}

/** QEMU's wall time for the whole process (start-up included) and its serial output. */
async function runQemu(name: string): Promise<{ serial: string; seconds: number }> {
  const t0 = performance.now();
  const r = await runUnderQemu(`${IMAGES}${name}.elf`, 120_000);
  return { serial: new TextDecoder().decode(r.serial), seconds: (performance.now() - t0) / 1000 };
}

/** v86's wall time for the whole run (its start-up included, as QEMU's) and its serial output. */
async function runV86(name: string): Promise<{ serial: string; seconds: number } | null> {
  const deno = Deno.execPath();
  const runner = new URL("./v86_runner.ts", import.meta.url).pathname;
  // Fetch the npm package into Deno's cache, then find the wasm next to it.
  const cache = await new Deno.Command(deno, { args: ["cache", runner], stderr: "null" }).output();
  if (!cache.success) return null;
  const info = await new Deno.Command(deno, { args: ["info", "--json"] }).output();
  const npmCache = JSON.parse(new TextDecoder().decode(info.stdout)).npmCache as string;
  const wasm = `${npmCache}/registry.npmjs.org/v86/0.5.462/build/v86.wasm`;
  const r = await new Deno.Command(deno, {
    args: ["run", "--allow-read", runner, `${IMAGES}${name}.elf`, wasm],
    stderr: "null",
  }).output();
  if (!r.success) return null;
  const out = JSON.parse(new TextDecoder().decode(r.stdout).trim().split("\n").at(-1)!);
  return out.halted ? { serial: out.serial, seconds: out.seconds } : null;
}

if (import.meta.main) {
  const haveQemu = await qemuAvailable();
  const reps = Math.max(1, Number(Deno.args[Deno.args.indexOf("--reps") + 1]) || 1);
  console.log(
    "| kernel | instructions | interpreter s | MIPS | translator s | MIPS | speed-up | QEMU TCG s |" +
      " translator / QEMU | v86 s | translator / v86 |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  let ok = true;
  for (const name of KERNELS) {
    let off: BenchRun | null = null, on: BenchRun | null = null;
    let q: { serial: string; seconds: number } | null = null;
    let v: { serial: string; seconds: number } | null = null;
    for (let k = 0; k < reps; k++) {
      const a = await runPvreplay(name, false), b = await runPvreplay(name, true);
      const c = haveQemu ? await runQemu(name) : null;
      const d = await runV86(name);
      if (!off || a.seconds < off.seconds) off = a;
      if (!on || b.seconds < on.seconds) on = b;
      if (c && (!q || c.seconds < q.seconds)) q = c;
      if (d && (!v || d.seconds < v.seconds)) v = d;
    }
    const mips = (r: BenchRun) => (r.instructions / r.seconds / 1e6).toFixed(1);
    console.log(
      `| ${name} | ${on!.instructions} | ${off!.seconds.toFixed(2)} | ${mips(off!)} | ` +
        `${on!.seconds.toFixed(2)} | ${mips(on!)} | ${
          (off!.seconds / on!.seconds).toFixed(2)
        }x | ` +
        `${q ? q.seconds.toFixed(2) : "n/a"} | ${
          q ? (on!.seconds / q.seconds).toFixed(2) + "x" : "n/a"
        } | ${v ? v.seconds.toFixed(2) : "n/a"} | ${
          v ? (on!.seconds / v.seconds).toFixed(2) + "x" : "n/a"
        } |`,
    );
    if (v && v.serial !== on!.serial) {
      ok = false;
      console.error(`${name}: v86 output ${JSON.stringify(v.serial)} differs from pvreplay's`);
    }
    for (const p of [off!, on!]) {
      if (
        p.reason !== "debug-exit" || (q && q.serial !== p.serial) || p.serial !== on!.serial ||
        p.instructions !== on!.instructions
      ) {
        ok = false;
        console.error(
          `${name}: pvreplay ended with '${p.reason}', output ${JSON.stringify(p.serial)}` +
            (q ? `, QEMU output ${JSON.stringify(q.serial)}` : ""),
        );
      }
    }
  }
  if (!ok) Deno.exit(1);
} else {
  const haveQemu = await qemuAvailable();
  for (const name of KERNELS) {
    Deno.bench({
      name: `pvreplay ${name}`,
      group: name,
      n: 1,
      warmup: 0,
      async fn() {
        const r = await runPvreplay(name);
        if (r.reason !== "debug-exit") throw new Error(`${name} ended with ${r.reason}`);
      },
    });
    Deno.bench({
      name: `pvreplay ${name} (interpreter)`,
      group: name,
      n: 1,
      warmup: 0,
      async fn() {
        const r = await runPvreplay(name, false);
        if (r.reason !== "debug-exit") throw new Error(`${name} ended with ${r.reason}`);
      },
    });
    Deno.bench({
      name: `qemu-tcg ${name}`,
      group: name,
      baseline: true,
      ignore: !haveQemu,
      n: 1,
      warmup: 0,
      async fn() {
        await runQemu(name);
      },
    });
  }
}
