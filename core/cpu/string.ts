/**
 * String instructions MOVS CMPS STOS LODS SCAS INS OUTS with REP/REPE/REPNE (SDM Vol.2).
 *
 * A repeated instruction runs iterations in a loop; each iteration beyond the first counts as one
 * retired instruction (as QEMU, which re-executes the instruction per iteration). When the batch
 * budget or the next clock deadline is reached, or a device was touched, EIP is left at the
 * instruction so it resumes after the boundary (interrupts are taken between iterations, SDM
 * Vol.2 REP).
 *
 * @module
 */

import type { Cpu } from "./cpu.ts";
import { DF } from "./flags.ts";
import { sub } from "./arith.ts";
import { getReg, setReg } from "./operands.ts";
import { checkIo, portIn, portOut } from "./system.ts";

/** Executes string opcode `op` (6C-6F, A4-A7, AA-AF) with the current prefixes. */
export function stringOp(c: Cpu, op: number): void {
  const s = op & 1 ? (c.opsize32 ? 2 : 1) : 0;
  const srcSeg = c.segOvr >= 0 ? c.segOvr : 3;
  const r = c.regs;
  const a32 = c.addr32;
  const step = (c.flags & DF ? -1 : 1) << s;
  const kind = op & 0xfe;
  if (kind === 0x6c || kind === 0x6e) checkIo(c, c.regs16[4], 1 << s);
  const clock = c.clock;
  for (;;) {
    if (c.rep !== 0 && (a32 ? r[1] : c.regs16[2]) === 0) return;
    const si = a32 ? r[6] >>> 0 : c.regs16[12];
    const di = a32 ? r[7] >>> 0 : c.regs16[14];
    let moveSi = false, moveDi = false, cmp = false;
    switch (kind) {
      case 0xa4: // MOVS
        c.writeS(0, di, s, c.readS(srcSeg, si, s));
        moveSi = moveDi = true;
        break;
      case 0xa6: // CMPS
        sub(c, c.readS(srcSeg, si, s), c.readS(0, di, s), s);
        moveSi = moveDi = cmp = true;
        break;
      case 0xaa: // STOS
        c.writeS(0, di, s, getReg(c, 0, s));
        moveDi = true;
        break;
      case 0xac: // LODS
        setReg(c, 0, s, c.readS(srcSeg, si, s));
        moveSi = true;
        break;
      case 0xae: // SCAS
        sub(c, getReg(c, 0, s), c.readS(0, di, s), s);
        moveDi = cmp = true;
        break;
      case 0x6c: { // INS: check the destination before the port read (no lost input)
        c.checkWrite(0, di, s);
        c.writeS(0, di, s, portIn(c, c.regs16[4], s));
        moveDi = true;
        break;
      }
      default: // OUTS
        portOut(c, c.regs16[4], s, c.readS(srcSeg, si, s));
        moveSi = true;
        break;
    }
    if (a32) {
      if (moveSi) r[6] += step;
      if (moveDi) r[7] += step;
    } else {
      if (moveSi) c.regs16[12] += step;
      if (moveDi) c.regs16[14] += step;
    }
    if (c.rep === 0) return;
    const cx = a32 ? (r[1] = r[1] - 1) : (c.regs16[2] = c.regs16[2] - 1);
    if (cx === 0) return;
    if (cmp) {
      // REPE stops on ZF=0, REPNE on ZF=1 (computed from the lazy result).
      const zf = (c.lRes << (31 - c.lSize)) === 0;
      if (zf !== (c.rep === 0xf3)) return;
    }
    if (clock.icount + 1 >= c.batchEnd || c.breakLoop) {
      c.eip = c.startEip; // resume this instruction after the boundary
      return;
    }
    clock.icount++;
  }
}
