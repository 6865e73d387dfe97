/**
 * A guest written only from the public Xen 3.1 headers (guests/xenabi) boots on the Xen
 * backend, prints through the console ring, and gets the results the real ABI specifies on
 * every profile with a hypercall page; on xen@3.0.0 (no page) it reports that at boot and
 * crashes (guests/README.md, "The Xen-ABI guest").
 */

import assert from "node:assert/strict";
import { recordCase } from "../../traces/session/suite.ts";

const xenabi = { image: "xenabi.elf", cmdline: "", label: "xenabi" };

for (
  const [profile, version] of [["3.0.2", "3.0"], ["3.0.4", "3.0"], ["3.1", "3.1"], ["3.2", "3.2"]]
) {
  Deno.test({
    name: `xenabi guest passes every check on xen@${profile}`,
    fn() {
      const r = recordCase(xenabi, `xen@${profile}`, {});
      assert.equal(r.verdict.pass, true, r.serial);
      assert.doesNotMatch(r.serial, /^FAIL /m);
      assert.equal(r.verdict.fields.xen, version);
      assert.equal(r.verdict.fields.failures, "0");
    },
  });
}

Deno.test({
  name: "xenabi guest on xen@3.0.0 stops at boot: no hypercall page",
  fn() {
    const r = recordCase(xenabi, "xen@3.0.0", {});
    assert.match(r.serial, /hypercall page not filled/, r.serial);
    assert.equal(r.verdict.pass, null);
  },
});
