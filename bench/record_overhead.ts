/**
 * Recording overhead: each guest of bench/record_cases.ts recorded on each of its backends
 * (trace file, final digest, as `pvreplay record`) against a baseline run with nothing recorded:
 * the bare machine (`pvreplay run`) for native, and for a paravirtual backend its own run with
 * the events dropped (the guest takes that hypervisor's paths either way) and the bare machine.
 * Each mode runs in processes of its own as in real use (a process that runs both makes the
 * CPU's hook calls polymorphic, which slows the plain runs' JIT code and skews the ratio).
 * Processes alternate between the modes for `--rounds` rounds so drifting load on a shared host
 * hits both; each process times `--runs` runs after one warm-up run. Reported: the fastest run
 * of each mode and their ratio (the least disturbed runs, the usual estimate on a noisy host)
 * and the ratio of the medians. `--only TEXT` keeps the guests whose label contains TEXT.
 *
 *   npx --yes deno@2.9.6 run --allow-read --allow-write=/tmp --allow-run bench/record_overhead.ts
 *
 * With `--count-instructions`, host instructions instead of time: each child runs under
 * valgrind (`--tool=cachegrind --cache-sim=no`, V8 single-threaded so JIT work is
 * deterministic), once with 1 and once with 3 runs after its warm-up; the difference over 2 is
 * the instructions of one warm run, start-up and compilation excluded. Repeated measurements of
 * one build agree to 0.1% (wall times on the shared development host vary by 30% or more);
 * incidental code changes move them by a few percent through the JIT's decisions.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { OVERHEAD_CASES, plainRun, recordedRun, unrecordedRun } from "./record_cases.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "4" },
    runs: { type: "string", default: "4" },
    child: { type: "string" },
    "count-instructions": { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const count = (name: string, v: string | undefined) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} ${v}: a positive integer`);
  return n;
};
const runs = count("runs", values.runs);
/** The cases to measure (`--only` picks those whose label contains it), with their index. */
const cases = OVERHEAD_CASES.map((c, index) => ({ c, index }))
  .filter(({ c }) => values.only === undefined || c.label.includes(values.only));

/**
 * What a recording on `backend` is compared with: the bare machine for native (whose ABI is the
 * bare machine's); for a paravirtual backend its own run with nothing recorded first (the guest
 * takes that hypervisor's paths either way), then the bare machine as well.
 */
function baselines(backend: string): string[] {
  return backend === "native" ? ["plain"] : [`${backend}/unrecorded`, "plain"];
}

if (values.child !== undefined) {
  // Child: --child CASE_INDEX:MODE where MODE is "plain", a backend ("kvm": recorded) or a
  // backend with "/unrecorded".
  const [index, mode] = values.child.split(":");
  const c = OVERHEAD_CASES[Number(index)];
  const image = Deno.readFileSync(`${c.imageDir}/${c.case.image}`);
  const out = Deno.makeTempFileSync({ suffix: ".pvt" });
  const [backend, unrecorded] = mode.split("/");
  const once = () =>
    mode === "plain"
      ? plainRun(c, image)
      : unrecorded
      ? unrecordedRun(c, backend, image)
      : recordedRun(c, backend, out);
  once();
  const times: number[] = [];
  let result = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    result = once();
    times.push(performance.now() - t);
  }
  Deno.removeSync(out);
  console.log(JSON.stringify({ times, result }));
} else if (values["count-instructions"]) {
  const script = import.meta.filename!;
  /** Host instructions valgrind counts for a child doing `n` runs after its warm-up. */
  const instructions = (index: number, mode: string, n: number): number => {
    const args = ["--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"];
    args.push(Deno.execPath(), "run", "--allow-read", "--allow-write=/tmp");
    args.push("--v8-flags=--single-threaded", script, `--runs=${n}`, `--child=${index}:${mode}`);
    let r;
    try {
      r = new Deno.Command("valgrind", { args, stdout: "null", stderr: "piped" }).outputSync();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        console.error("valgrind not found (Debian package valgrind): cannot count instructions");
        Deno.exit(2);
      }
      throw e;
    }
    const m = /I\s+refs:\s+([\d,]+)/.exec(new TextDecoder().decode(r.stderr));
    if (!r.success || !m) throw new Error(`valgrind child ${index}:${mode} failed`);
    return Number(m[1].replaceAll(",", ""));
  };
  const perRun = (index: number, mode: string) =>
    (instructions(index, mode, 3) - instructions(index, mode, 1)) / 2;
  console.log(
    "| guest | backend | baseline | baseline, host instructions/run | recorded | ratio |",
  );
  console.log("| --- | --- | --- | ---: | ---: | ---: |");
  for (const { c, index } of cases) {
    const measured = new Map<string, number>();
    const per = (mode: string) => {
      if (!measured.has(mode)) measured.set(mode, perRun(index, mode));
      return measured.get(mode)!;
    };
    for (const backend of c.backends) {
      const recorded = per(backend);
      for (const base of baselines(backend)) {
        console.log(
          `| ${c.label} | ${backend} | ${base} | ${(per(base) / 1e6).toFixed(0)} M | ` +
            `${(recorded / 1e6).toFixed(0)} M | ${(recorded / per(base)).toFixed(3)}x |`,
        );
      }
    }
  }
} else {
  const rounds = count("rounds", values.rounds);
  const child = (index: number, mode: string): { times: number[]; result: number } => {
    const args = ["run", "--allow-read", "--allow-write=/tmp", import.meta.filename!];
    args.push(`--runs=${runs}`, `--child=${index}:${mode}`);
    const r = new Deno.Command(Deno.execPath(), { args, stderr: "inherit" }).outputSync();
    if (!r.success) throw new Error(`child ${index}:${mode} failed`);
    return JSON.parse(new TextDecoder().decode(r.stdout));
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(
    "| guest | backend | baseline | baseline ms (fastest / median) | recorded ms (fastest / median) | ratio of fastest | ratio of medians | events |",
  );
  console.log("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const { c, index } of cases) {
    for (const backend of c.backends) {
      const base = baselines(backend)[0];
      const plain: number[] = [], recorded: number[] = [];
      let events = 0;
      for (let r = 0; r < rounds; r++) {
        plain.push(...child(index, base).times);
        const q = child(index, backend);
        recorded.push(...q.times);
        events = q.result;
      }
      const [pf, rf] = [Math.min(...plain), Math.min(...recorded)];
      const [pm, rm] = [median(plain), median(recorded)];
      console.log(
        `| ${c.label} | ${backend} | ${base} | ${pf.toFixed(0)} / ${pm.toFixed(0)} | ` +
          `${rf.toFixed(0)} / ${rm.toFixed(0)} | ${(rf / pf).toFixed(3)}x | ` +
          `${(rm / pm).toFixed(3)}x | ${events} |`,
      );
    }
  }
}
