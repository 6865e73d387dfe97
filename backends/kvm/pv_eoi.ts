/**
 * KVM's paravirtual EOI (docs/abi/kvm.md §9): the guest registers a 32-bit word with
 * MSR_KVM_PV_EOI_EN; when KVM injects an interrupt that nothing else waits behind (IRR empty,
 * the vector KVM caches as highest in service, not one the I/O APIC needs an EOI for), it sets
 * bit 0 of the word, and a guest that finds the bit set clears it instead of writing the APIC's
 * EOI register. At the vCPU's next exit the host reads the word: still set, the host clears it
 * (the guest will write the EOI register itself); clear, the host performs the EOI.
 *
 * Exits are instruction-count positions (the exits KVM takes, and the kick a new request makes),
 * so every step is deterministic. The host's own record is KVM's per-vCPU state below.
 *
 * @module
 */

import type { PhysicalMemory } from "../../core/memory.ts";
import type { Platform } from "../../core/platform.ts";
import type { LocalApic } from "../../core/devices/lapic.ts";
import {
  IOAPIC_PIT_PIN,
  IOAPIC_RTC_PIN,
  KVM_PV_EOI_ALIGN_MASK,
  KVM_PV_EOI_ENABLED,
} from "./abi.ts";

/** KVM's PV EOI state of one vCPU. */
export interface PvEoiState {
  /** `pv_eoi.msr_val`: the last accepted MSR_KVM_PV_EOI_EN value (lo, hi). */
  msr: [number, number];
  /** KVM_APIC_PV_EOI_PENDING: the host set the guest's bit and has not looked at it since. */
  pending: boolean;
  /**
   * `highest_isr_cache`: the vector the APIC last moved to in-service, -1 after any EOI (KVM
   * sets it in `apic_set_isr`, forgets it in `apic_clear_isr`).
   */
  isrCache: number;
}

/** The state after power-on and after INIT (`kvm_lapic_reset` zeroes `msr_val`). */
export function pvEoiAtReset(): PvEoiState {
  return { msr: [0, 0], pending: false, isrCache: -1 };
}

/** Physical address of the registered word, or -1 when PV EOI is off. */
function wordPa(s: PvEoiState): number {
  return (s.msr[0] & 1) === 1 ? (s.msr[0] & ~3) >>> 0 : -1;
}

/**
 * WRMSR of MSR_KVM_PV_EOI_EN (`kvm_lapic_set_pv_eoi`): false = #GP, the state unchanged, for an
 * unaligned GPA or for enabling at one that is not guest RAM; disabling takes any aligned value.
 */
export function writePvEoiMsr(
  s: PvEoiState,
  lo: number,
  hi: number,
  mem: PhysicalMemory,
): boolean {
  if ((lo & KVM_PV_EOI_ALIGN_MASK) !== 0) return false;
  const enable = (lo & 1) === 1;
  // The host caches one byte of the word (the length KVM registers).
  if (enable && (hi !== 0 || !mem.isPlainRam((lo & ~3) >>> 0, 1))) return false;
  s.msr = [lo >>> 0, hi >>> 0];
  return true;
}

/**
 * Whether KVM's I/O APIC wants the EOI of `vector` on this APIC (`kvm_ioapic_scan_entry`): an
 * entry with that vector, masked or not, addressing the APIC, that is level-triggered or sits on
 * a pin the host tracks EOIs of (the RTC's, the PIT's).
 */
function ioapicHandles(pf: Platform, apic: LocalApic, vector: number): boolean {
  return pf.ioapicRoutes().some((r) =>
    r.vector === vector &&
    (r.level || r.pin === IOAPIC_RTC_PIN || r.pin === IOAPIC_PIT_PIN) &&
    apic.addressedBy(r.logical, r.dest)
  );
}

/**
 * The entry that injects an interrupt or NMI on vCPU `index` (`apic_sync_pv_eoi_to_guest`):
 * caches a vector the local APIC just put in service, then sets the guest's bit when PV EOI
 * is on, IRR is empty, the cache names a vector and the I/O APIC does not need its EOI.
 */
export function pvEoiOnInjection(
  s: PvEoiState,
  index: number,
  vector: number,
  pf: Platform,
  mem: PhysicalMemory,
): void {
  const apic = pf.localApic(index);
  // From the local APIC (not the 8259A through LINT0, not an NMI): it is now highest in ISR.
  if (apic.highestInService() === vector) s.isrCache = vector;
  const pa = wordPa(s);
  if (pa < 0 || apic.irrPending() || s.isrCache < 0) return;
  if (ioapicHandles(pf, apic, s.isrCache)) return;
  mem.view.setUint8(pa, KVM_PV_EOI_ENABLED);
  mem.noteWrite(pa, 1);
  s.pending = true;
}

/**
 * An exit of vCPU `index` while the host's bit is pending (`apic_sync_pv_eoi_from_guest`,
 * before the exit is handled): the vector the host retired for the guest (-1 if none was in
 * service), or null when the guest had not taken the bit, which the host then clears.
 */
export function pvEoiAtExit(
  s: PvEoiState,
  index: number,
  pf: Platform,
  mem: PhysicalMemory,
): number | null {
  s.pending = false;
  const pa = wordPa(s);
  if ((mem.view.getUint8(pa) & KVM_PV_EOI_ENABLED) !== 0) {
    mem.view.setUint8(pa, 0);
    mem.noteWrite(pa, 1);
    return null;
  }
  s.isrCache = -1;
  return pf.apicEoi(index);
}
