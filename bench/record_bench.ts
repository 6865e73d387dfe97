/**
 * Recording overhead as `Deno.bench` groups: each guest of bench/record_cases.ts run plain
 * (baseline) and recorded on each of its backends.
 *
 *   npx --yes deno@2.9.6 bench --allow-read --allow-write=/tmp bench/record_bench.ts
 *
 * A group's runs are consecutive, so load drifting on a shared host skews the ratio; the figures
 * in the README come from bench/record_overhead.ts, which pairs the runs.
 */

import { OVERHEAD_CASES, plainRun, recordedRun } from "./record_cases.ts";

const OUT = Deno.makeTempFileSync({ suffix: ".pvt" });

for (const c of OVERHEAD_CASES) {
  const image = Deno.readFileSync(`${c.imageDir}/${c.case.image}`);
  const n = c.case.label === "bench_int" ? 3 : 5;
  Deno.bench({
    name: `${c.label}: plain run`,
    group: c.label,
    baseline: true,
    n,
    warmup: 1,
    fn: () => void plainRun(c, image),
  });
  for (const backend of c.backends) {
    Deno.bench({
      name: `${c.label}: recorded on ${backend}`,
      group: c.label,
      n,
      warmup: 1,
      fn: () => void recordedRun(c, backend, OUT),
    });
  }
}
