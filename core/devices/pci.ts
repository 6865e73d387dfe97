/**
 * PCI configuration mechanism #1 (PCI Local Bus Specification 3.0, §3.2.2.3.2) with one
 * function on bus 0: the Intel 82441FX PMC, the host bridge of the 440FX chipset QEMU's `pc`
 * machine emulates (vendor 0x8086, device 0x1237, class 0x060000 host bridge). The device sees
 * only port reads and writes (as Firecracker's devices do); docs/real-linux.md says what Linux
 * does with it.
 *
 * - CONFIG_ADDRESS, port 0xCF8, 32-bit accesses only: bit 31 enable, bits 23-16 bus, 15-11
 *   device, 10-8 function, 7-2 dword register; bits 30-24 and 1-0 are reserved and read as 0.
 *   Narrower accesses to 0xCF8-0xCFB are not configuration cycles (on a PIIX, 0xCF9 is the reset
 *   control register, which is not modelled): reads give all ones, writes are dropped.
 * - CONFIG_DATA, ports 0xCFC-0xCFF: a byte, word or dword of the addressed register at offset
 *   `register + (port - 0xCFC)`. With the enable bit clear, or for a bus/device/function with no
 *   device, reads give all ones (master abort) and writes are dropped.
 *
 * The 82441FX's configuration space is the one QEMU's i440fx presents (hw/pci-host/i440fx.c):
 * IDs, revision 0x02, class, header type 0, command and status 0. Command (the bits PCI 3.0
 * §6.2.2 defines), cache line size, latency timer and interrupt line keep what is written; which
 * command bits the real 82441FX implements, and that its latency timer is fully writable, is
 * UNVERIFIED (Linux only reads them). The chipset registers from 0x40 (PAM shadowing, SMRAM, DRAM rows) read as 0 except
 * SMRAM (0x72) = 0x02, and ignore writes: their effects on memory decoding are not modelled.
 *
 * @module
 */

import type { AccessSize, PortDevice } from "../bus.ts";
import type { Stateful } from "./stateful.ts";

/** The ports the host bridge claims. */
export const PCI_CONFIG_ADDRESS = 0xcf8;
export const PCI_CONFIG_DATA = 0xcfc;

/** 82441FX identity (Linux `include/linux/pci_ids.h` PCI_DEVICE_ID_INTEL_82441). */
export const I440FX_VENDOR = 0x8086;
export const I440FX_DEVICE = 0x1237;

/** Bits of CONFIG_ADDRESS that hold state (PCI 3.0 §3.2.2.3.2). */
const ADDRESS_MASK = 0x80ff_fffc;

/**
 * Command register bits that are writable: I/O, memory, bus master, special cycles, memory
 * write and invalidate, VGA palette snoop, parity, SERR#, fast back-to-back, INTx disable
 * (PCI 3.0 §6.2.2; bit 7 is hard-wired 0, bits 11-15 reserved).
 */
const COMMAND_WMASK = 0x077f;

/** Serialised host-bridge state. */
export interface PciState {
  address: number;
  /** The writable header bytes: command (u16), cache line, latency timer, interrupt line. */
  command: number;
  cacheLine: number;
  latency: number;
  interruptLine: number;
}

/**
 * The host bridge: CONFIG_ADDRESS/CONFIG_DATA and the 82441FX at 00:00.0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PciHostBridge } from "./pci.ts";
 * const pci = new PciHostBridge();
 * pci.portWrite(0xcf8, 4, 0x80000000); // bus 0, device 0, function 0, register 0
 * assert.equal(pci.portRead(0xcfc, 4), 0x12378086);
 * pci.portWrite(0xcf8, 4, 0x80000800); // device 1: nothing there
 * assert.equal(pci.portRead(0xcfc, 4), 0xffffffff);
 * ```
 */
export class PciHostBridge implements PortDevice, Stateful<PciState> {
  #address = 0;
  #command = 0;
  #cacheLine = 0;
  #latency = 0;
  #interruptLine = 0;

  portRead(port: number, size: AccessSize): number {
    if (port < PCI_CONFIG_DATA) {
      return port === PCI_CONFIG_ADDRESS && size === 4 ? this.#address >>> 0 : 0xffff_ffff;
    }
    const offset = this.#target(port);
    if (offset < 0) return 0xffff_ffff;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.#readByte(offset + i);
    return v >>> 0;
  }

  portWrite(port: number, size: AccessSize, value: number): void {
    if (port < PCI_CONFIG_DATA) {
      if (port === PCI_CONFIG_ADDRESS && size === 4) this.#address = (value & ADDRESS_MASK) >>> 0;
      return;
    }
    const offset = this.#target(port);
    if (offset < 0) return;
    for (let i = 0; i < size; i++) this.#writeByte(offset + i, (value >>> (8 * i)) & 0xff);
  }

  /** Register offset addressed through CONFIG_DATA at `port`, or -1 (disabled / no device). */
  #target(port: number): number {
    const a = this.#address;
    // Bus 0, device 0, function 0 is the only function present.
    if ((a & 0x8000_0000) === 0 || (a & 0x00ff_ff00) !== 0) return -1;
    return (a & 0xfc) + (port - PCI_CONFIG_DATA);
  }

  #readByte(off: number): number {
    switch (off) {
      case 0x00:
        return I440FX_VENDOR & 0xff;
      case 0x01:
        return I440FX_VENDOR >>> 8;
      case 0x02:
        return I440FX_DEVICE & 0xff;
      case 0x03:
        return I440FX_DEVICE >>> 8;
      case 0x04:
        return this.#command & 0xff;
      case 0x05:
        return this.#command >>> 8;
      case 0x08:
        return 0x02; // revision
      case 0x0a:
        return 0x00; // subclass: host bridge
      case 0x0b:
        return 0x06; // base class: bridge
      case 0x0c:
        return this.#cacheLine;
      case 0x0d:
        return this.#latency;
      case 0x3c:
        return this.#interruptLine;
      case 0x72:
        return 0x02; // SMRAM: D_LCK 0, G_SMRAME 0, C_BASE_SEG 010 (QEMU's reset value)
      default:
        return 0; // status, programming interface, header type 0, BIST, BARs, chipset regs
    }
  }

  #writeByte(off: number, v: number): void {
    switch (off) {
      case 0x04:
        this.#command = (this.#command & 0xff00) | (v & COMMAND_WMASK & 0xff);
        break;
      case 0x05:
        this.#command = (this.#command & 0x00ff) | ((v << 8) & COMMAND_WMASK & 0xff00);
        break;
      case 0x0c:
        this.#cacheLine = v;
        break;
      case 0x0d:
        this.#latency = v;
        break;
      case 0x3c:
        this.#interruptLine = v;
        break;
    }
  }

  saveState(): PciState {
    return {
      address: this.#address,
      command: this.#command,
      cacheLine: this.#cacheLine,
      latency: this.#latency,
      interruptLine: this.#interruptLine,
    };
  }

  loadState(s: PciState): void {
    this.#address = s.address;
    this.#command = s.command;
    this.#cacheLine = s.cacheLine;
    this.#latency = s.latency;
    this.#interruptLine = s.interruptLine;
  }
}
