/**
 * Recording overhead, measured in pairs: each round runs a guest plain and recorded back to
 * back (order alternating), in one process after warm-up, so both see the same JIT state and
 * the same load on a shared host; times are CPU time (user + system: other jobs on the host
 * slow the wall clock, less so this); the figure is the median of the per-round ratios.
 *
 *   npx --yes deno@2.9.6 run --allow-read --allow-write=/tmp bench/record_overhead.ts [--rounds N]
 *
 * `deno task bench` runs the same cases as `Deno.bench` groups (bench/record_bench.ts), whose
 * averages are noisier: a group's runs are consecutive, so host load drifts between them.
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { parseArgs } from "node:util";
import { OVERHEAD_CASES, plainRun, recordedRun } from "./record_cases.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "11" } } });
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds ${values.rounds}`);
const out = Deno.makeTempFileSync({ suffix: ".pvt" });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** CPU time (user + system, ms) of `f`: steadier than wall time on a shared host. */
function time(f: () => void): number {
  const t = cpuUsage();
  f();
  const d = cpuUsage(t);
  return (d.user + d.system) / 1000;
}

console.log(
  "| guest | backend | instructions | events | plain CPU ms | recorded CPU ms | ratio (median of pairs) | ratio range |",
);
console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |");
for (const c of OVERHEAD_CASES) {
  const image = Deno.readFileSync(`${c.imageDir}/${c.case.image}`);
  let insns = 0;
  for (const backend of c.backends) {
    let events = 0;
    for (let w = 0; w < 2; w++) {
      insns = plainRun(c, image);
      events = recordedRun(c, backend, out);
    }
    const plain: number[] = [], recorded: number[] = [], ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const p = () => plain.push(time(() => plainRun(c, image)));
      const q = () => recorded.push(time(() => recordedRun(c, backend, out)));
      if (r & 1) (q(), p());
      else (p(), q());
      ratios.push(recorded[r] / plain[r]);
    }
    const sorted = [...ratios].sort((a, b) => a - b);
    console.log(
      `| ${c.label} | ${backend} | ${insns} | ${events} | ${median(plain).toFixed(0)} | ` +
        `${median(recorded).toFixed(0)} | ${median(ratios).toFixed(3)}x | ` +
        `${sorted[0].toFixed(2)}-${sorted[sorted.length - 1].toFixed(2)} |`,
    );
  }
}
Deno.removeSync(out);
