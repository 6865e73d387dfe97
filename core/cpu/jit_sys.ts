/**
 * Ring-0 system instructions in translated code: IN/OUT (imm8 and DX ports), CLI, STI, HLT,
 * PUSHF, POPF, RDTSC, MOV from/to CRn and IRET, as calls from the block into their system.ts /
 * interrupts.ts semantics (the bus, the privilege and I/O-permission checks, the interrupt
 * shadow, paging and mode changes, the exit hooks a backend records).
 *
 * Such an instruction ends its block. Before the call the block stores all its locals back (the
 * `SYNC` mark, replaced by jit.ts once the block's register set is known) and sets what the
 * interpreter's step would have: the instruction count before the instruction, `startEip`, EIP
 * after it and the operand size; so a fault thrown by the call finds the interpreter's state and
 * the run loop delivers it at the same count, and a hook sees the same machine. Afterwards it
 * reloads the locals (the `LOAD` mark: a hook may change registers, POPF/CLI/STI change EFLAGS),
 * takes EIP from the CPU (a hook may redirect it) and leaves the region (these set `breakLoop`;
 * PUSHF's store may go into cached code).
 *
 * @module
 */

import type { Gen } from "./jit_gen.ts";
import { Writer } from "./jit_flags.ts";
import { Emit } from "./jit_ops.ts";

/** Marks in the source where jit.ts puts the write-back and the reload of the block's locals. */
export const SYNC = "/*sync*/", LOAD = "/*load*/";

/** Opcodes handled here (0x100 + second byte for the 0F map). */
export const SYSTEM_OPS: readonly number[] = [
  0x9c,
  0x9d,
  0xcf,
  0xe4,
  0xe5,
  0xe6,
  0xe7,
  0xec,
  0xed,
  0xee,
  0xef,
  0xf4,
  0xfa,
  0xfb,
  0x120,
  0x122,
  0x131,
];

/** Emits the current instruction (one of {@link SYSTEM_OPS}) as a call to system.ts (`SYS`). */
export function opSystem(g: Gen): Emit {
  const i = g.insn, op = i.op, s = op & 1 ? (i.o32 ? 2 : 1) : 0;
  const port = op >= 0xe8 && op < 0xf0 ? g.let(g.reg(2, 1)) : `${i.imm}`;
  const out = op === 0xe6 || op === 0xe7 || op === 0xee || op === 0xef;
  const value = out ? g.let(g.reg(0, s)) : "";
  g.emit(
    `${SYNC}\nclock.icount = ic0 + n + ${g.k}; c.startEip = e0 + ${i.off}; ` +
      `c.eip = e0 + ${i.off + i.len}; c.opsize32 = ${i.o32};`,
  );
  let result = "";
  if (op === 0x9c) g.emit("SYS.pushf(c);");
  else if (op === 0x9d) g.emit("SYS.popf(c);");
  else if (op === 0xf4) g.emit("SYS.hlt(c);");
  else if (op === 0xfa) g.emit("SYS.cli(c);");
  else if (op === 0xfb) g.emit("SYS.sti(c);");
  else if (op === 0x131) g.emit("SYS.rdtsc(c);");
  else if (op === 0xcf) g.emit(`SYS.iret(c, ${i.o32});`);
  else if (op === 0x120) g.emit(`SYS.movFromCr(c, ${(i.imm >> 3) & 7}, ${i.imm & 7});`);
  else if (op === 0x122) {
    g.emit(`SYS.movToCr(c, ${(i.imm >> 3) & 7}, regs[${i.imm & 7}]);`);
  } else if (out) g.emit(`SYS.portOut(c, ${port}, ${s}, ${value});`);
  else result = g.let(`SYS.portIn(c, ${port}, ${s})`);
  g.emit(LOAD);
  if (result !== "") g.setReg(0, s, result);
  g.emit("nx = c.eip; bk = true;");
  g.flags.set(Writer.none, 0);
  return Emit.jump;
}
