/**
 * lguest version profiles (docs/abi/lguest.md §8): lguest has no versioning, so a profile is
 * the whole ABI of one kernel release — the hypercalls its host accepts, its `lguest_data`
 * layout and how its guest console reaches the launcher.
 *
 * @module
 */

import { LGUEST_DATA_2_6_23, LGUEST_DATA_2_6_24, type LguestDataLayout, Lhcall } from "./abi.ts";

/** What one release's host, launcher and guest agree on. */
export interface LguestProfile {
  version: string;
  /** Hypercall numbers the host handles; any other number kills the guest. */
  calls: readonly number[];
  layout: LguestDataLayout;
  /** The console: 2.6.23 hvc over SEND_DMA to the launcher; 2.6.24 early console NOTIFY. */
  console: "dma" | "notify";
  /**
   * The host's TSC is constant and stable, so LGUEST_INIT publishes `tsc_khz` (else 0 and the
   * guest falls back to jiffies). A host property, not a release one: configurable.
   */
  constantTsc: boolean;
  /**
   * 2.6.24 only: the host refreshes `lguest_data.time` at LGUEST_INIT and before each
   * hypercall it handles. When exactly the real host refreshes it is UNVERIFIED
   * (docs/abi/lguest.md §5.2); false disables the refresh after LGUEST_INIT.
   */
  timeOnHypercall: boolean;
  /**
   * The host kernel's timer frequency (CONFIG_HZ). Any host interrupt switches back to the
   * host, which then delivers pending guest interrupts (docs/abi/lguest.md §6), so an IRQ that
   * arrived while the guest had interrupts off is injected by the next host tick at the
   * latest. A host property, not a release one: 250 (the 2.6.23 default) is UNVERIFIED for any
   * given host; 0 models no host ticks (delivery only at hypercalls and traps).
   */
  hostHz: number;
}

const COMMON = [
  Lhcall.FLUSH_ASYNC,
  Lhcall.LGUEST_INIT,
  Lhcall.CRASH,
  Lhcall.LOAD_GDT,
  Lhcall.NEW_PGTABLE,
  Lhcall.FLUSH_TLB,
  Lhcall.LOAD_IDT_ENTRY,
  Lhcall.SET_STACK,
  Lhcall.TS,
  Lhcall.SET_CLOCKEVENT,
  Lhcall.HALT,
  Lhcall.SET_PTE,
  Lhcall.SET_PMD,
  Lhcall.LOAD_TLS,
];

/** Every profile, by version. */
export const LGUEST_PROFILES: Readonly<Record<string, LguestProfile>> = {
  "2.6.23": {
    version: "2.6.23",
    calls: [...COMMON, Lhcall.GET_WALLCLOCK, Lhcall.BIND_DMA, Lhcall.SEND_DMA].sort((a, b) =>
      a - b
    ),
    layout: LGUEST_DATA_2_6_23,
    console: "dma",
    constantTsc: true,
    timeOnHypercall: false,
    hostHz: 250,
  },
  "2.6.24": {
    version: "2.6.24",
    calls: [...COMMON, Lhcall.NOTIFY].sort((a, b) => a - b),
    layout: LGUEST_DATA_2_6_24,
    console: "notify",
    constantTsc: true,
    timeOnHypercall: true,
    hostHz: 250,
  },
};

/** Registry entry: versions and the default (2.6.23, the release lguest was merged in). */
export const LGUEST_VERSIONS = {
  versions: ["2.6.23", "2.6.24"] as const,
  defaultVersion: "2.6.23",
};
