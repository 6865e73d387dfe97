/**
 * The cross-replay model contract: what a backend's trace-driven model (`Backend.model()`)
 * answers for a canonical operation recorded on another backend. `translate` says how this
 * backend's guest would have performed the operation (ABI records or hardware steps, plus the
 * systematic divergences), `apply` what this backend would have answered and changed.
 * `backends/common/cross_model.ts` builds such a model from rows; docs/backends.md shows how a
 * backend contributes its rows.
 *
 * @module
 */

import type { CrossDivergenceClass } from "../vocabulary/divergence.ts";
import type { StateKeyName } from "../vocabulary/event.ts";

/** Where a hardware event came from. */
export type HwSource = "exit" | "in" | "out" | "mmio_read" | "mmio_write";

/** An ABI-level record: number, name, raw arguments, return value. */
export interface AbiRecord {
  nr: number;
  name: string;
  args: number[];
  ret?: number | null;
}

/** A hardware step (named by the backend's exit vocabulary, like recorded events). */
export interface HwStep {
  source: HwSource;
  kind: number;
  a: number;
  b: number;
  c: number;
}

/** A known, systematic difference between the canonical operation and this ABI. */
export interface DivergenceNote {
  class: CrossDivergenceClass;
  reason: string;
}

/** How a backend performs a canonical operation. */
export interface AbiCall extends AbiRecord {
  op: string;
  opArgs: number[];
  /** Every ABI step in order; nr/name/args above are the step the op is recorded on (last). */
  steps: AbiRecord[];
  notes: DivergenceNote[];
}

/** The backend cannot express the operation. */
export interface Unsupported {
  op: string;
  unsupported: true;
  class: CrossDivergenceClass;
  reason: string;
}

/** What the backend answered and changed (`ret` null: nothing returned, or it trapped). */
export interface ApplyResult {
  ret: number | null;
  state: Array<[StateKeyName, number]>;
}

/** Model state: one number per state key, plus written MSRs. */
export interface ModelState {
  regs: Record<StateKeyName, number>;
  msrs: Map<number, [number, number]>;
}

/** Machine constants rows may need. */
export interface ModelEnv {
  /** Wall-clock seconds at power-on. */
  epoch: number;
  tscHz: number;
}

/** One canonical operation on one backend. */
export interface ModelRow {
  op: string;
  /** Steps (hardware steps are named by the backend), plus notes; or why it is unsupported. */
  translate(
    args: readonly number[],
    st: ModelState,
    env: ModelEnv,
  ): { steps: Array<HwStep | AbiRecord>; notes?: DivergenceNote[] } | DivergenceNote;
  /** Updates `st`; returns the guest-visible result and the keys written. */
  apply(
    args: readonly number[],
    st: ModelState,
    nowNs: number,
    env: ModelEnv,
  ): { ret: number | null; writes: StateKeyName[] };
}

/** The per-backend model the lead drives. */
export interface CallModel {
  readonly backend: string;
  readonly version: string;
  readonly state: ModelState;
  translate(op: string, opArgs: readonly number[]): AbiCall | Unsupported;
  apply(call: AbiCall, nowNs: number): ApplyResult;
}

/** Type guard for {@link Unsupported}. */
export function isUnsupported(x: AbiCall | Unsupported): x is Unsupported {
  return "unsupported" in x;
}
