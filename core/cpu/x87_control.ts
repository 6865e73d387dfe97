/**
 * x87 control instructions: FNINIT, FNCLEX, FLDCW, FNSTCW, FNSTSW, FINCSTP/FDECSTP, the 14/28-byte
 * environment (FNSTENV/FLDENV), the 94/108-byte state (FNSAVE/FRSTOR) and the 512-byte FXSAVE
 * image (FXSAVE/FXRSTOR) (SDM Vol.1 8.1.10, Figures 8-9, 8-10; Vol.2 FXSAVE Table 3-53).
 *
 * The last-instruction and last-data pointers and the last opcode are not tracked: they are
 * stored as zero (as QEMU 7.2 does).
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { Vec } from "./fault.ts";
import { readM80, writeM80 } from "./x87_load_store.ts";
import { CC, retag, setTop, top, updateSummary } from "./x87_stack.ts";
import { st } from "./x87_float80.ts";

export function fninit(c: Cpu): void {
  c.fpuCw = 0x37f;
  c.fpuSw = 0;
  c.fpuTw = 0xffff;
}

/** FINCSTP (`delta` 1) and FDECSTP (-1): TOP moves, tags stay; C0-C3 cleared. */
export function incstp(c: Cpu, delta: number): void {
  setTop(c, top(c) + delta);
  c.fpuSw &= ~CC;
}

function at(c: Cpu, n: number): number {
  return c.addr32 ? (c.eaOff + n) >>> 0 : (c.eaOff + n) & 0xffff;
}

/** FNSTENV image; returns its size: 28 bytes (32-bit operand size) or 14. */
export function storeEnv(c: Cpu): number {
  const seg = c.eaSeg, o = c.eaOff;
  if (c.opsize32) {
    c.checkWrite(seg, o, 2);
    c.checkWrite(seg, at(c, 24), 2);
    c.write32(seg, o, c.fpuCw | 0xffff0000);
    c.write32(seg, at(c, 4), c.fpuSw | 0xffff0000);
    c.write32(seg, at(c, 8), c.fpuTw | 0xffff0000);
    for (let i = 12; i < 28; i += 4) c.write32(seg, at(c, i), 0);
    return 28;
  }
  c.checkWrite(seg, o, 1);
  c.checkWrite(seg, at(c, 12), 1);
  c.write16(seg, o, c.fpuCw);
  c.write16(seg, at(c, 2), c.fpuSw);
  c.write16(seg, at(c, 4), c.fpuTw);
  for (let i = 6; i < 14; i += 2) c.write16(seg, at(c, i), 0);
  return 14;
}

/** FLDENV: control, status and tag words; non-empty tags are recomputed from the registers. */
export function loadEnv(c: Cpu): number {
  const seg = c.eaSeg, o = c.eaOff;
  const step = c.opsize32 ? 4 : 2;
  const cw = c.read16(seg, o), sw = c.read16(seg, at(c, step)), tw = c.read16(seg, at(c, 2 * step));
  c.fpuCw = cw;
  c.fpuSw = sw;
  c.fpuTw = tw;
  retag(c);
  updateSummary(c);
  return c.opsize32 ? 28 : 14;
}

/** FNSAVE: environment, ST(0)..ST(7) as m80 each, then FNINIT. */
export function fnsave(c: Cpu): void {
  const env = c.opsize32 ? 28 : 14;
  c.checkWrite(c.eaSeg, at(c, env + 76), 2);
  storeEnv(c);
  const v = c.fpuView;
  for (let i = 0; i < 8; i++) {
    const r = (top(c) + i) & 7;
    writeM80(c, env + i * 10, v.getUint16(r * 10 + 8, true), v.getBigUint64(r * 10, true));
  }
  fninit(c);
}

/** FRSTOR: reads the whole image first (a fault leaves the FPU unchanged), then loads it. */
export function frstor(c: Cpu): void {
  const env = c.opsize32 ? 28 : 14;
  readImage(c, env, 10);
  loadEnv(c);
  installImage(c);
}

/** Reads ST(0)..ST(7) as m80s at `base + i * stride` into the scratch image (may fault). */
function readImage(c: Cpu, base: number, stride: number): void {
  const iv = new DataView(c.tmpFpu.buffer);
  for (let i = 0; i < 8; i++) {
    readM80(c, base + i * stride);
    iv.setBigUint64(i * 10, st.sig, true);
    iv.setUint16(i * 10 + 8, st.se, true);
  }
}

/** Moves the scratch image into the registers relative to the (new) TOP, then retags. */
function installImage(c: Cpu): void {
  const v = c.fpuView, iv = new DataView(c.tmpFpu.buffer);
  for (let i = 0; i < 8; i++) {
    const r = (top(c) + i) & 7;
    v.setBigUint64(r * 10, iv.getBigUint64(i * 10, true), true);
    v.setUint16(r * 10 + 8, iv.getUint16(i * 10 + 8, true), true);
  }
  retag(c);
}

/** #GP(0) unless the 512-byte area is 16-byte aligned (SDM Vol.2 FXSAVE). */
function checkAligned(c: Cpu): void {
  if (((c.segBase[c.eaSeg] + c.eaOff) & 15) !== 0) c.fault(Vec.GP, 0);
}

/**
 * FXSAVE: FCW, FSW, the abridged tag byte (bit i set when R(i) is not empty), zero pointers and
 * opcode, and ST(0)..ST(7) in 16-byte slots. The CPU has no SSE state (MXCSR and XMM are not
 * written).
 */
export function fxsave(c: Cpu): void {
  checkAligned(c);
  c.checkWrite(c.eaSeg, c.eaOff, 2);
  c.checkWrite(c.eaSeg, at(c, 156), 2);
  let ftw = 0;
  for (let r = 0; r < 8; r++) if (((c.fpuTw >> (r << 1)) & 3) !== 3) ftw |= 1 << r;
  c.write16(c.eaSeg, c.eaOff, c.fpuCw);
  c.write16(c.eaSeg, at(c, 2), c.fpuSw);
  c.write16(c.eaSeg, at(c, 4), ftw);
  c.write16(c.eaSeg, at(c, 6), 0);
  for (let i = 8; i < 24; i += 4) c.write32(c.eaSeg, at(c, i), 0);
  const v = c.fpuView;
  for (let i = 0; i < 8; i++) {
    const r = (top(c) + i) & 7;
    writeM80(c, 32 + i * 16, v.getUint16(r * 10 + 8, true), v.getBigUint64(r * 10, true));
    c.write16(c.eaSeg, at(c, 32 + i * 16 + 10), 0);
    c.write32(c.eaSeg, at(c, 32 + i * 16 + 12), 0);
  }
}

/** FXRSTOR: the inverse of FXSAVE; tags of non-empty registers are recomputed. */
export function fxrstor(c: Cpu): void {
  checkAligned(c);
  readImage(c, 32, 16);
  const cw = c.read16(c.eaSeg, c.eaOff), sw = c.read16(c.eaSeg, at(c, 2));
  const ftw = c.read8(c.eaSeg, at(c, 4));
  c.fpuCw = cw;
  c.fpuSw = sw;
  let tw = 0;
  for (let r = 0; r < 8; r++) if (!(ftw & (1 << r))) tw |= 3 << (r << 1);
  c.fpuTw = tw;
  installImage(c);
  updateSummary(c);
}
