/**
 * `pvreplay run --backend`: the same guest under different backends gives each backend's
 * outcome (a real process per run). The guest makes a VMCALL, then writes 0x10 to
 * isa-debug-exit: kvm@2.6.25 answers the hypercall and the guest exits (0x10 << 1) | 1;
 * kvm@2.6.20's userspace stops the VM at the unhandled exit (EXIT_STOPPED); on the bare PC
 * (no --backend) VMCALL is an invalid opcode with no IDT: a triple fault.
 */

import assert from "node:assert/strict";
import {
  debugExitStatus,
  EXIT_STOPPED,
  EXIT_TRIPLE_FAULT,
  EXIT_USAGE,
} from "../../core/exit_status.ts";
import { buildElf, concat, multibootHeader } from "../loaders/elf_fixture.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

async function run(args: string[]) {
  const r = await new Deno.Command("deno", {
    args: ["run", "--allow-read", CLI, "run", "--serial", "none", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, err: new TextDecoder().decode(r.stderr) };
}

Deno.test("run --backend: kvm@2.6.25 exits, kvm@2.6.20 stops, the bare PC triple-faults", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvreplay-run-backend-" });
  try {
    const kernel = `${dir}/vmcall.elf`;
    // vmcall; mov al,0x10; out 0xf4,al; hlt
    const code = Uint8Array.of(0x0f, 0x01, 0xc1, 0xb0, 0x10, 0xe6, 0xf4, 0xf4);
    await Deno.writeFile(
      kernel,
      buildElf({
        entry: 0x10000c,
        segments: [{ paddr: 0x100000, data: concat(multibootHeader(3), code), memSize: 0x1000 }],
      }),
    );
    const k = ["--kernel", kernel, "--max-insns", "1M"];
    const [newer, older, bare, bad, mixed] = await Promise.all([
      run([...k, "--backend", "kvm@2.6.25"]),
      run([...k, "--backend", "kvm@2.6.20"]),
      run(k),
      run([...k, "--backend", "nosuch"]),
      run([...k, "--backend", "kvm", "--initrd", kernel]),
    ]);
    assert.equal(newer.code, debugExitStatus(0x10), newer.err);
    assert.equal(older.code, EXIT_STOPPED, older.err);
    assert.equal(bare.code, EXIT_TRIPLE_FAULT, bare.err);
    assert.equal(bad.code, EXIT_USAGE);
    assert.match(bad.err, /nosuch/);
    assert.equal(mixed.code, EXIT_USAGE);
    assert.match(mixed.err, /--initrd does not go with --backend/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
