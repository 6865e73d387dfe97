/**
 * The user's path end to end with real processes: record through the deno.json task to a file
 * outside the project, then replay it from another directory, the image found where the header
 * says it was (and its hash checked).
 */

import assert from "node:assert/strict";
import { readTrace } from "../../traces/format/reader.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CLI = `${ROOT}cli.ts`;

async function sh(args: string[], cwd: string) {
  const r = await new Deno.Command("deno", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: r.code, out: text(r.stdout), err: text(r.stderr) };
}

Deno.test("record to a temp dir via 'deno task pvreplay'; replay from elsewhere finds the image", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvreplay-user-" });
  try {
    // An image under a name guests/images/ does not have, away from the trace.
    await Deno.mkdir(`${dir}/kernels`);
    await Deno.mkdir(`${dir}/traces`);
    await Deno.mkdir(`${dir}/elsewhere`);
    await Deno.copyFile(`${ROOT}guests/images/pvkernel-2.6.22.elf`, `${dir}/kernels/mine.elf`);
    const out = `${dir}/traces/x.pvt`;
    const rec = await sh([
      "task",
      "-q",
      "pvreplay",
      "record",
      "--kernel",
      `${dir}/kernels/mine.elf`,
      "--append",
      "scenario=halt",
      "--backend",
      "kvm",
      "--serial",
      "none",
      "--out",
      out,
    ], ROOT);
    assert.equal(rec.code, 1, rec.err); // the guest's isa-debug-exit 0: (0 << 1) | 1
    const t = readTrace(out);
    assert.equal(t.header.guest.path, `${dir}/kernels/mine.elf`);
    assert.ok(t.footer);

    const rep = await sh(["run", "--allow-read", CLI, "replay", out], `${dir}/elsewhere`);
    assert.equal(rep.code, 0, rep.err + rep.out);
    assert.match(rep.out, /no divergence/);

    // A different file at the recorded path is refused by its hash, and named in the error.
    await Deno.writeFile(`${dir}/kernels/mine.elf`, new Uint8Array(16));
    const bad = await sh(["run", "--allow-read", CLI, "replay", out], `${dir}/elsewhere`);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /mine\.elf \(different SHA-256\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
