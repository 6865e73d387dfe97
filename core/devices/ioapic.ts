/**
 * The 82093AA I/O APIC (docs/smp.md §1): 24 interrupt inputs, each steered by a 64-bit
 * redirection entry to the local APICs over the APIC bus.
 *
 * Registers, as the 82093AA datasheet (order 290566-001) §3 describes them: IOREGSEL (offset
 * 0x00, selects a register) and IOWIN (offset 0x10, reads and writes it); IOAPICID (0x00, bits
 * 27:24), IOAPICVER (0x01, read-only: version 0x11, maximum redirection entry 0x17), IOAPICARB
 * (0x02, read-only: the arbitration ID, loaded from the ID) and the redirection table
 * (0x10 + 2n low dword, 0x11 + 2n high dword). After reset every entry is masked.
 *
 * Choices (documented in docs/smp.md §1): delivery is instantaneous, so the delivery-status
 * bit always reads 0 (idle); an input carries the asserted state of its line (the wires here
 * have no electrical level), so the polarity bit is stored and reported but does not invert;
 * an edge on a masked input is lost, a level input is delivered whenever it is asserted,
 * unmasked and its remote IRR is clear (so unmasking an asserted line delivers it), and an EOI
 * broadcast for its vector clears remote IRR (datasheet §3.2.4). The 82093AA has no EOI
 * register (that came with version 0x20).
 *
 * @module
 */

import type { AccessSize, IrqLine, MmioDevice } from "../bus.ts";
import type { ApicBus } from "./apic_bus.ts";
import type { Stateful } from "./stateful.ts";

/** Physical base of the I/O APIC on the PC (MP spec 1.4 §3.6.1 default). */
export const IOAPIC_BASE = 0xfec00000;
/** Number of redirection entries (inputs). */
export const IOAPIC_PINS = 24;
/** IOAPICVER: version 0x11, maximum redirection entry 23 (datasheet §3.2.2). */
export const IOAPIC_VERSION = 0x00170011;

const MASKED = 1 << 16;
const LEVEL = 1 << 15;
const REMOTE_IRR = 1 << 14;
const DELIVERY_STATUS = 1 << 12;
/** Writable low-dword bits: vector, delivery mode, destination mode, polarity, trigger, mask. */
const LOW_WRITABLE = 0x1afff;

/** One redirection entry, decoded. */
export interface IoApicRoute {
  pin: number;
  vector: number;
  /** Trigger mode: level (bit 15). */
  level: boolean;
  /** Destination mode: logical (bit 11). */
  logical: boolean;
  /** Destination field (bits 63:56). */
  dest: number;
  masked: boolean;
}

/** Serialised I/O APIC state. */
export interface IoApicState {
  id: number;
  select: number;
  low: number[];
  high: number[];
  lines: number;
}

/**
 * The I/O APIC: an {@link IrqLine} for the interrupt sources, an {@link MmioDevice} for the CPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ApicBus } from "./apic_bus.ts";
 * import { IoApic } from "./ioapic.ts";
 * const bus = new ApicBus();
 * const got: number[] = [];
 * bus.attach({ addressedBy: (_l, d) => d === 0, taskPriority: () => 0, receive: (_m, v) => got.push(v) });
 * const io = new IoApic(bus, 1);
 * io.mmioWrite(0x00, 4, 0x10 + 2 * 4); // entry 4, low dword
 * io.mmioWrite(0x10, 4, 0x34); // vector 0x34, fixed, edge, unmasked, destination 0
 * io.setIrq(4, true);
 * assert.deepEqual(got, [0x34]);
 * ```
 */
export class IoApic implements MmioDevice, IrqLine, Stateful<IoApicState> {
  readonly #bus: ApicBus;
  #id: number;
  #select = 0;
  #low = new Uint32Array(IOAPIC_PINS).fill(MASKED);
  #high = new Uint32Array(IOAPIC_PINS);
  /** Asserted inputs, one bit per pin. */
  #lines = 0;

  constructor(bus: ApicBus, id: number) {
    this.#bus = bus;
    this.#id = id & 0xf;
    bus.onEoi((vector) => this.#eoi(vector));
  }

  /** Drives input `pin`: an edge entry delivers on assertion, a level entry while asserted. */
  setIrq(pin: number, level: boolean): void {
    if (pin < 0 || pin >= IOAPIC_PINS) return;
    const bit = 1 << pin;
    const was = (this.#lines & bit) !== 0;
    if (level) this.#lines |= bit;
    else this.#lines &= ~bit;
    const low = this.#low[pin];
    if (low & LEVEL) this.#service(pin);
    else if (level && !was && !(low & MASKED)) this.#deliver(pin);
  }

  /** Delivers a level entry that is asserted, unmasked and not awaiting its EOI. */
  #service(pin: number): void {
    const low = this.#low[pin];
    if (!(low & LEVEL) || low & (MASKED | REMOTE_IRR) || !(this.#lines & (1 << pin))) return;
    this.#low[pin] = low | REMOTE_IRR;
    this.#deliver(pin);
  }

  #deliver(pin: number): void {
    const low = this.#low[pin];
    this.#bus.send(
      (low >>> 8) & 7,
      low & 0xff,
      (low & 0x800) !== 0,
      this.#high[pin] >>> 24,
      (low & LEVEL) !== 0,
    );
  }

  #eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const low = this.#low[pin];
      if ((low & 0xff) !== vector || !(low & REMOTE_IRR)) continue;
      this.#low[pin] = low & ~REMOTE_IRR;
      this.#service(pin); // still asserted: the next interrupt (datasheet §3.2.4)
    }
  }

  /**
   * Every redirection entry, masked ones included, as a hypervisor scanning the table sees it
   * (KVM's `ioapic_handled_vectors`, docs/abi/kvm.md §9).
   */
  routes(): IoApicRoute[] {
    return Array.from(this.#low, (low, pin) => ({
      pin,
      vector: low & 0xff,
      level: (low & LEVEL) !== 0,
      logical: (low & 0x800) !== 0,
      dest: this.#high[pin] >>> 24,
      masked: (low & MASKED) !== 0,
    }));
  }

  #read(reg: number): number {
    if (reg === 0x00) return this.#id << 24;
    if (reg === 0x01) return IOAPIC_VERSION;
    if (reg === 0x02) return this.#id << 24;
    const pin = (reg - 0x10) >> 1;
    if (pin < 0 || pin >= IOAPIC_PINS) return 0;
    return reg & 1 ? this.#high[pin] : this.#low[pin] & ~DELIVERY_STATUS;
  }

  #write(reg: number, v: number): void {
    if (reg === 0x00) {
      this.#id = (v >>> 24) & 0xf;
      return;
    }
    const pin = (reg - 0x10) >> 1;
    if (pin < 0 || pin >= IOAPIC_PINS) return; // IOAPICVER, IOAPICARB, reserved: read-only
    if (reg & 1) {
      this.#high[pin] = v & 0xff000000;
      return;
    }
    let low = (this.#low[pin] & REMOTE_IRR) | (v & LOW_WRITABLE);
    if (!(low & LEVEL)) low &= ~REMOTE_IRR; // remote IRR is defined for level entries only
    this.#low[pin] = low;
    this.#service(pin);
  }

  mmioRead(offset: number, size: AccessSize): number {
    if (offset < 4) {
      return (this.#select >>> (offset * 8)) & (size === 4 ? -1 : (1 << size * 8) - 1);
    }
    if (offset >= 0x10 && offset < 0x14) {
      const v = this.#read(this.#select) >>> ((offset - 0x10) * 8);
      return size === 4 ? v >>> 0 : v & ((1 << size * 8) - 1);
    }
    return 0;
  }

  mmioWrite(offset: number, size: AccessSize, value: number): void {
    if (offset === 0) this.#select = value & 0xff;
    else if (offset === 0x10 && size === 4) this.#write(this.#select, value >>> 0);
  }

  saveState(): IoApicState {
    return {
      id: this.#id,
      select: this.#select,
      low: [...this.#low],
      high: [...this.#high],
      lines: this.#lines,
    };
  }

  loadState(s: IoApicState): void {
    this.#id = s.id;
    this.#select = s.select;
    this.#low = Uint32Array.from(s.low);
    this.#high = Uint32Array.from(s.high);
    this.#lines = s.lines;
  }
}
