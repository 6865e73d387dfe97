/**
 * The regression suite: every reference trace in traces/reference/ is re-executed on its
 * backend and must produce an identical event stream (and an identical file, byte for byte).
 * A change fails with the diff's first-divergence report; `deno task pvreplay bless`
 * re-records the references after an intended change.
 */

import assert from "node:assert/strict";
import { diffTraces } from "../../traces/analysis/diff.ts";
import { readTrace } from "../../traces/format/reader.ts";
import { REFERENCE_DIR, referenceTraces } from "../../traces/session/reference.ts";
import { replaySame } from "../../traces/session/replay.ts";
import { sha256Hex } from "../../traces/format/guest_image.ts";
import { recordCase } from "../../traces/session/suite.ts";
import { IMAGE_DIR } from "../../traces/format/guest_image.ts";

for (const ref of referenceTraces()) {
  Deno.test(`reference ${ref.file}: replay on ${ref.backend} is identical`, () => {
    const path = `${REFERENCE_DIR}/${ref.file}`;
    const recorded = readTrace(path);
    assert.equal(recorded.truncated, false, `${path} is incomplete`);
    const image = Deno.readFileSync(`${IMAGE_DIR}/${recorded.header.guest.name}`);
    const r = replaySame(recorded.header, recorded.events, image);
    if (r.mismatch) {
      // Re-record to a file so the failure shows the diff's first-divergence report.
      const fresh = Deno.makeTempFileSync({ suffix: ".pvt" });
      recordCase(ref.case, ref.backend, { out: fresh });
      const { report } = diffTraces(path, fresh, { allEvents: true, context: 3 });
      const first = report.first;
      assert.fail(
        `${ref.file} diverged at event ${r.mismatch.seq} (fields ${
          r.mismatch.fields.join(", ")
        })\n` +
          `  recorded: ${JSON.stringify(r.mismatch.expected)}\n` +
          `  now:      ${JSON.stringify(r.mismatch.actual)}\n` +
          (first ? `  diff: ${first.divergence.class} ${first.divergence.key}\n` : "") +
          `  fresh trace: ${fresh}; if intended, run 'deno task pvreplay bless'`,
      );
    }
    assert.equal(r.checked, recorded.events.length);
    assert.equal(r.session.digest(), recorded.footer?.finalDigest, "final machine state differs");
  });
}

Deno.test("recording is byte-identical across runs and to the committed reference", () => {
  const ref = referenceTraces().find((r) => r.file.includes("-timer-"))!;
  const a = Deno.makeTempFileSync({ suffix: ".pvt" });
  const b = Deno.makeTempFileSync({ suffix: ".pvt" });
  recordCase(ref.case, ref.backend, { out: a });
  recordCase(ref.case, ref.backend, { out: b });
  const ha = sha256Hex(Deno.readFileSync(a));
  assert.equal(ha, sha256Hex(Deno.readFileSync(b)));
  assert.equal(ha, sha256Hex(Deno.readFileSync(`${REFERENCE_DIR}/${ref.file}`)));
});
