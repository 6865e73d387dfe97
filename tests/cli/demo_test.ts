/**
 * `pvreplay demo` end to end (in process): every cell recorded to --out, every non-base cell
 * diffed against the base backend on the diff worker, the JSON report and the exit status.
 */

import assert from "node:assert/strict";
import { demoCommand } from "../../cli/demo.ts";
import { readTrace } from "../../traces/format/reader.ts";

Deno.test("demo: records each cell of 2.6.23, diffs kvm against native, reports JSON, exit 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvreplay-demo-" });
  const log = console.log;
  const out: string[] = [];
  console.log = (s: string) => out.push(s);
  try {
    const code = await demoCommand([
      ...["--scenarios", "boot,halt", "--backends", "native,kvm@2.6.25", "--out", dir, "--json"],
    ]);
    console.log = log;
    assert.equal(code, 0, out.join("\n"));
    const report = JSON.parse(out.join("\n"));
    assert.equal(report.aborted, false);
    assert.equal(report.rows.length, 4);
    for (const row of report.rows) {
      assert.equal(row.pass, true, `${row.scenario} on ${row.backend}`);
      assert.equal(readTrace(row.path).events.length, row.events);
      if (row.backend.startsWith("native")) assert.equal(row.diff, null);
      else {
        assert.equal(row.diff.against, "native@p6");
        // kvm answers CPUID with its signature leaf: never identical to bare hardware.
        assert.equal(row.diff.same, false);
        assert.ok(row.diff.byKey.some((k: string) => /cpuid/.test(k)), row.diff.byKey.join());
        assert.match(row.diff.first, / at #\d+\/#\d+$/);
      }
    }
  } finally {
    console.log = log;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("demo: a backend that refuses the kernel is a refused cell, not a crash", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvreplay-demo-refused-" });
  const log = console.log;
  const out: string[] = [];
  console.log = (s: string) => out.push(s);
  try {
    // 2.6.22 predates Xen guest support: the domain builder finds no Xen ELF notes.
    const code = await demoCommand([
      ...["--variant", "2.6.22", "--scenarios", "boot", "--backends", "native,xen@3.1"],
      ...["--out", dir, "--json"],
    ]);
    console.log = log;
    assert.equal(code, 1, "a refused cell is not a pass");
    const report = JSON.parse(out.join("\n"));
    assert.equal(report.variant, "2.6.22");
    const xen = report.rows.find((r: { backend: string }) => r.backend === "xen@3.1");
    assert.equal(xen.exit, "refused");
    assert.equal(xen.path, null);
    assert.match(xen.refused, /no Xen ELF notes/);
    assert.equal(xen.diff, null);
    assert.equal(
      report.rows.find((r: { backend: string }) => r.backend === "native@p6").pass,
      true,
    );
    assert.equal(await demoCommand(["--variant", "2.6.99"]), 2);
  } finally {
    console.log = log;
    await Deno.remove(dir, { recursive: true });
  }
});
