/**
 * The compatibility matrix on the bundled guest: every scenario passes on every native, kvm and
 * vmi profile and its status against bare hardware follows the profile's CPUID signature. This
 * 2.6.22 guest predates Xen and lguest guest support (both came with 2.6.23): Xen's domain
 * builder refuses it (no Xen ELF notes) and lguest kills it at its first ring-0 instruction
 * (2.6.23/2.6.24 on lguest: tests/backends/lguest/pvkernel_test.ts),
 * and the vDSO view reproduces the 2007 COMPAT_VDSO story on bare hardware (guests/README.md).
 */

import assert from "node:assert/strict";
import { createBackend, listBackends } from "../../backends/registry.ts";
import { EXIT_GUEST_KILLED } from "../../core/exit_status.ts";
import { vdsoRow } from "../../traces/session/matrix.ts";
import { EQUIVALENT_CLASSES, runRow } from "../../traces/session/matrix_status.ts";
import { REFERENCE_VARIANT, SCENARIOS } from "../../traces/session/suite.ts";

const PROFILES = listBackends().flatMap((b) => b.versions.map((v) => `${b.name}@${v}`));

for (const scenario of SCENARIOS) {
  Deno.test(`matrix: ${REFERENCE_VARIANT} ${scenario} on ${PROFILES.join(", ")} against native`, () => {
    const cells = runRow(
      {
        variant: REFERENCE_VARIANT,
        scenario,
        options: "",
        backends: PROFILES,
        reference: "native@p6",
      },
      { outDir: Deno.makeTempDirSync({ prefix: "matrix-test-" }) },
    );
    for (const c of cells) {
      const what = `${scenario} on ${c.backend}: ${c.status} ${c.reason ?? c.first ?? ""}`;
      if (c.backend.startsWith("xen@")) {
        // Xen PV guests came with 2.6.23: Xen's domain builder refuses this kernel (no notes).
        assert.equal(c.status, "fails", what);
        assert.equal(c.exit, "refused", what);
        assert.match(c.reason!, /refused the image: no Xen ELF notes/, what);
        continue;
      }
      if (c.backend.startsWith("lguest@")) {
        // The launcher enters it in ring 1; its first privileged instruction traps with no
        // guest IDT registered, and lguest's kill_guest ends it (EXIT_GUEST_KILLED).
        assert.equal(c.status, "fails", what);
        assert.equal(c.exit, "shutdown", what);
        assert.equal(c.code, EXIT_GUEST_KILLED, what);
        continue;
      }
      assert.equal(c.verdict, "PASS", what);
      assert.equal(c.exit, "debug-exit", what);
      // The guest takes its KVM paths exactly when the profile exposes the CPUID signature leaf:
      // then the trace differs from bare hardware in what the guest saw; else it is bare hardware.
      const leaf = new Int32Array(4);
      createBackend(c.backend).cpuid(0x40000000, 0, leaf);
      const kvm = leaf[1] === 0x4b4d564b && leaf[2] === 0x564b4d56 && leaf[3] === 0x4d;
      if (kvm) {
        assert.equal(c.status, "diverges", what);
        assert.ok(c.divergence !== null && !EQUIVALENT_CLASSES.includes(c.divergence), what);
      } else assert.ok(c.status === "same" || c.status === "equivalent", what);
    }
    assert.equal(cells.find((c) => c.backend === "native@p6")!.status, "same");
  });
}

Deno.test("matrix --vdso: which kernel variants break an old glibc on bare hardware, and how", () => {
  const expect: Array<[string, string, string, string]> = [
    // variant, options, new glibc, old glibc
    ["nopv", "", "vdso-sysenter", "ok"],
    ["2.6.20", "", "int80-fallback", "#PF@0xffffe400"],
    ["2.6.21", "", "int80-fallback", "#PF@0xffffe400"],
    ["2.6.21-vdso", "", "vdso-sysenter", "ok"],
    ["2.6.22", "", "vdso-sysenter", "ok"],
    ["2.6.22", "reservetop=0x400000", "vdso-sysenter", "#PF@0xffffe400"],
  ];
  for (const [variant, options, newGlibc, oldGlibc] of expect) {
    const r = vdsoRow(variant, options);
    assert.equal(r.newGlibc, newGlibc, `${variant} ${options} new glibc`);
    assert.equal(r.oldGlibc, oldGlibc, `${variant} ${options} old glibc`);
    assert.equal(r.cell.traps.page_fault > 0, oldGlibc.startsWith("#PF"));
    // RDTSC counts instructions: int $0x80 and sysenter cost a fixed number per call.
    assert.match(r.int80Cost, /^\d+$/);
    assert.match(r.sysenterCost, newGlibc === "vdso-sysenter" ? /^\d+$/ : /^n\/a$/);
  }
});

Deno.test("matrix --vdso per backend: each hypervisor's reserved top moves the vDSO of 2.6.23", () => {
  // variant 2.6.23 on backend: vDSO page (AT_SYSINFO), new glibc, old glibc (fixed 0xffffe400).
  const expect: Array<[string, string, string, RegExp]> = [
    ["native", "0xffffe400", "vdso-sysenter", /^ok$/],
    // VMI's virtual_top (docs/abi/vmi.md): the fixmap, and so the vDSO, moves down 16 MiB.
    ["vmi@3.0", "0xfeffe400", "vdso-sysenter", /^#PF@0xffffe400$/],
    // lguest's switcher takes the top 4 MiB and the guest has no SEP (docs/abi/lguest.md).
    ["lguest@2.6.23", "0xffbfe400", "vdso-int80", /^#PF@0xffffe400$/],
    // Xen's hole starts at 0xFC000000 and its ring-3 segments end below it (docs/abi/xen.md):
    // the call to 0xffffe400 is past the segment limit, a #GP at the caller, not a #PF.
    ["xen@3.1", "0xfbffc400", "vdso-int80", /^#GP@0x[0-9a-f]{8}$/],
  ];
  for (const [backend, sysinfo, newGlibc, oldGlibc] of expect) {
    const r = vdsoRow("2.6.23", "", backend);
    assert.equal(r.refused, null, backend);
    assert.equal(r.sysinfo, sysinfo, `${backend} AT_SYSINFO`);
    assert.equal(r.newGlibc, newGlibc, `${backend} new glibc`);
    assert.match(r.oldGlibc, oldGlibc, `${backend} old glibc`);
  }
  // A kernel without Xen support is refused by the domain builder: a row, not a crash.
  const xen = vdsoRow("2.6.22", "", "xen@3.1");
  assert.equal(xen.vdso, "refused");
  assert.match(xen.refused!, /no Xen ELF notes/);
  assert.equal(xen.cell.exit, "refused");
});
