/**
 * The native-vs-kvm diff of the bundled guest's `boot` scenario shows exactly the expected ABI
 * differences (docs/native-vs-kvm.md) and nothing else.
 */
import assert from "node:assert/strict";
import { diffCommand } from "../../cli/diff.ts";
import { memoryIo } from "../../cli/io.ts";
import { diffTraces, type Divergence } from "../../traces/analysis/diff.ts";
import { recordCase, suiteCase } from "../../traces/session/suite.ts";

const CPUID_SIGNATURE = 0x40000000, CPUID_FEATURES = 0x40000001; // docs/abi/kvm.md §1, §4
const MSR_KVM_SYSTEM_TIME = 0x12; // docs/abi/kvm.md §4

/** Why a divergence is expected (docs/native-vs-kvm.md), or null if it is not. */
function expected(d: Divergence): string | null {
  const a = d.a, b = d.b;
  // The result registers are canonical arguments (and EAX the result where recorded).
  const value = d.class === "arguments" || d.class === "result";
  if (value && d.key === "cpuid" && a!.opArgs[0] === CPUID_SIGNATURE) {
    return "signature leaf";
  }
  if (d.class === "extra" && d.key === "cpuid" && b!.opArgs[0] === CPUID_FEATURES) {
    return "feature leaf";
  }
  if (d.class === "extra" && d.key === "write_msr" && b!.opArgs[0] === MSR_KVM_SYSTEM_TIME) {
    return "kvmclock enable";
  }
  if (d.class === "extra" && b!.kind === "marker" && b!.name.startsWith("pvclock_")) {
    return "pvclock write";
  }
  if (d.class === "extra" && b!.kind === "hypercall") return "vmcall probe";
  if (d.class === "missing" && d.key === "io_delay") return "NOP_IO_DELAY";
  return null;
}

Deno.test("native vs kvm, boot scenario: only the expected differences", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const c = suiteCase("2.6.22", "boot");
    const native = `${dir}/native.pvt`, kvm = `${dir}/kvm.pvt`;
    assert.equal(recordCase(c, "native", { out: native }).verdict.pass, true);
    assert.equal(recordCase(c, "kvm", { out: kvm }).verdict.pass, true);
    const { report } = diffTraces(native, kvm);
    const unexpected = report.divergences.filter((d) => expected(d) === null);
    assert.deepStrictEqual(
      unexpected.map((d) => `${d.class} ${d.key} ${d.fields.join(",")} ${d.note ?? ""}`),
      [],
    );
    assert.equal(
      report.divergences.length,
      Object.values(report.totals).reduce((x, y) => x + y),
      "every divergence was kept and checked",
    );
    const seen = new Set(report.divergences.map(expected));
    for (
      const why of [
        "signature leaf",
        "feature leaf",
        "kvmclock enable",
        "pvclock write",
        "vmcall probe",
        "NOP_IO_DELAY",
      ]
    ) assert.ok(seen.has(why), `expected difference "${why}" not found`);
    // Exit naming differs on every exit (crWrite vs EXIT_REASON_CR_ACCESS) yet aligns.
    const cr3 = report.perKey.find((s) => s.key === "write_cr3")!;
    assert.ok(cr3.same > 0 && Object.values(cr3.counts).every((n) => n === 0));
    // The text report names the guest functions from the ELF in guests/images/.
    const io = memoryIo();
    assert.equal(await diffCommand([native, kvm, "--list", "50"], io), 1);
    assert.match(io.stdout(), /<native_cpuid\+0x[0-9a-f]+> cpuid\(1073741824,/);
    assert.match(io.stdout(), /<kvm_vmcall_probe\+0x[0-9a-f]+>/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
