/**
 * The CPU's INTR input on the PC: the local APIC's fixed interrupts, then the 8259A pair through
 * LINT0 in ExtINT (virtual-wire) mode.
 *
 * Arbitration as QEMU's `cpu_get_pic_interrupt` (target/i386): the APIC is asked first (a
 * software-enabled APIC with a vector above the processor priority), then the PIC if LINT0
 * passes it. ExtINT interrupts bypass the APIC's priority logic (SDM Vol.3A 10.5.1: "ExtINT ...
 * the interrupt controller supplies the vector").
 *
 * @module
 */

import type { InterruptController, IrqLine } from "../bus.ts";
import type { LocalApic } from "./lapic.ts";
import type { Pic } from "./pic.ts";

/**
 * Composes the local APIC and the 8259A pair into the CPU-facing controller.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PcInterruptRouter } from "./interrupt_router.ts";
 * import { LocalApic } from "./lapic.ts";
 * import { Pic } from "./pic.ts";
 * import { VirtualClock } from "../clock.ts";
 * const pic = new Pic();
 * const router = new PcInterruptRouter(new LocalApic({ clock: new VirtualClock() }), pic);
 * for (const [p, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 0x04], [0x21, 0x01]]) {
 *   pic.portWrite(p, 1, v);
 * }
 * pic.setIrq(0, true);
 * assert.ok(router.hasInterrupt());
 * assert.equal(router.acknowledge(), 0x20);
 * ```
 */
export class PcInterruptRouter implements InterruptController {
  /**
   * `apicEnabled` reports IA32_APIC_BASE bit 11 (global enable). With the APIC globally
   * disabled the processor behaves as one without an APIC: the 8259A drives INTR directly
   * (SDM Vol.3A 10.4.3).
   */
  constructor(
    readonly apic: LocalApic,
    readonly pic: Pic,
    readonly apicEnabled: () => boolean = () => true,
  ) {}

  hasInterrupt(): boolean {
    if (!this.apicEnabled()) return this.pic.hasInterrupt();
    return this.apic.hasInterrupt() || (this.apic.acceptsPicInterrupt() && this.pic.hasInterrupt());
  }

  acknowledge(): number {
    if (!this.apicEnabled()) return this.pic.acknowledge();
    if (this.apic.hasInterrupt()) return this.apic.acknowledge();
    if (this.apic.acceptsPicInterrupt()) return this.pic.acknowledge();
    // INTR deasserted between the check and the acknowledge cycle.
    return this.apic.spuriousVector;
  }
}

/**
 * The ISA interrupt lines of a PC with an I/O APIC: each line goes to the 8259A pair and to
 * the I/O APIC input the MP table names for it (docs/smp.md §4): IRQ0, the PIT, to input 2,
 * every other IRQ to the input of its number (the cascade IRQ2 is never driven).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IsaInterruptLines } from "./interrupt_router.ts";
 * const pins: number[] = [];
 * const lines = new IsaInterruptLines({ setIrq: () => {} }, { setIrq: (p) => pins.push(p) });
 * lines.setIrq(0, true);
 * lines.setIrq(4, true);
 * assert.deepEqual(pins, [2, 4]);
 * ```
 */
export class IsaInterruptLines implements IrqLine {
  constructor(readonly pic: IrqLine, readonly ioapic: IrqLine) {}

  setIrq(irq: number, level: boolean): void {
    this.pic.setIrq(irq, level);
    this.ioapic.setIrq(irq === 0 ? 2 : irq, level);
  }
}
