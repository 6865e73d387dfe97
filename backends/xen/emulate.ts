/**
 * What Xen emulates for a ring-1 PV kernel instead of reflecting the fault
 * (docs/abi/xen.md §8): the forced-emulation CPUID (`ud2a; .ascii "xen"; cpuid`) with the
 * hypervisor's feature masks and its 0x40000000 leaves, and the few privileged instructions a
 * PV kernel may still execute.
 *
 * @module
 */

import { nativeCpuid } from "../../core/cpu/system.ts";
import type { XenProfile } from "./profiles.ts";

/** `ud2a; .ascii "xen"` (XEN_EMULATE_PREFIX), then `cpuid` (docs/abi/xen.md §8). */
export const FORCED_CPUID = [0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2] as const;

/**
 * Leaf-1 EDX bits Xen clears on the forced path for an unprivileged PV domU: VME 1, DE 2,
 * PSE 3, PGE 13, SEP 11 (no supervisor_mode_kernel), MTRR 12 (docs/abi/xen.md §8).
 */
export const XEN_CPUID_1_EDX_MASK = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 11) | (1 << 12) |
  (1 << 13);

/** "XenVMMXenVMM" in EBX, ECX, EDX (docs/abi/xen.md §8). */
const SIGNATURE = [0x566e6558, 0x65584d4d, 0x4d4d566e];

/**
 * The domain's CPUID answer through the forced-emulation prefix, written to `out` as
 * EAX, EBX, ECX, EDX.
 */
export function xenCpuid(p: XenProfile, leaf: number, subleaf: number, out: Int32Array): void {
  if (p.cpuidLeaves && leaf >= 0x40000000 && leaf <= 0x40000002) {
    out.fill(0);
    if (leaf === 0x40000000) {
      out[0] = 0x40000002;
      out.set(SIGNATURE, 1);
    } else if (leaf === 0x40000001) {
      out[0] = (p.major << 16) | p.minor;
    } else {
      out[0] = 1; // one hypercall page
      out[1] = 0x40000000; // the MSR an HVM guest writes to get it
    }
    return;
  }
  nativeCpuid(leaf, subleaf, out);
  if (leaf === 1) out[3] &= ~XEN_CPUID_1_EDX_MASK;
}

/** True when `bytes` (read at the faulting EIP) start with the forced-CPUID sequence. */
export function isForcedCpuid(bytes: readonly number[]): boolean {
  return FORCED_CPUID.every((b, i) => bytes[i] === b);
}

/** A guest store the writable-page-tables assist emulates: where, what, and its length. */
export interface DecodedStore {
  ea: number;
  value: number;
  length: number;
}

/**
 * Decodes `mov r32,m32` (89 /r) or `mov $imm32,m32` (C7 /0) with 32-bit addressing and an
 * optional DS/ES prefix (flat segments): the stores a PV kernel uses to write a PTE
 * (docs/abi/xen.md §3). Null for anything else (Xen then reflects the fault).
 */
export function decodeStore(bytes: readonly number[], regs: Int32Array): DecodedStore | null {
  let i = 0;
  if (bytes[i] === 0x3e || bytes[i] === 0x26) i++;
  const op = bytes[i++];
  if (op !== 0x89 && op !== 0xc7) return null;
  const m = bytes[i++], mod = m >> 6, reg = (m >> 3) & 7, rm = m & 7;
  if (mod === 3 || (op === 0xc7 && reg !== 0)) return null;
  let ea = 0;
  if (rm === 4) {
    const sib = bytes[i++], base = sib & 7, index = (sib >> 3) & 7;
    if (index !== 4) ea += regs[index] * (1 << (sib >> 6));
    if (base === 5 && mod === 0) ea += le32(bytes, i), i += 4;
    else ea += regs[base];
  } else if (rm === 5 && mod === 0) {
    ea += le32(bytes, i);
    i += 4;
  } else {
    ea += regs[rm];
  }
  if (mod === 1) ea += (bytes[i++] << 24) >> 24;
  else if (mod === 2) ea += le32(bytes, i), i += 4;
  let value: number;
  if (op === 0x89) value = regs[reg] >>> 0;
  else value = le32(bytes, i) >>> 0, i += 4;
  return { ea: ea >>> 0, value, length: i };
}

function le32(b: readonly number[], i: number): number {
  return (b[i] | b[i + 1] << 8 | b[i + 2] << 16 | b[i + 3] << 24) | 0;
}

/** A ring-1 privileged instruction Xen emulates: its name (an ExitKind name) and length. */
export interface PrivilegedOp {
  name: "wbinvd" | "clts";
  length: number;
}

/**
 * The privileged instructions the model emulates for a ring-1 kernel (docs/abi/xen.md §8):
 * WBINVD (ignored for a domain without cache-flush rights) and CLTS (clears the virtual
 * CR0.TS, as fpu_taskswitch(0)). Null for everything else: the #GP is reflected.
 */
export function decodePrivileged(bytes: readonly number[]): PrivilegedOp | null {
  if (bytes[0] !== 0x0f) return null;
  if (bytes[1] === 0x09) return { name: "wbinvd", length: 2 };
  if (bytes[1] === 0x06) return { name: "clts", length: 2 };
  return null;
}
