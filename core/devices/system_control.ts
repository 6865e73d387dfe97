/**
 * PS/2 system control port A (port 0x92): bit 1 gates A20, bit 0 pulses a fast CPU reset
 * (IBM PS/2 technical reference; QEMU `hw/i386/port92.c`).
 *
 * @module
 */

import type { AccessSize, PortDevice } from "../bus.ts";
import type { PhysicalMemory } from "../memory.ts";
import type { Stateful } from "./stateful.ts";

/** A20 enabled: all address bits pass. */
export const A20_ON = 0xffffffff;
/** A20 disabled: address bit 20 forced to 0 (8086 wrap-around). */
export const A20_OFF = 0xffefffff;

/** Serialised port 0x92 state. */
export interface SystemControlState {
  value: number;
}

/**
 * Port 0x92.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SystemControlPort } from "./system_control.ts";
 * import { PhysicalMemory } from "../memory.ts";
 * const mem = new PhysicalMemory({ size: 2 << 20 });
 * let resets = 0;
 * const p92 = new SystemControlPort(mem, () => resets++);
 * p92.portWrite(0x92, 1, 0x00);
 * assert.equal(mem.a20Mask, 0xffefffff);
 * p92.portWrite(0x92, 1, 0x03);
 * assert.equal(mem.a20Mask, 0xffffffff);
 * assert.equal(resets, 1);
 * ```
 */
export class SystemControlPort implements PortDevice, Stateful<SystemControlState> {
  #value = 0x02;

  constructor(readonly memory: PhysicalMemory, readonly onReset: () => void) {}

  portRead(_port: number, _size: AccessSize): number {
    // Bit 1 mirrors the A20 gate as also changed by the keyboard controller.
    return (this.#value & ~0x02) | (this.memory.a20Mask === A20_ON ? 0x02 : 0);
  }

  portWrite(_port: number, _size: AccessSize, value: number): void {
    const old = this.#value;
    this.#value = value & 0xff;
    this.memory.a20Mask = value & 0x02 ? A20_ON : A20_OFF;
    if (value & 1 && !(old & 1)) this.onReset(); // reset on the 0 -> 1 transition
  }

  saveState(): SystemControlState {
    return { value: this.#value };
  }

  loadState(s: SystemControlState): void {
    this.#value = s.value;
  }
}
