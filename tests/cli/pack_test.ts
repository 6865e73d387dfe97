/**
 * `pvreplay pack` end to end with real processes: the bundle alone, copied to a fresh
 * directory outside the project with the original image gone, replays with no divergence and
 * is accepted by `inspect` and `diff`; a damaged image in it is refused with the file named and
 * exit status 4 (EXIT_IMAGE_ERROR).
 */

import assert from "node:assert/strict";
import { EXIT_IMAGE_ERROR } from "../../core/exit_status.ts";
import { readManifest } from "../../traces/format/bundle.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CLI = `${ROOT}cli.ts`;

async function pvreplay(args: string[], cwd: string) {
  const r = await new Deno.Command("deno", {
    args: ["run", "--allow-read", "--allow-write", CLI, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: r.code, out: text(r.stdout), err: text(r.stderr) };
}

Deno.test("pack: the bundle alone replays elsewhere; a damaged image in it is named, status 4", async () => {
  const work = await Deno.makeTempDir({ prefix: "pvreplay-pack-" });
  const fresh = await Deno.makeTempDir({ prefix: "pvreplay-unpack-" });
  try {
    // An image under a name guests/images/ does not have: only the bundle can supply it.
    await Deno.copyFile(`${ROOT}guests/images/pvkernel-2.6.22.elf`, `${work}/mine.elf`);
    const rec = await pvreplay([
      "record",
      "--kernel",
      `${work}/mine.elf`,
      "--append",
      "scenario=halt",
      "--backend",
      "kvm",
      "--serial",
      "none",
      "--out",
      `${work}/x.pvt`,
    ], work);
    assert.equal(rec.code, 1, rec.err);
    await Deno.writeTextFile(`${work}/syms.txt`, "00100000 T startup_32\n");
    const pack = await pvreplay(
      ["pack", "x.pvt", "--out", "x.bundle", "--symbols", "syms.txt"],
      work,
    );
    assert.equal(pack.code, 0, pack.err);
    const roles = readManifest(`${work}/x.bundle`).files.map((f) => `${f.role}:${f.path}`);
    assert.deepEqual(roles, [
      "trace:trace.pvt",
      "guest:images/mine.elf",
      "symbols:symbols/mine.elf.nm",
    ]);
    // Packing over a non-empty directory is refused.
    assert.equal((await pvreplay(["pack", "x.pvt", "--out", "x.bundle"], work)).code, 2);

    // The bundle alone, in a fresh directory; the recording's image and trace are gone.
    await Deno.mkdir(`${fresh}/b/images`, { recursive: true });
    await Deno.mkdir(`${fresh}/b/symbols`);
    for (const f of ["bundle.json", "trace.pvt", "images/mine.elf", "symbols/mine.elf.nm"]) {
      await Deno.copyFile(`${work}/x.bundle/${f}`, `${fresh}/b/${f}`);
    }
    await Deno.remove(work, { recursive: true });

    const rep = await pvreplay(["replay", "b"], fresh);
    assert.equal(rep.code, 0, rep.err + rep.out);
    assert.match(rep.out, /events identical, no divergence/);
    const ins = await pvreplay(["inspect", "b", "--range", "0..0"], fresh);
    assert.equal(ins.code, 0, ins.err);
    assert.match(ins.out, /\n\s*0\s/);
    const diff = await pvreplay(["diff", "b", "b"], fresh);
    assert.equal(diff.code, 0, diff.err + diff.out);

    // One flipped byte in the bundled image.
    const img = await Deno.readFile(`${fresh}/b/images/mine.elf`);
    img[img.length >> 1] ^= 0xff;
    await Deno.writeFile(`${fresh}/b/images/mine.elf`, img);
    const bad = await pvreplay(["replay", "b"], fresh);
    assert.equal(bad.code, EXIT_IMAGE_ERROR, bad.err + bad.out);
    assert.match(bad.err, /b\/images\/mine\.elf: corrupt bundle file: SHA-256/);
    const badInspect = await pvreplay(["inspect", "b"], fresh);
    assert.equal(badInspect.code, EXIT_IMAGE_ERROR);
    assert.match(badInspect.err, /images\/mine\.elf: corrupt bundle file/);
    const badDiff = await pvreplay(["diff", "b", "b"], fresh);
    assert.equal(badDiff.code, EXIT_IMAGE_ERROR);
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await Deno.remove(fresh, { recursive: true });
  }
});
