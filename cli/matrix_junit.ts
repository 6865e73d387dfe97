/**
 * The matrix as JUnit XML (one test case per cell, a test suite per backend) and the baseline
 * comparison behind `matrix --baseline`.
 *
 * @module
 */

import {
  cellName,
  type CellStatus,
  type MatrixDocument,
  type StatusCell,
} from "../traces/session/matrix_status.ts";

/** A cell that was `same`/`equivalent` in the baseline and is now `diverges` or `fails`. */
export interface Regression {
  cell: StatusCell;
  was: CellStatus;
}

const GOOD: readonly CellStatus[] = ["same", "equivalent"];
const BAD: readonly CellStatus[] = ["diverges", "fails"];

/**
 * Cells of `now` that regressed against `baseline` (matched by {@link cellName}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { baselineRegressions } from "./matrix_junit.ts";
 * const doc = { schema: "pvreplay-matrix/1" as const, reference: "native@p6", cells: [] };
 * assert.equal(baselineRegressions(doc, doc).length, 0);
 * ```
 */
export function baselineRegressions(baseline: MatrixDocument, now: MatrixDocument): Regression[] {
  const was = new Map(baseline.cells.map((c) => [cellName(c), c.status]));
  return now.cells.flatMap((cell) => {
    const before = was.get(cellName(cell));
    return before && GOOD.includes(before) && BAD.includes(cell.status)
      ? [{ cell, was: before }]
      : [];
  });
}

function esc(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/**
 * JUnit XML: a `<testsuite>` per backend, a `<testcase>` per cell named after it; `fails` cells
 * and baseline regressions are `<failure>`s, `n/a` cells `<skipped>`; `diverges` is a finding,
 * not a failure, unless the baseline had the cell `same`/`equivalent`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { junitXml } from "./matrix_junit.ts";
 * const doc = { schema: "pvreplay-matrix/1" as const, reference: "native@p6", cells: [] };
 * assert.ok(junitXml(doc, []).includes("<testsuites"));
 * ```
 */
export function junitXml(doc: MatrixDocument, regressions: Regression[]): string {
  const regressed = new Map(regressions.map((r) => [cellName(r.cell), r.was]));
  const backends = [...new Set(doc.cells.map((c) => c.backend))];
  const suites = backends.map((b) => {
    const cells = doc.cells.filter((c) => c.backend === b);
    let failures = 0, skipped = 0;
    const cases = cells.map((c) => {
      const name = esc(cellName(c));
      const head = `    <testcase classname="matrix.${esc(b)}" name="${name}">`;
      const was = regressed.get(cellName(c));
      if (was) {
        failures++;
        return `${head}\n      <failure message="regression: ${name} was ${was}, now ${c.status}">${
          esc(c.first ?? c.reason ?? "")
        }</failure>\n    </testcase>`;
      }
      if (c.status === "fails") {
        failures++;
        return `${head}\n      <failure message="${name} fails">${
          esc(c.reason ?? "")
        }</failure>\n    </testcase>`;
      }
      if (c.status === "n/a") {
        skipped++;
        return `${head}\n      <skipped message="${esc(c.reason ?? "n/a")}"/>\n    </testcase>`;
      }
      const out = c.status === "diverges" ? `${c.status}: ${c.first}` : c.status;
      return `${head}\n      <system-out>${esc(out)}</system-out>\n    </testcase>`;
    });
    return `  <testsuite name="matrix ${esc(b)} vs ${
      esc(doc.reference)
    }" tests="${cells.length}" ` +
      `failures="${failures}" errors="0" skipped="${skipped}">\n${
        cases.join("\n")
      }\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="pvreplay matrix">\n${
    suites.join("\n")
  }\n</testsuites>\n`;
}
