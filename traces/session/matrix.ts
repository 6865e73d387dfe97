/**
 * The compatibility matrix ("the QA matrix" of the 2007 paravirt_ops debate): every guest
 * kernel variant × scenario × backend profile, each cell the guest's own verdict plus the trap
 * or exit that ended it, and the vDSO view (kernel variant × old/new glibc) that reproduces the
 * COMPAT_VDSO regression.
 *
 * @module
 */

import type { TraceEvent } from "../../vocabulary/event.ts";
import { type CaseRun, recordCase, recordCaseAsync, suiteCase } from "./suite.ts";
import { ImageError } from "../../core/loaders/image_error.ts";
import { EXIT_IMAGE_ERROR } from "../../core/exit_status.ts";

/** One cell of the matrix. */
export interface MatrixCell {
  variant: string;
  scenario: string;
  options: string;
  backend: string;
  /** The guest's verdict: PASS, FAIL, or the machine outcome when the guest printed none. */
  verdict: "PASS" | "FAIL" | "NO-RESULT";
  exit: string;
  code: number;
  instructions: number;
  events: number;
  /** The guest's RESULT fields (backend detected, vdso, ...). */
  fields: Record<string, string>;
  /** Exceptions the guest took, by name (e.g. page_fault: 1). */
  traps: Record<string, number>;
}

/** Runs one cell. */
export function runCell(
  variant: string,
  scenario: string,
  backend: string,
  options = "",
): MatrixCell {
  return runCellWithOutput(variant, scenario, backend, options).cell;
}

function runCellWithOutput(
  variant: string,
  scenario: string,
  backend: string,
  options: string,
): { cell: MatrixCell; serial: string } {
  const events: TraceEvent[] = [];
  const run = recordCase(suiteCase(variant, scenario, options), backend, { events });
  return cellOf(variant, scenario, backend, options, run, events);
}

function cellOf(
  variant: string,
  scenario: string,
  backend: string,
  options: string,
  run: CaseRun,
  events: TraceEvent[],
): { cell: MatrixCell; serial: string } {
  const traps: Record<string, number> = {};
  for (const e of events) if (e.kind === "exception") traps[e.name] = (traps[e.name] ?? 0) + 1;
  const cell: MatrixCell = {
    variant,
    scenario,
    options,
    backend,
    verdict: run.verdict.pass === true ? "PASS" : run.verdict.pass === false ? "FAIL" : "NO-RESULT",
    exit: run.result.reason,
    code: run.result.exitCode,
    instructions: run.result.instructions,
    events: run.events,
    fields: run.verdict.fields,
    traps,
  };
  return { cell, serial: run.serial };
}

/** A row of the vDSO view. */
export interface VdsoRow {
  variant: string;
  options: string;
  backend: string;
  /** Why the backend refused the image (it never ran), or null. */
  refused: string | null;
  vdso: string;
  sysinfo: string;
  newGlibc: string;
  oldGlibc: string;
  /** Instructions per system call measured by the guest (RDTSC counts instructions here). */
  int80Cost: string;
  sysenterCost: string;
  cell: MatrixCell;
}

/**
 * The 2007 vDSO story on `backend` (bare hardware by default): for each kernel variant (and
 * `vdso=` / `reservetop=` boot options), where the vDSO lands (a hypervisor that reserves the
 * top of the address space moves it), which of an "old glibc" (calls 0xFFFFE400) and a "new
 * glibc" (uses AT_SYSINFO) work, the trap that breaks the broken ones, and the cost of
 * `int $0x80` vs `sysenter` in instructions per call. A backend that refuses the image gives a
 * row whose `vdso` is "refused".
 */
export function vdsoRow(variant: string, options: string, backend = "native"): VdsoRow {
  try {
    return vdsoRowOf(runCellWithOutput(variant, "syscall", backend, options));
  } catch (e) {
    if (e instanceof ImageError) return refusedRow(variant, options, backend, e.problem);
    throw e;
  }
}

/**
 * {@link vdsoRow} yielding to the host between slices, so a Ctrl-C (`interrupted`) is seen
 * while the row runs: the row is then dropped (`null`). The guest sees the same run either way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { vdsoRowAsync } from "./matrix.ts";
 * assert.equal(await vdsoRowAsync("2.6.22", "", "native", () => true), null);
 * ```
 */
export async function vdsoRowAsync(
  variant: string,
  options: string,
  backend: string,
  interrupted: () => boolean,
): Promise<VdsoRow | null> {
  const events: TraceEvent[] = [];
  const c = suiteCase(variant, "syscall", options);
  let run: CaseRun;
  try {
    run = await recordCaseAsync(c, backend, { events }, interrupted);
  } catch (e) {
    if (e instanceof ImageError) return refusedRow(variant, options, backend, e.problem);
    throw e;
  }
  if (run.result.reason === "interrupted") return null;
  return vdsoRowOf(cellOf(variant, "syscall", backend, options, run, events));
}

/** The row of a backend that refused the image before it ran (Xen: no Xen ELF notes). */
function refusedRow(variant: string, options: string, backend: string, why: string): VdsoRow {
  const cell: MatrixCell = {
    variant,
    scenario: "syscall",
    options,
    backend,
    verdict: "NO-RESULT",
    exit: "refused",
    code: EXIT_IMAGE_ERROR,
    instructions: 0,
    events: 0,
    fields: {},
    traps: {},
  };
  return { ...vdsoRowOf({ cell, serial: "" }), vdso: "refused", refused: why };
}

function vdsoRowOf({ cell, serial }: { cell: MatrixCell; serial: string }): VdsoRow {
  // guests/kernel: "INFO syscall-cost: ... int80=72 vsyscall=85 (sysenter)"
  const cost = /INFO syscall-cost:.*int80=(\S+) vsyscall=(\S+)/.exec(serial);
  return {
    variant: cell.variant,
    options: cell.options,
    backend: cell.backend,
    refused: null,
    vdso: cell.fields.vdso ?? "?",
    sysinfo: cell.fields.sysinfo ?? "?",
    newGlibc: cell.fields.newglibc ?? "?",
    oldGlibc: cell.fields.oldglibc ?? "?",
    int80Cost: cost?.[1] ?? "?",
    sysenterCost: cost?.[2] ?? "?",
    cell,
  };
}
