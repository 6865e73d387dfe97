/** `pvreplay replay` end to end: the event check, then the final machine state from the footer. */

import assert from "node:assert/strict";
import { replayCommand } from "../../cli/replay.ts";
import { readTrace } from "../../traces/format/reader.ts";
import { recordCase, suiteCase } from "../../traces/session/suite.ts";
import { IMAGE_DIR } from "../../traces/format/guest_image.ts";
import { encodeTrace } from "../../traces/format/writer.ts";

/** Runs `replay --json` and returns the status and the report. */
async function replayJson(path: string): Promise<[number, Record<string, unknown>]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: unknown) => void lines.push(String(s));
  try {
    const status = await replayCommand([
      path,
      "--json",
      "--kernel",
      `${IMAGE_DIR}/pvkernel-2.6.22.elf`,
    ]);
    return [status, JSON.parse(lines.join("\n"))];
  } finally {
    console.log = log;
  }
}

Deno.test("replay checks the final machine state against the footer's digest", async () => {
  const path = Deno.makeTempFileSync({ suffix: ".pvt" });
  recordCase(suiteCase("2.6.22", "boot"), "native", { out: path });
  const [same, report] = await replayJson(path);
  assert.equal(same, 0);
  assert.equal(report.final_state, "same");
  assert.equal(report.mismatch, null);

  // The same events with another final state: every event agrees, the end does not.
  const t = readTrace(path);
  const other = Deno.makeTempFileSync({ suffix: ".pvt" });
  Deno.writeFileSync(other, encodeTrace(t.header, t.events, { finalDigest: "00".repeat(32) }));
  const [diverged, changed] = await replayJson(other);
  assert.equal(diverged, 1);
  assert.equal(changed.final_state, "different");
  assert.equal(changed.mismatch, null);
  assert.equal(changed.checked, t.events.length);
});
