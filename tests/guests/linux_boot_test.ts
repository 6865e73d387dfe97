/**
 * Debian 12's i386 kernel (linux-image-686) with pvreplay's busybox initramfs, fetched and built
 * by guests/linux/fetch.sh into out/linux/ (never committed): boots to userspace and runs the
 * init script's commands, with the same output as QEMU. Skips with a message when out/linux/ is
 * absent, or while the CPU cannot execute x87 arithmetic (the kernel checks the FPU at boot).
 */

import assert from "node:assert/strict";
import { buildInitramfs } from "../../guests/linux/initramfs.ts";
import { writeCpio } from "../../guests/linux/cpio.ts";
import { Machine } from "../../core/machine.ts";

const DIR = new URL("../../out/linux/", import.meta.url).pathname;
const BUDGET = 12_000_000_000;

function have(file: string): boolean {
  try {
    return Deno.statSync(file).isFile;
  } catch {
    return false;
  }
}

/** fninit; fld1; fadd st0, st0; hlt at the reset vector: halts only if x87 arithmetic works. */
function x87Works(): boolean {
  const m = new Machine({ memMiB: 1 });
  m.memory.mapRom(0xfffffff0, Uint8Array.of(0xdb, 0xe3, 0xd9, 0xe8, 0xd8, 0xc0, 0xfa, 0xf4));
  return m.run(100).reason === "idle" && m.cpu.eip === 0xfff8;
}

const fetched = have(`${DIR}vmlinuz`) && have(`${DIR}initrd.cpio`);
const fpu = x87Works();
if (!fetched) {
  console.log("linux_boot_test: out/linux/ missing (run guests/linux/fetch.sh); skipping");
} else if (!fpu) console.log("linux_boot_test: x87 arithmetic not implemented yet; skipping");

Deno.test("initramfs: newc members in order with fixed metadata, byte-identical", () => {
  const a = buildInitramfs(Uint8Array.of(1, 2, 3), "#!/bin/busybox sh\n");
  assert.deepEqual(a, buildInitramfs(Uint8Array.of(1, 2, 3), "#!/bin/busybox sh\n"));
  const text = new TextDecoder("latin1").decode(a);
  const names = [...text.matchAll(/070701[0-9a-f]{104}([^\0]+)\0/g)].map((m) => m[1]);
  assert.deepEqual(names, [
    "bin",
    "bin/busybox",
    "bin/sh",
    "dev",
    "dev/console",
    "proc",
    "sys",
    "tmp",
    "init",
    "TRAILER!!!",
  ]);
  // bin/busybox: mode 0100755, mtime 0, size 3; header + name padded to 4, data padded to 4.
  const one = writeCpio([{ kind: "file", name: "a", data: Uint8Array.of(9), mode: 0o755 }]);
  const h = new TextDecoder().decode(one.subarray(0, 110));
  assert.equal(h.slice(14, 22), "000081ed");
  assert.equal(h.slice(46, 54), "00000000");
  assert.equal(h.slice(54, 62), "00000001");
  assert.equal(one[112], 9);
  assert.equal(one.length % 4, 0);
});

Deno.test({
  name: "Debian 686 kernel boots to userspace and runs the init script (as under QEMU)",
  ignore: !fetched || !fpu,
  fn() {
    const out: number[] = [];
    const m = new Machine({ serialOut: (b) => out.push(b) });
    m.bootKernel(Deno.readFileSync(`${DIR}vmlinuz`), {
      file: "vmlinuz",
      cmdline: "console=ttyS0",
      initrd: Deno.readFileSync(`${DIR}initrd.cpio`),
    });
    const r = m.run(BUDGET);
    const serial = new TextDecoder().decode(Uint8Array.from(out));
    const tail = serial.slice(-3000);
    assert.equal(r.reason, "debug-exit", `run ended with ${r.reason}:\n${tail}`);
    assert.equal(r.exitCode, 0x21);
    for (
      const line of [
        "pvreplay-init: userspace up",
        "arith: 42 525 -3",
        "checksum: aa1c401328d0e28c",
        "awk: 3.141593 2.1078e+03 301",
        "kernel: Linux i686",
        "cpuinfo: 1 cpu(s), fpu yes",
        "memtotal: ok",
        "sys: online cpus 0",
        "RESULT scenario=userspace pass=1 arith=ok checksum=ok awk=ok cpus=1 online=1 hypervisor=none",
        "pvreplay-init: done",
      ]
    ) {
      assert.ok(
        serial.includes(line + "\n") || serial.includes(line + "\r\n"),
        `missing "${line}"`,
      );
    }
  },
});
