/**
 * Exception vectors and the preallocated sentinel thrown to abort an instruction.
 *
 * A faulting instruction stores the vector and error code in the CPU and throws {@link FAULT};
 * the run loop catches it, restores EIP to the start of the instruction and delivers the
 * exception. No object is allocated per fault.
 *
 * @module
 */

/** The one object ever thrown for a guest exception. */
export const FAULT: { readonly guestFault: true } = Object.freeze({ guestFault: true });

/** Exception vectors (SDM Vol.3 Table 6-1). */
export const Vec = {
  DE: 0,
  DB: 1,
  NMI: 2,
  BP: 3,
  OF: 4,
  BR: 5,
  UD: 6,
  NM: 7,
  DF: 8,
  TS: 10,
  NP: 11,
  SS: 12,
  GP: 13,
  PF: 14,
  MF: 16,
  AC: 17,
} as const;

/** Vectors that push an error code (SDM Vol.3 6.13). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
}

/** Exception class for the double-fault rules (SDM Vol.3 Table 6-4): 0 benign, 1 contributory, 2 #PF. */
export function faultClass(vector: number): number {
  if (vector === 14) return 2;
  return vector === 0 || (vector >= 10 && vector <= 13) ? 1 : 0;
}
