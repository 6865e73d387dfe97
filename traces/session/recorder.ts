/**
 * Event sinks that sit between a backend and a trace: the recorder (numbers events and streams
 * them to a writer) and the replay checker (compares a re-execution with a recorded stream,
 * event by event, and stops at the first mismatch).
 *
 * @module
 */

import { type EventSink, repeatOf, type TraceEvent } from "../../vocabulary/event.ts";

/** Where recorded events go (a `TraceWriter`, an array, ...). */
export interface EventOutput {
  append(event: TraceEvent): void;
  /**
   * The last appended event again, `count` times, `icountStep` apart (as
   * {@link EventSink.emitRepeat}); without it the recorder appends the repetitions one by one.
   */
  appendRepeat?(count: number, icountStep: number): void;
}

/**
 * Numbers events in emission order and forwards them to an output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Recorder } from "./recorder.ts";
 * import { makeEvent, type TraceEvent } from "../../vocabulary/event.ts";
 * const events: TraceEvent[] = [];
 * const rec = new Recorder({ append: (e) => events.push(e) });
 * rec.emit(makeEvent({ icount: 5, kind: "exit", name: "HLT", eip: 0x100000 }));
 * assert.equal(events[0].seq, 0);
 * assert.equal(rec.count, 1);
 * ```
 */
export class Recorder implements EventSink {
  #out: EventOutput;
  #seq = 0;
  /** The last event and the icount of its last repetition (for {@link Recorder.emitRepeat}). */
  #last: TraceEvent | null = null;
  #lastIcount = 0;

  constructor(out: EventOutput) {
    this.#out = out;
  }

  /** Events recorded so far. */
  get count(): number {
    return this.#seq;
  }

  emit(event: Omit<TraceEvent, "seq">): void {
    // Events from makeEvent already carry a seq slot: number in place, no copy on the hot path.
    const full = event as TraceEvent;
    full.seq = this.#seq++;
    this.#last = full;
    this.#lastIcount = full.icount;
    this.#out.append(full);
  }

  emitRepeat(count: number, icountStep: number): void {
    const last = this.#last;
    if (last === null) throw new Error("Recorder.emitRepeat: no event to repeat");
    if (this.#out.appendRepeat) {
      this.#out.appendRepeat(count, icountStep);
      this.#seq += count;
      this.#lastIcount += count * icountStep;
      return;
    }
    for (let i = 0; i < count; i++) {
      this.#lastIcount += icountStep;
      this.#out.append(repeatOf(last, this.#seq++, this.#lastIcount));
    }
  }
}

/** The fields of an event that replay compares, in report order. */
export const COMPARED_FIELDS = [
  "icount",
  "vcpu",
  "kind",
  "nr",
  "name",
  "args",
  "ret",
  "vector",
  "errorCode",
  "cr2",
  "eip",
  "op",
  "opArgs",
  "state",
] as const satisfies readonly (keyof TraceEvent)[];

/** Names of the fields in which two events differ (empty when equal). */
export function differingFields(a: TraceEvent, b: TraceEvent): string[] {
  const out: string[] = [];
  for (const f of COMPARED_FIELDS) {
    const x = a[f];
    const y = b[f];
    if (Array.isArray(x) || Array.isArray(y)) {
      if (JSON.stringify(x) !== JSON.stringify(y)) out.push(f);
    } else if (x !== y) out.push(f);
  }
  return out;
}

/** The first point where a re-execution left the recorded stream. */
export interface Mismatch {
  seq: number;
  /** The recorded event, or null if the re-execution produced an extra event past the end. */
  expected: TraceEvent | null;
  /** The re-executed event, or null if the re-execution ended before the recording did. */
  actual: TraceEvent | null;
  fields: string[];
  /** Up to `context` events before `seq` (recorded; they matched the re-execution). */
  before: TraceEvent[];
}

/**
 * Compares re-executed events against a recorded stream; on the first difference records a
 * {@link Mismatch} and calls `onMismatch` (replay uses it to stop the CPU).
 */
export class ReplayChecker implements EventSink {
  #expected: Iterator<TraceEvent>;
  #seq = 0;
  #context: number;
  #recent: TraceEvent[] = [];
  #last: TraceEvent | null = null;
  mismatch: Mismatch | null = null;
  onMismatch: (() => void) | null = null;

  constructor(expected: Iterable<TraceEvent>, context = 5) {
    this.#expected = expected[Symbol.iterator]();
    this.#context = context;
  }

  /** Events checked so far. */
  get checked(): number {
    return this.#seq;
  }

  emit(event: Omit<TraceEvent, "seq">): void {
    if (this.mismatch) return;
    const actual = event as TraceEvent;
    actual.seq = this.#seq;
    const next = this.#expected.next();
    const expected = next.done ? null : next.value;
    const fields = expected ? differingFields(expected, actual) : ["(extra event)"];
    if (fields.length) {
      this.#fail(expected, actual, fields);
      return;
    }
    this.#remember(actual);
    this.#last = actual;
    this.#seq++;
  }

  /** Checks the repetitions one by one (a mismatch inside a run is found at its event). */
  emitRepeat(count: number, icountStep: number): void {
    if (this.mismatch) return;
    const last = this.#last;
    if (last === null) throw new Error("ReplayChecker.emitRepeat: no event to repeat");
    let icount = last.icount;
    for (let i = 0; i < count && !this.mismatch; i++) {
      icount += icountStep;
      this.emit(repeatOf(last, -1, icount));
    }
  }

  /** Call when the re-execution has ended: a recorded event left over is a mismatch. */
  finish(): void {
    if (this.mismatch) return;
    const next = this.#expected.next();
    if (!next.done) this.#fail(next.value, null, ["(missing event)"]);
  }

  #remember(ev: TraceEvent): void {
    this.#recent.push(ev);
    if (this.#recent.length > this.#context) this.#recent.shift();
  }

  #fail(expected: TraceEvent | null, actual: TraceEvent | null, fields: string[]): void {
    this.mismatch = { seq: this.#seq, expected, actual, fields, before: [...this.#recent] };
    this.onMismatch?.();
  }
}
