/**
 * Runs every CPU test kernel of guests/cputests on pvreplay's Machine and compares its COM1
 * output and exit status byte-for-byte with QEMU's: a live QEMU run when qemu-system-i386 is
 * installed (which must also still match the committed `<name>.expected`), else the committed
 * file. Skipped with a message while `core/machine.ts` (or the CPU under it) cannot be loaded.
 */

import assert from "node:assert/strict";
import { QEMU_BINARY, qemuAvailable } from "../lockstep/gdb_remote.ts";
import { Machine } from "../../core/machine.ts";
import { needs } from "../requirements.ts";
import { runUnderQemu } from "../../guests/cputests/build.ts";

const IMAGES = new URL("../../guests/cputests/images/", import.meta.url).pathname;
/** Instruction budget per kernel (they need well under a million). */
const BUDGET = 50_000_000;

const manifest: Record<string, { status: number }> = JSON.parse(
  Deno.readTextFileSync(`${IMAGES}manifest.json`),
);

const haveQemu = await qemuAvailable();
// Without QEMU the committed expected files stand in for it (not under CI=true).
needs(QEMU_BINARY, haveQemu, "cputests_test live QEMU runs (using committed expected files)");

/** Minimal view of core/machine.ts used here. */
interface MachineLike {
  bootMultiboot(bytes: Uint8Array, opts: { file: string; cmdline?: string }): unknown;
  run(maxInsns: number): { reason: string; exitCode: number; instructions: number };
}

/** Runs `image` on pvreplay; returns serial output and a QEMU-comparable exit status. */
function runOnPvreplay(
  image: string,
): { serial: Uint8Array; status: number; why: string } {
  const out: number[] = [];
  const m: MachineLike = new Machine({ memMiB: 64, serialOut: (b: number) => out.push(b) });
  m.bootMultiboot(Deno.readFileSync(image), { file: image, cmdline: "" });
  const r = m.run(BUDGET);
  // QEMU -no-reboot exits with status 0 on a triple fault; pvreplay reports it as its own reason.
  const status = r.reason === "triple-fault" ? 0 : r.reason === "debug-exit" ? r.exitCode : -1;
  return {
    serial: Uint8Array.from(out),
    status,
    why: `${r.reason} (status ${r.exitCode}) after ${r.instructions} instructions`,
  };
}

const dec = new TextDecoder();

for (const name of Object.keys(manifest)) {
  Deno.test({
    name: `cputests/${name}: pvreplay output and exit status equal QEMU's`,
    async fn() {
      const image = `${IMAGES}${name}.elf`;
      const committed = Deno.readFileSync(`${IMAGES}${name}.expected`);
      let expected: { serial: Uint8Array; status: number } = {
        serial: committed,
        status: manifest[name].status,
      };
      if (haveQemu) {
        expected = await runUnderQemu(image);
        assert.equal(
          dec.decode(expected.serial),
          dec.decode(committed),
          `${name}: live QEMU output differs from the committed ${name}.expected (rebuild with ` +
            `guests/cputests/build.ts --expect)`,
        );
      }
      const got = await runOnPvreplay(image);
      assert.equal(dec.decode(got.serial), dec.decode(expected.serial), `${name}: serial output`);
      assert.equal(got.status, expected.status, `${name}: exit, pvreplay ended with ${got.why}`);
    },
  });
}
