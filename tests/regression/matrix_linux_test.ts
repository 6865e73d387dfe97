/**
 * `pvreplay matrix --linux DIR`: Debian 12's i386 kernel and the busybox initramfs
 * (guests/linux/fetch.sh, out/linux/, never committed) as a matrix row, its one scenario
 * `userspace` judged by the init script's RESULT line. One run boots it twice (native, the
 * reference, and kvm@6.1; a few minutes each) and has Xen refuse it; the kept kvm@6.1 trace and
 * console log are then checked as the real-kernel KVM test: the kernel detects KVM through
 * CPUID.1:ECX[31] and the signature leaf, registers kvmclock through the 0x4b564dxx MSRs,
 * switches to the kvm-clock clocksource, and the host's time-structure updates carry
 * PVCLOCK_TSC_STABLE_BIT (docs/abi/kvm.md §4). The other test needs no boot (Xen refuses at
 * once): the cache key covers the initrd, and shards merge as for any row. Skips without
 * out/linux/ (fails under CI=true, tests/requirements.ts).
 */

import assert from "node:assert/strict";
import { matrixCommand } from "../../cli/matrix.ts";
import type { MatrixDocument } from "../../traces/session/matrix_status.ts";
import { linuxVariant } from "../../traces/session/suite.ts";
import { TraceReader } from "../../traces/format/reader.ts";
import { needs } from "../requirements.ts";
import { captured } from "../capture.ts";
import { LINUX_DIR, linuxFetched } from "../guests/linux_files.ts";

const ignore = needs(
  "Debian's i386 kernel and busybox initramfs (run guests/linux/fetch.sh)",
  linuxFetched(),
  "tests/regression/matrix_linux_test.ts",
);

/** `pvreplay matrix ARGS`: exit status and stdout. */
const matrix = (args: string[]) => captured(matrixCommand, args);

Deno.test({
  name:
    "matrix --linux: native same, kvm@6.1 (KVM detected, kvm-clock) diverges at its first divergence, xen refuses",
  ignore,
  async fn() {
    const tmp = Deno.makeTempDirSync({ prefix: "matrix-linux-" });
    try {
      const [status, out] = await matrix([
        ...["--linux", LINUX_DIR, "--scenarios", "userspace"],
        ...["--backends", "native,kvm@6.1,xen@3.1", "--jobs", "2", "--out", tmp, "--json"],
        ...["--junit", `${tmp}/junit.xml`, "--html", `${tmp}/matrix.html`],
      ]);
      assert.equal(status, 1, "the xen cell fails"); // 1: some cell fails
      const doc = JSON.parse(out) as MatrixDocument;
      assert.deepEqual(JSON.parse(Deno.readTextFileSync(`${tmp}/matrix.json`)), doc);
      assert.equal(doc.schema, "pvreplay-matrix/1");
      assert.equal(doc.reference, "native@p6");
      const variant = linuxVariant(LINUX_DIR);
      assert.match(variant, /^linux-6\.1\.\d+-\d+-686$/);
      assert.deepEqual(
        doc.cells.map((c) => [c.variant, c.scenario, c.options, c.backend, c.status]),
        [
          [variant, "userspace", "", "native@p6", "same"],
          [variant, "userspace", "", "kvm@6.1", "diverges"],
          [variant, "userspace", "", "xen@3.1", "fails"],
        ],
        JSON.stringify(doc.cells.map((c) => [c.backend, c.reason, c.exit, c.fields])),
      );
      const [native, kvm, xen] = doc.cells;
      for (const c of [native, kvm]) {
        assert.equal(c.verdict, "PASS");
        assert.equal(c.exit, "debug-exit");
        assert.equal(c.code, 0x21);
        assert.deepEqual(
          [c.fields.scenario, c.fields.arith, c.fields.checksum, c.fields.awk, c.fields.cpus],
          ["userspace", "ok", "ok", "ok", "1"],
        );
        assert.ok(c.instructions > 5e9 && c.events > 1e6, `${c.instructions} ${c.events}`);
        assert.equal(c.trace, `${tmp}/${variant}-userspace-${c.backend.replace("@", "_")}.pvt`);
        assert.ok(Deno.statSync(c.trace!).size > 0);
      }
      // The kernel's own view: the hypervisor it detected, as its log says.
      assert.equal(native.fields.hypervisor, "none");
      assert.equal(kvm.fields.hypervisor, "KVM");
      assert.equal(native.first, null);
      // kvm@6.1's first divergence is named with its class and event numbers, with context.
      assert.ok(kvm.divergence !== null);
      assert.match(kvm.first!, new RegExp(`^${kvm.divergence} .* at #\\d+/#\\d+$`));
      assert.ok(kvm.context!.some((l) => l.startsWith("ref >")), kvm.context!.join("\n"));
      assert.ok(kvm.context!.some((l) => l.startsWith("cell>")), kvm.context!.join("\n"));
      assert.ok((kvm.ops.write_msr ?? 0) > (native.ops.write_msr ?? 0), "kvmclock's MSRs");
      checkKvmBoot(kvm.trace!);
      // Xen's domain builder refuses a kernel without Xen ELF notes: a cell, not a crash.
      assert.equal(xen.exit, "refused");
      assert.equal(xen.code, 4);
      assert.match(xen.reason!, /^xen@3\.1 refused the image: /);
      assert.equal(xen.trace, null);

      const junit = Deno.readTextFileSync(`${tmp}/junit.xml`);
      assert.match(junit, new RegExp(`name="${variant} userspace on xen@3\\.1">\\s*<failure`));
      assert.equal(junit.match(/<failure/g)?.length, 1, junit);
      assert.ok(Deno.readTextFileSync(`${tmp}/matrix.html`).includes(variant));
    } finally {
      Deno.removeSync(tmp, { recursive: true });
    }
  },
});

/** The kvm@6.1 cell's console log and trace: what the kernel made of KVM. */
function checkKvmBoot(trace: string): void {
  const console = Deno.readTextFileSync(trace.replace(/\.pvt$/, ".console.txt"));
  for (
    const line of [
      "Hypervisor detected: KVM",
      "kvm-clock: Using msrs 4b564d01 and 4b564d00",
      "Booting paravirtualized kernel on KVM",
      "clocksource: Switched to clocksource kvm-clock",
      "pvreplay-init: userspace up",
      "awk: 3.141593 2.1078e+03 301",
      "pvreplay-init: done",
    ]
  ) assert.ok(console.includes(line), `missing "${line}"`);
  const msrs = new Set<number>();
  let pvEoi = -1, apfEn = -1;
  let clockUpdates = 0;
  // The async-PF wake-all (docs/abi/kvm.md §10): marker, then the interrupt, then the ACK.
  const apf: string[] = [];
  const reader = TraceReader.open(trace);
  try {
    for (const e of reader.events()) {
      if (e.name === "EXIT_REASON_MSR_WRITE") {
        const msr = e.args[0] >>> 0;
        msrs.add(msr);
        // kvmclock's system-time structure is registered with its enable bit (bit 0) set.
        if (msr === 0x4b564d01) assert.equal(e.args[1] & 1, 1);
        if (msr === 0x4b564d04 && pvEoi < 0) pvEoi = e.args[1];
        if (msr === 0x4b564d02 && apfEn < 0) apfEn = e.args[1];
        if (msr === 0x4b564d07) apf.push(`ack ${e.args[1]}`);
      } else if (e.name === "kvm_async_pf") {
        assert.deepEqual(e.args, [0xffffffff, 0xf3]);
        assert.equal(e.nr, (apfEn & ~0x3f) >>> 0, "the registered structure");
        apf.push("page ready");
      } else if (e.kind === "interrupt" && e.vector === 0xf3) {
        apf.push("interrupt");
      } else if (e.name === "pvclock_vcpu_time_info" && clockUpdates++ < 100) {
        assert.equal(e.args[7], 1, "PVCLOCK_TSC_STABLE_BIT");
      }
    }
  } finally {
    reader.close();
  }
  assert.ok(clockUpdates > 10, `${clockUpdates} time-structure updates`);
  const hex = [...msrs].map((m) => m.toString(16)).join(",");
  // The system-time structure through the new MSR, the wall clock through its pair; steal time,
  // PV EOI and async PF (docs/abi/kvm.md §8, §9, §10), the EOI word enabled and 4-byte aligned,
  // async PF enabled with interrupt delivery (and as #PF VM exits: ASYNC_PF_VMEXIT is there)
  // on HYPERVISOR_CALLBACK_VECTOR. The one wake-all comes when the kernel enables its local
  // APIC and is ACKed. Poll control, which the profile leaves clear, is not used.
  for (const m of [0x4b564d01, 0x4b564d00, 0x4b564d03, 0x4b564d06]) assert.ok(msrs.has(m), hex);
  assert.equal(pvEoi & 3, 1, "MSR_KVM_PV_EOI_EN enabled, word 4-byte aligned");
  assert.equal(apfEn & 0x3f, 0xd, "MSR_KVM_ASYNC_PF_EN: enabled, as-vmexit, as-interrupt");
  assert.deepEqual(apf, ["page ready", "interrupt", "ack 1"]);
  for (const m of [0x4b564d05]) {
    assert.ok(!msrs.has(m), `MSR 0x${m.toString(16)} written (${hex})`);
  }
}

Deno.test({
  name: "matrix --linux without a boot: the cache key covers the initrd; shards merge",
  ignore,
  async fn() {
    const tmp = Deno.makeTempDirSync({ prefix: "matrix-linux-cache-" });
    try {
      // A copy of out/linux whose initrd can change. On xen (the reference too) both rows are
      // refused before anything runs: no boot.
      const dir = `${tmp}/linux`;
      Deno.mkdirSync(dir);
      for (const f of ["vmlinuz", "initrd.cpio", "VERSION"]) {
        Deno.copyFileSync(`${LINUX_DIR}${f}`, `${dir}/${f}`);
      }
      const variant = linuxVariant(dir);
      const xen = ["--backends", "xen@3.1", "--reference", "xen@3.1", "--jobs", "1"];
      const cached = ["--linux", dir, "--scenarios", "userspace", ...xen, "--cache", `${tmp}/c`];
      const entries = () => [...Deno.readDirSync(`${tmp}/c`)].length;
      const [first, out] = await matrix([...cached, "--json"]);
      assert.equal(first, 1);
      assert.equal(entries(), 1);
      assert.equal((JSON.parse(out) as MatrixDocument).cells[0].variant, variant);
      assert.equal((await matrix(cached))[0], 1);
      assert.equal(entries(), 1, "unchanged kernel and initrd: the stored cell");
      const initrd = Deno.readFileSync(`${dir}/initrd.cpio`);
      initrd[initrd.length - 1] ^= 1;
      Deno.writeFileSync(`${dir}/initrd.cpio`, initrd);
      assert.equal((await matrix(cached))[0], 1);
      assert.equal(entries(), 2, "another initrd is another cell");

      // A bundled row and the Linux row: two shards merged equal the unsplit matrix.
      const both = ["--linux", dir, "--variants", `2.6.22,${variant}`, ...xen];
      both.push("--scenarios", "boot,userspace");
      await matrix([...both, "--out", `${tmp}/all`]);
      await matrix([...both, "--shard", "0/2", "--out", `${tmp}/s0`]);
      await matrix([...both, "--shard", "1/2", "--out", `${tmp}/s1`]);
      await matrix(["merge", `${tmp}/s1`, `${tmp}/s0`, "--out", `${tmp}/merged`]);
      const load = (d: string) => JSON.parse(Deno.readTextFileSync(`${tmp}/${d}/matrix.json`));
      const all = load("all") as MatrixDocument;
      assert.deepEqual(all.cells.map((c) => `${c.variant} ${c.scenario} ${c.status}`), [
        "2.6.22 boot fails",
        `${variant} userspace fails`,
      ]);
      assert.deepEqual(load("merged"), all);
      assert.equal(load("s1").cells[0].variant, variant);
    } finally {
      Deno.removeSync(tmp, { recursive: true });
    }
  },
});
