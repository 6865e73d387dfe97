/**
 * Xen 32-bit PV version profiles (docs/abi/xen.md §7): which hypercalls each release has and
 * how it answers version queries, so an old hypervisor answers as the old one did.
 *
 * @module
 */

import {
  EXIT_GUEST_CRASHED,
  EXIT_GUEST_SUSPENDED,
  EXIT_RESET,
  EXIT_SUCCESS,
} from "../../core/exit_status.ts";

/** One Xen release as a 32-bit non-PAE PV guest sees it. */
export interface XenProfile {
  version: string;
  /** XENVER_version: major << 16 | minor. */
  major: number;
  minor: number;
  /** XENVER_extraversion string (e.g. ".0"). */
  extra: string;
  /** The domain builder fills the hypercall transfer page (docs/abi/xen.md §2; from 3.0.2). */
  hypercallPage: boolean;
  /** sched_op (29) with a pointer argument exists (3.0.2); before, only sched_op_compat (6). */
  schedOpNew: boolean;
  /** event_channel_op (32) / physdev_op (33) with (cmd, arg) (3.0.3). */
  eventChannelOpNew: boolean;
  /** VCPUOP_set_periodic_timer .. VCPUOP_stop_singleshot_timer (3.1). */
  vcpuTimers: boolean;
  /** The forced-emulation CPUID prefix is emulated (3.0.2); before, its ud2 is a #UD. */
  forcedCpuid: boolean;
  /** CPUID 0x40000000..2 "XenVMMXenVMM" leaves on the forced path (3.0.3). */
  cpuidLeaves: boolean;
  /** start_info magic. */
  magic: string;
}

const base = {
  magic: "xen-3.0-x86_32",
  major: 3,
};

/** Every profile, by version (docs/abi/xen.md §7). */
export const XEN_PROFILES: Readonly<Record<string, XenProfile>> = {
  "3.0.0": {
    ...base,
    version: "3.0.0",
    minor: 0,
    extra: ".0",
    hypercallPage: false,
    schedOpNew: false,
    eventChannelOpNew: false,
    vcpuTimers: false,
    forcedCpuid: false,
    cpuidLeaves: false,
  },
  "3.0.2": {
    ...base,
    version: "3.0.2",
    minor: 0,
    extra: ".2",
    hypercallPage: true,
    schedOpNew: true,
    eventChannelOpNew: false,
    vcpuTimers: false,
    forcedCpuid: true,
    cpuidLeaves: false,
  },
  "3.0.3": {
    ...base,
    version: "3.0.3",
    minor: 0,
    extra: ".3",
    hypercallPage: true,
    schedOpNew: true,
    eventChannelOpNew: true,
    vcpuTimers: false,
    forcedCpuid: true,
    cpuidLeaves: true,
  },
  "3.0.4": {
    ...base,
    version: "3.0.4",
    minor: 0,
    extra: ".4",
    hypercallPage: true,
    schedOpNew: true,
    eventChannelOpNew: true,
    vcpuTimers: false,
    forcedCpuid: true,
    cpuidLeaves: true,
  },
  "3.1": {
    ...base,
    version: "3.1",
    minor: 1,
    extra: ".0",
    hypercallPage: true,
    schedOpNew: true,
    eventChannelOpNew: true,
    vcpuTimers: true,
    forcedCpuid: true,
    cpuidLeaves: true,
  },
  "3.2": {
    ...base,
    version: "3.2",
    minor: 2,
    extra: ".0",
    hypercallPage: true,
    schedOpNew: true,
    eventChannelOpNew: true,
    vcpuTimers: true,
    forcedCpuid: true,
    cpuidLeaves: true,
  },
};

/** Versions and the default for the registry. */
export const XEN_VERSIONS = {
  versions: ["3.0.0", "3.0.2", "3.0.3", "3.0.4", "3.1", "3.2"] as const,
  defaultVersion: "3.1",
};

/**
 * Process exit statuses for SCHEDOP_shutdown reasons (proposed in docs/abi/xen.md §6):
 * poweroff = success, reboot = the reset status native uses, suspend and crash their own
 * (core/exit_status.ts).
 */
export const SHUTDOWN_EXIT: Readonly<Record<number, number>> = {
  0: EXIT_SUCCESS, // SHUTDOWN_poweroff
  1: EXIT_RESET, // SHUTDOWN_reboot
  2: EXIT_GUEST_SUSPENDED, // SHUTDOWN_suspend
  3: EXIT_GUEST_CRASHED, // SHUTDOWN_crash
};
