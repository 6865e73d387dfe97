/**
 * The translator changes nothing but speed: every scenario of the reference kernel on the native
 * and the KVM backend records the same trace file byte for byte (events, instruction counts of
 * every interrupt and exit, final-state digest) and the same serial output with the translator on
 * and off, and every cputests kernel ends with the same output, instruction count, CPU state and
 * RAM.
 */

import assert from "node:assert/strict";
import { translatorDefault } from "../../core/cpu/cpu.ts";
import { Machine } from "../../core/machine.ts";
import { REFERENCE_BACKENDS } from "../../traces/session/reference.ts";
import { recordCase, REFERENCE_VARIANT, SCENARIOS, suiteCase } from "../../traces/session/suite.ts";
import { sha256Hex } from "../../traces/format/guest_image.ts";

/** Runs `f` with CPUs built under translator setting `on`. */
function withTranslator<T>(on: boolean, f: () => T): T {
  const before = translatorDefault(on);
  try {
    return f();
  } finally {
    translatorDefault(before);
  }
}

for (const scenario of SCENARIOS) {
  for (const backend of REFERENCE_BACKENDS) {
    Deno.test(`translator on/off: ${scenario} on ${backend} records the same trace`, () => {
      const c = suiteCase(REFERENCE_VARIANT, scenario);
      const run = (on: boolean) =>
        withTranslator(on, () => {
          const out = Deno.makeTempFileSync({ suffix: ".pvt" });
          const r = recordCase(c, backend, { out });
          const bytes = Deno.readFileSync(out);
          Deno.removeSync(out);
          return { r, hash: sha256Hex(bytes) };
        });
      const off = run(false), on = run(true);
      assert.equal(on.r.serial, off.r.serial);
      assert.equal(on.r.result.instructions, off.r.result.instructions);
      assert.equal(on.r.events, off.r.events);
      assert.equal(on.r.session.digest(), off.r.session.digest());
      assert.equal(on.hash, off.hash);
    });
  }
}

const IMAGES = new URL("../../guests/cputests/images/", import.meta.url).pathname;
const KERNELS = Object.keys(JSON.parse(Deno.readTextFileSync(`${IMAGES}manifest.json`)));

for (const name of [...KERNELS, "bench_int", "bench_mem", "bench_str"]) {
  Deno.test(`translator on/off: cputests ${name} ends in the same state`, () => {
    const run = (on: boolean) =>
      withTranslator(on, () => {
        const out: number[] = [];
        const m = new Machine({ memMiB: 64, serialOut: (b: number) => out.push(b) });
        const file = `${IMAGES}${name}.elf`;
        m.bootMultiboot(Deno.readFileSync(file), { file, cmdline: "" });
        const r = m.run(500_000_000);
        assert.equal(m.cpu.jit !== null, on);
        return {
          r: JSON.stringify(r),
          serial: String.fromCharCode(...out),
          state: JSON.stringify(m.saveState()),
          ram: sha256Hex(m.memory.ram),
        };
      });
    assert.deepEqual(run(true), run(false));
  });
}
