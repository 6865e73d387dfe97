/**
 * Process exit statuses of pvreplay, defined in this one place.
 *
 * A guest that writes `v` to QEMU's `isa-debug-exit` port makes the run exit with
 * `(v << 1) | 1`, exactly as `qemu-system-i386 -device isa-debug-exit` does: always odd. Every
 * status `run` and `record` choose themselves is even, so the two can never be confused; the
 * analysis commands (diff, replay, inspect) keep diff(1)'s 0/1/2 and inspect's 3.
 *
 * | status | meaning |
 * |---|---|
 * | 0 | success: the guest halted for good (idle), powered off, or the command succeeded |
 * | 1 | replay/diff: a divergence (diff(1)'s convention, so scripts can `if pvreplay diff ...`); matrix/demo: a cell fails |
 * | 2 | usage error (unknown flag, bad value); replay/diff: trouble, as diff(1) |
 * | 3 | inspect: the trace is truncated, aborted or corrupt |
 * | 4 | image error (kernel, firmware, snapshot unreadable or malformed) |
 * | 6 | trace error (trace file unreadable or malformed) |
 * | 8 | the guest triple-faulted (CPU shutdown) |
 * | 10 | instruction budget exhausted before the guest finished |
 * | 12 | the guest requested a platform reset (8042 0xFE, port 0x92, output port) |
 * | 16 | internal error (a bug in pvreplay) |
 * | 18 | the VM was stopped: the backend's userspace stops it (e.g. kvm@2.6.20 on VMCALL) |
 * | 20 | the hypervisor killed the guest (lguest: bad hypercall, call before LGUEST_INIT, unhandled trap, CRASH other than power-off) |
 * | 22 | the guest suspended itself (Xen `SCHEDOP_shutdown` SHUTDOWN_suspend) |
 * | 24 | the guest declared itself crashed (Xen `SCHEDOP_shutdown` SHUTDOWN_crash, or a trap Xen cannot bounce) |
 * | 130 | interrupted by the user (SIGINT, Ctrl-C: 128 + 2, the shell convention) |
 * | odd | `(v << 1) \| 1` from isa-debug-exit (the low 8 bits, as a process status) |
 *
 * @module
 */

/** The guest finished: halted with nothing left to wake it, or powered off. */
export const EXIT_SUCCESS = 0;
/** Bad command line. */
export const EXIT_USAGE = 2;
/** Kernel, firmware or snapshot image unreadable or malformed. */
export const EXIT_IMAGE_ERROR = 4;
/** Trace file unreadable or malformed. */
export const EXIT_TRACE_ERROR = 6;
/** Triple fault (CPU shutdown cycle). */
export const EXIT_TRIPLE_FAULT = 8;
/** The instruction budget ran out. */
export const EXIT_BUDGET = 10;
/** The guest reset the platform. */
export const EXIT_RESET = 12;
/** Unexpected internal error. */
export const EXIT_INTERNAL = 16;

/** The backend stopped the VM (an exit its userspace does not handle). */
export const EXIT_STOPPED = 18;
/**
 * The hypervisor killed the guest (lguest's `kill_guest`: docs/abi/lguest.md §3). The real
 * launcher exits 1 for every death; pvreplay keeps its own statuses even.
 */
export const EXIT_GUEST_KILLED = 20;
/** The guest asked to be suspended (Xen SHUTDOWN_suspend: docs/abi/xen.md §6). */
export const EXIT_GUEST_SUSPENDED = 22;
/** The guest reported a crash (Xen SHUTDOWN_crash: docs/abi/xen.md §6). */
export const EXIT_GUEST_CRASHED = 24;
/** Interrupted by SIGINT (128 + signal 2, as a shell reports a process killed by it). */
export const EXIT_INTERRUPTED = 130;

/**
 * Exit status of a guest write of `value` to isa-debug-exit (QEMU `hw/misc/debugexit.c`:
 * `exit((val << 1) | 1)`), reduced to the 8 bits a process status carries.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { debugExitStatus } from "./exit_status.ts";
 * assert.equal(debugExitStatus(0x10), 0x21);
 * ```
 */
export function debugExitStatus(value: number): number {
  return ((value << 1) | 1) & 0xff;
}
