/**
 * Xen time for a PV domU (docs/abi/xen.md §5): the vcpu_time_info in shared_info (same layout
 * as the pvclock structure KVM later adopted) and the wall clock, rewritten by the hypervisor
 * at deterministic points (boot, each timer event), with the version seqlock kept even.
 *
 * @module
 */

import type { VirtualClock } from "../../core/clock.ts";
import type { PhysicalMemory } from "../../core/memory.ts";
import { timeScale, writeVcpuTimeInfo, writeWallClock } from "../common/pvclock.ts";
import { SH } from "./event_channels.ts";

/** The hypervisor's writer of a domain's time fields. */
export class XenTime {
  #version = 0;
  #wcVersion = 0;
  constructor(
    readonly mem: PhysicalMemory,
    readonly shared: number,
    readonly clock: VirtualClock,
    readonly epoch: number,
  ) {}

  /** Rewrites vcpu_info[0].time from the current TSC and system time (ns since boot). */
  update(): { tsc: bigint; ns: number } {
    this.#version = (this.#version + 2) >>> 0;
    const tsc = this.clock.tsc();
    const ns = this.clock.nanos();
    writeVcpuTimeInfo(this.mem, this.shared + SH.time, {
      version: this.#version,
      tscTimestamp: tsc,
      systemTime: BigInt(ns),
      scale: timeScale(this.clock.tscHz),
      flags: 0, // Xen 3.x: the byte is padding
    });
    return { tsc, ns };
  }

  /** Writes the wall clock at system time 0 (wc_sec/wc_nsec; docs/abi/xen.md §5). */
  wallClock(): void {
    this.#wcVersion = (this.#wcVersion + 2) >>> 0;
    writeWallClock(this.mem, this.shared + SH.wcVersion, this.#wcVersion, this.epoch, 0);
  }
}
