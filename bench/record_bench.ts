/**
 * Recording overhead: the same guest run plain (bare machine, no backend, no trace) and recorded
 * (backend attached, every event encoded and written to a .pvt file), in one `deno bench` group
 * so the ratio is measured in the same run.
 *
 *   npx --yes deno@2.9.6 bench --allow-read --allow-write=/tmp bench/record_bench.ts
 *
 * The scenario is `clock` of the bundled 2.6.22 guest (about 26 M instructions, ~627 k events,
 * nearly all `in al,0x61` of a PIT-calibration polling loop: one event per ~42 instructions).
 */

import { Machine } from "../core/machine.ts";
import { IMAGE_DIR, recordCase, suiteCase } from "../traces/suite.ts";

const CASE = suiteCase("2.6.22", "clock");
const IMAGE = Deno.readFileSync(`${IMAGE_DIR}/${CASE.image}`);
const OUT = Deno.makeTempFileSync({ suffix: ".pvt" });

Deno.bench({
  name: "plain run (no backend, no trace)",
  group: "record",
  baseline: true,
  n: 5,
  warmup: 1,
  fn() {
    const m = new Machine({});
    m.bootMultiboot(IMAGE, { file: CASE.image, cmdline: CASE.cmdline });
    const r = m.run(400_000_000);
    if (r.reason !== "debug-exit") throw new Error(`plain run ended with ${r.reason}`);
  },
});

Deno.bench({
  name: "recorded on native (trace written)",
  group: "record",
  n: 5,
  warmup: 1,
  fn() {
    const r = recordCase(CASE, "native", { out: OUT });
    if (r.verdict.pass !== true) throw new Error("recorded run failed");
  },
});

Deno.bench({
  name: "recorded on kvm (trace written)",
  group: "record",
  n: 5,
  warmup: 1,
  fn() {
    const r = recordCase(CASE, "kvm", { out: OUT });
    if (r.verdict.pass !== true) throw new Error("recorded run failed");
  },
});

// A CPU-bound guest (guests/cputests bench_int: sieve, CRC-32, mul/div; 101 M instructions,
// a few hundred events): the other end of the event-density range.
const INT_CASE = { image: "bench_int.elf", cmdline: "", label: "bench_int" };
const INT_DIR = "guests/cputests/images";
const INT_IMAGE = Deno.readFileSync(`${INT_DIR}/${INT_CASE.image}`);

Deno.bench({
  name: "bench_int plain run",
  group: "record-cpu-bound",
  baseline: true,
  n: 3,
  warmup: 1,
  fn() {
    const m = new Machine({});
    m.bootMultiboot(INT_IMAGE, { file: INT_CASE.image });
    const r = m.run(400_000_000);
    if (r.reason !== "debug-exit") throw new Error(`plain run ended with ${r.reason}`);
  },
});

Deno.bench({
  name: "bench_int recorded on native",
  group: "record-cpu-bound",
  n: 3,
  warmup: 1,
  fn() {
    const r = recordCase(INT_CASE, "native", { out: OUT, imageDir: INT_DIR });
    if (r.result.reason !== "debug-exit") throw new Error("recorded run failed");
  },
});
