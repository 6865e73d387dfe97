/**
 * Which instructions the translator leaves to the interpreter: runs guest kernels on the bare
 * machine (as `pvreplay run`) with the translator's fallback profile on (core/cpu/jit.ts
 * `Translator.profile`) and prints, per kernel, the share of instructions interpreted and the
 * opcodes that were, most frequent first. A REP string instruction interpreted counts once per
 * dispatch, not per iteration.
 *
 *   deno run -A bench/jit_fallback.ts [--top 15] [KERNEL[:CMDLINE]]...
 *
 * KERNEL is a path or a name in guests/cputests/images or guests/images; the default set is
 * bench_int, bench_mem, bench_str and the pvkernel 2.6.22 `boot`, `irq` and `timer` scenarios.
 *
 * @module
 */

import { Machine } from "../core/machine.ts";

const DIRS = ["../guests/cputests/images/", "../guests/images/"].map((d) =>
  new URL(d, import.meta.url).pathname
);
const DEFAULT = [
  "bench_int",
  "bench_mem",
  "bench_str",
  "pvkernel-2.6.22:scenario=boot",
  "pvkernel-2.6.22:scenario=irq",
  "pvkernel-2.6.22:scenario=timer",
];

function find(name: string): string {
  for (const d of ["", ...DIRS]) {
    for (const f of [`${d}${name}`, `${d}${name}.elf`]) {
      try {
        if (Deno.statSync(f).isFile) return f;
      } catch { /* try the next */ }
    }
  }
  throw new Error(`no kernel ${name}`);
}

/** Opcode `op` of the profile as hex (0F xx for the two-byte map). */
function opName(op: number): string {
  if (op === 512) return "(code outside RAM)";
  const h = (v: number) => v.toString(16).padStart(2, "0");
  return op >= 0x100 ? `0f ${h(op & 0xff)}` : h(op);
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--top");
  const top = at >= 0 ? Number(Deno.args[at + 1]) : 15;
  const specs = Deno.args.filter((a, i) => a !== "--top" && i !== at + 1 || at < 0);
  for (const spec of specs.length ? specs : DEFAULT) {
    const [name, cmdline = ""] = spec.split(/:(.*)/s);
    const file = find(name);
    const m = new Machine({ memMiB: 64, serialOut: () => {} });
    const profile = new Float64Array(513);
    m.cpu.jit!.profile = profile;
    m.bootMultiboot(Deno.readFileSync(file), { file, cmdline });
    const r = m.run(2_000_000_000);
    const fallback = profile.reduce((a, v) => a + v, 0);
    const pct = (100 * fallback / r.instructions).toFixed(2);
    console.log(
      `${spec}: ${r.instructions} instructions, ${fallback} interpreted (${pct}%), ` +
        `${m.cpu.jit!.compiled} blocks, ${m.cpu.jit!.regions} regions`,
    );
    const ops = [...profile.keys()].filter((k) => profile[k] > 0)
      .sort((a, b) => profile[b] - profile[a] || a - b).slice(0, top);
    for (const op of ops) console.log(`  ${opName(op).padEnd(20)} ${profile[op]}`);
  }
}
