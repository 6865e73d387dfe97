/**
 * Debian 12's i386 kernel with `--smp 2` (docs/smp.md): the MP table and the I/O APIC are found,
 * the AP is started by INIT/SIPI, and the init script runs with both CPUs online. Needs
 * out/linux/ from guests/linux/fetch.sh (never committed); skips with a message without it.
 * The command line adds `cryptomgr.notests`, a kernel parameter that skips the crypto API's boot
 * self-tests: about 3.1 G of the boot's 6.4 G instructions are their RSA/DH arithmetic
 * (mpihelp_*) on one CPU, which the SMP path does not need; the full boot is the matrix's
 * (tests/regression/matrix_linux_test.ts) and `run`'s (linux_boot_test.ts).
 */

import assert from "node:assert/strict";
import { Machine } from "../../core/machine.ts";
import { parseVerdict } from "../../traces/session/suite.ts";
import { needs } from "../requirements.ts";
import { LINUX_DIR as DIR, linuxFetched } from "./linux_files.ts";

const ignore = needs(
  "Debian's i386 kernel and busybox initramfs (run guests/linux/fetch.sh)",
  linuxFetched(),
  "tests/guests/linux_smp_test.ts",
);

Deno.test({
  name: "Debian 686 kernel, --smp 2: MP table, I/O APIC, both CPUs brought up, userspace runs",
  ignore,
  async fn() {
    const out: number[] = [];
    const m = new Machine({ cpus: 2, serialOut: (b) => out.push(b) });
    m.bootKernel(await Deno.readFile(`${DIR}vmlinuz`), {
      file: "vmlinuz",
      cmdline: "console=ttyS0 cryptomgr.notests",
      initrd: await Deno.readFile(`${DIR}initrd.cpio`),
    });
    const r = await m.runAsync(14_000_000_000);
    const log = new TextDecoder().decode(new Uint8Array(out));
    const tail = log.slice(-3000);
    assert.equal(r.reason, "debug-exit", `run ended with ${r.reason}:\n${tail}`);
    assert.equal(r.exitCode, 0x21);
    for (
      const line of [
        "found SMP MP-table at [mem 0x0009fc00-0x0009fc0f]",
        "IOAPIC[0]: apic_id 2, version 17, address 0xfec00000, GSI 0-23",
        "smp: Brought up 1 node, 2 CPUs",
      ]
    ) assert.ok(log.includes(line), `missing "${line}":\n${tail}`);
    assert.deepEqual(m.processors!.states, ["running", "running"]);
    // The init script counts both CPUs in /proc/cpuinfo and online in /sys (guests/linux/init.sh).
    const v = parseVerdict(log);
    assert.equal(v.pass, true, v.line);
    assert.equal(v.fields.cpus, "2");
    assert.equal(v.fields.online, "2");
  },
});
