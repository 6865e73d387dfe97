/**
 * Seeded random instruction streams run in lockstep: each stream is loaded into the harness
 * kernel of both emulators, run to its end and compared instruction by instruction, then the
 * scratch memory and the x87 tags are compared too.
 *
 * @module
 */

import { formatMismatch, hex, Lockstep } from "./lockstep.ts";
import { generateCode, type GeneratedCode, HARNESS } from "./random_code.ts";

/** Result of {@link runRandom}. */
export interface RandomResult {
  compared: number;
  seeds: number;
  seconds: number;
  failure: string | null;
}

/**
 * Runs seeded random instruction streams in the harness kernel until `totalInsns` instructions
 * have been compared (or a mismatch). Seeds are `firstSeed`, `firstSeed + 1`, ... QEMU's states
 * come from its CPU log (`stepping` "log", see {@link Lockstep.runLogged}) or from gdb single
 * steps ("gdb").
 */
export async function runRandom(
  harnessElf: string,
  firstSeed: number,
  totalInsns: number,
  perSeed = 3000,
  log: (s: string) => void = () => {},
  generate: (seed: number, count: number) => GeneratedCode = generateCode,
  stepping: "log" | "gdb" = "log",
): Promise<RandomResult> {
  const t0 = performance.now();
  const ls = await Lockstep.start(harnessElf);
  let seeds = 0;
  const finish = async (failure: string | null): Promise<RandomResult> => {
    await ls.close();
    return { compared: ls.compared, seeds, seconds: (performance.now() - t0) / 1000, failure };
  };
  try {
    const ready = ls.symbols.get("harness_ready");
    if (ready === undefined) return await finish(`${harnessElf}: no symbol harness_ready`);
    const boot = await ls.run(10_000, (eip) => eip === ready);
    if (boot.mismatch) return await finish("harness boot:\n" + formatMismatch(boot.mismatch));
    if (boot.end !== "target") return await finish(`harness boot ended with '${boot.end}'`);
    for (let seed = firstSeed; ls.compared < totalInsns; seed++, seeds++) {
      const end = await ls.loadStream(generate(seed, perSeed));
      const inCode = (eip: number) => eip === end || eip < HARNESS.codeBase || eip > end;
      const qemu = stepping === "log" ? await ls.runLogged(end) : ls.gdbStepper;
      const r = await ls.run(Number.POSITIVE_INFINITY, inCode, qemu);
      if (r.mismatch) return await finish(`seed ${seed}:\n${formatMismatch(r.mismatch)}`);
      const eip = ls.cpu.eip >>> 0;
      if (r.end !== "target" || eip !== end) {
        const vec = eip >= HARNESS.vectorStubs && eip < HARNESS.vectorStubs + 1024
          ? ` (exception vector ${(eip - HARNESS.vectorStubs) >> 2})`
          : "";
        return await finish(
          `seed ${seed}: generated code left the code area at eip=${
            hex(eip)
          }${vec}, end '${r.end}'`,
        );
      }
      const diff = await ls.compareMemory(HARNESS.scratchBase, 0x20000);
      if (diff >= 0) {
        return await finish(
          `seed ${seed}: memory differs at 0x${hex(HARNESS.scratchBase + diff)} after the stream`,
        );
      }
      const tags = await ls.abridgedTags();
      if (tags !== null && tags.qemu !== tags.pvreplay) {
        return await finish(
          `seed ${seed}: x87 tags differ after the stream: QEMU FTW=${tags.qemu.toString(16)}, ` +
            `pvreplay ${tags.pvreplay.toString(16)}`,
        );
      }
      log(
        `seed ${seed}: ${r.compared} insns ok (total ${ls.compared}, ${
          (ls.compared / ((performance.now() - t0) / 1000)).toFixed(0)
        } steps/s)`,
      );
    }
    return await finish(null);
  } catch (e) {
    await ls.close();
    throw e;
  }
}
