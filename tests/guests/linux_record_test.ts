/**
 * Recording a real Linux boot: `pvreplay record --kernel vmlinuz --initrd initrd.cpio` boots
 * Debian 12's i386 kernel (guests/linux/fetch.sh, out/linux/, never committed) by the Linux boot
 * protocol under a backend; the header names the protocol, the kernel and the initrd (name,
 * absolute path, SHA-256); two recordings are byte-identical; `pvreplay replay` re-boots it
 * from the header alone and sees no divergence; a different initrd is refused.
 *
 * The budget covers the decompressor (about 2.33 G instructions) and the first 120 M
 * instructions of the kernel proper (early printk on COM1, CPU and memory probing, a few
 * hundred thousand events), so the file runs in about a minute. Skips with a message without
 * out/linux/ (fails under CI=true, tests/requirements.ts).
 */

import assert from "node:assert/strict";
import { resolve } from "node:path";
import { recordCommand } from "../../cli/record.ts";
import { replayCommand } from "../../cli/replay.ts";
import { readTrace } from "../../traces/format/reader.ts";
import { sha256Hex } from "../../traces/format/guest_image.ts";
import { needs } from "../requirements.ts";
import { captured } from "../capture.ts";

const DIR = new URL("../../out/linux/", import.meta.url).pathname;
const KERNEL = `${DIR}vmlinuz`;
const INITRD = `${DIR}initrd.cpio`;
const BUDGET = "2450M";
const CMDLINE = "console=ttyS0 earlyprintk=ttyS0";

function have(file: string): boolean {
  try {
    return Deno.statSync(file).isFile;
  } catch {
    return false;
  }
}

const ignore = needs(
  "Debian's i386 kernel and busybox initramfs (run guests/linux/fetch.sh)",
  have(KERNEL) && have(INITRD),
  "tests/guests/linux_record_test.ts",
);

function recordArgs(backend: string, out: string, serial: string): string[] {
  return [
    "--kernel",
    KERNEL,
    "--initrd",
    INITRD,
    "--append",
    CMDLINE,
    "--backend",
    backend,
    "--out",
    out,
    "--serial",
    serial,
    "--max-insns",
    BUDGET,
    "--no-progress",
    "--json",
  ];
}

Deno.test({
  name: "record a Linux boot twice: byte-identical traces; replay re-boots it with no divergence",
  ignore,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "pvreplay-linux-" });
    try {
      const traces = [`${dir}/a.pvt`, `${dir}/b.pvt`];
      const serials = [`${dir}/a.txt`, `${dir}/b.txt`];
      for (let i = 0; i < 2; i++) {
        const [status, out] = await captured(
          recordCommand,
          recordArgs("native", traces[i], serials[i]),
        );
        assert.equal(status, 10, `record ${i}: ${out}`); // budget exhausted
      }
      assert.deepEqual(Deno.readFileSync(traces[0]), Deno.readFileSync(traces[1]));
      assert.deepEqual(Deno.readFileSync(serials[0]), Deno.readFileSync(serials[1]));
      const serial = Deno.readTextFileSync(serials[0]);
      assert.match(serial, /Linux version 6\.1\.\d+-\d+-686/);

      const t = readTrace(traces[0]);
      assert.equal(t.header.boot, "linux");
      assert.equal(t.header.guest.name, "vmlinuz");
      assert.equal(t.header.guest.path, resolve(KERNEL));
      assert.equal(t.header.guest.sha256, sha256Hex(Deno.readFileSync(KERNEL)));
      assert.equal(t.header.guest.cmdline, CMDLINE);
      assert.deepEqual(t.header.guest.initrd, {
        name: "initrd.cpio",
        sha256: sha256Hex(Deno.readFileSync(INITRD)),
        path: resolve(INITRD),
      });
      assert.equal(t.header.run?.maxInsns, 2_450_000_000);
      // The kernel proper ran: the decompressor alone makes a few dozen events.
      assert.ok(t.events.length > 10_000, `${t.events.length} events`);

      // Same-backend replay finds kernel and initrd through the header's paths.
      const [same, report] = await captured(replayCommand, [traces[0], "--json", "--no-progress"]);
      const r = JSON.parse(report);
      assert.equal(same, 0, report);
      assert.equal(r.mismatch, null);
      assert.equal(r.checked, t.events.length);

      // Another initrd: refused before anything runs.
      const other = `${dir}/other.cpio`;
      Deno.writeFileSync(other, Uint8Array.of(1, 2, 3));
      const errors: string[] = [];
      const error = console.error;
      console.error = (s: unknown) => void errors.push(String(s));
      try {
        const [refused] = await captured(replayCommand, [traces[0], "--initrd", other]);
        assert.equal(refused, 2);
      } finally {
        console.error = error;
      }
      assert.match(errors.join("\n"), /guest\.initrd\.sha256/);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
