/**
 * The lockstep test's random instruction streams (tests/lockstep/random_code.ts, the forms
 * compared against QEMU there) give the same results with the translator on and off: each stream
 * is run in the lockstep harness kernel often enough to be translated (and chained), and after
 * every run the registers, EFLAGS, instruction count and scratch memory must be the
 * interpreter's. This needs no QEMU: it checks the translator against the interpreter, which the
 * lockstep test checks against QEMU.
 */

import assert from "node:assert/strict";
import { JIT_THRESHOLD } from "../cpu/machine.ts";
import { Machine } from "../../core/machine.ts";
import { translatorDefault } from "../../core/cpu/cpu.ts";
import { parseElf } from "../lockstep/elf.ts";
import { generateCode, HARNESS } from "../lockstep/random_code.ts";
import { sha256Hex } from "../../traces/format/guest_image.ts";

const HARNESS_ELF = new URL("../../guests/cputests/images/harness.elf", import.meta.url).pathname;
const SEEDS = 6, PASSES = JIT_THRESHOLD + 10, PER_SEED = 3000;

/** The harness booted to `harness_ready` with the translator `on` or off. */
function boot(on: boolean): Machine {
  const bytes = Deno.readFileSync(HARNESS_ELF);
  const ready = parseElf(bytes, HARNESS_ELF).symbols.get("harness_ready")!;
  const before = translatorDefault(on);
  const m = new Machine({ memMiB: 64, serialOut: () => {} });
  translatorDefault(before);
  if (m.cpu.jit !== null) m.cpu.jit.threshold = JIT_THRESHOLD; // short streams get translated
  m.bootMultiboot(bytes, { file: HARNESS_ELF, cmdline: "" });
  for (let i = 0; i < 100_000 && m.cpu.eip !== ready; i++) m.cpu.step();
  assert.equal(m.cpu.eip, ready, "the harness reached harness_ready");
  return m;
}

Deno.test("translator on/off: the lockstep random streams end in the same state", () => {
  const on = boot(true), off = boot(false);
  for (let seed = 1; seed <= SEEDS; seed++) {
    const g = generateCode(seed, PER_SEED);
    const end = HARNESS.codeBase + g.code.length;
    for (let pass = 0; pass < PASSES; pass++) {
      const after = [on, off].map((m) => {
        m.memory.load(HARNESS.codeBase, Uint8Array.of(...g.code, 0xeb, 0xfe)); // jmp $ at the end
        m.memory.load(HARNESS.scratchBase, g.scratch);
        for (let i = 0; i < 8; i++) m.cpu.regs[i] = g.regs[i];
        m.cpu.eip = HARNESS.codeBase;
        m.cpu.setEflags(g.eflags);
        m.cpu.run(PER_SEED * 4);
        assert.equal(m.cpu.eip >>> 0, end, `seed ${seed} pass ${pass}: ran to the end`);
        return JSON.stringify({
          regs: Array.from(m.cpu.regs),
          eflags: m.cpu.getEflags(),
          icount: m.clock.icount,
          scratch: sha256Hex(
            m.memory.ram.subarray(HARNESS.scratchBase, HARNESS.scratchBase + HARNESS.scratchSize),
          ),
        });
      });
      assert.equal(after[0], after[1], `seed ${seed} pass ${pass}`);
    }
  }
  assert.ok(on.cpu.jit!.compiled > SEEDS * 10, `${on.cpu.jit!.compiled} blocks`);
  assert.equal(off.cpu.jit, null);
});
