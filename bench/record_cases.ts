/**
 * The guests whose recording overhead is measured, and the ways of running them: plain (a bare
 * machine, no backend, no trace, as `pvreplay run`), unrecorded (the backend attached, its
 * events dropped: the guest does what it does under that hypervisor, nothing is recorded) and
 * recorded (every event written to a .pvt file, final digest, as `pvreplay record`).
 *
 * @module
 */

import { Machine } from "../core/machine.ts";
import { openSession } from "../traces/session/session.ts";
import { recordCase, type SuiteCase, suiteCase } from "../traces/session/suite.ts";
import { IMAGE_DIR } from "../traces/format/guest_image.ts";

/** A guest to measure. */
export interface OverheadCase {
  label: string;
  case: SuiteCase;
  imageDir: string;
  backends: string[];
}

export const OVERHEAD_CASES: OverheadCase[] = [
  {
    // About 26 M instructions, 627 k events, nearly all `in al,0x61` of the PIT-calibration
    // polling loop: one event per ~42 instructions.
    label: "clock scenario (port polling)",
    case: suiteCase("2.6.22", "clock"),
    imageDir: IMAGE_DIR,
    backends: ["native", "kvm"],
  },
  {
    // Timer interrupts, safe_halt, set_timer: a few thousand varied events.
    label: "timer scenario",
    case: suiteCase("2.6.22", "timer"),
    imageDir: IMAGE_DIR,
    backends: ["native", "kvm"],
  },
  {
    // guests/cputests bench_int: sieve, CRC-32, mul/div; 101 M instructions, a few hundred
    // events: the other end of the event-density range.
    label: "bench_int (CPU-bound)",
    case: { image: "bench_int.elf", cmdline: "", label: "bench_int" },
    imageDir: "guests/cputests/images",
    backends: ["native"],
  },
];

const BUDGET = 400_000_000;

/** Runs the guest on a bare machine to its end; returns the instructions retired. */
export function plainRun(c: OverheadCase, image: Uint8Array): number {
  const m = new Machine({});
  m.bootMultiboot(image, { file: c.case.image, cmdline: c.case.cmdline });
  const r = m.run(BUDGET);
  if (r.reason !== "debug-exit") throw new Error(`${c.label}: plain run ended with ${r.reason}`);
  return r.instructions;
}

/** Records the guest on `backend` to `out`; returns the events recorded. */
export function recordedRun(c: OverheadCase, backend: string, out: string): number {
  const r = recordCase(c.case, backend, { out, imageDir: c.imageDir, maxInsns: BUDGET });
  if (r.result.reason !== "debug-exit") {
    throw new Error(`${c.label}: recording on ${backend} ended with ${r.result.reason}`);
  }
  return r.events;
}

/**
 * Runs the guest under `backend` with its events dropped; returns the instructions retired. A
 * paravirtualized guest takes other paths under another hypervisor (kvmclock instead of the
 * PIT, ...), so this, not the bare machine, is the like-for-like baseline for its recording.
 */
export function unrecordedRun(c: OverheadCase, backend: string, image: Uint8Array): number {
  const s = openSession(
    { image, imageName: c.case.image, cmdline: c.case.cmdline, backend },
    { emit() {}, emitRepeat() {} },
  );
  const r = s.run(BUDGET);
  if (r.reason !== "debug-exit") {
    throw new Error(`${c.label}: ${backend} run ended with ${r.reason}`);
  }
  return r.instructions;
}
