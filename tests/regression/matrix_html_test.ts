/// <reference lib="dom" />
/**
 * The matrix HTML report in a real browser: headless Chromium (Debian's `chromium`, driven by
 * puppeteer-core) loads the page from disk with the network cut off, filters by status, drills
 * into a diverging cell and a screenshot of the drill-down is checked for content.
 */

import assert from "node:assert/strict";
import { matrixCommand } from "../../cli/matrix.ts";
import { CHROMIUM, needs } from "../requirements.ts";

const skipBrowser = needs(
  "Chromium (/usr/bin/chromium)",
  CHROMIUM !== undefined,
  "tests/regression/matrix_html_test.ts",
);

Deno.test({
  name: "matrix --html: filter, drill-down and screenshot in headless Chromium",
  ignore: skipBrowser,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Test-only dependency, loaded only when Chromium is there (JSR is unreachable here).
    // deno-lint-ignore no-import-prefix
    const { default: puppeteer } = await import("npm:puppeteer-core@23.11.1");
    const tmp = Deno.makeTempDirSync({ prefix: "matrix-html-" });
    const log = console.log;
    console.log = () => {};
    let status;
    try {
      status = await matrixCommand([
        ...["--variants", "2.6.22", "--scenarios", "boot,halt"],
        ...["--backends", "native,kvm@2.6.22,kvm@2.6.25", "--out", tmp, "--html", `${tmp}/m.html`],
      ]);
    } finally {
      console.log = log;
    }
    assert.equal(status, 0);
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--allow-file-access-from-files"],
    });
    try {
      const page = await browser.newPage();
      const remote: string[] = [];
      await page.setRequestInterception(true);
      page.on("request", (r) => {
        if (!r.url().startsWith("file:")) remote.push(r.url());
        r.url().startsWith("file:") ? r.continue() : r.abort();
      });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.setViewport({ width: 1000, height: 700 });
      await page.goto(`file://${tmp}/m.html`, { waitUntil: "load" });
      assert.deepEqual(remote, [], "the page fetched nothing from the network");
      assert.equal(await page.$eval("#count", (e) => e.textContent), "6 cells shown");

      // Filter: only diverging cells remain visible (kvm@2.6.25 exposes the KVM signature).
      await page.select("#f-status", "diverges");
      const visible = () =>
        page.$$eval(
          "td.cell",
          (tds) =>
            tds.filter((t) => getComputedStyle(t).visibility === "visible" && t.offsetParent)
              .map((t) => `${t.dataset.scenario} ${t.dataset.backend} ${t.textContent}`),
        );
      assert.deepEqual(await visible(), [
        "boot kvm@2.6.25 diverges: result",
        "halt kvm@2.6.25 diverges: result",
      ]);
      await page.select("#f-scenario", "halt");
      assert.deepEqual(await visible(), ["halt kvm@2.6.25 diverges: result"]);
      await page.select("#f-backend", "native@p6");
      assert.deepEqual(await visible(), []);
      await page.select("#f-backend", "");

      // Drill down: the first divergence, its context and the trace link.
      await page.click('td.cell[data-scenario="halt"][data-backend="kvm@2.6.25"]');
      const detail = await page.$eval("#detail", (e) => (e as HTMLElement).innerText);
      assert.match(detail, /2\.6\.22 halt on kvm@2\.6\.25/);
      assert.match(detail, /first divergence: result cpuid/);
      assert.match(detail, /^ref\s*> #\d+ /m);
      assert.match(detail, /^cell> #\d+ /m);
      const href = await page.$eval("#detail a.trace", (a) => a.getAttribute("href"));
      assert.equal(href, "2.6.22-halt-kvm_2.6.25.pvt");
      assert.ok(Deno.statSync(`${tmp}/${href}`).size > 0, "the linked trace exists");
      assert.deepEqual(errors, []);

      // Screenshot of the drill-down: not blank, and the diverges colour is on it.
      const png = await page.screenshot({ encoding: "base64" }) as string;
      Deno.writeFileSync(`${tmp}/shot.png`, Uint8Array.from(atob(png), (c) => c.charCodeAt(0)));
      const colours = await page.evaluate(async (data: string) => {
        const img = new Image();
        img.src = `data:image/png;base64,${data}`;
        await img.decode();
        const c = document.createElement("canvas");
        c.width = img.width;
        c.height = img.height;
        const g = c.getContext("2d")!;
        g.drawImage(img, 0, 0);
        const px = g.getImageData(0, 0, c.width, c.height).data;
        const seen = new Set<number>();
        let amber = 0;
        for (let i = 0; i < px.length; i += 4) {
          seen.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
          if (px[i] === 0xff && px[i + 1] === 0xd9 && px[i + 2] === 0x8a) amber++;
        }
        return { distinct: seen.size, amber, w: c.width, h: c.height };
      }, png);
      assert.equal(colours.w, 1000);
      assert.ok(colours.distinct > 20, `screenshot has ${colours.distinct} colours: blank?`);
      assert.ok(colours.amber > 200, "the diverging cell's colour is in the screenshot");
    } finally {
      await browser.close();
      Deno.removeSync(tmp, { recursive: true });
    }
  },
});
