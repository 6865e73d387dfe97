/**
 * The reference traces in `traces/reference/`: which suite cases are recorded there, on which
 * backends, and how they are (re)written. `deno test` re-executes each one and requires an
 * identical event stream; `deno task pvreplay bless` rewrites them after an intended change.
 *
 * @module
 */

import { recordCase, REFERENCE_VARIANT, SCENARIOS, type SuiteCase, suiteCase } from "./suite.ts";
import { sha256Hex } from "../format/guest_image.ts";

/** Directory of the committed reference traces, relative to the project root. */
export const REFERENCE_DIR = "traces/reference";

/** Backends every reference case is recorded on. */
export const REFERENCE_BACKENDS = ["native@p6", "kvm@2.6.25"] as const;

/**
 * Hypervisor-guest references: every scenario of a variant on the backend whose paravirt_ops
 * it carries (one group per ABI, so groups added in parallel merge as separate entries).
 */
export const PV_REFERENCES: ReadonlyArray<{ variant: string; backend: string }> = [
  { variant: "2.6.23", backend: "lguest@2.6.23" },
  { variant: "2.6.21-vmi", backend: "vmi@3.0" },
  // The first kernel with Xen paravirt_ops on the default Xen profile (docs/abi/xen.md).
  { variant: "2.6.23", backend: "xen@3.1" },
];

/** One reference trace. */
export interface ReferenceTrace {
  case: SuiteCase;
  backend: string;
  /** File name in {@link REFERENCE_DIR}. */
  file: string;
}

/**
 * Every reference trace: each scenario of the demo variant on each reference backend, then
 * each scenario of each {@link PV_REFERENCES} group.
 */
export function referenceTraces(): ReferenceTrace[] {
  const ref = (variant: string, s: string, backend: string): ReferenceTrace => {
    const c = suiteCase(variant, s);
    return { case: c, backend, file: `pvkernel-${c.label}-${backend.replace("@", "_")}.pvt` };
  };
  return [
    ...SCENARIOS.flatMap((s) => REFERENCE_BACKENDS.map((b) => ref(REFERENCE_VARIANT, s, b))),
    ...PV_REFERENCES.flatMap(({ variant, backend }) =>
      SCENARIOS.map((s) => ref(variant, s, backend))
    ),
  ];
}

/** A manifest line: what `bless` wrote. */
export interface ManifestEntry {
  file: string;
  image: string;
  cmdline: string;
  backend: string;
  events: number;
  instructions: number;
  exit: string;
  sha256: string;
}

/**
 * Records `ref` to `dir/ref.file` and returns its manifest entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blessOne, referenceTraces } from "./reference.ts";
 * const dir = Deno.makeTempDirSync();
 * const e = blessOne(referenceTraces()[0], dir);
 * assert.ok(e.events > 0);
 * assert.equal(e.sha256.length, 64);
 * ```
 */
export function blessOne(ref: ReferenceTrace, dir = REFERENCE_DIR): ManifestEntry {
  const path = `${dir}/${ref.file}`;
  const run = recordCase(ref.case, ref.backend, { out: path });
  return {
    file: ref.file,
    image: ref.case.image,
    cmdline: ref.case.cmdline,
    backend: ref.backend,
    events: run.events,
    instructions: run.result.instructions,
    exit: run.result.reason,
    sha256: sha256Hex(Deno.readFileSync(path)),
  };
}
