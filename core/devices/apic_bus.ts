/**
 * The APIC bus: interrupt messages between the local APICs and the I/O APIC (docs/smp.md §2).
 *
 * A message names a destination (physical APIC ID, 0xFF = all; or a logical mask matched
 * against each LDR under its DFR model), a delivery mode and a vector (SDM Vol.3A 10.6.2).
 * Lowest-priority delivery goes to the matching APIC with the lowest task priority, ties to the
 * lowest APIC ID, so the choice is deterministic (SDM 10.6.2.4 leaves the tie-break to the
 * chipset). An EOI of a level-triggered vector is broadcast to every I/O APIC (SDM 10.8.5).
 *
 * @module
 */

/** Delivery modes of the ICR and of a redirection entry (SDM Table 10-1; 82093AA §3.2.4). */
export const Delivery = {
  fixed: 0,
  lowest: 1,
  smi: 2,
  nmi: 4,
  init: 5,
  startup: 6,
  extInt: 7,
} as const;

/** What the bus needs of a local APIC. */
export interface ApicBusMember {
  /** True when this APIC is addressed by `dest` in the given destination mode. */
  addressedBy(logical: boolean, dest: number): boolean;
  /** Task priority, for lowest-priority arbitration. */
  taskPriority(): number;
  /** Accepts a message (fixed, lowest, NMI, INIT, SIPI, ExtINT) with its trigger mode. */
  receive(mode: number, vector: number, level: boolean): void;
}

/**
 * The bus connecting every local APIC and I/O APIC of a machine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ApicBus, Delivery } from "./apic_bus.ts";
 * const got: number[] = [];
 * const bus = new ApicBus();
 * bus.attach({ addressedBy: (l, d) => !l && d === 1, taskPriority: () => 0, receive: (_m, v) => got.push(v) });
 * bus.send(Delivery.fixed, 0x41, false, 1, false);
 * assert.deepEqual(got, [0x41]);
 * ```
 */
export class ApicBus {
  readonly #members: ApicBusMember[] = [];
  readonly #eoiListeners: ((vector: number) => void)[] = [];

  /** Adds a local APIC; members are kept in attach order (APIC ID order on the PC). */
  attach(member: ApicBusMember): void {
    this.#members.push(member);
  }

  /** Registers an I/O APIC's EOI input. */
  onEoi(listener: (vector: number) => void): void {
    this.#eoiListeners.push(listener);
  }

  /** Broadcasts the EOI of a level-triggered `vector` (SDM 10.8.5). */
  eoi(vector: number): void {
    for (const l of this.#eoiListeners) l(vector);
  }

  /**
   * Delivers a message to every APIC `dest` addresses, except `exclude` (an ICR shorthand
   * "all excluding self" or a sender that may not target itself); lowest priority to one of
   * them.
   */
  send(
    mode: number,
    vector: number,
    logical: boolean,
    dest: number,
    level: boolean,
    exclude: ApicBusMember | null = null,
  ): void {
    const members = this.#members;
    if (mode === Delivery.lowest) {
      let best: ApicBusMember | null = null;
      for (const m of members) {
        if (m === exclude || !m.addressedBy(logical, dest)) continue;
        if (best === null || m.taskPriority() < best.taskPriority()) best = m;
      }
      best?.receive(Delivery.fixed, vector, level);
      return;
    }
    for (const m of members) {
      if (m !== exclude && m.addressedBy(logical, dest)) m.receive(mode, vector, level);
    }
  }

  /** Delivers to every member but `exclude` (ICR shorthands "all including/excluding self"). */
  broadcast(mode: number, vector: number, level: boolean, exclude: ApicBusMember | null): void {
    this.send(mode, vector, false, 0xff, level, exclude);
  }
}
