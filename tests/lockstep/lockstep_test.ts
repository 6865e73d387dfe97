/**
 * Lockstep differential tests against QEMU (see lockstep.ts):
 *  - seeded random instruction streams in the harness kernel, LOCKSTEP_INSNS instructions
 *    (default 1,000,000), QEMU's states taken from its CPU log (Lockstep.runLogged), which is
 *    checked here against gdb single steps state for state;
 *  - the CPU test kernels from guests/cputests and the bundled guests/images/*.elf,
 *    LOCKSTEP_KERNEL_INSNS each (default 5,000).
 * Skipped with a message when qemu-system-i386 is missing (a failure under CI=true).
 */

import assert from "node:assert/strict";
import { qemuAvailable } from "./gdb_remote.ts";
import { formatMismatch, Lockstep } from "./lockstep.ts";
import { runRandom } from "./random_run.ts";
import { needs } from "../requirements.ts";
import { generateCode } from "./random_code.ts";
import type { ArchState, QemuStepper } from "./lockstep.ts";
import { generateX87Code } from "./random_x87.ts";
import { undefinedEffects } from "./flag_masks.ts";
import { BENCH_KERNELS, KERNELS as BUILT_KERNELS } from "../../guests/cputests/build.ts";

const IMAGES = new URL("../../guests/cputests/images/", import.meta.url).pathname;
const INSNS = Number(Deno.env.get("LOCKSTEP_INSNS") ?? 1_000_000);
const KERNEL_INSNS = Number(Deno.env.get("LOCKSTEP_KERNEL_INSNS") ?? 5_000);
const SEED = Number(Deno.env.get("LOCKSTEP_SEED") ?? 1);
const X87_INSNS = Number(Deno.env.get("LOCKSTEP_X87_INSNS") ?? 20_000);
// Every CPU test kernel with recorded QEMU output: the build's list minus the lockstep
// harness itself and the benchmarks.
const KERNELS = BUILT_KERNELS.filter((k) => k !== "harness" && !BENCH_KERNELS.includes(k));

const skip = needs("qemu-system-i386", await qemuAvailable(), "lockstep_test");

Deno.test("random code generator is deterministic and seed-dependent", () => {
  const a = generateCode(7, 500), b = generateCode(7, 500), c = generateCode(8, 500);
  assert.deepEqual(a.code, b.code);
  assert.deepEqual(a.regs, b.regs);
  assert.notDeepEqual(a.code, c.code);
  assert.ok(a.code.length > 500);
});

Deno.test("undefined-flag masks follow the SDM", () => {
  const fx = (...b: number[]) => undefinedEffects(Uint8Array.from(b), 0, true).flags;
  assert.equal(fx(0xf7, 0xe1), 0xd4); // mul ecx: SF ZF AF PF
  assert.equal(fx(0xf7, 0xf1), 0x8d5); // div ecx: all six
  assert.equal(fx(0xd1, 0xe0), 0x10); // shl eax,1: AF only
  assert.equal(fx(0xc1, 0xe0, 0x03), 0x810); // shl eax,3: OF AF
  assert.equal(fx(0xc1, 0xe0, 0x20), 0); // count masked to 0: nothing
  assert.equal(fx(0xc0, 0xe0, 0x09), 0x811); // shl al,9: OF AF CF
  assert.equal(fx(0x0f, 0xbc, 0xc1), 0x895); // bsf: all but ZF
  assert.equal(fx(0x0f, 0xa3, 0xc8), 0x894); // bt: OF SF AF PF
  assert.equal(fx(0x66, 0x0f, 0xa4, 0xc8, 0x11), 0x8d5); // shld ax,cx,17: all undefined
  assert.equal(fx(0x21, 0xc8), 0x10); // and: AF
  assert.equal(fx(0x01, 0xc8), 0); // add: all defined
  assert.equal(fx(0x27), 0x800); // daa: OF
  assert.equal(fx(0x37), 0x8c4); // aaa: OF SF ZF PF
  assert.equal(fx(0xd4, 0x0a), 0x811); // aam: OF AF CF
  assert.equal(undefinedEffects(Uint8Array.of(0x0f, 0xbd, 0xd8), 0, true).regIfZf, 3);
});

Deno.test({
  name: `lockstep: ${INSNS} random instructions vs QEMU (seed ${SEED})`,
  ignore: skip,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const r = await runRandom(`${IMAGES}harness.elf`, SEED, INSNS);
    console.log(
      `lockstep random: ${r.compared} instructions compared over ${r.seeds} seeds in ` +
        `${r.seconds.toFixed(1)} s (${(r.compared / r.seconds).toFixed(0)} steps/s)`,
    );
    assert.equal(r.failure, null, r.failure ?? "");
    assert.ok(r.compared >= INSNS);
  },
});

Deno.test({
  name: `lockstep: ${X87_INSNS} random x87 instructions vs QEMU (seed ${SEED})`,
  ignore: skip,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const r = await runRandom(
      `${IMAGES}harness.elf`,
      SEED,
      X87_INSNS,
      1000,
      () => {},
      generateX87Code,
    );
    console.log(
      `lockstep x87: ${r.compared} instructions compared over ${r.seeds} seeds in ` +
        `${r.seconds.toFixed(1)} s`,
    );
    assert.equal(r.failure, null, r.failure ?? "");
    assert.ok(r.compared >= X87_INSNS);
  },
});

Deno.test("x87 stream generator is deterministic and keeps the stack in range", () => {
  const a = generateX87Code(3, 400), b = generateX87Code(3, 400);
  assert.deepEqual(a.code, b.code);
  assert.deepEqual(a.scratch, b.scratch);
  assert.notDeepEqual(a.code, generateX87Code(4, 400).code);
});

/**
 * A QEMU-gated test on the harness kernel in lockstep, from its entry point or (`toReady`)
 * booted to `harness_ready`.
 */
function harnessTest(name: string, fn: (ls: Lockstep) => Promise<void>, toReady = true): void {
  Deno.test({
    name: `lockstep: ${name}`,
    ignore: skip,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const ls = await Lockstep.start(`${IMAGES}harness.elf`);
      try {
        const ready = ls.symbols.get("harness_ready")!;
        if (toReady) assert.equal((await ls.run(10_000, (eip) => eip === ready)).end, "target");
        await fn(ls);
      } finally {
        await ls.close();
      }
    },
  });
}

/** Every state `qemu` yields, until it has none or QEMU reaches `end`. */
async function drain(qemu: QemuStepper, end: number): Promise<ArchState[]> {
  const out: ArchState[] = [];
  for (let s = await qemu.next(); s !== null; s = await qemu.next()) {
    out.push(s);
    if (s.eip === end) break;
  }
  return out;
}

harnessTest("QEMU's CPU log gives the states gdb single steps give", async (ls) => {
  for (const seed of [1, 2, 3]) {
    const g = generateCode(seed, 800);
    const end = await ls.loadStream(g);
    const logged = await drain(await ls.runLogged(end), end);
    await ls.loadStream(g);
    const stepped = await drain(ls.gdbStepper, end);
    assert.ok(stepped.length > 800, `seed ${seed}: ${stepped.length} states`);
    assert.equal(logged.length, stepped.length, `seed ${seed}: as many states`);
    assert.deepEqual(logged, stepped, `seed ${seed}`);
  }
});

harnessTest("a divergence in a logged run is reported", async (ls) => {
  const end = await ls.loadStream(generateCode(5, 800));
  const qemu = await ls.runLogged(end);
  assert.equal((await ls.run(100, undefined, qemu)).mismatch, null);
  ls.cpu.regs[6] ^= 0x4000; // corrupt ESI in pvreplay only
  const r = await ls.run(Number.POSITIVE_INFINITY, (eip) => eip === end, qemu);
  assert.ok(r.mismatch, "the corrupted ESI must be detected");
  assert.ok(r.mismatch.fields.includes("esi"), r.mismatch.fields.join());
});

harnessTest("an injected x87 divergence is reported", async (ls) => {
  // fninit; fld1; fld1; jmp .
  await ls.writeBoth(0x110000, Uint8Array.of(0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xe8, 0xeb, 0xfe));
  await ls.setRegsBoth([0, 0, 0, 0, 0x148000, 0x138000, 0, 0], 0x110000, 2);
  assert.equal((await ls.run(2)).mismatch, null);
  (ls.cpu as unknown as { fpuRegs: Uint8Array }).fpuRegs[7 * 10] ^= 1; // R7's low bit
  const r = await ls.run(1);
  assert.ok(r.mismatch, "the corrupted R7 must be detected");
  assert.ok(r.mismatch.fields.includes("r7"), r.mismatch.fields.join());
});

harnessTest("an injected divergence is reported with both register files", async (ls) => {
  assert.equal((await ls.run(50)).mismatch, null);
  ls.cpu.regs[1] ^= 0x100; // corrupt ECX in pvreplay only
  const r = await ls.run(50);
  assert.ok(r.mismatch, "the corrupted ECX must be detected");
  assert.ok(r.mismatch.fields.includes("ecx"));
  assert.match(formatMismatch(r.mismatch), /ecx .* <--/);
}, false);

const BUNDLED = new URL("../../guests/images/", import.meta.url).pathname;
const bundled: string[] = [];

/**
 * QEMU boots an image by its Multiboot header (magic 0x1BADB002, 4-aligned in the first 8 KiB);
 * a guest booted another way (xenabi.elf: the Xen domain builder) has no bare-hardware run to
 * compare with.
 */
function hasMultibootHeader(path: string): boolean {
  const b = Deno.readFileSync(path).subarray(0, 8192);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i + 4 <= b.length; i += 4) if (dv.getUint32(i, true) === 0x1badb002) return true;
  return false;
}

try {
  for (const e of Deno.readDirSync(BUNDLED)) {
    if (e.name.endsWith(".elf") && hasMultibootHeader(`${BUNDLED}${e.name}`)) bundled.push(e.name);
  }
} catch { /* no bundled images yet */ }
bundled.sort();
if (bundled.length === 0) console.log("lockstep_test: no guests/images/*.elf yet; skipping those");

const targets = [
  ...KERNELS.map((k) => [`cputests/${k}`, `${IMAGES}${k}.elf`]),
  ...bundled.map((f) => [`images/${f}`, `${BUNDLED}${f}`]),
];

for (const [name, image] of targets) {
  Deno.test({
    name: `lockstep: ${name} (up to ${KERNEL_INSNS} instructions)`,
    ignore: skip,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const ls = await Lockstep.start(image);
      try {
        const r = await ls.run(KERNEL_INSNS);
        console.log(`${name}: ${r.compared} compared, end '${r.end}'`);
        assert.equal(r.mismatch, null, r.mismatch ? formatMismatch(r.mismatch) : "");
        assert.ok(r.compared > 0);
      } finally {
        await ls.close();
      }
    },
  });
}
