/**
 * pvreplay's own exit statuses are distinct and even, so none can be taken for another or for
 * a guest's isa-debug-exit status (always odd): core/exit_status.ts.
 */

import assert from "node:assert/strict";
import * as status from "../../core/exit_status.ts";

Deno.test("exit statuses: every EXIT_* constant distinct and even", () => {
  const codes = Object.entries(status).filter(([k]) => k.startsWith("EXIT_")) as Array<
    [string, number]
  >;
  assert.ok(codes.length >= 13, `${codes.length} statuses`);
  const seen = new Map<number, string>();
  for (const [name, code] of codes) {
    assert.equal(code % 2, 0, `${name} = ${code} is odd (a guest's isa-debug-exit status)`);
    assert.ok(!seen.has(code), `${name} and ${seen.get(code)} are both ${code}`);
    seen.set(code, name);
  }
  assert.equal(status.debugExitStatus(0) % 2, 1);
});
