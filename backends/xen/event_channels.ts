/**
 * Xen event channels for one vCPU (docs/abi/xen.md §5): ports, their binding, and the
 * pending/mask bits with the two-level selector in shared_info, and the upcall they raise.
 *
 * @module
 */

import type { PhysicalMemory } from "../../core/memory.ts";

/** EVTCHNSTAT_* (event_channel.h). */
export const EvtchnStat = { closed: 0, unbound: 1, interdomain: 2, pirq: 3, virq: 4, ipi: 5 };
export const NR_EVENT_CHANNELS = 1024;
/** shared_info offsets (xen.h x86_32; docs/abi/xen.md §5). */
export const SH = {
  upcallPending: 0,
  upcallMask: 1,
  pendingSel: 4,
  cr2: 8,
  time: 16,
  evtchnPending: 2048,
  evtchnMask: 2176,
  wcVersion: 2304,
  wcSec: 2308,
  wcNsec: 2312,
} as const;

/** One port's binding. */
export interface Port {
  status: number;
  /** VIRQ number for virq ports, remote domain for interdomain, -1 otherwise. */
  info: number;
}

/** The event-channel table of the domain, over its shared_info page. */
export class EventChannels {
  ports: Port[] = [{ status: EvtchnStat.closed, info: -1 }];
  constructor(readonly mem: PhysicalMemory, readonly shared: number) {}

  /** Allocates the lowest free port with a binding; -1 if none is free. */
  alloc(status: number, info: number): number {
    for (let p = 1; p < NR_EVENT_CHANNELS; p++) {
      if (!this.ports[p] || this.ports[p].status === EvtchnStat.closed) {
        this.ports[p] = { status, info };
        return p;
      }
    }
    return -1;
  }

  /** The port bound to `virq`, or -1. */
  portOfVirq(virq: number): number {
    return this.ports.findIndex((p) => p && p.status === EvtchnStat.virq && p.info === virq);
  }

  isOpen(port: number): boolean {
    return port > 0 && port < NR_EVENT_CHANNELS && !!this.ports[port] &&
      this.ports[port].status !== EvtchnStat.closed;
  }

  close(port: number): void {
    this.ports[port] = { status: EvtchnStat.closed, info: -1 };
  }

  #bit(base: number, port: number): [number, number] {
    return [this.shared + base + (port >> 5) * 4, 1 << (port & 31)];
  }

  /**
   * Marks `port` pending; if it was not pending and is not masked, sets the selector bit and
   * evtchn_upcall_pending (evtchn_set_pending). Returns true if an upcall became pending.
   */
  setPending(port: number): boolean {
    const m = this.mem;
    const [pa, bit] = this.#bit(SH.evtchnPending, port);
    const old = m.read32(pa);
    m.write32(pa, old | bit);
    if (old & bit) return false;
    const [ma, mbit] = this.#bit(SH.evtchnMask, port);
    if (m.read32(ma) & mbit) return false;
    return this.#raise(port);
  }

  #raise(port: number): boolean {
    const m = this.mem;
    const sel = this.shared + SH.pendingSel;
    m.write32(sel, m.read32(sel) | 1 << (port >> 5));
    const was = m.read8(this.shared + SH.upcallPending);
    m.write8(this.shared + SH.upcallPending, 1);
    return was === 0;
  }

  /** EVTCHNOP_unmask: clears the mask; a pending port raises the upcall again. */
  unmask(port: number): void {
    const m = this.mem;
    const [ma, mbit] = this.#bit(SH.evtchnMask, port);
    m.write32(ma, m.read32(ma) & ~mbit);
    const [pa, bit] = this.#bit(SH.evtchnPending, port);
    if (m.read32(pa) & bit) this.#raise(port);
  }

  /** True when an upcall is due: evtchn_upcall_pending set and not masked. */
  upcallDue(): boolean {
    return this.mem.read8(this.shared + SH.upcallPending) !== 0 &&
      this.mem.read8(this.shared + SH.upcallMask) === 0;
  }

  get mask(): number {
    return this.mem.read8(this.shared + SH.upcallMask);
  }

  set mask(v: number) {
    this.mem.write8(this.shared + SH.upcallMask, v);
  }
}
