/**
 * pvclock: the time structures KVM (and later Xen) share with the guest (docs/abi/kvm.md §5).
 *
 * `pvclock_vcpu_time_info` (32 bytes, packed): u32 version @0, u32 pad0 @4, u64 tsc_timestamp @8,
 * u64 system_time @16, u32 tsc_to_system_mul @24, s8 tsc_shift @28, u8 flags @29, pad @30.
 * `pvclock_wall_clock` (12 bytes): u32 version @0, u32 sec @4, u32 nsec @8.
 *
 * @module
 */

import type { PhysicalMemory } from "../../core/memory.ts";

/** Size of `pvclock_vcpu_time_info` (docs/abi/kvm.md §5). */
export const PVCLOCK_VCPU_TIME_INFO_SIZE = 32;
/** Size of `pvclock_wall_clock` (docs/abi/kvm.md §5). */
export const PVCLOCK_WALL_CLOCK_SIZE = 12;

/** TSC-to-nanoseconds scale as the guest applies it. */
export interface TimeScale {
  /** 32.32 fixed-point multiplier. */
  mul: number;
  /** Pre-shift of the TSC delta (negative = right shift). */
  shift: number;
}

const NSEC_PER_SEC = 1_000_000_000n;
const HI32 = 0xffff_ffff_0000_0000n;

/**
 * Computes (mul, shift) such that ns = ((delta << shift) * mul) >> 32 (docs/abi/kvm.md §5) for a TSC
 * of `tscHz`. The search is the one hosts use (Xen `set_time_scale`, KVM `kvm_get_time_scale`):
 * normalise the TSC rate into (ns_per_sec/2, ns_per_sec] by shifting, then take the exact 32.32
 * fraction, so the result is a pure function of `tscHz`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { timeScale } from "./pvclock.ts";
 * const s = timeScale(1_000_000_000);
 * assert.deepEqual([s.mul, s.shift], [0x80000000, 1]);
 * ```
 */
export function timeScale(tscHz: number): TimeScale {
  if (!Number.isSafeInteger(tscHz) || tscHz <= 0) {
    throw new RangeError(`pvclock: TSC frequency ${tscHz} Hz must be a positive integer`);
  }
  let tps = BigInt(tscHz);
  let scaled = NSEC_PER_SEC;
  let shift = 0;
  while (tps > scaled * 2n || (tps & HI32) !== 0n) {
    tps >>= 1n;
    shift--;
  }
  while (tps <= scaled || (scaled & HI32) !== 0n) {
    if ((scaled & HI32) !== 0n || (tps & 0x8000_0000n) !== 0n) scaled >>= 1n;
    else tps <<= 1n;
    shift++;
  }
  return { mul: Number((scaled << 32n) / tps), shift };
}

/** The guest-side conversion of docs/abi/kvm.md §5: scaled TSC delta in ns. */
export function scaleDelta(delta: bigint, scale: TimeScale): bigint {
  const d = scale.shift >= 0 ? delta << BigInt(scale.shift) : delta >> BigInt(-scale.shift);
  return (d * BigInt(scale.mul)) >> 32n;
}

/** One `pvclock_vcpu_time_info` record. */
export interface VcpuTimeInfo {
  version: number;
  tscTimestamp: bigint;
  systemTime: bigint;
  scale: TimeScale;
  flags: number;
}

/** Writes `info` at guest-physical `pa` (the caller has checked it is plain RAM). */
export function writeVcpuTimeInfo(mem: PhysicalMemory, pa: number, info: VcpuTimeInfo): void {
  const v = mem.view;
  v.setUint32(pa, info.version >>> 0, true);
  v.setUint32(pa + 4, 0, true);
  v.setBigUint64(pa + 8, BigInt.asUintN(64, info.tscTimestamp), true);
  v.setBigUint64(pa + 16, BigInt.asUintN(64, info.systemTime), true);
  v.setUint32(pa + 24, info.scale.mul >>> 0, true);
  v.setInt8(pa + 28, info.scale.shift);
  v.setUint8(pa + 29, info.flags);
  v.setUint16(pa + 30, 0, true);
  mem.noteWrite(pa, PVCLOCK_VCPU_TIME_INFO_SIZE);
}

/** Writes a `pvclock_wall_clock` {version, sec, nsec} at `pa`. */
export function writeWallClock(
  mem: PhysicalMemory,
  pa: number,
  version: number,
  sec: number,
  nsec: number,
): void {
  mem.view.setUint32(pa, version >>> 0, true);
  mem.view.setUint32(pa + 4, sec >>> 0, true);
  mem.view.setUint32(pa + 8, nsec >>> 0, true);
  mem.noteWrite(pa, PVCLOCK_WALL_CLOCK_SIZE);
}
