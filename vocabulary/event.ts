/**
 * The trace event model shared by the recorder, the file format, replay, diff and inspect.
 *
 * One event is one guest-visible boundary crossing: a hypercall, an exception, an interrupt
 * delivery, a privileged-operation exit, a port or MMIO access, or a marker. Each carries its
 * ABI-level record (what the backend saw, in the backend's numbers and units) and, where it
 * implements a paravirt_ops operation, the canonical operation with arguments in canonical units
 * (nanoseconds, guest-physical frames, flag bits), so traces from different backends can be
 * aligned operation by operation.
 *
 * @module
 */

/** Event kinds, numbered for the binary encoding. */
export const EventKind = {
  hypercall: 0,
  exception: 1,
  interrupt: 2,
  exit: 3,
  io: 4,
  mmio: 5,
  marker: 6,
} as const;
export type EventKindName = keyof typeof EventKind;
export const EVENT_KIND_NAMES: readonly EventKindName[] = [
  "hypercall",
  "exception",
  "interrupt",
  "exit",
  "io",
  "mmio",
  "marker",
];

/**
 * Architectural state an event changed, as (key, value) pairs. Keys are a closed set so the
 * binary format can number them.
 */
export const StateKey = {
  IF: 0,
  CR0: 1,
  CR2: 2,
  CR3: 3,
  CR4: 4,
  CPL: 5,
  /** Next timer deadline in virtual ns (0 = none). */
  TIMER: 6,
  /** Halted (1) or running (0). */
  HALTED: 7,
  TS: 8,
} as const;
export type StateKeyName = keyof typeof StateKey;
export const STATE_KEY_NAMES: readonly StateKeyName[] = [
  "IF",
  "CR0",
  "CR2",
  "CR3",
  "CR4",
  "CPL",
  "TIMER",
  "HALTED",
  "TS",
];

/**
 * One trace event. Numbers are unsigned 32-bit unless stated; 64-bit ABI values are split into
 * (lo, hi) argument pairs exactly as the ABI passes them. `null` means "not applicable".
 */
export interface TraceEvent {
  /** 0-based position in the stream. */
  seq: number;
  /** Retired instructions when the event happened (QEMU icount / rr tick analogue). */
  icount: number;
  vcpu: number;
  kind: EventKindName;
  /** ABI number: hypercall number, exit code, port, MMIO address, or vector. -1 if none. */
  nr: number;
  /** ABI name: `set_timer_op`, `CR_WRITE`, `page_fault`, `out`, ... */
  name: string;
  /** Raw ABI arguments (registers or memory words, as the ABI defines them). */
  args: number[];
  /** Return value as the guest sees it (EAX, IN data, ...), or null. */
  ret: number | null;
  vector: number | null;
  errorCode: number | null;
  cr2: number | null;
  eip: number;
  /** Canonical paravirt_ops-level operation (`irq_enable`, `write_cr3`, ...), or null. */
  op: string | null;
  /** Canonical arguments in canonical units (documented per op in docs/canonical-ops.md). */
  opArgs: number[];
  /** Architectural state changed by the event. */
  state: Array<[StateKeyName, number]>;
}

/** Receives events as they happen (the recorder's writer, an in-memory list, a checker). */
export interface EventSink {
  /** `seq` is assigned by the sink owner; callers fill the rest. */
  emit(event: Omit<TraceEvent, "seq">): void;
  /**
   * The last emitted event happened `count` more times, each `icountStep` instructions after the
   * one before, every other field equal (a guest polling a port). Optional: a backend emits
   * such runs event by event to a sink without it. Sinks that have it take a polling loop at a
   * cost per run instead of per event (docs/trace-format.md §5.4).
   */
  emitRepeat?(count: number, icountStep: number): void;
}

/**
 * A repetition of `ev` at another position: every field equal, arrays copied (consumers may
 * keep and change events).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeEvent, repeatOf, type TraceEvent } from "./event.ts";
 * const ev = { ...makeEvent({ icount: 5, kind: "io", name: "in", eip: 9 }), seq: 0 };
 * const again = repeatOf(ev, 1, 13);
 * assert.equal(again.seq, 1);
 * assert.equal(again.icount, 13);
 * assert.equal(again.name, "in");
 * ```
 */
export function repeatOf(ev: TraceEvent, seq: number, icount: number): TraceEvent {
  return {
    seq,
    icount,
    vcpu: ev.vcpu,
    kind: ev.kind,
    nr: ev.nr,
    name: ev.name,
    args: ev.args.slice(),
    ret: ev.ret,
    vector: ev.vector,
    errorCode: ev.errorCode,
    cr2: ev.cr2,
    eip: ev.eip,
    op: ev.op,
    opArgs: ev.opArgs.slice(),
    state: ev.state.map(([k, v]) => [k, v]),
  };
}

/** Builds an event with defaults for the fields that do not apply. */
export function makeEvent(
  fields: Pick<TraceEvent, "icount" | "kind" | "name" | "eip"> & Partial<TraceEvent>,
): Omit<TraceEvent, "seq"> {
  // `seq` is allocated here (the sink owner numbers it) so every event has one object shape.
  const ev: TraceEvent = {
    seq: -1,
    icount: fields.icount,
    vcpu: fields.vcpu ?? 0,
    kind: fields.kind,
    nr: fields.nr ?? -1,
    name: fields.name,
    args: fields.args ?? [],
    ret: fields.ret ?? null,
    vector: fields.vector ?? null,
    errorCode: fields.errorCode ?? null,
    cr2: fields.cr2 ?? null,
    eip: fields.eip,
    op: fields.op ?? null,
    opArgs: fields.opArgs ?? [],
    state: fields.state ?? [],
  };
  return ev;
}
