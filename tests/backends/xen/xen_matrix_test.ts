/**
 * The matrix row of the first Xen-capable kernel across the Xen profiles, against xen@3.1:
 * 3.0.0 cannot run it (no hypercall page: `fails`), the others pass and differ from 3.1
 * where the ABI does (xen_version, the compat event-channel call), bare hardware passes with
 * a different ABI altogether.
 */

import assert from "node:assert/strict";
import { runRow } from "../../../traces/session/matrix_status.ts";
import { EXIT_GUEST_CRASHED } from "../../../core/exit_status.ts";

Deno.test("matrix: pvkernel-2.6.23 boot on xen@3.0.0..3.2 and native against xen@3.1", () => {
  const backends = ["xen@3.0.0", "xen@3.0.2", "xen@3.0.4", "xen@3.1", "xen@3.2", "native@p6"];
  const cells = runRow(
    { variant: "2.6.23", scenario: "boot", options: "", backends, reference: "xen@3.1" },
    { outDir: Deno.makeTempDirSync({ prefix: "xen-matrix-test-" }) },
  );
  const by = Object.fromEntries(cells.map((c) => [c.backend, c]));
  assert.equal(by["xen@3.0.0"].status, "fails");
  assert.equal(by["xen@3.0.0"].code, EXIT_GUEST_CRASHED);
  assert.equal(by["xen@3.1"].status, "same");
  for (const b of ["xen@3.0.2", "xen@3.0.4", "xen@3.2", "native@p6"]) {
    assert.equal(by[b].verdict, "PASS", b);
    assert.equal(by[b].status, "diverges", b);
  }
  // 3.0.2 has no event_channel_op (32): the first difference is its -ENOSYS.
  assert.match(by["xen@3.0.2"].first!, /^result hypercall:event_channel_op \[ret\]/);
  assert.match(by["xen@3.2"].first!, /^result hypercall:xen_version \[ret\]/);
});
