/**
 * The model-specific registers of the modelled P6-class CPU beyond the ones `system.ts` keeps in
 * CPU fields (TSC, APIC base, SYSENTER): the MTRRs, IA32_MISC_ENABLE and IA32_BIOS_SIGN_ID.
 *
 * Sources: SDM Vol.3 11.11 (MTRRs: IA32_MTRRCAP 0xFE, IA32_MTRR_DEF_TYPE 0x2FF, eight variable
 * pairs IA32_MTRR_PHYSBASEn/PHYSMASKn 0x200-0x20F, fixed-range 0x250, 0x258, 0x259, 0x268-0x26F;
 * a write of a reserved bit or an undefined memory type is #GP(0)); SDM Vol.4 Table 2-2
 * (IA32_MISC_ENABLE 0x1A0; IA32_BIOS_SIGN_ID 0x8B). The P6 physical-address width is 36 bits,
 * so bits 63:36 of the base and mask registers are reserved.
 *
 * pvreplay's choices, where the SDM leaves the value to the part: MTRRCAP = 8 variable ranges,
 * fixed ranges and write-combining supported (0x508), no SMRR; everything resets to 0 (MTRRs
 * disabled, all memory UC, as at power-on); IA32_MISC_ENABLE reads fast strings enabled (bit 0,
 * writable) with BTS and PEBS unavailable (bits 11, 12, read-only; this CPU has neither), other
 * writes ignored (QEMU reads 1 here and keeps nothing else either); IA32_BIOS_SIGN_ID reads
 * microcode revision 0 (no update loaded) and ignores writes. CPUID leaf 1 does not advertise
 * MTRR: the reference traces record the CPUID leaves, so that bit changes with a re-bless.
 *
 * @module
 */

/** MSR numbers. */
export const MSR_BIOS_SIGN_ID = 0x8b;
export const MSR_MTRRCAP = 0xfe;
export const MSR_MISC_ENABLE = 0x1a0;
export const MSR_MTRR_PHYS_BASE0 = 0x200;
export const MSR_MTRR_FIX64K = 0x250;
export const MSR_MTRR_FIX16K_80000 = 0x258;
export const MSR_MTRR_FIX16K_A0000 = 0x259;
export const MSR_MTRR_FIX4K_C0000 = 0x268;
export const MSR_MTRR_DEF_TYPE = 0x2ff;

/** VCNT 8, FIX (bit 8), WC (bit 10). */
export const MTRRCAP_VALUE = 0x508;
const MISC_FAST_STRINGS = 1;
const MISC_READ_ONLY = (1 << 11) | (1 << 12);

/** Slots of {@link MsrFile.values}: [lo, hi] pairs. */
const SLOT_DEF_TYPE = 0;
const SLOT_VARIABLE = 1; // 16 registers
const SLOT_FIXED = 17; // 11 registers
const SLOT_MISC = 28;
const SLOTS = 29;

/** Memory types valid in an MTRR (SDM Vol.3 Table 11-8): UC 0, WC 1, WT 4, WP 5, WB 6. */
function validType(t: number): boolean {
  return t === 0 || t === 1 || (t >= 4 && t <= 6);
}

function fixedSlot(idx: number): number {
  if (idx === MSR_MTRR_FIX64K) return SLOT_FIXED;
  if (idx === MSR_MTRR_FIX16K_80000) return SLOT_FIXED + 1;
  if (idx === MSR_MTRR_FIX16K_A0000) return SLOT_FIXED + 2;
  if (idx >= MSR_MTRR_FIX4K_C0000 && idx <= MSR_MTRR_FIX4K_C0000 + 7) {
    return SLOT_FIXED + 3 + idx - MSR_MTRR_FIX4K_C0000;
  }
  return -1;
}

/**
 * The MSR file: MTRRs and IA32_MISC_ENABLE (the part of it that is state).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MsrFile, MSR_MTRRCAP } from "./msr.ts";
 * const f = new MsrFile();
 * const out = new Int32Array(2);
 * assert.ok(f.read(MSR_MTRRCAP, out));
 * assert.equal(out[0], 0x508);
 * assert.equal(f.write(0x2ff, 0xc06, 0), "ok"); // MTRRs and fixed ranges on, default WB
 * assert.equal(f.write(0x2ff, 0x2, 0), "gp"); // type 2 is reserved
 * ```
 */
export class MsrFile {
  /** [lo, hi] per slot; see the slot constants. */
  readonly values: Int32Array = new Int32Array(SLOTS * 2);

  constructor() {
    this.reset();
  }

  /** Power-on values. */
  reset(): void {
    this.values.fill(0);
    this.values[SLOT_MISC * 2] = MISC_FAST_STRINGS;
  }

  /** Reads `idx` into `out` = [lo, hi]; false when this file has no such MSR. */
  read(idx: number, out: Int32Array): boolean {
    let slot = -1;
    if (idx === MSR_MTRRCAP) {
      out[0] = MTRRCAP_VALUE;
      out[1] = 0;
      return true;
    }
    if (idx === MSR_BIOS_SIGN_ID) {
      out[0] = out[1] = 0;
      return true;
    }
    if (idx === MSR_MISC_ENABLE) {
      out[0] = this.values[SLOT_MISC * 2] | MISC_READ_ONLY;
      out[1] = 0;
      return true;
    }
    if (idx === MSR_MTRR_DEF_TYPE) slot = SLOT_DEF_TYPE;
    else if (idx >= MSR_MTRR_PHYS_BASE0 && idx < MSR_MTRR_PHYS_BASE0 + 16) {
      slot = SLOT_VARIABLE + idx - MSR_MTRR_PHYS_BASE0;
    } else slot = fixedSlot(idx);
    if (slot < 0) return false;
    out[0] = this.values[slot * 2];
    out[1] = this.values[slot * 2 + 1];
    return true;
  }

  /** Writes `idx`: "ok", "gp" for a reserved bit or type, "none" when there is no such MSR. */
  write(idx: number, lo: number, hi: number): "ok" | "gp" | "none" {
    let slot: number;
    if (idx === MSR_MTRRCAP) return "gp"; // read-only
    if (idx === MSR_BIOS_SIGN_ID) return "ok";
    if (idx === MSR_MISC_ENABLE) {
      this.values[SLOT_MISC * 2] = lo & MISC_FAST_STRINGS;
      return "ok";
    }
    if (idx === MSR_MTRR_DEF_TYPE) {
      if ((lo & ~0xcff) || hi || !validType(lo & 0xff)) return "gp";
      slot = SLOT_DEF_TYPE;
    } else if (idx >= MSR_MTRR_PHYS_BASE0 && idx < MSR_MTRR_PHYS_BASE0 + 16) {
      const isMask = (idx & 1) === 1;
      if (hi & ~0xf) return "gp"; // bits 63:36
      if (isMask ? (lo & 0x7ff) : (lo & 0xf00) || !validType(lo & 0xff)) return "gp";
      slot = SLOT_VARIABLE + idx - MSR_MTRR_PHYS_BASE0;
    } else {
      slot = fixedSlot(idx);
      if (slot < 0) return "none";
      for (let b = 0; b < 4; b++) {
        if (!validType((lo >>> (8 * b)) & 0xff) || !validType((hi >>> (8 * b)) & 0xff)) {
          return "gp";
        }
      }
    }
    this.values[slot * 2] = lo | 0;
    this.values[slot * 2 + 1] = hi | 0;
    return "ok";
  }
}
