/**
 * Lockstep differential testing of pvreplay's CPU against QEMU TCG through QEMU's gdb stub.
 *
 * Both emulators load the same Multiboot image. QEMU runs its own option-ROM loader up to the
 * kernel entry point (a breakpoint); pvreplay is then put in exactly QEMU's state (GPRs, EFLAGS,
 * segment registers and caches, control and descriptor-table registers, and RAM copied from QEMU
 * with `m` packets) and both are single-stepped, comparing GPRs, EIP, EFLAGS (minus the bits the
 * SDM leaves undefined for the instruction, see flag_masks.ts) and selectors after every
 * instruction.
 *
 * QEMU's states come from one of two {@link QemuStepper}s: gdb single steps (`s` then `g`, the
 * default: any code, any stop) or, for a stretch of code that ends at a known address (the
 * random streams), one `c` to a breakpoint with QEMU logging its state before every instruction
 * (qemu_cpu_log.ts), which is the same state sequence ~30x faster.
 *
 * The random streams are driven by random_run.ts; the command line is main.ts.
 *
 * @module
 */

import { Cpu } from "../../core/cpu/cpu.ts";
import { GdbReg, parseInfoRegisters, type QemuSession, startQemu } from "./gdb_remote.ts";
import { parseElf } from "./elf.ts";
import { FCOMI_IGNORED, FPU_NAMES, fpuOf, FSW_IGNORED, h4, isFcomi } from "./x87_state.ts";
import { undefinedEffects, ZF } from "./flag_masks.ts";
import { type GeneratedCode, HARNESS } from "./random_code.ts";
import { parseCpuLog } from "./qemu_cpu_log.ts";
import { PhysicalMemory } from "../../core/memory.ts";
import { IoBus } from "../../core/bus.ts";
import { VirtualClock } from "../../core/clock.ts";

/** The subset of the CPU public API (brief: core/cpu/cpu.ts) that lockstep drives. */
export interface LockstepCpu {
  regs: Int32Array;
  eip: number;
  getEflags(): number;
  setEflags(v: number): void;
  segSel: Int32Array;
  segBase: Int32Array;
  segLimit: Int32Array;
  segAttr: Int32Array;
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
  cpl: number;
  halted: boolean;
  gdtrBase: number;
  gdtrLimit: number;
  idtrBase: number;
  idtrLimit: number;
  step(): string;
  requestStop(): void;
  /** DR0..DR7 when the CPU models debug registers. */
  dr?: Int32Array;
  /** x87 control/status words and R0-R7 (10 bytes each, as in memory) when the CPU has an FPU. */
  fpuCw?: number;
  fpuSw?: number;
  fpuRegs?: Uint8Array;
  /** Present in pvreplay's CPU: recompute derived mode/segment state after direct writes. */
  updateMode?(): void;
  flushTlb?(all: boolean): void;
}

/** Segment register indices in pvreplay's order (ES CS SS DS FS GS LDTR TR). */
const SEG_NAMES = ["es", "cs", "ss", "ds", "fs", "gs"];
/** `g` packet index of each of pvreplay's six segment registers. */
const GDB_SEG = [GdbReg.es, GdbReg.cs, GdbReg.ss, GdbReg.ds, GdbReg.fs, GdbReg.gs];
const REG_NAMES = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
/** How much of one logged run is read (about 45,000 instructions' states). */
const MAX_LOG_BYTES = 64 << 20;
/** RF is set/cleared by QEMU around gdb single steps in ways real hardware does not mirror. */
const RF = 0x10000;

/**
 * Registers whose value after the instruction comes from outside the CPU model (devices, CPU
 * model identity, time) and is copied from QEMU: IN -> EAX; CPUID -> EAX..EDX (pvreplay models
 * its own processor, QEMU a pentium3); RDTSC/RDMSR -> EAX, EDX. A bit mask over GPR indices.
 */
function externalRegs(op: number, op2: number): number {
  if (op === 0xe4 || op === 0xe5 || op === 0xec || op === 0xed) return 0b1;
  if (op !== 0x0f) return 0;
  if (op2 === 0xa2) return 0b1111;
  if (op2 === 0x31 || op2 === 0x32) return 0b101;
  return 0;
}

/** True when an enabled execute breakpoint (R/W = 00) in DR0-3 matches `lin` and RF is clear. */
function hitsInstructionBreakpoint(dr: Int32Array, lin: number, eflags: number): boolean {
  if (eflags & RF) return false;
  for (let i = 0; i < 4; i++) {
    const enabled = (dr[7] >>> (2 * i)) & 3;
    const rw = (dr[7] >>> (16 + 4 * i)) & 3;
    if (enabled && rw === 0 && dr[i] >>> 0 === lin) return true;
  }
  return false;
}

/** One architectural state as compared by lockstep. */
export interface ArchState {
  regs: number[];
  eip: number;
  eflags: number;
  sel: number[];
  /** FCW, FSW, then R0-R7 as 20 hex digits (sign/exponent first); empty without an FPU. */
  fpu: string[];
}

/** A divergence between pvreplay and QEMU. */
export interface Mismatch {
  /** Instructions compared before this one. */
  index: number;
  eip: number;
  bytes: Uint8Array;
  name: string;
  before: ArchState;
  qemu: ArchState;
  pvreplay: ArchState;
  fields: string[];
}

/** Eight hex digits, for addresses and register values. */
export const hex = (v: number): string => (v >>> 0).toString(16).padStart(8, "0");

/** Formats a mismatch as a multi-line report. */
export function formatMismatch(m: Mismatch): string {
  const lines = [
    `MISMATCH after ${m.index} compared instructions at eip=${hex(m.eip)} (${m.name})`,
    `  bytes: ${Array.from(m.bytes).map((b) => b.toString(16).padStart(2, "0")).join(" ")}`,
    `  differs: ${m.fields.join(", ")}`,
    `  ${"".padEnd(7)} ${"before".padEnd(9)} ${"qemu".padEnd(9)} pvreplay`,
  ];
  const row = (n: string, b: number, q: number, p: number) =>
    lines.push(`  ${n.padEnd(7)} ${hex(b)}  ${hex(q)}  ${hex(p)}${q !== p ? "  <--" : ""}`);
  REG_NAMES.forEach((n, i) => row(n, m.before.regs[i], m.qemu.regs[i], m.pvreplay.regs[i]));
  row("eip", m.before.eip, m.qemu.eip, m.pvreplay.eip);
  row("eflags", m.before.eflags, m.qemu.eflags, m.pvreplay.eflags);
  SEG_NAMES.forEach((n, i) => row(n, m.before.sel[i], m.qemu.sel[i], m.pvreplay.sel[i]));
  m.qemu.fpu.forEach((q, i) => {
    const p = m.pvreplay.fpu[i] ?? "", b = m.before.fpu[i] ?? "";
    lines.push(`  ${FPU_NAMES[i].padEnd(7)} ${b}  ${q}  ${p}${q !== p ? "  <--" : ""}`);
  });
  return lines.join("\n");
}

/**
 * QEMU's side of lockstep: executes QEMU's next instruction and returns the state after it, or
 * null when QEMU has no next state (it exited, or a logged run has no more records).
 */
export interface QemuStepper {
  next(): Promise<ArchState | null>;
}

/** How a lockstep run ended. */
export interface LockstepResult {
  compared: number;
  mismatch: Mismatch | null;
  /**
   * Why stepping stopped: "limit", "exit" (debug-exit, or QEMU has no next state), "halt",
   * "spin", "target" or "mismatch".
   */
  end: string;
  seconds: number;
}

/**
 * QEMU + pvreplay in lockstep.
 *
 * @example
 * ```ts ignore
 * import { Lockstep } from "./lockstep.ts";
 * const ls = await Lockstep.start("guests/cputests/images/harness.elf");
 * const r = await ls.run(10_000);
 * await ls.close();
 * ```
 */
export class Lockstep {
  readonly memory: PhysicalMemory;
  /** Total instructions compared over the session. */
  compared = 0;
  /** Where QEMU writes its CPU log once {@link Lockstep.enableCpuLog} ran; null before. */
  #logDir: string | null = null;
  #logs = 0;
  /** QEMU single-stepped through its gdb stub. */
  readonly gdbStepper: QemuStepper = {
    next: async () => {
      const stop = await this.qemu.gdb.step();
      if (stop.startsWith("W") || stop.startsWith("X")) return null;
      return await this.qemuState();
    },
  };
  /** Set when pvreplay wrote isa-debug-exit. */
  exitCode = -1;

  private constructor(
    readonly qemu: QemuSession,
    readonly cpu: LockstepCpu,
    memory: PhysicalMemory,
    readonly entry: number,
    readonly symbols: Map<string, number>,
  ) {
    this.memory = memory;
  }

  /** Starts QEMU on `kernel`, runs it to the ELF entry point and clones its state into pvreplay. */
  static async start(kernel: string, memMiB = 64): Promise<Lockstep> {
    const elf = parseElf(Deno.readFileSync(kernel), kernel);
    const qemu = await startQemu({ kernel, memMiB });
    try {
      const gdb = qemu.gdb;
      await gdb.insertBreakpoint(elf.entry);
      const stop = await gdb.cont();
      await gdb.removeBreakpoint(elf.entry);
      const regs = await gdb.readRegisters();
      if (regs[GdbReg.eip] !== elf.entry) {
        throw new Error(`QEMU did not reach the entry point 0x${hex(elf.entry)} (stop '${stop}')`);
      }
      const sys = parseInfoRegisters(await gdb.monitor("info registers"));

      const memory = new PhysicalMemory({ size: memMiB << 20 });
      const io = new IoBus();
      const clock = new VirtualClock();
      const intr = { hasInterrupt: () => false, acknowledge: () => 0 };
      const cpu: LockstepCpu = new Cpu({ memory, io, clock, intr });
      const ls = new Lockstep(qemu, cpu, memory, elf.entry, elf.symbols);
      io.register(0xf4, 4, {
        portRead: () => 0xffffffff,
        portWrite: (_p, _s, v) => {
          ls.exitCode = v;
          cpu.requestStop();
        },
      });

      // RAM from 0 (IVT, BDA, QEMU's Multiboot info, the option and BIOS ROMs guests scan) to
      // 1 MiB past the image (QEMU puts the command line and module list after the kernel).
      let top = 0x100000;
      for (const s of elf.segments) top = Math.max(top, s.paddr + s.memsz);
      top = Math.min(memMiB << 20, ((top + 0xfff) & ~0xfff) + 0x100000);
      memory.load(0, await gdb.readMemory(0, top));

      for (let i = 0; i < 8; i++) cpu.regs[i] = regs[i];
      cpu.eip = regs[GdbReg.eip];
      cpu.cr0 = sys.cr0;
      cpu.cr2 = sys.cr2;
      cpu.cr3 = sys.cr3;
      cpu.cr4 = sys.cr4;
      cpu.gdtrBase = sys.gdtBase;
      cpu.gdtrLimit = sys.gdtLimit;
      cpu.idtrBase = sys.idtBase;
      cpu.idtrLimit = sys.idtLimit;
      for (let i = 0; i < 8; i++) {
        const s = sys.segs[i];
        cpu.segSel[i] = s.sel;
        cpu.segBase[i] = s.base;
        cpu.segLimit[i] = s.limit;
        cpu.segAttr[i] = qemuFlagsToAttr(s.flags);
      }
      cpu.cpl = sys.cpl;
      cpu.setEflags(regs[GdbReg.eflags]);
      cpu.updateMode?.();
      cpu.flushTlb?.(true);
      return ls;
    } catch (e) {
      await qemu.close();
      throw e;
    }
  }

  /** pvreplay's architectural state. */
  pvState(): ArchState {
    const c = this.cpu;
    return {
      regs: Array.from(c.regs, (v) => v >>> 0),
      eip: c.eip >>> 0,
      eflags: c.getEflags() >>> 0,
      sel: Array.from(c.segSel.subarray(0, 6), (v) => v & 0xffff),
      fpu: c.fpuRegs === undefined ? [] : [
        h4(c.fpuCw!),
        h4(c.fpuSw!),
        ...Array.from({ length: 8 }, (_, r) => {
          let s = "";
          for (let k = 9; k >= 0; k--) s += c.fpuRegs![r * 10 + k].toString(16).padStart(2, "0");
          return s;
        }),
      ],
    };
  }

  /** QEMU's architectural state. */
  async qemuState(): Promise<ArchState> {
    const r = await this.qemu.gdb.readRegisters();
    return {
      regs: Array.from(r.subarray(0, 8)),
      eip: r[GdbReg.eip],
      eflags: r[GdbReg.eflags],
      sel: GDB_SEG.map((i) => r[i] & 0xffff),
      fpu: fpuOf(this.qemu.gdb.lastFpu(), this.cpu.fpuRegs !== undefined),
    };
  }

  /** Reads instruction bytes at the linear address `lin` from pvreplay's memory (paging off or identity). */
  #codeAt(c: LockstepCpu): Uint8Array {
    const out = new Uint8Array(15);
    const lin = (c.segBase[1] + c.eip) >>> 0;
    const cpu = c as unknown as { translate?: (l: number) => number };
    for (let i = 0; i < 15; i++) {
      const pa = cpu.translate ? cpu.translate(lin + i) : lin + i;
      out[i] = pa < 0 ? 0 : this.memory.read8(pa);
    }
    return out;
  }

  /**
   * Steps both emulators up to `limit` instructions, comparing after each. Stops early on a
   * mismatch, debug-exit, HLT, a `jmp .` spin, or when `until(eip)` returns true.
   */
  async run(
    limit: number,
    until?: (eip: number) => boolean,
    qemu: QemuStepper = this.gdbStepper,
  ): Promise<LockstepResult> {
    const t0 = performance.now();
    const cpu = this.cpu;
    let before = this.pvState();
    let n = 0;
    const done = (end: string, mismatch: Mismatch | null = null): LockstepResult => ({
      compared: n,
      mismatch,
      end,
      seconds: (performance.now() - t0) / 1000,
    });
    for (; n < limit; n++) {
      if (until && until(cpu.eip >>> 0)) return done("target");
      const bytes = this.#codeAt(cpu);
      const default32 = (cpu.segAttr[1] & 0x4000) !== 0 && (cpu.cr0 & 1) !== 0 &&
        (cpu.getEflags() & 0x20000) === 0;
      const fx = undefinedEffects(bytes, cpu.regs[1], default32);
      let p = 0;
      while (
        p < 14 &&
        [0x66, 0x67, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0xf0].includes(bytes[p])
      ) p++;
      const op = bytes[p];
      const rep = bytes.subarray(0, p).some((b) => b === 0xf2 || b === 0xf3) &&
        ((op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf) || (op >= 0x6c && op <= 0x6f));

      // HLT at CPL 0 would never finish a gdb step (at CPL > 0 it is a #GP, compared as usual).
      if (op === 0xf4 && cpu.cpl === 0) return done("halt");
      // pvreplay first: an OUT to isa-debug-exit ends QEMU, and then there is nothing to read.
      const preEip = cpu.eip >>> 0;
      cpu.step();
      // pvreplay may also stop between REP iterations (an interrupt window); finish the string.
      for (
        let ecx = before.regs[1];
        rep && cpu.eip >>> 0 === preEip && cpu.regs[1] >>> 0 !== ecx;
      ) {
        ecx = cpu.regs[1] >>> 0;
        cpu.step();
      }
      if (this.exitCode >= 0) {
        n++;
        return done("exit");
      }
      // QEMU raises an instruction breakpoint (DR0-3) on the next instruction within the same gdb
      // step; pvreplay at the next boundary. Let pvreplay deliver it now too.
      if (
        cpu.dr &&
        hitsInstructionBreakpoint(cpu.dr, (cpu.segBase[1] + cpu.eip) >>> 0, cpu.getEflags())
      ) {
        cpu.step();
      }
      let q = await qemu.next();
      if (q === null) return done("exit");
      // QEMU single-steps REP string instructions one iteration at a time.
      for (let ecx = before.regs[1]; rep && q.eip === preEip && q.regs[1] !== ecx;) {
        ecx = q.regs[1];
        q = await qemu.next();
        if (q === null) return done("exit");
      }
      const ext = externalRegs(op, bytes[p + 1]);
      const fcomiFlags = isFcomi(op, bytes[p + 1]) ? FCOMI_IGNORED : 0;
      for (let i = 0; i < 4; i++) if (ext & (1 << i)) cpu.regs[i] = q.regs[i];
      if (fx.regIfZf >= 0 && (q.eflags & ZF)) cpu.regs[fx.regIfZf] = q.regs[fx.regIfZf];
      const pv = this.pvState();
      const ignore = fx.flags | RF | fcomiFlags;
      const fields: string[] = [];
      for (let i = 0; i < 8; i++) if (pv.regs[i] !== q.regs[i]) fields.push(REG_NAMES[i]);
      if (pv.eip !== q.eip) fields.push("eip");
      if (((pv.eflags ^ q.eflags) & ~ignore) !== 0) fields.push("eflags");
      for (let i = 0; i < 6; i++) if (pv.sel[i] !== q.sel[i]) fields.push(SEG_NAMES[i]);
      const pvSw = parseInt(pv.fpu[1] ?? "0", 16), qSw = parseInt(q.fpu[1] ?? "0", 16);
      for (let i = 0; i < q.fpu.length; i++) {
        const same = i === 1 ? ((pvSw ^ qSw) & ~FSW_IGNORED) === 0 : pv.fpu[i] === q.fpu[i];
        if (!same) fields.push(FPU_NAMES[i]);
      }
      if (fields.length) {
        return done("mismatch", {
          index: this.compared,
          eip: preEip,
          bytes,
          name: fx.name,
          before,
          qemu: q,
          pvreplay: pv,
          fields,
        });
      }
      // Undefined flags: adopt QEMU's so later readers agree.
      if ((pv.eflags ^ q.eflags) & ignore) {
        cpu.setEflags((pv.eflags & ~ignore) | (q.eflags & ignore));
      }
      if (cpu.fpuSw !== undefined) cpu.fpuSw = (pvSw & ~FSW_IGNORED) | (qSw & FSW_IGNORED);
      this.compared++;
      if (q.eip === preEip && !rep) {
        n++;
        return done("spin");
      }
      before = { ...q };
    }
    return done("limit");
  }

  /**
   * Switches QEMU to one instruction per translation block with its CPU state logged before each
   * (`singlestep on`, `log cpu,fpu,nochain`; QEMU 7.2 monitor commands), for
   * {@link Lockstep.runLogged}. gdb single steps keep working as before.
   */
  async enableCpuLog(): Promise<void> {
    if (this.#logDir !== null) return;
    this.#logDir = await Deno.makeTempDir({ prefix: "pvreplay-lockstep-" });
    const gdb = this.qemu.gdb;
    for (const cmd of ["singlestep on", `logfile ${this.#logDir}/0.log`, "log cpu,fpu,nochain"]) {
      const reply = await gdb.monitor(cmd);
      if (reply.trim() !== "") {
        throw new Error(`QEMU monitor '${cmd}' failed (QEMU 7.2 is expected): ${reply.trim()}`);
      }
    }
  }

  /**
   * Lets QEMU run freely from its current state to the breakpoint `stopAt` (at most `timeoutMs`,
   * then it is interrupted) and returns its logged states as a stepper for {@link Lockstep.run}:
   * the state after each instruction, the last one (at the breakpoint, which QEMU does not log)
   * read through the stub.
   */
  async runLogged(stopAt: number, timeoutMs = 20_000): Promise<QemuStepper> {
    await this.enableCpuLog();
    const gdb = this.qemu.gdb;
    const path = `${this.#logDir}/${++this.#logs}.log`;
    // A new file per run keeps the disk use to one run's log; QEMU closes the previous one.
    await gdb.monitor(`logfile ${path}`);
    await gdb.insertBreakpoint(stopAt);
    const timer = setTimeout(() => gdb.interrupt().catch(() => {}), timeoutMs);
    let stop: string;
    try {
      stop = await gdb.cont();
    } finally {
      clearTimeout(timer);
    }
    if (stop.startsWith("W") || stop.startsWith("X")) return { next: () => Promise.resolve(null) };
    await gdb.removeBreakpoint(stopAt);
    // A run that did not reach the breakpoint (the guest looped) logged for up to `timeoutMs`:
    // its first MAX_LOG_BYTES are more records than any stream has, and fit in a string.
    const file = await Deno.open(path);
    const bytes = new Uint8Array(Math.min((await file.stat()).size, MAX_LOG_BYTES));
    for (let off = 0; off < bytes.length;) {
      const n = await file.read(bytes.subarray(off));
      if (n === null) break;
      off += n;
    }
    file.close();
    await Deno.remove(path);
    const states: ArchState[] = parseCpuLog(
      new TextDecoder("latin1").decode(bytes),
      this.cpu.fpuRegs !== undefined,
    );
    // states[0] is the state the run started from; the stop state follows the last record.
    states.push(await this.qemuState());
    let i = 1;
    return { next: () => Promise.resolve(i < states.length ? states[i++] : null) };
  }

  /**
   * Puts a generated stream in both emulators (code ending in `jmp .`, scratch area, registers)
   * and returns the address of its end.
   */
  async loadStream(g: GeneratedCode): Promise<number> {
    await this.writeBoth(HARNESS.codeBase, Uint8Array.of(...g.code, 0xeb, 0xfe));
    await this.writeBoth(HARNESS.scratchBase, g.scratch);
    await this.setRegsBoth(g.regs, HARNESS.codeBase, g.eflags);
    return HARNESS.codeBase + g.code.length;
  }

  /** Writes `bytes` at physical (= linear, paging off) `addr` in both emulators. */
  async writeBoth(addr: number, bytes: Uint8Array): Promise<void> {
    this.memory.load(addr, bytes);
    // `load` bypasses the write path: tell the CPU's decode cache about the new code.
    for (let page = addr >>> 12; page <= (addr + bytes.length - 1) >>> 12; page++) {
      if (this.memory.codePages[page] !== 0) this.memory.onCodeWrite(page);
    }
    await this.qemu.gdb.writeMemory(addr, bytes);
  }

  /** Sets GPRs, EIP and EFLAGS in both emulators (segments unchanged). */
  async setRegsBoth(regs: number[], eip: number, eflags: number): Promise<void> {
    const q = await this.qemu.gdb.readRegisters();
    for (let i = 0; i < 8; i++) q[i] = regs[i];
    q[GdbReg.eip] = eip;
    q[GdbReg.eflags] = eflags;
    await this.qemu.gdb.writeRegisters(q);
    for (let i = 0; i < 8; i++) this.cpu.regs[i] = regs[i];
    this.cpu.eip = eip;
    this.cpu.setEflags(eflags);
  }

  /** Compares `len` bytes at `addr` in both emulators; returns the first differing offset or -1. */
  async compareMemory(addr: number, len: number): Promise<number> {
    const q = await this.qemu.gdb.readMemory(addr, len);
    for (let i = 0; i < len; i++) if (q[i] !== this.memory.read8(addr + i)) return i;
    return -1;
  }

  /**
   * The abridged x87 tag byte (bit i set when R(i) is not empty) of both emulators; QEMU's gdb
   * stub reports no tag word, so QEMU's comes from the monitor's `info registers` (FTW=..).
   * Null when the CPU has no FPU.
   */
  async abridgedTags(): Promise<{ qemu: number; pvreplay: number } | null> {
    const tw = (this.cpu as unknown as { fpuTw?: number }).fpuTw;
    if (tw === undefined) return null;
    const m = /FTW=([0-9a-f]+)/.exec(await this.qemu.gdb.monitor("info registers"));
    if (m === null) return null;
    let mine = 0;
    for (let r = 0; r < 8; r++) if (((tw >> (2 * r)) & 3) !== 3) mine |= 1 << r;
    return { qemu: parseInt(m[1], 16), pvreplay: mine };
  }

  /** Stops QEMU and removes its CPU logs. */
  async close(): Promise<void> {
    await this.qemu.close();
    if (this.#logDir !== null) await Deno.remove(this.#logDir, { recursive: true });
  }
}

/**
 * Converts QEMU's segment `flags` (descriptor high dword with base/limit bits cleared, as shown
 * by `info registers`) into pvreplay's `segAttr` encoding: access byte in bits 0..7, then the
 * AVL/L/D/G nibble in bits 12..15 (the descriptor's bits 40..55 as one 16-bit word).
 */
export function qemuFlagsToAttr(flags: number): number {
  return (flags >>> 8) & 0xf0ff;
}
