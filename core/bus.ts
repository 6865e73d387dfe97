/**
 * Port-I/O bus and the device-facing interfaces.
 *
 * As in Firecracker, a device sees only reads and writes on its bus (plus the IRQ line it was
 * given and the virtual clock); it never reaches into the CPU or another device.
 *
 * @module
 */

/** Access width in bytes. */
export type AccessSize = 1 | 2 | 4;

/** A device on the port-I/O bus. `port` is the absolute port number. */
export interface PortDevice {
  portRead(port: number, size: AccessSize): number;
  portWrite(port: number, size: AccessSize, value: number): void;
}

/** A device in the MMIO space. `offset` is relative to the region base. */
export interface MmioDevice {
  mmioRead(offset: number, size: AccessSize): number;
  mmioWrite(offset: number, size: AccessSize, value: number): void;
}

/** A level-triggered interrupt input (the PIC implements it for IRQ0..15). */
export interface IrqLine {
  setIrq(irq: number, level: boolean): void;
}

/**
 * What the CPU asks at instruction boundaries: is INTR asserted, and which vector does the
 * interrupt acknowledge cycle return. The machine composes the PIC and the local APIC into one.
 */
export interface InterruptController {
  /** True when a maskable interrupt is requested (the CPU still checks EFLAGS.IF). */
  hasInterrupt(): boolean;
  /** Interrupt-acknowledge cycle: returns the vector and moves it to in-service. */
  acknowledge(): number;
}

/** Observer of every MMIO access (`pa` is the absolute physical address), for the recorder. */
export interface MmioObserver {
  onMmioRead(pa: number, size: AccessSize, value: number): void;
  onMmioWrite(pa: number, size: AccessSize, value: number): void;
  /**
   * Before the device sees the access (a hypervisor syncs its virtual device first, as KVM
   * completes a paravirtual EOI on the exit an APIC access causes).
   */
  beforeMmio?(pa: number): void;
}

const MASK: Record<AccessSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };

/**
 * The 64 KiB port space. Unclaimed ports read as all-ones and ignore writes, as on a PC's ISA
 * bus (open bus pulled high).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IoBus } from "./bus.ts";
 * const bus = new IoBus();
 * let last = 0;
 * bus.register(0xe9, 1, { portRead: () => 0xe9, portWrite: (_p, _s, v) => { last = v; } });
 * bus.write(0xe9, 1, 0x41);
 * assert.equal(last, 0x41);
 * assert.equal(bus.read(0x80, 1), 0xff);
 * ```
 */
export class IoBus {
  #devices: PortDevice[] = [];
  /** Device index + 1 per port; 0 = unclaimed. */
  #map = new Uint16Array(0x10000);

  /** Claims ports `first .. first+count-1` for `device`. Overlaps are a configuration bug. */
  register(first: number, count: number, device: PortDevice): void {
    let idx = this.#devices.indexOf(device);
    if (idx < 0) idx = this.#devices.push(device) - 1;
    for (let p = first; p < first + count; p++) {
      if (this.#map[p] !== 0) throw new Error(`port 0x${p.toString(16)} claimed twice`);
      this.#map[p] = idx + 1;
    }
  }

  read(port: number, size: AccessSize): number {
    port &= 0xffff;
    const idx = this.#map[port];
    const value = idx === 0
      ? MASK[size]
      : (this.#devices[idx - 1].portRead(port, size) & MASK[size]) >>> 0;
    return value >>> 0;
  }

  write(port: number, size: AccessSize, value: number): void {
    port &= 0xffff;
    value = (value & MASK[size]) >>> 0;
    const idx = this.#map[port];
    if (idx !== 0) this.#devices[idx - 1].portWrite(port, size, value);
  }
}
