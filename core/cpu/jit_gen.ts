/**
 * The source builder of one translated block: register, segment and memory access as JS source
 * over the block's locals, and the side exit.
 *
 * Locals: `r0`..`r7` hold the GPRs (loaded at entry, written back at the exit when written),
 * `sbN slN srN swN` segment N's base, lowest offset and highest offset readable / writable (-1
 * when the segment may not be read / written at all: every access then leaves), `TI TP` the TLB,
 * `RAM V` guest RAM as bytes and DataView, `CP` the code-page marks, `RDM WRM` the TLB bits that
 * make an access a plain-RAM hit at the current privilege, `csl` the CS limit.
 *
 * A memory access is inlined only for what the interpreter does without a call out: segment
 * checks passing, a TLB hit on plain RAM, no page crossing. Anything else (a TLB miss, MMIO, a
 * limit or permission fault, a page-crossing access) takes the *side exit*: the instruction has
 * not changed anything yet (each emitter performs every check before its first store and its
 * register and flag updates last), so the block writes its locals back, leaves EIP at the
 * instruction and returns, and the interpreter executes that instruction in full. Faults,
 * A/D-bit updates and device accesses therefore happen in interpreter code at the very same
 * instruction count.
 *
 * @module
 */

import { FlagState } from "./jit_flags.ts";
import type { Insn, MemOperand } from "./jit_decode.ts";

const MASK_SRC = ["& 255", "& 65535", "| 0"];
const LOAD = ["RAM[$]", "V.getUint16($, true)", "V.getInt32($, true)"];
const STORE = ["RAM[$] = #", "V.setUint16($, #, true)", "V.setInt32($, #, true)"];

/** Builder state of one block. */
export class Gen {
  readonly lines: string[] = [];
  readonly flags: FlagState = new FlagState();
  /** Bit masks of the GPRs read or written, and written. */
  regsUsed = 0;
  regsWritten = 0;
  /** Bit mask of the segments accessed. */
  segsUsed = 0;
  /** The instruction being emitted, its index and the side exit that leaves before it. */
  insn!: Insn;
  k = 0;
  exit = "";
  /** The instruction stores to memory (a store into cached code ends the block after it). */
  stores = false;
  private temps = 0;

  constructor(readonly stack32: boolean) {}

  /** Starts instruction `k`. */
  begin(insn: Insn, k: number): void {
    this.insn = insn;
    this.k = k;
    this.exit = `{ n += ${k}; nx = e0 + ${insn.off}; break out; }`;
    this.stores = false;
  }

  emit(s: string): void {
    this.lines.push(s);
  }

  /** A fresh constant local holding `expr`. */
  let(expr: string): string {
    const t = `t${this.temps++}`;
    this.lines.push(`const ${t} = ${expr};`);
    return t;
  }

  /** A fresh mutable local. */
  var(expr: string): string {
    const t = `t${this.temps++}`;
    this.lines.push(`let ${t} = ${expr};`);
    return t;
  }

  /** Masks `v` to size code `s` (dword: to int32). */
  mask(v: string, s: number): string {
    return `((${v}) ${MASK_SRC[s]})`;
  }

  /** Register `r` at size code `s` (8-bit: AL CL DL BL AH CH DH BH). */
  reg(r: number, s: number): string {
    if (s === 0 && r >= 4) {
      this.regsUsed |= 1 << (r - 4);
      return `((r${r - 4} >> 8) & 255)`;
    }
    this.regsUsed |= 1 << r;
    return s === 2 ? `r${r}` : s === 1 ? `(r${r} & 65535)` : `(r${r} & 255)`;
  }

  /** Statement setting register `r` at size code `s` to `v` (other bits kept). */
  setReg(r: number, s: number, v: string): void {
    if (s === 0 && r >= 4) {
      const n = r - 4;
      this.regsUsed |= 1 << n;
      this.regsWritten |= 1 << n;
      this.emit(`r${n} = (r${n} & -65281) | (((${v}) & 255) << 8);`);
      return;
    }
    this.regsUsed |= 1 << r;
    this.regsWritten |= 1 << r;
    if (s === 2) this.emit(`r${r} = (${v}) | 0;`);
    else if (s === 1) this.emit(`r${r} = (r${r} & -65536) | ((${v}) & 65535);`);
    else this.emit(`r${r} = (r${r} & -256) | ((${v}) & 255);`);
  }

  /** The offset of memory operand `m` (unsigned, masked by the address size) in a local. */
  offset(m: MemOperand): string {
    const a32 = this.insn.a32;
    let e = `${m.disp}`;
    if (m.base >= 0) e += ` + ${this.reg(m.base, a32 ? 2 : 1)}`;
    if (m.index >= 0) {
      const ix = this.reg(m.index, a32 ? 2 : 1);
      e += m.scale > 0 ? ` + (${ix} << ${m.scale})` : ` + ${ix}`;
    }
    return this.let(a32 ? `(${e}) >>> 0` : `(${e}) & 65535`);
  }

  /**
   * Physical address for `1 << s` bytes at `seg`:`off` (a local name), or the side exit;
   * `read`/`write` the access kinds it must allow.
   */
  phys(seg: number, off: string, s: number, read: boolean, write: boolean): string {
    this.segsUsed |= 1 << seg;
    const n = 1 << s;
    const hi = n === 1 ? "" : ` - ${n - 1}`;
    if (read) this.emit(`if (${off} < sl${seg} || ${off} > sr${seg}${hi}) ${this.exit}`);
    if (write) this.emit(`if (${off} < sl${seg} || ${off} > sw${seg}${hi}) ${this.exit}`);
    const lin = this.let(`(sb${seg} + ${off}) | 0`);
    const mask = read && write ? "(RDM | WRM)" : write ? "WRM" : "RDM";
    const cross = n === 1 ? "" : ` || (${lin} & 4095) > ${4096 - n}`;
    this.emit(`if ((TI[${lin} >>> 12] & ${mask}) !== ${mask}${cross}) ${this.exit}`);
    return this.let(`TP[${lin} >>> 12] | (${lin} & 4095)`);
  }

  /** Loads size code `s` from physical `pa` (a local). */
  loadPhys(pa: string, s: number): string {
    return this.let(LOAD[s].replace("$", pa));
  }

  /** Stores `v` (size code `s`) at physical `pa`; a store into cached code ends the block. */
  storePhys(pa: string, s: number, v: string): void {
    this.emit(STORE[s].replace("$", pa).replace("#", v) + ";");
    this.emit(`if (CP[${pa} >>> 12] !== 0) { icWritten(c, ${pa}, ${1 << s}); bk = true; }`);
    this.stores = true;
  }

  /** Reads memory operand `m` at size code `s`. */
  load(m: MemOperand, s: number): string {
    return this.loadPhys(this.phys(m.seg, this.offset(m), s, true, false), s);
  }

  /** Reads the r/m operand of the current instruction at size code `s`. */
  readE(s: number): string {
    const m = this.insn.mem;
    return m === null ? this.let(this.reg(this.insn.rm, s)) : this.load(m, s);
  }

  /** The current stack pointer offset (32-bit stack) in a local. */
  sp(): string {
    return this.let(`${this.reg(4, 2)} >>> 0`);
  }
}
