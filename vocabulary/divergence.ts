/**
 * The two divergence vocabularies, named apart because they answer different questions:
 *
 * - {@link TraceDivergenceClass}: how two *recorded traces* differ once aligned (`diff`,
 *   traces/analysis/). Structural: an event missing, extra, reordered, or the same operation with
 *   other arguments, units, result, trap, state or timing.
 * - {@link CrossDivergenceClass}: how a *target backend* answers a recorded operation differently
 *   from the source backend in cross-backend replay (`replay --backend`, traces/session/,
 *   backends/common/cross_model.ts). Semantic: the target lacks it, uses other units, returns or
 *   leaves something else, needs a batch, has an implicit side effect, traps or kills the guest.
 *
 * docs/canonical-ops.md and docs/trace-format.md describe both in full.
 *
 * @module
 */

/**
 * How two streams differ at one point:
 * - `missing`: an event (run) of A has no counterpart in B; `extra`: the reverse;
 * - `reordered`: the same operation occurs in both but at a different place;
 * - `arguments`: same operation, different canonical arguments (raw args with `allEvents`);
 * - `units`: arguments differ by a known unit factor (ns vs TSC ticks, instructions, ...);
 * - `result`: the return value differs (only when both sides have one);
 * - `trap`: different exception/interrupt vector, error code or CR2 (or a trap replaced by
 *   another trap at the same place);
 * - `state`: the architectural state effects differ;
 * - `timing`: icount differs beyond the `icount` tolerance (only when one is given);
 * - `repeats`: two aligned runs repeat a different number of times (a polling loop that ran
 *   longer); reported, but it makes traces differ only with `exactRepeats`.
 */
export type TraceDivergenceClass =
  | "missing"
  | "extra"
  | "reordered"
  | "arguments"
  | "units"
  | "result"
  | "trap"
  | "state"
  | "timing"
  | "repeats";

/** All classes, in report order. */
export const TRACE_DIVERGENCE_CLASSES: readonly TraceDivergenceClass[] = [
  "missing",
  "extra",
  "reordered",
  "arguments",
  "units",
  "result",
  "trap",
  "state",
  "timing",
  "repeats",
];

/**
 * Cross-replay divergence classes. `trap`: the target raises an exception where the operation
 * completed on the source (#GP for an MSR it lacks, #UD for VMCALL on bare hardware); the guest
 * continues in its fault handler. `fatal`: the target stops or kills the guest (an unhandled
 * exit that ends the VM). Both name the exception or the reason in the note.
 */
export const CROSS_DIVERGENCE_CLASSES = [
  "unsupported",
  "different-units",
  "different-result",
  "different-state",
  "needs-batch",
  "implicit-side-effect",
  "trap",
  "fatal",
] as const;
export type CrossDivergenceClass = typeof CROSS_DIVERGENCE_CLASSES[number];
