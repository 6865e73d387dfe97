/// <reference lib="dom" />
/**
 * `matrix --preset`: the 2007 threads' claims judged on the cells. The vdso-2007 preset on the
 * native backend reproduces the COMPAT_VDSO story (three claims confirmed, the hypervisor claim
 * untested without a hypervisor); shards of a preset merge to the same verdicts; the judging
 * itself refutes a claim on a contradicting cell; the HTML page shows each claim with links that
 * drill into the cells (in headless Chromium when it is installed).
 */

import assert from "node:assert/strict";
import { matrixCommand } from "../../cli/matrix.ts";
import { matrixHtml } from "../../cli/matrix_html.ts";
import { findPreset, judgeClaims, VDSO_CASES } from "../../traces/session/matrix_presets.ts";
import type { MatrixDocument, StatusCell } from "../../traces/session/matrix_status.ts";
import { CHROMIUM, needs } from "../requirements.ts";

async function quiet(args: string[]): Promise<number> {
  const log = console.log;
  console.log = () => {};
  try {
    return await matrixCommand(args);
  } finally {
    console.log = log;
  }
}

function readDoc(dir: string): MatrixDocument {
  return JSON.parse(Deno.readTextFileSync(`${dir}/matrix.json`));
}

function cell(variant: string, backend: string, status: StatusCell["status"]): StatusCell {
  return {
    variant,
    scenario: "timer",
    options: "",
    backend,
    reference: "native@p6",
    status,
    divergence: null,
    first: null,
    context: null,
    reason: status === "fails" ? "guest reported pass=0" : null,
    verdict: status === "fails" ? "FAIL" : "PASS",
    exit: "shutdown",
    code: 0,
    instructions: 1000,
    events: 10,
    fields: {},
    ops: { irq_enable: 3 },
    trace: null,
  };
}

Deno.test("old-hypervisor claims: a newer kernel failing where an older one passed refutes them", () => {
  const preset = findPreset("old-hypervisor")!;
  const ok = [cell("2.6.20", "kvm@2.6.20", "same"), cell("2.6.22", "kvm@2.6.20", "same")];
  const byId = (cells: StatusCell[]) =>
    Object.fromEntries(judgeClaims(preset, cells).map((r) => [r.id, r]));
  let r = byId(ok);
  assert.equal(r["new-kernel-old-hypervisor"].verdict, "confirmed");
  assert.equal(r["no-regression-across-kernels"].verdict, "confirmed");
  const broken = [cell("2.6.20", "kvm@2.6.20", "same"), cell("2.6.22", "kvm@2.6.20", "fails")];
  r = byId(broken);
  assert.equal(r["new-kernel-old-hypervisor"].verdict, "refuted");
  assert.deepEqual(r["new-kernel-old-hypervisor"].against, ["2.6.22 timer on kvm@2.6.20"]);
  assert.deepEqual(r["no-regression-across-kernels"].against, ["2.6.22 timer on kvm@2.6.20"]);
  // The old kernel passed on the newest (only) kvm profile that ran.
  assert.equal(r["new-hypervisor-old-kernel"].verdict, "confirmed");
  assert.ok(judgeClaims(preset, []).every((x) => x.verdict === "untested"));
});

Deno.test("matrix --preset vdso-2007 on native: the COMPAT_VDSO claims, also after merging shards", async () => {
  const tmp = Deno.makeTempDirSync({ prefix: "matrix-preset-" });
  try {
    const base = ["--preset", "vdso-2007", "--backends", "native", "--jobs", "1"];
    assert.equal(await quiet([...base, "--out", `${tmp}/all`]), 0);
    const doc = readDoc(`${tmp}/all`);
    assert.equal(doc.preset, "vdso-2007");
    assert.equal(doc.cells.length, VDSO_CASES.length);
    const verdicts = Object.fromEntries(doc.claims!.map((c) => [c.id, c.verdict]));
    assert.deepEqual(verdicts, {
      "paravirt-broke-old-glibc": "confirmed",
      "broke-on-native-too": "confirmed",
      "compat-vdso-fixes-native": "confirmed",
      "make-it-work-with-paravirt": "untested",
    });
    const c2620 = doc.cells.find((c) => c.variant === "2.6.20" && c.options === "")!;
    assert.match(c2620.fields.oldglibc, /^#PF@/);
    assert.ok(Object.keys(c2620.ops).length > 0, "per-operation counts are recorded");

    assert.equal(await quiet([...base, "--shard", "0/2", "--out", `${tmp}/s0`]), 0);
    assert.equal(await quiet([...base, "--shard", "1/2", "--out", `${tmp}/s1`]), 0);
    assert.ok(readDoc(`${tmp}/s0`).cells.length < VDSO_CASES.length);
    assert.equal(await quiet(["merge", `${tmp}/s0`, `${tmp}/s1`, "--out", `${tmp}/merged`]), 0);
    const merged = readDoc(`${tmp}/merged`);
    assert.deepEqual(merged.claims, doc.claims);
    assert.equal(await quiet(["--preset", "no-such"]), 2);
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});

const skipBrowser = needs(
  "Chromium (/usr/bin/chromium)",
  CHROMIUM !== undefined,
  "tests/regression/matrix_preset_test.ts",
);

Deno.test({
  name: "matrix HTML: claims link to their cells, the per-operation table follows the filters",
  ignore: skipBrowser,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const preset = findPreset("old-hypervisor")!;
    const cells = [
      cell("2.6.20", "kvm@2.6.20", "same"),
      cell("2.6.22", "kvm@2.6.20", "fails"),
      { ...cell("2.6.22", "kvm@2.6.25", "same"), ops: { irq_enable: 5, safe_halt: 2 } },
    ];
    const doc: MatrixDocument = {
      schema: "pvreplay-matrix/1",
      reference: "native@p6",
      cells,
      preset: preset.name,
      claims: judgeClaims(preset, cells),
    };
    const tmp = Deno.makeTempDirSync({ prefix: "matrix-claims-" });
    Deno.writeTextFileSync(`${tmp}/m.html`, matrixHtml(doc, tmp));
    // deno-lint-ignore no-import-prefix
    const { default: puppeteer } = await import("npm:puppeteer-core@23.11.1");
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu"],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`file://${tmp}/m.html`, { waitUntil: "load" });
      const claim = '.claim[data-claim="new-kernel-old-hypervisor"]';
      assert.match(await page.$eval(claim, (e) => (e as HTMLElement).innerText), /REFUTED/);
      assert.match(await page.$eval(claim, (e) => e.textContent!), /Ingo Molnar, 2007-03-09/);
      await page.click(`${claim} a[data-cell="2.6.22 timer on kvm@2.6.20"]`);
      const detail = await page.$eval("#detail", (e) => (e as HTMLElement).innerText);
      assert.match(detail, /2\.6\.22 timer on kvm@2\.6\.20/);
      assert.match(detail, /status fails/);
      const opRows = () =>
        page.$$eval(
          "#ops tr.op",
          (trs) => trs.map((t) => [...t.children].map((td) => td.textContent).join(" ")),
        );
      assert.deepEqual(await opRows(), [
        "irq_enable 6 333 5 200",
        "safe_halt -  2 500",
      ]);
      await page.select("#f-backend", "kvm@2.6.20");
      assert.deepEqual(await opRows(), ["irq_enable 6 333"]);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      Deno.removeSync(tmp, { recursive: true });
    }
  },
});
