/**
 * CPU throughput of pvreplay beside QEMU TCG on the same images:
 *  - guests/cputests/images/bench_int.elf: sieve + CRC-32 + multiply/divide (CPU-bound);
 *  - guests/cputests/images/bench_mem.elf: paging on, 4 MiB copied page by page in a scattered
 *    order with TLB flushes (memory/paging-bound).
 * Both kernels print a checksum, and the run fails if pvreplay's differs from QEMU's.
 *
 * Under `deno task bench` (deno bench) each kernel is one benchmark on pvreplay. Run as a script
 * for the report with MIPS and the QEMU ratio:
 *   deno run -A bench/cpu_bench.ts
 *
 * @module
 */

import { runUnderQemu } from "../guests/cputests/build.ts";
import { moduleMissing } from "../tests/lockstep/lockstep.ts";
import { qemuAvailable } from "../tests/lockstep/gdb_remote.ts";

const IMAGES = new URL("../guests/cputests/images/", import.meta.url).pathname;
const MACHINE = new URL("../core/machine.ts", import.meta.url);
const KERNELS = ["bench_int", "bench_mem"];

/** One pvreplay run of a bench kernel. */
export interface BenchRun {
  serial: string;
  instructions: number;
  seconds: number;
  reason: string;
}

/** Runs `name` on pvreplay's Machine and times it (boot excluded). */
export async function runPvreplay(name: string): Promise<BenchRun> {
  const { Machine } = await import(MACHINE.href);
  let serial = "";
  const m = new Machine({ memMiB: 64, serialOut: (b: number) => serial += String.fromCharCode(b) });
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

const missing = await moduleMissing(MACHINE);

if (import.meta.main) {
  if (missing) {
    console.error(`cpu_bench: ${missing}`);
    Deno.exit(1);
  }
  const haveQemu = await qemuAvailable();
  console.log("| kernel | instructions | pvreplay s | pvreplay MIPS | QEMU TCG s | ratio |");
  console.log("|---|---|---|---|---|---|");
  let ok = true;
  for (const name of KERNELS) {
    const p = await runPvreplay(name);
    const q = haveQemu ? await runQemu(name) : null;
    const mips = p.instructions / p.seconds / 1e6;
    const ratio = q ? (p.seconds / q.seconds).toFixed(1) + "x" : "n/a";
    console.log(
      `| ${name} | ${p.instructions} | ${p.seconds.toFixed(2)} | ${mips.toFixed(1)} | ${
        q ? q.seconds.toFixed(2) : "n/a"
      } | ${ratio} |`,
    );
    if (p.reason !== "debug-exit" || (q && q.serial !== p.serial)) {
      ok = false;
      console.error(
        `${name}: pvreplay ended with '${p.reason}', output ${JSON.stringify(p.serial)}` +
          (q ? `, QEMU output ${JSON.stringify(q.serial)}` : ""),
      );
    }
  }
  if (!ok) Deno.exit(1);
} else {
  const haveQemu = await qemuAvailable();
  for (const name of KERNELS) {
    Deno.bench({
      name: `pvreplay ${name}`,
      group: name,
      ignore: missing !== null,
      n: 1,
      warmup: 0,
      async fn() {
        const r = await runPvreplay(name);
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
