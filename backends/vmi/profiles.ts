/**
 * VMI version profiles (docs/abi/vmi.md §6): which ROM the hypervisor offers.
 *
 * @module
 */

import { ROM_WINDOW_START } from "./abi.ts";
import { TIMER_CALLS, VMI_ROUTINES } from "./calls.ts";

/** A VMI ROM profile. */
export interface VmiProfile {
  version: string;
  /** Header version bytes (docs/abi/vmi.md §4). */
  apiMajor: number;
  apiMinor: number;
  /** Call numbers the ROM implements; `get_reloc` answers NONE for the others. */
  calls: readonly number[];
  /**
   * `virtual_top`: the lowest linear address the hypervisor keeps. VMware's value is UNVERIFIED
   * (docs/abi/vmi.md §4), so it is a profile field: default 0xFF000000 (16 MiB).
   */
  virtualTop: number;
  /** Physical address of the ROM (inside 0xC0000–0xDFFFF, 2 KiB aligned). */
  romBase: number;
  /** License string (the kernel accepts exactly "GPL" or "GPL v2"). */
  license: string;
  /**
   * Cycle counter frequency in Hz, or 0 for the machine's TSC rate (the host cycle counter;
   * that VMware's counters ran at the TSC rate is UNVERIFIED).
   */
  cycleHz: number;
}

const ALL = VMI_ROUTINES.map((r) => r.nr);

const BASE = {
  virtualTop: 0xff000000,
  romBase: ROM_WINDOW_START,
  license: "GPL v2",
  cycleHz: 0,
};

/** The profiles; `3.0` is the default. */
export const VMI_PROFILES: Readonly<Record<string, VmiProfile>> = {
  /** API 3.0, every defined call (Linux 2.6.21/2.6.22's ABI). */
  "3.0": { version: "3.0", apiMajor: 3, apiMinor: 0, calls: ALL, ...BASE },
  /**
   * API 3.0 without the timer block (GetCycleFrequency .. WallclockUpdated): the kernel keeps
   * its native PIT/LAPIC timers and RTC (docs/abi/vmi.md §5).
   */
  "3.0-notimer": {
    version: "3.0-notimer",
    apiMajor: 3,
    apiMinor: 0,
    calls: ALL.filter((n) => !TIMER_CALLS.includes(n)),
    ...BASE,
  },
  /**
   * A pre-mainline ROM (API 13.3, public sanos vmi.h): the header is modelled, its call table
   * (other numbering, 32-byte slots) is not, so `get_reloc` answers NONE. Mainline refuses the
   * major and runs native (docs/abi/vmi.md §1, §6).
   */
  "13.3": { version: "13.3", apiMajor: 13, apiMinor: 3, calls: [], ...BASE },
};

/** Registry entry data. */
export const VMI_VERSIONS = { versions: Object.keys(VMI_PROFILES), defaultVersion: "3.0" };
