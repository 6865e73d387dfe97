/**
 * `pvreplay matrix` as a product: shards merged equal the unsplit matrix, parallel rows equal
 * serial ones, and `--baseline` turns a deliberately altered backend profile into a non-zero exit
 * and a JUnit failure naming the cell.
 */

import assert from "node:assert/strict";
import { matrixCommand } from "../../cli/matrix.ts";
import type { MatrixDocument } from "../../traces/session/matrix_status.ts";

const SUBSET = [
  "--variants",
  "2.6.22,nopv",
  "--scenarios",
  "boot,halt",
  "--backends",
  "native,kvm",
];

function load(dir: string): MatrixDocument {
  const doc = JSON.parse(Deno.readTextFileSync(`${dir}/matrix.json`)) as MatrixDocument;
  // Trace paths name the output directory; everything else must be equal.
  for (const c of doc.cells) c.trace = c.trace?.slice(dir.length) ?? null;
  return doc;
}

/** Runs the command with stdout silenced (the grid is not under test here). */
async function quiet(args: string[]): Promise<number> {
  const log = console.log;
  console.log = () => {};
  try {
    return await matrixCommand(args);
  } finally {
    console.log = log;
  }
}

Deno.test("matrix: 4 shards merged equal the unsplit matrix run on 2 workers", async () => {
  const tmp = Deno.makeTempDirSync({ prefix: "matrix-shards-" });
  try {
    assert.equal(await quiet([...SUBSET, "--jobs", "2", "--out", `${tmp}/all`]), 0);
    const parts: string[] = [];
    for (let i = 0; i < 4; i++) {
      parts.push(`${tmp}/shard${i}`);
      assert.equal(
        await quiet([...SUBSET, "--jobs", "1", "--shard", `${i}/4`, "--out", parts[i]]),
        0,
      );
      assert.equal(load(parts[i]).cells.length, 2, `shard ${i} holds one row of two cells`);
    }
    assert.equal(await quiet(["merge", ...parts.reverse(), "--out", `${tmp}/merged`]), 0);
    const all = load(`${tmp}/all`);
    const merged = load(`${tmp}/merged`);
    assert.equal(all.cells.length, 8);
    // Same cells, same order, same statuses and divergences; only the trace directory differs.
    assert.deepEqual(
      merged.cells.map((c) => ({ ...c, trace: c.trace!.replace(/^\/shard\d/, "") })),
      all.cells.map((c) => ({ ...c, trace: c.trace!.replace(/^\/all/, "") })),
    );
    // kvm's signature leaf makes the guest take the KVM paths: a real divergence, not a failure.
    const kvm = all.cells.find((c) => c.variant === "2.6.22" && c.backend === "kvm@2.6.25")!;
    assert.equal(kvm.status, "diverges");
    assert.ok(kvm.divergence && kvm.first?.includes(kvm.divergence));
    assert.equal(await quiet(["merge", parts[0], parts[0]]), 2, "overlapping shards are refused");
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});

Deno.test("matrix --baseline: an altered kvm profile regresses a same cell: exit 1, JUnit names it", async () => {
  const tmp = Deno.makeTempDirSync({ prefix: "matrix-baseline-" });
  const args = ["--variants", "2.6.22", "--scenarios", "boot", "--backends", "native,kvm@2.6.22"];
  try {
    assert.equal(await quiet([...args, "--out", `${tmp}/base`]), 0);
    const base = load(`${tmp}/base`);
    assert.equal(base.cells.find((c) => c.backend === "kvm@2.6.22")!.status, "same");
    const baseline = ["--baseline", `${tmp}/base/matrix.json`, "--junit", `${tmp}/j.xml`];
    // Unchanged: no regression, no failure in the JUnit file.
    assert.equal(await quiet([...args, ...baseline]), 0);
    assert.doesNotMatch(Deno.readTextFileSync(`${tmp}/j.xml`), /<failure/);
    // 2.6.22 KVM with a signature leaf it never had: the guest now takes the KVM paths.
    const errors: string[] = [];
    const err = console.error;
    console.error = (m: string) => errors.push(m);
    let status;
    try {
      status = await quiet([...args, ...baseline, "--profile-tweak", "kvm@2.6.22:signature=true"]);
    } finally {
      console.error = err;
    }
    assert.equal(status, 1);
    assert.ok(errors.some((m) => m.includes("regression: 2.6.22 boot on kvm@2.6.22 was same")));
    const xml = Deno.readTextFileSync(`${tmp}/j.xml`);
    assert.match(
      xml,
      /<failure message="regression: 2\.6\.22 boot on kvm@2\.6\.22 was same, now \w+"/,
    );
    assert.equal(xml.match(/<failure/g)?.length, 1, "only the altered cell fails");
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});

Deno.test("matrix --cache: an unchanged cell is read back, a changed profile is recomputed", async () => {
  const tmp = Deno.makeTempDirSync({ prefix: "matrix-cache-" });
  const args = ["--variants", "2.6.22", "--scenarios", "boot", "--backends", "kvm@2.6.22"];
  const cache = ["--cache", `${tmp}/cache`];
  try {
    assert.equal(await quiet([...args, ...cache, "--out", `${tmp}/a`]), 0);
    const [entry] = [...Deno.readDirSync(`${tmp}/cache`)];
    assert.match(entry.name, /^[0-9a-f]{64}\.json$/);
    // Mark the stored cell: a second run that reports the mark did not recompute it.
    const file = `${tmp}/cache/${entry.name}`;
    const cell = JSON.parse(Deno.readTextFileSync(file));
    Deno.writeTextFileSync(file, JSON.stringify({ ...cell, events: -1 }));
    assert.equal(await quiet([...args, ...cache, "--out", `${tmp}/a`]), 0);
    assert.equal(load(`${tmp}/a`).cells[0].events, -1);
    // Another profile (a tweak) is another key: recorded afresh.
    const tweak = ["--profile-tweak", "kvm@2.6.22:pvclockFlags=1"];
    assert.equal(await quiet([...args, ...cache, ...tweak, "--out", `${tmp}/a`]), 0);
    assert.equal(load(`${tmp}/a`).cells[0].events, cell.events);
    assert.equal([...Deno.readDirSync(`${tmp}/cache`)].length, 2);
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});
