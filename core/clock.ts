/**
 * The single virtual clock of a machine.
 *
 * Guest-visible time derives only from the retired-instruction count (`icount`): the TSC, the PIT,
 * the RTC, the local-APIC timer and every hypervisor timer read it through this class. Device
 * events are scheduled in instructions, never in host time, so a run is a pure function of its
 * inputs.
 *
 * Contract with the CPU: `icount` is exact whenever a device, bus or hook callback runs, and the
 * CPU never runs past `nextDeadline` without calling {@link VirtualClock.fireDue}.
 *
 * @module
 */

/** A callback run when the clock reaches its deadline. */
export type TimerCallback = () => void;

/** Default instruction rate: 100 M instructions per virtual second (10 ns per instruction). */
/**
 * 2007-03-09 00:00:00 UTC, the default wall-clock time at power-on (seconds since 1970): the one
 * epoch of the machine, its RTC and every backend's wallclock.
 */
export const DEFAULT_EPOCH = 1173398400;

export const DEFAULT_IPS = 100_000_000;
/** Default TSC frequency: equal to the instruction rate (one TSC tick per instruction). */
export const DEFAULT_TSC_HZ = 100_000_000;

/** Options for {@link VirtualClock}. */
export interface ClockOptions {
  /** Instructions per virtual second. */
  ips?: number;
  /** TSC ticks per virtual second. */
  tscHz?: number;
}

/**
 * Deterministic instruction-count clock with an event queue ordered by (deadline, insertion).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VirtualClock } from "./clock.ts";
 * const clock = new VirtualClock();
 * let fired = 0;
 * clock.schedule(100, () => fired++);
 * clock.icount = 100;
 * clock.fireDue();
 * assert.equal(fired, 1);
 * ```
 */
export class VirtualClock {
  /** Retired instructions since power-on. Written by the CPU. */
  icount = 0;
  /** The smallest deadline in the queue, or +Infinity. Read by the CPU's run loop. */
  nextDeadline = Number.POSITIVE_INFINITY;
  readonly ips: number;
  readonly tscHz: number;
  /** Offset added to the TSC (WRMSR to IA32_TIME_STAMP_COUNTER adjusts it). */
  tscOffset = 0n;

  #deadlines: number[] = [];
  #ids: number[] = [];
  #callbacks = new Map<number, TimerCallback>();
  #nextId = 1;

  constructor(options: ClockOptions = {}) {
    this.ips = options.ips ?? DEFAULT_IPS;
    this.tscHz = options.tscHz ?? DEFAULT_TSC_HZ;
    if (!(this.ips > 0) || !(this.tscHz > 0)) throw new RangeError("clock rates must be positive");
  }

  /** Virtual nanoseconds since power-on. */
  nanos(): number {
    return this.ticksAt(1e9);
  }

  /**
   * Whole ticks of a free-running `hz` clock elapsed at instruction count `icount` (default: now),
   * i.e. `floor(icount * hz / ips)`, computed exactly (BigInt) so that device counters stay
   * bit-exact however long the run.
   */
  ticksAt(hz: number, icount: number = this.icount): number {
    // While icount * hz is an exact double (< 2^53) the correctly rounded quotient cannot cross
    // an integer (its distance to one is at least 1/ips), so floor() is exact without BigInt.
    const product = icount * hz;
    if (product <= Number.MAX_SAFE_INTEGER && Number.isInteger(hz) && Number.isInteger(this.ips)) {
      return Math.floor(product / this.ips);
    }
    return Number(BigInt(icount) * BigInt(Math.round(hz)) / BigInt(Math.round(this.ips)));
  }

  /**
   * The first instruction count at which a free-running `hz` clock has reached `ticks`
   * (`ceil(ticks * ips / hz)`, exact): the inverse of {@link VirtualClock.ticksAt}, used to turn a
   * device deadline into an absolute {@link VirtualClock.schedule} time.
   */
  icountAtTicks(ticks: number, hz: number): number {
    const num = BigInt(ticks) * BigInt(Math.round(this.ips));
    const den = BigInt(Math.round(hz));
    return Number((num + den - 1n) / den);
  }

  /** Converts a duration in virtual nanoseconds to whole instructions (rounded up, at least 1). */
  nanosToInsns(ns: number): number {
    return Math.max(1, Math.ceil(ns * this.ips / 1e9));
  }

  /** Converts a frequency-based tick count (e.g. PIT at 1193182 Hz) to instructions, rounded up. */
  ticksToInsns(ticks: number, hz: number): number {
    return Math.max(1, Math.ceil(ticks * this.ips / hz));
  }

  /** Time-stamp counter as a 64-bit value. */
  tsc(): bigint {
    const base = this.tscHz === this.ips
      ? BigInt(this.icount)
      : BigInt(Math.floor(this.icount * this.tscHz / this.ips));
    return (base + this.tscOffset) & 0xffff_ffff_ffff_ffffn;
  }

  /** Schedules `cb` at absolute instruction count `at`; returns an id for {@link cancel}. */
  schedule(at: number, cb: TimerCallback): number {
    const id = this.#nextId++;
    this.#callbacks.set(id, cb);
    // Sorted insertion keeps ties in insertion order (ids increase), which is deterministic.
    let i = this.#deadlines.length;
    while (i > 0 && this.#deadlines[i - 1] > at) i--;
    this.#deadlines.splice(i, 0, at);
    this.#ids.splice(i, 0, id);
    this.nextDeadline = this.#deadlines[0];
    return id;
  }

  /** Schedules `cb` `delta` instructions from now. */
  scheduleIn(delta: number, cb: TimerCallback): number {
    return this.schedule(this.icount + Math.max(1, Math.floor(delta)), cb);
  }

  /** Removes a scheduled event; unknown ids are ignored. */
  cancel(id: number): void {
    if (!this.#callbacks.delete(id)) return;
    const i = this.#ids.indexOf(id);
    this.#ids.splice(i, 1);
    this.#deadlines.splice(i, 1);
    this.nextDeadline = this.#deadlines.length ? this.#deadlines[0] : Number.POSITIVE_INFINITY;
  }

  /** Runs every event whose deadline is at or before `icount`, in deadline order. */
  fireDue(): void {
    while (this.#deadlines.length && this.#deadlines[0] <= this.icount) {
      this.#deadlines.shift();
      const id = this.#ids.shift()!;
      const cb = this.#callbacks.get(id)!;
      this.#callbacks.delete(id);
      this.nextDeadline = this.#deadlines.length ? this.#deadlines[0] : Number.POSITIVE_INFINITY;
      cb();
    }
  }

  /**
   * Drops every pending event (used by snapshot restore: each device re-arms its own timers from
   * its saved state, since callbacks are not serialisable).
   */
  clearEvents(): void {
    this.#deadlines = [];
    this.#ids = [];
    this.#callbacks.clear();
    this.nextDeadline = Number.POSITIVE_INFINITY;
  }

  /** Pending events as (deadline, id) pairs, for snapshots and tests. */
  pending(): Array<[number, number]> {
    return this.#deadlines.map((d, i) => [d, this.#ids[i]]);
  }
}
