/**
 * Debian 12's i386 kernel (linux-image-686) with pvreplay's busybox initramfs, fetched and built
 * by guests/linux/fetch.sh into out/linux/ (never committed), booted by the user's command
 * `pvreplay run --kernel vmlinuz --initrd initrd.cpio --append console=ttyS0`: it reaches
 * userspace and runs the init script's commands, with the same output as QEMU. Skips with a
 * message without out/linux/ (fails under CI=true, tests/requirements.ts).
 */

import assert from "node:assert/strict";
import { buildInitramfs } from "../../guests/linux/initramfs.ts";
import { writeCpio } from "../../guests/linux/cpio.ts";
import { runCommand } from "../../cli/run.ts";
import { captured } from "../capture.ts";
import { needs } from "../requirements.ts";
import { LINUX_DIR as DIR, linuxFetched } from "./linux_files.ts";

const ignore = needs(
  "Debian's i386 kernel and busybox initramfs (run guests/linux/fetch.sh)",
  linuxFetched(),
  "tests/guests/linux_boot_test.ts",
);

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
  name:
    "pvreplay run: Debian 686 kernel boots to userspace and runs the init script (as under QEMU)",
  ignore,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "pvreplay-linux-run-" });
    try {
      const [status, report] = await captured(runCommand, [
        ...["--kernel", `${DIR}vmlinuz`, "--initrd", `${DIR}initrd.cpio`],
        ...["--append", "console=ttyS0", "--serial", `${dir}/serial.txt`, "--json"],
      ]);
      const serial = Deno.readTextFileSync(`${dir}/serial.txt`);
      const tail = serial.slice(-3000);
      // isa-debug-exit with 0x10: status (0x10 << 1) | 1.
      assert.equal(status, 0x21, `${report}\n${tail}`);
      assert.equal(JSON.parse(report).reason, "debug-exit");
      checkInitScript(serial);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

/** The init script's lines (guests/linux/init.sh), as QEMU prints them for the same initrd. */
function checkInitScript(serial: string): void {
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
}
