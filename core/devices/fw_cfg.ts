/**
 * QEMU firmware configuration device, I/O-port interface (selector 0x510, data 0x511).
 *
 * Per QEMU `docs/specs/fw_cfg.rst`: the 16-bit selector (little-endian on the I/O port) picks an
 * item and resets the data offset; each 8-bit data read returns the next byte, 0 past the end
 * or for an absent item; data writes are ignored (read-only items). As QEMU's combined I/O
 * region, an 8-bit read at 0x510 also reads data. Keys (QEMU `include/standard-headers/linux/
 * qemu_fw_cfg.h`): FW_CFG_SIGNATURE 0x00 = "QEMU", FW_CFG_ID 0x01 = u32 LE 1 (traditional
 * interface, no DMA), FW_CFG_RAM_SIZE 0x03 = u64 LE, FW_CFG_NB_CPUS 0x05 = u16 LE,
 * FW_CFG_MAX_CPUS 0x0F = u16 LE. Integers are little-endian as QEMU's `fw_cfg_add_i16/i32/i64`.
 *
 * @module
 */

import type { AccessSize, PortDevice } from "../bus.ts";
import type { Stateful } from "./stateful.ts";

/** Selector keys used here. */
export const FwCfgKey = {
  signature: 0x0000,
  id: 0x0001,
  ramSize: 0x0003,
  nbCpus: 0x0005,
  maxCpus: 0x000f,
} as const;

/** Serialised fw_cfg state (the items are configuration, rebuilt by the machine). */
export interface FwCfgState {
  selector: number;
  offset: number;
}

function le(value: bigint, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}

/**
 * fw_cfg.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FwCfg } from "./fw_cfg.ts";
 * const fw = new FwCfg({ ramBytes: 32 << 20, cpus: 1 });
 * fw.portWrite(0x510, 2, 0x0000);
 * const sig = [0, 1, 2, 3].map(() => String.fromCharCode(fw.portRead(0x511, 1))).join("");
 * assert.equal(sig, "QEMU");
 * ```
 */
export class FwCfg implements PortDevice, Stateful<FwCfgState> {
  readonly items: Map<number, Uint8Array> = new Map();
  #selector = 0;
  #offset = 0;

  constructor(o: { ramBytes: number; cpus: number }) {
    this.items.set(FwCfgKey.signature, new TextEncoder().encode("QEMU"));
    this.items.set(FwCfgKey.id, le(1n, 4));
    this.items.set(FwCfgKey.ramSize, le(BigInt(o.ramBytes), 8));
    this.items.set(FwCfgKey.nbCpus, le(BigInt(o.cpus), 2));
    this.items.set(FwCfgKey.maxCpus, le(BigInt(o.cpus), 2));
  }

  portRead(_port: number, size: AccessSize): number {
    if (size !== 1) return 0;
    const item = this.items.get(this.#selector);
    if (!item || this.#offset >= item.length) return 0;
    return item[this.#offset++];
  }

  portWrite(port: number, size: AccessSize, value: number): void {
    if (port === 0x510 && size === 2) {
      this.#selector = value & 0xffff;
      this.#offset = 0;
    }
  }

  saveState(): FwCfgState {
    return { selector: this.#selector, offset: this.#offset };
  }

  loadState(s: FwCfgState): void {
    this.#selector = s.selector;
    this.#offset = s.offset;
  }
}
