/**
 * KVM's async page faults as a 6.1 host offers them (docs/abi/kvm.md §10). The guest registers
 * a per-vCPU `kvm_vcpu_pv_apf_data` with MSR_KVM_ASYNC_PF_EN and the vector of its 'page ready'
 * interrupt with MSR_KVM_ASYNC_PF_INT. A 'page not present' event needs a host that swapped the
 * guest's memory out, which pvreplay's host never does (guest RAM is always resident), so the
 * one event a guest meets is the one every enable queues: a wake-up of all waiting tasks
 * (token 0xffffffff), written to the token slot and signalled with the interrupt once the
 * local APIC is enabled and the slot is free; the guest frees the slot and writes
 * MSR_KVM_ASYNC_PF_ACK, which makes the host look at its queue again.
 *
 * The host's own record is KVM's per-vCPU state below; every step happens at an exit (the MSR
 * writes, an SVR write), an instruction-count position, so it is deterministic.
 *
 * @module
 */

import type { PhysicalMemory } from "../../core/memory.ts";
import {
  KVM_ASYNC_PF_DELIVERY_AS_INT,
  KVM_ASYNC_PF_DELIVERY_AS_PF_VMEXIT,
  KVM_ASYNC_PF_ENABLED,
  KVM_ASYNC_PF_RESERVED_MASK,
  KVM_ASYNC_PF_TOKEN_OFFSET,
  KVM_ASYNC_PF_WAKE_ALL,
  KvmFeature,
} from "./abi.ts";

/** KVM's async-PF state of one vCPU (`vcpu->arch.apf` and the completion queue). */
export interface AsyncPfState {
  /** `msr_en_val`: the last value MSR_KVM_ASYNC_PF_EN took (lo, hi). */
  en: [number, number];
  /** `msr_int_val`: the last value MSR_KVM_ASYNC_PF_INT took; bits 0-7 are the vector. */
  int: number;
  /** A wake-all waits in the completion queue (`async_pf.done`; an enable queues one). */
  queued: boolean;
}

/** The state after power-on and after INIT (`kvm_vcpu_reset` clears both MSRs and the queue). */
export function asyncPfAtReset(): AsyncPfState {
  return { en: [0, 0], int: 0, queued: false };
}

const ON = KVM_ASYNC_PF_ENABLED | KVM_ASYNC_PF_DELIVERY_AS_INT;

/**
 * `kvm_pv_async_pf_enabled`: enabled with interrupt delivery. Since 5.10 an enable without
 * bit 3 is accepted and delivers nothing ('page ready' as a #PF is gone).
 */
function enabled(s: AsyncPfState): boolean {
  return (s.en[0] & ON) === ON;
}

/** Physical address of the registered structure (bits 63-6 of the MSR). */
export function asyncPfDataPa(s: AsyncPfState): number {
  return (s.en[0] & ~0x3f) >>> 0;
}

/**
 * WRMSR of MSR_KVM_ASYNC_PF_EN (`kvm_pv_enable_async_pf`); false = #GP. Reserved bits 4-5, or
 * a delivery bit whose feature the profile lacks, fault with the MSR unchanged. Otherwise the
 * value is kept before the structure is looked at, so enabling at an address that is not guest
 * RAM faults with the new value already in the MSR (KVM's order). An enable queues a wake-all
 * unless one already waits; a disable drops the queue.
 */
export function writeAsyncPfEn(
  s: AsyncPfState,
  lo: number,
  hi: number,
  features: number,
  mem: PhysicalMemory,
): boolean {
  if ((lo & KVM_ASYNC_PF_RESERVED_MASK) !== 0) return false;
  const needs = (bit: number, feature: number) => (lo & bit) !== 0 && (features & feature) === 0;
  if (needs(KVM_ASYNC_PF_DELIVERY_AS_PF_VMEXIT, KvmFeature.ASYNC_PF_VMEXIT)) return false;
  if (needs(KVM_ASYNC_PF_DELIVERY_AS_INT, KvmFeature.ASYNC_PF_INT)) return false;
  s.en = [lo >>> 0, hi >>> 0];
  if (!enabled(s)) {
    s.queued = false;
    return true;
  }
  // The host caches the first 8 bytes (flags and token) of the structure.
  if (hi !== 0 || !mem.isPlainRam(asyncPfDataPa(s), 8)) return false;
  s.queued = true;
  return true;
}

/** WRMSR of MSR_KVM_ASYNC_PF_INT (`kvm_pv_enable_async_pf_int`): bits 8-63 reserved (#GP). */
export function writeAsyncPfInt(s: AsyncPfState, lo: number, hi: number): boolean {
  if (hi !== 0 || (lo >>> 8) !== 0) return false;
  s.int = lo >>> 0;
  return true;
}

/** A 'page ready' the host delivered: the structure's GPA, the token and the vector. */
export interface PageReady {
  pa: number;
  token: number;
  vector: number;
}

/**
 * `kvm_check_async_pf_completion`, run at the entry after a request (an enable, an ACK with
 * bit 0 set, an SVR write that leaves the APIC enabled): takes the waiting wake-all if async PF
 * is off (it is then dropped) or the local APIC is enabled and the token slot reads 0; writes
 * the token and returns what to inject, or null when nothing was delivered.
 */
export function deliverAsyncPf(
  s: AsyncPfState,
  apicEnabled: boolean,
  mem: PhysicalMemory,
): PageReady | null {
  if (!s.queued) return null;
  const pa = asyncPfDataPa(s);
  const slot = pa + KVM_ASYNC_PF_TOKEN_OFFSET;
  if (enabled(s) && (!apicEnabled || mem.view.getUint32(slot, true) !== 0)) return null;
  s.queued = false;
  // Off, or re-registered where the host cannot write (the enable faulted): dropped.
  if (!enabled(s) || !mem.isPlainRam(pa, 8)) return null;
  mem.view.setUint32(slot, KVM_ASYNC_PF_WAKE_ALL, true);
  mem.noteWrite(slot, 4);
  return { pa, token: KVM_ASYNC_PF_WAKE_ALL, vector: s.int & 0xff };
}
