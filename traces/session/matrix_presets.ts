/**
 * Named matrices for the claims of the 2006-2007 paravirt_ops threads: which rows to run and, for
 * each claim quoted from the threads (author, date, thread), which cells confirm or refute it.
 * `pvreplay matrix --preset NAME` runs one; the text, JSON and HTML outputs carry the verdicts.
 *
 * A claim is judged only on the cells that ran: narrowing a preset with `--backends` or
 * `--variants` narrows what it can show, and a claim none of whose cells ran is `untested`.
 *
 * @module
 */

import { listBackends } from "../../backends/registry.ts";
import { cellName, type ClaimResult, type MatrixRow, type StatusCell } from "./matrix_status.ts";
import { SCENARIOS, VARIANTS } from "./suite.ts";

/** A claim and how the matrix tests it. */
export interface Claim {
  id: string;
  quote: string;
  author: string;
  date: string;
  thread: string;
  /** What is checked, in one sentence. */
  test: string;
  /**
   * Splits the cells into those that agree with the claim and those that contradict it;
   * cells that say nothing about it are in neither.
   */
  judge(cells: readonly StatusCell[]): { support: StatusCell[]; against: StatusCell[] };
}

/** A named matrix. */
export interface MatrixPreset {
  name: string;
  title: string;
  /**
   * The rows for `backends` (every registered profile unless the user narrowed them), diffed
   * against `reference`.
   */
  rows(backends: readonly string[], reference: string): MatrixRow[];
  claims: readonly Claim[];
}

/**
 * Boot-option sets of the vDSO story (guests/README.md "vDSO"): each kernel variant as
 * shipped, plus the `vdso=` and `reservetop=` options the threads discuss.
 */
export const VDSO_CASES: ReadonlyArray<readonly [string, string]> = [
  ["nopv", ""],
  ["2.6.20", ""],
  ["2.6.20", "vdso=1"],
  ["2.6.21", ""],
  ["2.6.21-vdso", ""],
  ["2.6.21-vdso", "vdso=0"],
  ["2.6.22", ""],
  ["2.6.22", "reservetop=0x400000"],
  // The first kernels with Xen (2.6.23) and lguest (2.6.23/2.6.24) paravirt_ops: the only ones
  // those hypervisors boot, so the only rows that show where their reserved tops put the vDSO.
  ["2.6.23", ""],
  ["2.6.24", ""],
];

/** Variants that are CONFIG_PARAVIRT kernels (every variant but `nopv`), oldest first. */
const PV_VARIANTS: readonly string[] = VARIANTS.filter((v) => v !== "nopv");
/** CONFIG_PARAVIRT variants built with COMPAT_VDSO (guests/kernel/config.h). */
const PV_COMPAT_VDSO = PV_VARIANTS.filter((v) => v !== "2.6.20" && v !== "2.6.21");

const backendName = (spec: string) => spec.split("@")[0];
const isNative = (c: StatusCell) => backendName(c.backend) === "native";
const oldGlibcOk = (c: StatusCell) => c.verdict === "PASS" && c.fields?.oldglibc === "ok";
const breaks = (c: StatusCell) => c.status === "fails";

/** The cells of `cells` matching `select`, split by `agrees`. */
function split(
  cells: readonly StatusCell[],
  select: (c: StatusCell) => boolean,
  agrees: (c: StatusCell) => boolean,
): { support: StatusCell[]; against: StatusCell[] } {
  const chosen = cells.filter(select);
  return { support: chosen.filter(agrees), against: chosen.filter((c) => !agrees(c)) };
}

/** Per backend, the newest profile (registry order is oldest first) among the cells that ran. */
function newestOf(cells: readonly StatusCell[]): Map<string, string> {
  const ran = new Set(cells.map((c) => c.backend));
  const newest = new Map<string, string>();
  for (const b of listBackends()) {
    for (const v of b.versions) if (ran.has(`${b.name}@${v}`)) newest.set(b.name, `${b.name}@${v}`);
  }
  return newest;
}

const VDSO_THREAD = "[patch] paravirt: VDSO page is essential";

const VDSO_2007: MatrixPreset = {
  name: "vdso-2007",
  title: "The COMPAT_VDSO regression of March 2007: kernel variant x (old, new glibc) x backend",
  rows: (backends, reference) =>
    VDSO_CASES.filter(([v]) => (VARIANTS as readonly string[]).includes(v)).map((
      [variant, options],
    ) => ({ variant, scenario: "syscall", options, backends: [...backends], reference })),
  claims: [
    {
      id: "paravirt-broke-old-glibc",
      quote: "CONFIG_PARAVIRT broke old glibc bootup: it silently turned off the selectability " +
        "of CONFIG_COMPAT_VDSO and thus rendered distro kernels unbootable on old-style VDSO " +
        "glibc setups.",
      author: "Ingo Molnar",
      date: "2007-03-05",
      thread: "[patch] paravirt: re-enable COMPAT_VDSO",
      test: "the CONFIG_PARAVIRT kernels without COMPAT_VDSO (2.6.20, 2.6.21, as shipped) break " +
        "the old glibc on every backend, while the non-paravirt kernel runs it",
      judge: (cells) => {
        const broken = split(
          cells,
          (c) => (c.variant === "2.6.20" || c.variant === "2.6.21") && c.options === "",
          (c) => c.verdict === "PASS" && c.fields?.oldglibc !== undefined && !oldGlibcOk(c),
        );
        const control = split(cells, (c) => c.variant === "nopv" && c.options === "", oldGlibcOk);
        return {
          support: [...broken.support, ...control.support],
          against: [...broken.against, ...control.against],
        };
      },
    },
    {
      id: "broke-on-native-too",
      quote: "It broke the boot even with native hardware, no hypervisor",
      author: "Andi Kleen",
      date: "2007-03-05",
      thread: VDSO_THREAD,
      test: "on the native backend, 2.6.20 and 2.6.21 as shipped break the old glibc",
      judge: (cells) =>
        split(
          cells,
          (c) =>
            isNative(c) && (c.variant === "2.6.20" || c.variant === "2.6.21") && c.options === "",
          (c) => c.verdict === "PASS" && c.fields?.oldglibc !== undefined && !oldGlibcOk(c),
        ),
    },
    {
      id: "compat-vdso-fixes-native",
      quote: "the proper solution is to keep COMPAT_VDSO available",
      author: "Ingo Molnar",
      date: "2007-03-05",
      thread: "[patch] paravirt: re-enable COMPAT_VDSO",
      test: "on the native backend, every CONFIG_PARAVIRT kernel with COMPAT_VDSO runs the old " +
        "glibc with default boot options",
      judge: (cells) =>
        split(
          cells,
          (c) => isNative(c) && PV_COMPAT_VDSO.includes(c.variant) && c.options === "",
          oldGlibcOk,
        ),
    },
    {
      id: "make-it-work-with-paravirt",
      quote: "It would be nice to turn off COMPAT_VDSO, but since we can't, we're going to make " +
        "it work with CONFIG_PARAVIRT.",
      author: "Jeremy Fitzhardinge",
      date: "2007-03-09",
      thread: "Re: ABI coupling to hypervisors via CONFIG_PARAVIRT",
      test: "under every hypervisor backend, every CONFIG_PARAVIRT kernel with COMPAT_VDSO runs " +
        "the old glibc with default boot options (a hypervisor that reserves the top of the " +
        "address space moves the vDSO and refutes it)",
      judge: (cells) =>
        split(
          cells,
          (c) => !isNative(c) && PV_COMPAT_VDSO.includes(c.variant) && c.options === "",
          oldGlibcOk,
        ),
    },
  ],
};

const ABI_THREAD = "Re: ABI coupling to hypervisors via CONFIG_PARAVIRT";

const OLD_HYPERVISOR: MatrixPreset = {
  name: "old-hypervisor",
  title: "New kernel must not break on an older hypervisor: every paravirt kernel on every " +
    "version of every hypervisor",
  rows: (backends, reference) => {
    const hypervisors = backends.filter((b) => backendName(b) !== "native");
    return PV_VARIANTS.flatMap((variant) =>
      SCENARIOS.map((scenario) => ({
        variant,
        scenario,
        options: "",
        backends: hypervisors.length ? hypervisors : [...backends],
        reference,
      }))
    );
  },
  claims: [
    {
      id: "new-kernel-old-hypervisor",
      quote: "new kernel must not break on an older hypervisor",
      author: "Ingo Molnar",
      date: "2007-03-09",
      thread: ABI_THREAD,
      test: "the newest paravirt kernel variant that ran passes every scenario on every version " +
        "of every hypervisor",
      judge: (cells) => {
        const newest = PV_VARIANTS.filter((v) => cells.some((c) => c.variant === v)).at(-1);
        return split(cells, (c) => c.variant === newest && !isNative(c), (c) => !breaks(c));
      },
    },
    {
      id: "new-hypervisor-old-kernel",
      quote: "It's perhaps more important that a new hypervisor not break an old kernel, but " +
        "that's 100% the hypervisor's responsibility.",
      author: "Jeremy Fitzhardinge",
      date: "2007-03-09",
      thread: ABI_THREAD,
      test: "the oldest paravirt kernel variant that ran passes every scenario on the newest " +
        "version of each hypervisor",
      judge: (cells) => {
        const oldest = PV_VARIANTS.find((v) => cells.some((c) => c.variant === v));
        const newest = newestOf(cells);
        return split(
          cells,
          (c) =>
            c.variant === oldest && !isNative(c) && newest.get(backendName(c.backend)) ===
              c.backend,
          (c) => !breaks(c),
        );
      },
    },
    {
      id: "no-regression-across-kernels",
      quote: 'that requirement automatically transforms itself into: "all future kernels will ' +
        'work with all past versions of the hypervisor".',
      author: "Ingo Molnar",
      date: "2007-03-09",
      thread: ABI_THREAD,
      test: "wherever a paravirt kernel passes a scenario on a hypervisor version, every newer " +
        "kernel variant passes it there too (a cell that fails after an older kernel passed is " +
        "a regression)",
      judge: (cells) => {
        const passedBefore = (c: StatusCell) => {
          const older = PV_VARIANTS.slice(0, PV_VARIANTS.indexOf(c.variant));
          return cells.some((o) =>
            older.includes(o.variant) && o.scenario === c.scenario && o.options === c.options &&
            o.backend === c.backend && !breaks(o)
          );
        };
        return split(cells, (c) => !isNative(c) && passedBefore(c), (c) => !breaks(c));
      },
    },
  ],
};

/** Every preset, by name. */
export const MATRIX_PRESETS: readonly MatrixPreset[] = [VDSO_2007, OLD_HYPERVISOR];

/** The preset called `name`, or null. */
export function findPreset(name: string): MatrixPreset | null {
  return MATRIX_PRESETS.find((p) => p.name === name) ?? null;
}

/**
 * Judges every claim of `preset` on `cells`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findPreset, judgeClaims } from "./matrix_presets.ts";
 * const results = judgeClaims(findPreset("vdso-2007")!, []);
 * assert.ok(results.every((r) => r.verdict === "untested"));
 * ```
 */
export function judgeClaims(preset: MatrixPreset, cells: readonly StatusCell[]): ClaimResult[] {
  return preset.claims.map((claim) => {
    const { support, against } = claim.judge(cells);
    return {
      id: claim.id,
      quote: claim.quote,
      author: claim.author,
      date: claim.date,
      thread: claim.thread,
      test: claim.test,
      verdict: against.length ? "refuted" : support.length ? "confirmed" : "untested",
      // Sorted, so a merged sharded run judges in the same words as an unsplit one.
      support: support.map(cellName).sort(),
      against: against.map(cellName).sort(),
    };
  });
}
