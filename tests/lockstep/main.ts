/**
 * Command line for the lockstep differential test (docs/verification.md):
 *
 *   deno run -A tests/lockstep/main.ts --kernel guests/cputests/images/pm_exceptions.elf
 *   deno run -A tests/lockstep/main.ts --random --seed 1 --insns 200000 [--stepping gdb]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { formatMismatch, Lockstep } from "./lockstep.ts";
import { runRandom } from "./random_run.ts";
import { generateCode } from "./random_code.ts";
import { generateX87Code } from "./random_x87.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      kernel: { type: "string" },
      random: { type: "boolean" },
      x87: { type: "boolean" },
      stepping: { type: "string", default: "log" },
      seed: { type: "string", default: "1" },
      insns: { type: "string", default: "100000" },
      harness: { type: "string", default: "guests/cputests/images/harness.elf" },
    },
  });
  if (values.random) {
    const r = await runRandom(
      values.harness!,
      Number(values.seed),
      Number(values.insns),
      values.x87 ? 1000 : 3000,
      console.log,
      values.x87 ? generateX87Code : generateCode,
      values.stepping === "gdb" ? "gdb" : "log",
    );
    console.log(
      `${r.compared} instructions compared over ${r.seeds} seeds in ${r.seconds.toFixed(1)} s ` +
        `(${(r.compared / r.seconds).toFixed(0)} steps/s)`,
    );
    if (r.failure) {
      console.error(r.failure);
      Deno.exit(1);
    }
  } else if (values.kernel) {
    const ls = await Lockstep.start(values.kernel);
    const r = await ls.run(Number(values.insns));
    await ls.close();
    console.log(`${r.compared} instructions compared, end '${r.end}', ${r.seconds.toFixed(1)} s`);
    if (r.mismatch) {
      console.error(formatMismatch(r.mismatch));
      Deno.exit(1);
    }
  } else {
    console.error(
      "usage: main.ts --kernel IMAGE [--insns N] | --random [--x87] [--seed S] [--insns N] " +
        "[--stepping log|gdb]",
    );
    Deno.exit(2);
  }
}
