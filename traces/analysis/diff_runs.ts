/**
 * Runs of equal events (a polling loop is one run), the bounded lookahead buffer the diff aligns
 * in, and the history ring that gives a divergence its context.
 *
 * @module
 */

import { repeatOf, type TraceEvent } from "../../vocabulary/event.ts";
import type { CollapsedEvents } from "../format/reader.ts";
import { alignedByDefault, type Kinds } from "./diff_classify.ts";

/**
 * Consecutive events with the same shape: kept as first and last event and a count. Run objects
 * are recycled by {@link RunLookahead} once shifted out, so nothing may keep one.
 */
export interface Run {
  first: TraceEvent;
  last: TraceEvent;
  count: number;
}

/**
 * Buffered, filtered view of an event stream collapsed into runs (the window lives here). The
 * runs live in a circular buffer of reused objects: a diff of near-identical streams allocates
 * nothing per run, which keeps the collector out of the fast path even when the caller holds a
 * large heap.
 */
export class RunLookahead {
  #it: Iterator<TraceEvent>;
  #all: boolean;
  #kinds: Kinds;
  /** Circular buffer, capacity a power of two; pending runs are [head, tail) (absolute). */
  #slots: Run[] = [];
  #mask = -1;
  #head = 0;
  #tail = 0;
  /** The event that ended the last buffered run (starts the next one), and its repeats. */
  #pending: TraceEvent | undefined = undefined;
  #pendingRepeats = 0;
  #pendingStep = 0;
  #done = false;
  /** A reader's collapsed stream (TraceReader.collapsedEvents), or null. */
  #collapsed: CollapsedEvents | null;
  /** Copies following the event #next returned last (collapsed streams), and their step. */
  #repeats = 0;
  #step = 0;
  /** Events accepted by the filter so far, and runs formed. */
  seen = 0;
  runs = 0;
  /**
   * `events` may be a {@link CollapsedEvents} stream: a repeat record then joins its event's run
   * at once (the copies equal the event in every field sameShape and the filter look at), with
   * the same runs, counts and last events as the expanded stream gives.
   */
  constructor(events: Iterable<TraceEvent>, all: boolean, kinds: Kinds) {
    this.#it = events[Symbol.iterator]();
    this.#collapsed = "repeats" in this.#it ? this.#it as CollapsedEvents : null;
    this.#all = all;
    this.#kinds = kinds;
  }

  #next(): TraceEvent | undefined {
    if (this.#done) return undefined;
    while (true) {
      const r = this.#it.next();
      if (r.done) {
        this.#done = true;
        return undefined;
      }
      if (this.#all || alignedByDefault(r.value)) {
        const c = this.#collapsed;
        this.#repeats = c ? c.repeats : 0;
        this.#step = c ? c.step : 0;
        this.seen++; // its copies count when they join a run (#repeat), as if read there

        return r.value;
      }
    }
  }

  /** Adds the `n` copies (`step` apart) that follow `e` to `run`, ending it with the last. */
  #repeat(run: Run, e: TraceEvent, n: number, step: number): void {
    if (n === 0) return;
    run.last = repeatOf(e, e.seq + n, e.icount + n * step);
    run.count += n;
    this.seen += n;
  }

  /** A free slot at the tail, growing the buffer when every slot is pending. */
  #slot(first: TraceEvent): Run {
    const n = this.#tail - this.#head;
    if (n === this.#slots.length) {
      const old = this.#slots, cap = Math.max(16, old.length * 2);
      const grown: Run[] = [];
      for (let k = 0; k < n; k++) grown.push(old[(this.#head + k) & this.#mask]);
      while (grown.length < cap) grown.push({ first, last: first, count: 0 });
      this.#slots = grown;
      this.#mask = cap - 1;
      this.#tail = n;
      this.#head = 0;
    }
    return this.#slots[this.#tail & this.#mask];
  }

  /** The i-th pending run, or undefined past the end of the stream. */
  peek(i: number): Run | undefined {
    while (this.#tail - this.#head <= i) {
      let first = this.#pending, repeats = this.#pendingRepeats, step = this.#pendingStep;
      if (first === undefined) {
        first = this.#next();
        repeats = this.#repeats, step = this.#step;
      }
      if (first === undefined) return undefined;
      const run = this.#slot(first);
      run.first = run.last = first;
      run.count = 1;
      this.#repeat(run, first, repeats, step);
      let e: TraceEvent | undefined;
      while ((e = this.#next()) !== undefined && this.#kinds.sameShape(first, e)) {
        run.last = e;
        run.count++;
        this.#repeat(run, e, this.#repeats, this.#step);
      }
      this.#pending = e;
      this.#pendingRepeats = this.#repeats;
      this.#pendingStep = this.#step;
      this.#tail++;
      this.runs++;
    }
    return this.#slots[(this.#head + i) & this.#mask];
  }

  /** Whether pending run `i` is the last of the stream (no event after it). */
  isFinal(i: number): boolean {
    return this.#done && this.#pending === undefined && i === this.#tail - this.#head - 1;
  }

  /** Drops the first `n` pending runs (their objects are reused). */
  shift(n: number): void {
    this.#head += n;
  }
}

/** Circular history of the last runs' first events and lengths (context before a divergence). */
export class Ring {
  #events: TraceEvent[] = [];
  #counts: number[] = [];
  #next = 0;
  constructor(readonly size: number) {}
  push(r: Run): void {
    if (this.size === 0) return;
    if (this.#events.length < this.size) {
      this.#events.push(r.first);
      this.#counts.push(r.count);
    } else {
      this.#events[this.#next] = r.first;
      this.#counts[this.#next] = r.count;
    }
    this.#next = (this.#next + 1) % this.size;
  }
  /** Oldest first: events and their run lengths. */
  items(): { events: TraceEvent[]; counts: number[] } {
    const order = <T>(xs: T[]) =>
      xs.length < this.size ? [...xs] : [...xs.slice(this.#next), ...xs.slice(0, this.#next)];
    return { events: order(this.#events), counts: order(this.#counts) };
  }
}
