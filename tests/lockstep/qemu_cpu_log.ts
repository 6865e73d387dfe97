/**
 * QEMU's `-d cpu,fpu` log parsed into lockstep's per-instruction states.
 *
 * With `singlestep on` (one guest instruction per translation block) and `-d nochain` (every
 * block goes back through the execution loop, which logs), QEMU 7.2 writes the CPU state
 * (x86_cpu_dump_state, target/i386/cpu-dump.c) before every instruction it executes. That is
 * the same state sequence gdb single-steps give, one record per instruction (one per iteration of
 * a REP string instruction), without two loopback round trips and four context switches per
 * instruction; a block that raises a gdb breakpoint is not logged, so the state at a breakpoint
 * comes from the stub.
 *
 * One record in the log may be a repeat: QEMU logs before it enters the block, and a block that
 * finds an exit request pending (single-threaded TCG's round-robin kick, every 100 ms) leaves
 * before its instruction and is logged again when re-entered. Such a repeat is the previous
 * record's text byte for byte, except the lazy-flags line (CCS/CCD/CCO), which leaving the
 * execution loop folds into EFLAGS; a real instruction always changes the rest (EIP at least, or
 * ECX for a REP iteration; a `jmp .` never ends a logged run, it is where the breakpoint goes).
 *
 * @module
 */

import { h4 } from "./x87_state.ts";

/** One logged CPU state, in lockstep's ArchState shape (see lockstep.ts). */
export interface LoggedState {
  regs: number[];
  eip: number;
  eflags: number;
  sel: number[];
  /** FCW, FSW, then R0-R7 as 20 hex digits (sign/exponent first); empty when not wanted. */
  fpu: string[];
}

/** GPR names in pvreplay's (and the `g` packet's) order. */
const GPR_KEYS = ["EAX=", "ECX=", "EDX=", "EBX=", "ESP=", "EBP=", "ESI=", "EDI="];
/** Segment lines in pvreplay's order (ES CS SS DS FS GS). */
const SEG_KEYS = ["\nES =", "\nCS =", "\nSS =", "\nDS =", "\nFS =", "\nGS ="];
const FPR_KEYS = Array.from({ length: 8 }, (_, i) => `FPR${i}=`);

/**
 * Parses every complete record of `text` (records start at `EAX=`), dropping repeats (see the
 * module notes). `fpu` selects whether the
 * x87 fields (which need `-d fpu`) are read. Throws naming the record when a field is missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCpuLog } from "./qemu_cpu_log.ts";
 * const rec = "EAX=00000001 EBX=00000002 ECX=00000003 EDX=00000004\n" +
 *   "ESI=00000005 EDI=00000006 EBP=00000007 ESP=00000008\n" +
 *   "EIP=00110000 EFL=00000002 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0\n" +
 *   "ES =0010 00000000 ffffffff 00cf9300\nCS =0008 00000000 ffffffff 00cf9b00\n" +
 *   "SS =0010 00000000 ffffffff 00cf9300\nDS =0010 00000000 ffffffff 00cf9300\n" +
 *   "FS =0010 00000000 ffffffff 00cf9300\nGS =0010 00000000 ffffffff 00cf9300\n";
 * const [s] = parseCpuLog(rec, false);
 * assert.deepEqual(s.regs, [1, 3, 4, 2, 8, 7, 5, 6]);
 * assert.equal(s.eip, 0x110000);
 * assert.deepEqual(s.sel, [0x10, 8, 0x10, 0x10, 0x10, 0x10]);
 * ```
 */
export function parseCpuLog(text: string, fpu: boolean): LoggedState[] {
  const out: LoggedState[] = [];
  let previous = "";
  for (let at = text.indexOf("EAX="); at >= 0;) {
    const next = text.indexOf("EAX=", at + 4);
    const end = next < 0 ? text.length : next;
    const ccs = text.indexOf("\nCCS=", at);
    const record = ccs < 0 || ccs > end
      ? text.slice(at, end)
      : text.slice(at, ccs) + text.slice(text.indexOf("\n", ccs + 1), end);
    if (record === previous) {
      at = next;
      continue;
    }
    previous = record;
    // The last record may still be partly written (a stop between two lines): it is complete
    // once its final field (the last FPU pair, or GS without the FPU) has its line end.
    const lastKey = fpu ? "FPR7=" : "\nGS =";
    const last = text.indexOf(lastKey, at);
    if (last < 0 || last > end || text.indexOf("\n", last + 1) < 0) break;
    const field = (key: string, digits: number): number => {
      const k = text.indexOf(key, at);
      if (k < 0 || k > end) {
        throw new Error(`QEMU cpu log: record ${out.length} has no '${key.trim()}'`);
      }
      return parseInt(text.substr(k + key.length, digits), 16) >>> 0;
    };
    const state: LoggedState = {
      regs: GPR_KEYS.map((k) => field(k, 8)),
      eip: field("EIP=", 8),
      eflags: field("EFL=", 8),
      sel: SEG_KEYS.map((k) => field(k, 4)),
      fpu: [],
    };
    if (fpu) {
      state.fpu.push(h4(field("FCW=", 4)), h4(field("FSW=", 4)));
      for (const key of FPR_KEYS) {
        // "FPRi=<64-bit significand> <sign+exponent>": lockstep writes sign/exponent first.
        const k = text.indexOf(key, at);
        if (k < 0 || k > end) {
          throw new Error(`QEMU cpu log: record ${out.length} has no '${key}'`);
        }
        const v = k + key.length;
        state.fpu.push(text.substr(v + 17, 4) + text.substr(v, 16));
      }
    }
    out.push(state);
    at = next;
  }
  return out;
}
