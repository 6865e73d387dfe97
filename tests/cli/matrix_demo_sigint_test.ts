/**
 * Ctrl-C on real `pvreplay matrix` (grid and `--vdso`) and `pvreplay demo` processes: the matrix terminates its
 * workers at once and writes the rows finished as a report marked aborted; demo stops the cell
 * it is recording (its trace marked aborted) and prints the cells done; both exit with
 * EXIT_INTERRUPTED.
 */

import assert from "node:assert/strict";
import { EXIT_INTERRUPTED } from "../../core/exit_status.ts";
import type { MatrixDocument } from "../../traces/session/matrix_status.ts";
import { readTrace } from "../../traces/format/reader.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

/** Spawns the CLI, waits until stderr shows `ready`, sends SIGINT; status, output, ms to exit. */
async function interruptWhen(args: string[], ready: RegExp) {
  const child = new Deno.Command("deno", {
    args: ["run", "--allow-read", "--allow-write", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  while (!ready.test(err)) {
    const { value, done } = await reader.read();
    if (done) break;
    err += value;
  }
  const t0 = performance.now();
  child.kill("SIGINT");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    err += value;
  }
  const status = await child.status;
  return { code: status.code, err, out: await stdout, ms: performance.now() - t0 };
}

Deno.test("SIGINT to matrix: workers terminated, the finished rows reported as aborted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvreplay-matrix-sigint-" });
  try {
    // 4 rows of ~3 s each on one worker: the first progress line comes after the first row.
    const r = await interruptWhen(
      [
        "matrix",
        "--variants",
        "2.6.22",
        "--scenarios",
        "boot,halt,irq,mmu",
        "--jobs",
        "1",
        "--progress",
        "--out",
        dir,
      ],
      /rows, 1 jobs/,
    );
    assert.equal(r.code, EXIT_INTERRUPTED, r.err);
    // Not waiting for the row being run (seconds) to finish.
    assert.ok(r.ms < 2500, `exited ${r.ms.toFixed(0)} ms after SIGINT`);
    const doc: MatrixDocument = JSON.parse(await Deno.readTextFile(`${dir}/matrix.json`));
    assert.ok(doc.aborted, "matrix.json marked aborted");
    assert.equal(doc.aborted.rowsTotal, 4);
    assert.ok(doc.aborted.rowsDone >= 1 && doc.aborted.rowsDone < 4, `${doc.aborted.rowsDone}`);
    const backends = new Set(doc.cells.map((c) => c.backend)).size;
    assert.equal(doc.cells.length, doc.aborted.rowsDone * backends);
    assert.match(r.out, /ABORTED \(interrupted \(SIGINT\)\)/);
    assert.match(r.err, /interrupted after \d+ of 4 rows/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGINT to demo: the cell being recorded stops, its trace aborted; the done cells shown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvreplay-demo-sigint-" });
  try {
    const r = await interruptWhen(["demo", "--out", dir, "--json", "--progress"], /cells/);
    assert.equal(r.code, EXIT_INTERRUPTED, r.err);
    assert.ok(r.ms < 2500, `exited ${r.ms.toFixed(0)} ms after SIGINT`);
    const report = JSON.parse(r.out);
    assert.equal(report.aborted, true);
    assert.ok(report.rows.length >= 1);
    const done = new Set<string>(report.rows.map((x: { path: string }) => x.path));
    const cut = [...Deno.readDirSync(dir)].map((e) => `${dir}/${e.name}`).filter((p) =>
      !done.has(p)
    );
    assert.equal(cut.length, 1, `one cell cut short: ${cut}`);
    const t = readTrace(cut[0]);
    assert.ok(t.truncation?.aborted);
    assert.match(t.truncation!.reason, /SIGINT/);
    assert.match(r.err, /interrupted after \d+ of \d+ cells/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGINT to matrix --vdso: the running row stops, the rows done are printed", async () => {
  const r = await interruptWhen(["matrix", "--vdso", "--json", "--progress"], /cells/);
  assert.equal(r.code, EXIT_INTERRUPTED, r.err);
  assert.ok(r.ms < 2500, `exited ${r.ms.toFixed(0)} ms after SIGINT`);
  const rows = r.out.trim().split("\n").map((l) => JSON.parse(l));
  const total = Number(/interrupted after (\d+) of (\d+) vDSO rows/.exec(r.err)?.[2]);
  assert.ok(rows.length >= 1 && rows.length < total, `${rows.length} of ${total} rows`);
  for (const row of rows) assert.match(row.verdict, /^(PASS|FAIL|NO-RESULT)$/);
});

Deno.test("SIGINT to demo in its diff phase: the diff running stops, the diffs done are shown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvreplay-demo-sigint-diff-" });
  try {
    const r = await interruptWhen(
      [
        "demo",
        // A diff of these traces takes tens of ms (repeat records are not expanded): 24 of them,
        // so that SIGINT after the first finds the differ still at work.
        ...["--scenarios", "boot,irq,timer,clock,mmu,syscall,halt,shutdown"],
        ...["--backends", "native,kvm,vmi,lguest", "--out", dir],
        ...["--json", "--progress"],
      ],
      /diffs/,
    );
    assert.equal(r.code, EXIT_INTERRUPTED, r.err);
    // The worker running a diff is terminated, not awaited.
    assert.ok(r.ms < 1500, `exited ${r.ms.toFixed(0)} ms after SIGINT`);
    const report = JSON.parse(r.out);
    assert.equal(report.aborted, true);
    assert.equal(report.rows.length, 32);
    const diffed = report.rows.filter((x: { diff: unknown }) => x.diff !== null).length;
    const m = /interrupted after 32 of 32 cells, (\d+) of 24 diffs/.exec(r.err);
    assert.ok(m, r.err);
    assert.equal(Number(m[1]), diffed);
    assert.ok(diffed >= 1 && diffed < 24, `${diffed} diffs done`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
