/**
 * The IA-32 CPU of a P6-class processor, as an interpreter.
 *
 * This file holds the architectural state, the public API, the run loop and the memory access
 * path (segmentation + software TLB). Instruction semantics live in sibling files split by family
 * (as Bochs' `cpu/`): `decoder.ts` (prefixes, ModRM, dispatch), `arith.ts`, `logical.ts`,
 * `shift.ts`, `string.ts`, `control.ts`, `system.ts`, `interrupts.ts`, `paging.ts`, `task.ts`,
 * `x87.ts`, `flags.ts`. Hot code is translated to JavaScript by `jit.ts` (same results; switched
 * off per CPU with {@link CpuOptions.jit} or for new CPUs with {@link translatorDefault}).
 *
 * Why this file is long: the architectural state, the run loop and the memory access path share
 * private fields on the hot path; splitting them would put a call between every access and the TLB.
 *
 * @module
 */

import { watchAccess } from "./watchpoints.ts";
import { MsrFile } from "./msr.ts";
import type { InterruptController, IoBus } from "../bus.ts";
import type { VirtualClock } from "../clock.ts";
import type { PhysicalMemory } from "../memory.ts";
import { type CpuHooks, ExitKind, NATIVE_HOOKS, TrapKind } from "./hooks.ts";
import { EFLAGS_MASK, IF, readEflags, RF, TF, VM } from "./flags.ts";
import { FAULT, faultClass, hasErrorCode, Vec } from "./fault.ts";
import { decode, execute } from "./decoder.ts";
import { BLOCK_THRESHOLD, BlockCache, buildBlock, verifyBlock } from "./blocks.ts";
import {
  DecodeCache,
  IC_MASK,
  icDropPage,
  icInsert,
  icKey,
  icNewGeneration,
  icRevalidate,
  icWritten,
} from "./icache.ts";
import { checkCodeBreakpoints, updateBreakpoints } from "./system.ts";
import { deliverInterrupt } from "./interrupts.ts";
import {
  fillTlb,
  flushTlb,
  probe,
  TLB_LIST,
  TLB_R,
  TLB_RAM,
  TLB_UR,
  TLB_UW,
  TLB_W,
} from "./paging.ts";
import { refreshSegment } from "./segments.ts";
import { type CpuSnapshot, restoreSnapshot, takeSnapshot } from "./snapshot.ts";
import { runTranslated, Translator } from "./jit.ts";

export type { CpuSnapshot } from "./snapshot.ts";

/** Start of the page after `lin`: a page-crossing access faults there (CR2, SDM Vol.3 4.7). */
function nextPage(lin: number): number {
  return ((lin | 0xfff) + 1) | 0;
}

/** Construction options of {@link Cpu}. */
export interface CpuOptions {
  memory: PhysicalMemory;
  io: IoBus;
  clock: VirtualClock;
  intr: InterruptController;
  hooks?: CpuHooks;
  /** Translate hot code to JavaScript (jit.ts); default {@link translatorDefault}. */
  jit?: boolean;
  /**
   * Initial APIC ID (CPUID.1:EBX[31:24], SDM Vol.2 CPUID); 0 is the bootstrap processor
   * (IA32_APIC_BASE.BSP set). Default 0.
   */
  apicId?: number;
}

let jitDefault = true;

/**
 * Whether CPUs constructed from now on translate hot code (when {@link CpuOptions.jit} is not
 * given); returns the previous setting. Translation never changes results, only speed.
 *
 * @example
 * ```ts
 * import { translatorDefault } from "./cpu.ts";
 * const before = translatorDefault(false); // interpreter only, e.g. for an A/B comparison
 * translatorDefault(before);
 * ```
 */
export function translatorDefault(on: boolean): boolean {
  const prev = jitDefault;
  jitDefault = on;
  return prev;
}

/** Why {@link Cpu.run} returned. */
export type StopReason = "budget" | "stop" | "shutdown" | "idle";

/** Segment register indices (encoding order) plus LDTR and TR. */
export const Seg = { ES: 0, CS: 1, SS: 2, DS: 3, FS: 4, GS: 5, LDTR: 6, TR: 7 } as const;

/** Segment-cache usability bits in `segOk`. */
export const SEG_R = 1;
export const SEG_W = 2;

/**
 * An IA-32 (P6) CPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Cpu } from "./cpu.ts";
 * import { PhysicalMemory } from "../memory.ts";
 * import { IoBus } from "../bus.ts";
 * import { VirtualClock } from "../clock.ts";
 * const memory = new PhysicalMemory({ size: 1 << 20 });
 * const cpu = new Cpu({
 *   memory, io: new IoBus(), clock: new VirtualClock(),
 *   intr: { hasInterrupt: () => false, acknowledge: () => 0 },
 * });
 * memory.load(0x7c00, new Uint8Array([0xb8, 0x34, 0x12, 0xf4])); // mov ax,0x1234; hlt
 * cpu.segSel[1] = 0; cpu.segBase[1] = 0; cpu.eip = 0x7c00;
 * cpu.run(100);
 * assert.equal((cpu.regs[0] & 0xffff), 0x1234);
 * assert.ok(cpu.halted);
 * ```
 */
export class Cpu {
  hooks: CpuHooks;
  readonly memory: PhysicalMemory;
  readonly io: IoBus;
  readonly clock: VirtualClock;
  /** Interrupt source; a backend that owns interrupt sources swaps it (core/platform.ts). */
  intr: InterruptController;
  /** Guest RAM and its views (the fast path of every access). */
  readonly ram: Uint8Array;
  readonly view: DataView;

  /** 8 GPRs in encoding order EAX ECX EDX EBX ESP EBP ESI EDI. */
  readonly regs: Int32Array = new Int32Array(8);
  /** Byte view of `regs` (AL = 0, AH = 1, CL = 4, ...). */
  readonly regs8: Uint8Array = new Uint8Array(this.regs.buffer);
  /** Word view of `regs` (AX = 0, CX = 2, ...). */
  readonly regs16: Uint16Array = new Uint16Array(this.regs.buffer);
  /** Offset of the next instruction in CS (unsigned). */
  eip = 0;

  /** EFLAGS bits not covered by `lazy`. */
  flags = 2;
  /** Status flags currently held lazily (see flags.ts). */
  lazy = 0;
  lOp1 = 0;
  lOp2 = 0;
  lAdd = 0;
  lRes = 0;
  lSize = 31;

  /** Segment caches, index ES0 CS1 SS2 DS3 FS4 GS5 LDTR6 TR7. `segAttr` = descriptor bits 40..55 (LAR format >> 8). */
  readonly segSel: Int32Array = new Int32Array(8);
  readonly segBase: Int32Array = new Int32Array(8);
  readonly segLimit: Int32Array = new Int32Array(8);
  readonly segAttr: Int32Array = new Int32Array(8);
  /** Derived per segment: lowest and highest valid offset, and SEG_R/SEG_W usability. */
  readonly segMin: Float64Array = new Float64Array(8);
  readonly segMax: Float64Array = new Float64Array(8);
  readonly segOk: Uint8Array = new Uint8Array(8);

  cr0 = 0x60000010;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  /** DR0..DR7 (DR4/DR5 alias DR6/DR7). */
  readonly dr: Int32Array = new Int32Array(8);
  cpl = 0;
  halted = false;
  gdtrBase = 0;
  gdtrLimit = 0xffff;
  idtrBase = 0;
  idtrLimit = 0x3ff;
  /** SYSENTER MSRs 0x174..0x176 and IA32_APIC_BASE. */
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  apicBase = 0xfee00900;
  /** Initial APIC ID; 0 is the bootstrap processor (docs/smp.md §3). */
  readonly apicId: number;
  /**
   * A halted CPU with interrupts enabled lets virtual time jump to the next device event. The
   * SMP scheduler turns it off: another CPU may still run, so a halt ends the CPU's quantum.
   */
  haltSkipsTime = true;
  /** MTRRs, IA32_MISC_ENABLE, IA32_BIOS_SIGN_ID (`msr.ts`). */
  readonly msrFile: MsrFile = new MsrFile();
  /** x87 control, status (with TOP in bits 11-13) and full tag words (core/cpu/x87.ts). */
  fpuCw = 0x37f;
  fpuSw = 0;
  fpuTw = 0xffff;

  /** The vector whose delivery triple-faulted (-1 if none). */
  shutdownVector = -1;

  // ---- mode, derived from cr0/eflags/segments (see updateMode) ----
  /** CR0.PE && !EFLAGS.VM. */
  pmode = false;
  v86 = false;
  /** CS.D: default operand and address size 32. */
  code32 = false;
  /** SS.B: 32-bit stack pointer. */
  stack32 = false;
  /** TLB permission masks for the current privilege (user when CPL = 3). */
  rdMask = TLB_R;
  wrMask = TLB_W;

  // ---- per-instruction decode state ----
  startEip = 0;
  opsize32 = false;
  addr32 = false;
  /** Segment override (-1 none). */
  segOvr = -1;
  /** 0 none, 0xF2 REPNE, 0xF3 REP/REPE. */
  rep = 0;
  lock = false;
  /** The translated instruction transfers control (set by translate.ts, ends a block). */
  insnJumps = false;
  /** Its displacement when it is a relative JMP/Jcc (0 otherwise). */
  insnDisp = 0;
  /** Effective address of the ModRM memory operand: offset and segment. */
  eaOff = 0;
  eaSeg = 3;
  /** The decoded parts of that operand (see operands.ts decodeEAParts). */
  eaBase = -1;
  eaIndex = -1;
  eaScale = 0;
  eaDisp = 0;

  // ---- fault / event state ----
  faultVec = 0;
  faultErr = 0;
  /** EXT bit for selector error codes: 1 while delivering an external event or exception. */
  ext = 0;
  /** DR7 enables at least one breakpoint (forces the single-step path). */
  breakpoints = false;
  /** DR7 enables at least one data breakpoint (`watchpoints.ts`). */
  dataBp = false;
  /** Data breakpoints matched by the current instruction (bit n = DRn). */
  dataHits = 0;
  /** Set when the current instruction loaded EFLAGS.RF = 1 (IRET, task switch). */
  rfLoaded = false;
  /** Set when the current instruction vectored through the IDT/IVT (INT n). */
  vectored = false;
  /** Interrupt shadow after STI / MOV SS / POP SS (SDM Vol.3 6.8.3). */
  inhibit = false;
  /** The shadow came from MOV SS/POP SS, which also defers single-step traps. */
  inhibitSS = false;
  /** Check the interrupt controller at the next boundary. */
  irqCheck = true;
  /** An NMI latched and not yet delivered: one deep, a second one while latched is lost. */
  nmiPending = false;
  /** NMIs blocked from an NMI's delivery until the next IRET (docs/smp.md §5). */
  nmiBlocked = false;
  /** Leave the fast inner loop at the next boundary. */
  breakLoop = false;
  stopRequested = false;
  shutdown = false;

  // ---- software TLB: per linear page permission bits and physical page base ----
  readonly tlbInfo: Int32Array = new Int32Array(0x100000);
  readonly tlbPhys: Int32Array = new Int32Array(0x100000);
  readonly tlbList: Int32Array = new Int32Array(TLB_LIST);
  tlbCount = 0;
  a20 = 0xffffffff;

  /** Decoded-instruction cache (icache.ts) and the blocks built from it (blocks.ts). */
  readonly icache: DecodeCache;
  readonly blocks: BlockCache = new BlockCache();
  /** The translator (null: interpreter only, or code generation from strings is disallowed). */
  jit: Translator | null;

  // ---- instruction fetch window: eip in [fwStart, fwStart+fwLen) is at ram[eip + fwDelta] ----
  fwStart = 0;
  fwLen = 0;
  fwDelta = 0;

  /** Scratch for CPUID/MSR hooks (no allocation per instruction). */
  readonly scratch: Int32Array = new Int32Array(4);
  /** Scratch for POPA and task switches (8 values) and call-gate parameters / segments (32). */
  readonly tmp8: Int32Array = new Int32Array(8);
  readonly tmp32: Int32Array = new Int32Array(32);
  /**
   * x87 data registers R0..R7 in physical order, 10 bytes each as in memory (64-bit significand,
   * then sign/exponent, little-endian), a view on them, and FRSTOR/FXRSTOR scratch.
   */
  readonly fpuRegs: Uint8Array = new Uint8Array(80);
  readonly fpuView: DataView = new DataView(this.fpuRegs.buffer);
  readonly tmpFpu: Uint8Array = new Uint8Array(80);
  /** Remainder of the last 64/32 division. */
  divRem = 0;
  /** Gate target / inner stack results (selector, offset). */
  gateSel = 0;
  gateOff = 0;
  /** icount at which the current batch ends (REP string instructions yield there). */
  batchEnd = 0;
  /** Checkpoint for multi-step transfers (control.ts atomic). */
  cpDepth = 0;
  cpCommitted = false;
  readonly cpRegs: Int32Array = new Int32Array(8);
  readonly cpSeg: Int32Array = new Int32Array(32);
  cpFlags = 0;
  cpCpl = 0;
  cpEip = 0;
  /** Descriptor scratch: the last descriptor read (low, high dword). */
  descLo = 0;
  descHi = 0;

  constructor(o: CpuOptions) {
    this.memory = o.memory;
    this.io = o.io;
    this.clock = o.clock;
    this.intr = o.intr;
    this.hooks = o.hooks ?? NATIVE_HOOKS;
    this.ram = o.memory.ram;
    this.view = o.memory.view;
    this.icache = new DecodeCache(o.memory.ramSize);
    this.jit = (o.jit ?? jitDefault) ? new Translator(o.memory.ramSize) : null;
    this.apicId = o.apicId ?? 0;
    // Every CPU on this memory caches code: a write to a code page drops it from all of them.
    const others = o.memory.onCodeWrite;
    o.memory.onCodeWrite = (page) => {
      others(page);
      icDropPage(this, page);
    };
    this.reset();
  }

  /** Power-on state: real mode, CS:IP = F000:FFF0 with CS base FFFF0000 (SDM Vol.3 9.1.1). */
  reset(): void {
    this.regs.fill(0);
    this.regs[2] = 0x633; // EDX = family 6 model 3 stepping 3 (SDM Vol.3 9.1.3)
    this.flags = 2;
    this.lazy = 0;
    for (let i = 0; i < 8; i++) {
      this.segSel[i] = 0;
      this.segBase[i] = 0;
      this.segLimit[i] = 0xffff;
      this.segAttr[i] = i === 7 ? 0x8b : i === 6 ? 0x82 : 0x93;
    }
    this.segSel[1] = 0xf000;
    this.segBase[1] = 0xffff0000 | 0;
    this.segAttr[1] = 0x9b;
    this.eip = 0xfff0;
    this.cr0 = 0x60000010;
    this.cr2 = this.cr3 = this.cr4 = 0;
    this.dr.fill(0);
    this.dr[6] = 0xffff0ff0 | 0;
    this.dr[7] = 0x400;
    this.breakpoints = false;
    this.dataBp = false;
    this.dataHits = 0;
    this.cpl = 0;
    this.halted = false;
    this.nmiPending = this.nmiBlocked = false;
    this.gdtrBase = 0;
    this.gdtrLimit = 0xffff;
    this.idtrBase = 0;
    this.idtrLimit = 0x3ff;
    this.sysenterCs = this.sysenterEsp = this.sysenterEip = 0;
    this.apicBase = this.apicId === 0 ? 0xfee00900 : 0xfee00800; // BSP flag (SDM 10.4.4)
    this.msrFile.reset();
    this.fpuCw = 0x37f;
    this.fpuSw = 0;
    this.fpuTw = 0xffff;
    this.shutdownVector = -1;
    this.shutdown = false;
    this.inhibit = this.inhibitSS = false;
    this.irqCheck = true;
    icNewGeneration(this);
    this.updateMode();
  }

  // ======================= public API =======================

  /** EFLAGS with all lazy flags computed. */
  getEflags(): number {
    return readEflags(this) >>> 0;
  }

  /** Replaces EFLAGS (bit 1 forced to 1, reserved bits cleared); mode follows VM. */
  setEflags(v: number): void {
    const oldVm = this.flags & VM;
    this.flags = (v & EFLAGS_MASK) | 2;
    this.lazy = 0;
    this.irqCheck = true;
    this.breakLoop = true;
    if ((this.flags & VM) !== oldVm) this.updateMode();
  }

  /** Ends {@link run} at the next instruction boundary with "stop". */
  requestStop(): void {
    this.stopRequested = true;
    this.breakLoop = true;
  }

  /** Executes exactly one instruction (after delivering any pending interrupt). */
  step(): StopReason {
    return this.run(1);
  }

  /**
   * Runs until `maxInsns` instructions retired (faults delivered also consume budget, so a fault
   * loop cannot hang the host), `requestStop()`, a triple fault, or an idle halt.
   */
  run(maxInsns: number): StopReason {
    const clock = this.clock;
    let budget = maxInsns;
    this.irqCheck = true;
    icNewGeneration(this); // RAM may have been written behind the memory API since the last run
    updateBreakpoints(this); // DR7 may have been written directly (debuggers, tests)
    while (true) {
      if (this.shutdown) return "shutdown";
      if (this.stopRequested) {
        this.stopRequested = false;
        return "stop";
      }
      if (clock.icount >= clock.nextDeadline) {
        clock.fireDue();
        this.irqCheck = true;
        continue;
      }
      if (budget <= 0) return "budget";
      let single = false;
      if (this.inhibit) {
        // The shadow covers exactly this boundary; the next one is checked again.
        this.inhibit = false;
        this.inhibitSS = false;
        single = true;
      } else if (this.irqCheck) {
        this.irqCheck = false; // STI/POPF/IRET/devices set it again
        if (this.nmiPending && !this.nmiBlocked) {
          // NMI before INTR and regardless of IF (docs/smp.md §5).
          this.halted = false;
          this.nmiPending = false;
          this.nmiBlocked = true;
          this.externalInterrupt(Vec.NMI, TrapKind.nmi);
          budget--;
          this.irqCheck = true;
          continue;
        }
        if ((this.flags & IF) !== 0 && this.intr.hasInterrupt()) {
          this.halted = false;
          this.externalInterrupt(this.intr.acknowledge() & 0xff);
          budget--;
          this.irqCheck = true;
          continue;
        }
      }
      if (this.halted) {
        if (
          (this.flags & IF) === 0 || clock.nextDeadline === Number.POSITIVE_INFINITY ||
          !this.haltSkipsTime
        ) {
          return "idle";
        }
        // Idle skip: virtual time jumps to the next device event (brief: documented as virtual time).
        const skip = Math.min(clock.nextDeadline - clock.icount, budget);
        clock.icount += skip;
        budget -= skip;
        continue;
      }
      this.breakLoop = false;
      const start = clock.icount;
      if (single || this.inhibit || (this.flags & (TF | RF)) !== 0 || this.breakpoints) {
        this.batchEnd = start + 1;
        this.stepSlow();
        budget -= Math.max(1, clock.icount - start);
        continue;
      }
      const end = start + Math.min(budget, clock.nextDeadline - start);
      this.batchEnd = end;
      try {
        this.runBatch(end);
        budget -= clock.icount - start;
      } catch (e) {
        if (e !== FAULT) throw e;
        budget -= clock.icount - start + 1;
        this.eip = this.startEip;
        this.handleFault();
      }
    }
  }

  /**
   * Runs instructions until icount reaches `end` or breakLoop is set: the hot loop, a method of
   * its own so that it is optimised as a whole function rather than through on-stack
   * replacement of run().
   */
  private runBatch(end: number): void {
    if (this.jit !== null) {
      runTranslated(this, this.jit, end);
      return;
    }
    const clock = this.clock;
    // CS.D and the generation change only with breakLoop set, i.e. between batches.
    const key = icKey(this);
    const ic = this.icache;
    const tags = ic.tag, keys = ic.key, lens = ic.len, fns = ic.fn, pageEpoch = ic.pageEpoch;
    const bc = this.blocks;
    const blocks = bc.fn, counts = bc.count, blockBytes = bc.bytes, blockKeys = bc.key;
    const epochs = bc.epoch, hits = bc.hits;
    while (clock.icount < end) {
      const eip = this.eip;
      this.startEip = eip;
      const off = (eip - this.fwStart) >>> 0;
      if (off < this.fwLen) {
        const pa = eip + this.fwDelta;
        const i = pa & IC_MASK;
        if (
          tags[i] === (pa | 0) && off + lens[i] <= this.fwLen &&
          (keys[i] === key || icRevalidate(this, pa, key))
        ) {
          const block = blocks[i];
          if (block !== null) {
            if (
              clock.icount + counts[i] <= end && off + blockBytes[i] <= this.fwLen &&
              ((blockKeys[i] === key && epochs[i] === pageEpoch[pa >>> 12]) ||
                verifyBlock(this, i, pa, key))
            ) {
              block(this, end);
              if (this.breakLoop) return;
              continue;
            }
          } else if (++hits[i] === BLOCK_THRESHOLD) buildBlock(this, pa, key);
          this.eip = eip + lens[i];
          fns[i](this);
          clock.icount++;
          if (this.breakLoop) return;
          continue;
        }
      }
      this.decodeAndRun(key);
      clock.icount++;
      if (this.breakLoop) return;
    }
  }

  /**
   * Executes the instruction at EIP through the decoded-instruction cache (`key` = icKey) and
   * counts it: the translator's cold path.
   */
  stepCached(key: number): void {
    const eip = this.eip;
    this.startEip = eip;
    const off = (eip - this.fwStart) >>> 0;
    if (off < this.fwLen) {
      const pa = eip + this.fwDelta;
      const i = pa & IC_MASK;
      const ic = this.icache;
      if (
        ic.tag[i] === (pa | 0) && off + ic.len[i] <= this.fwLen &&
        (ic.key[i] === key || icRevalidate(this, pa, key))
      ) {
        this.eip = eip + ic.len[i];
        ic.fn[i](this);
        this.clock.icount++;
        return;
      }
    }
    this.decodeAndRun(key);
    this.clock.icount++;
  }

  /** Decodes the instruction at EIP, caches it when it lies in the fetch window, runs it. */
  private decodeAndRun(key: number): void {
    const eip = this.eip;
    const f = decode(this);
    if (f === null) return; // executed while decoding (not a translated instruction)
    const off = (eip - this.fwStart) >>> 0;
    const len = this.eip - eip;
    if (off < this.fwLen && off + len <= this.fwLen) {
      icInsert(this, eip + this.fwDelta, len, key, f);
    }
    f(this);
  }

  /** One instruction with single-step handling (TF; none after MOV SS/POP SS, SDM Vol.3 6.8.3). */
  private stepSlow(): void {
    const singleStep = (this.flags & TF) !== 0;
    this.vectored = false;
    try {
      this.startEip = this.eip;
      if (this.breakpoints && (this.flags & RF) === 0) checkCodeBreakpoints(this);
      this.rfLoaded = false;
      this.dataHits = 0;
      execute(this);
      this.clock.icount++;
      // RF covers one instruction: cleared when it completes, unless the instruction itself
      // loaded RF=1 (IRET, task switch) for the next one (SDM Vol.3 17.3.1.1).
      if (!this.rfLoaded) this.flags &= ~RF;
    } catch (e) {
      if (e !== FAULT) throw e;
      this.eip = this.startEip;
      this.handleFault();
      return;
    }
    // A REP string instruction yields after each iteration here, so it traps per iteration.
    // INT n / INT3 / INTO vector through a gate that clears TF: no single-step trap.
    const step = singleStep && !this.inhibitSS && !this.vectored;
    const hits = this.dataHits;
    if (step || hits) {
      // SDM Vol.3 17.3.1.4: single-step #DB is a trap after the instruction, DR6.BS set; data
      // breakpoints (17.3.1.2) trap then too, with DR6.Bn; both arrive as one #DB.
      if (step) this.dr[6] |= 0x4000;
      if (hits) this.dr[6] = (this.dr[6] & ~0xf) | hits;
      this.dataHits = 0;
      this.raiseTrap(Vec.DB);
    }
  }

  /** Delivers a trap-class exception (EIP already at the next instruction). */
  raiseTrap(vector: number): void {
    this.faultVec = vector;
    this.faultErr = -1;
    this.startEip = this.eip;
    this.handleFault();
  }

  /**
   * The NMI input, an edge (docs/smp.md §5): latched and taken at the next instruction boundary
   * outside an interrupt shadow where NMIs are not blocked, by the same boundary check that
   * takes INTR (so the translator honours it as it honours INTR).
   */
  nmi(): void {
    this.nmiPending = true;
    this.irqCheck = true;
    this.breakLoop = true;
  }

  /** Delivers an external interrupt (INTR acknowledged) or, with `kind` nmi, an NMI. */
  private externalInterrupt(
    vector: number,
    kind: TrapKind = TrapKind.interrupt,
  ): void {
    this.startEip = this.eip;
    try {
      this.ext = 1;
      this.hooks.onTrap(kind, vector, -1, this.eip, this.cr2);
      if (!this.hooks.takeTrap(kind, vector, -1)) {
        deliverInterrupt(this, vector, -1, false);
      }
      this.ext = 0;
    } catch (e) {
      this.ext = 0;
      if (e !== FAULT) throw e;
      this.eip = this.startEip;
      this.handleFault();
    }
  }

  /**
   * Delivers the exception recorded in faultVec/faultErr, applying the double-fault rules
   * (SDM Vol.3 Table 6-5) and shutting down on a triple fault.
   */
  handleFault(): void {
    let vec = this.faultVec;
    let err = this.faultErr;
    this.halted = false;
    for (;;) {
      if (!hasErrorCode(vec)) err = -1;
      try {
        this.ext = 1;
        this.hooks.onTrap(TrapKind.exception, vec, err, this.eip, this.cr2);
        if (!this.hooks.takeTrap(TrapKind.exception, vec, err)) {
          deliverInterrupt(this, vec, err, false);
        }
        this.ext = 0;
        return;
      } catch (e) {
        this.ext = 0;
        if (e !== FAULT) throw e;
        this.eip = this.startEip;
        const next = this.faultVec;
        if (vec === Vec.DF) {
          this.enterShutdown(vec);
          return;
        }
        const a = faultClass(vec), b = faultClass(next);
        if ((a === 1 && b === 1) || (a === 2 && b !== 0)) {
          vec = Vec.DF;
          err = 0;
        } else {
          vec = next;
          err = this.faultErr;
        }
      }
    }
  }

  /** Triple fault: the processor enters shutdown (SDM Vol.3 6.15, interrupt 8). */
  enterShutdown(vector: number): void {
    this.shutdown = true;
    this.shutdownVector = vector;
    this.breakLoop = true;
    this.hooks.onExit(ExitKind.shutdown, vector, 0, 0);
  }

  /** Records an exception and aborts the current instruction. */
  fault(vector: number, err = 0): never {
    this.faultVec = vector;
    this.faultErr = err;
    throw FAULT;
  }

  /** Linear -> physical, -1 if not mapped. No side effects (no A/D bits, no TLB fill). */
  translate(lin: number): number {
    return probe(this, lin | 0);
  }

  /** Reads 32 bits at a linear address for debuggers/backends; -1 if any byte is unmapped. */
  readLinear32(lin: number): number {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const pa = probe(this, (lin + i) | 0);
      if (pa < 0) return -1;
      v |= this.memory.read8(pa) << (8 * i);
    }
    return v >>> 0;
  }

  /** The complete CPU state as JSON-serialisable data. */
  saveState(): CpuSnapshot {
    return takeSnapshot(this);
  }

  /** Restores {@link saveState} output; continuing gives the straight-run result. */
  loadState(s: CpuSnapshot): void {
    restoreSnapshot(this, s);
  }

  // ======================= mode bookkeeping =======================

  /** Recomputes derived mode fields after CR0, EFLAGS.VM, CS or SS changes. */
  updateMode(): void {
    const pe = (this.cr0 & 1) !== 0;
    this.v86 = pe && (this.flags & VM) !== 0;
    this.pmode = pe && !this.v86;
    if (this.v86) this.cpl = 3;
    else if (!pe) this.cpl = 0;
    this.code32 = !this.v86 && (this.segAttr[1] & 0x4000) !== 0;
    this.stack32 = !this.v86 && (this.segAttr[2] & 0x4000) !== 0;
    const user = this.cpl === 3;
    this.rdMask = user ? TLB_UR : TLB_R;
    this.wrMask = user ? TLB_UW : TLB_W;
    for (let i = 0; i < 6; i++) refreshSegment(this, i);
    this.fwLen = 0;
    this.breakLoop = true;
  }

  /** Drops cached translations (CR3 write: `global` false keeps global pages). */
  flushTlb(all: boolean): void {
    flushTlb(this, all);
    this.fwLen = 0;
  }

  // ======================= linear memory access =======================

  /** Physical address for an access at `lin`, filling the TLB (may raise #PF). */
  xlate(lin: number, write: boolean): number {
    const page = lin >>> 12;
    if (this.tlbInfo[page] & (write ? this.wrMask : this.rdMask)) {
      return (this.tlbPhys[page] | (lin & 0xfff)) >>> 0;
    }
    return fillTlb(this, lin, write, this.cpl === 3);
  }

  readL8(lin: number): number {
    const info = this.tlbInfo[lin >>> 12];
    if ((info & (this.rdMask | TLB_RAM)) === (this.rdMask | TLB_RAM)) {
      return this.ram[this.tlbPhys[lin >>> 12] | (lin & 0xfff)];
    }
    const pa = this.xlate(lin, false);
    if (this.dataBp) watchAccess(this, lin, 1, false);
    return this.readPhys(pa, 1);
  }

  readL16(lin: number): number {
    const info = this.tlbInfo[lin >>> 12];
    if ((info & (this.rdMask | TLB_RAM)) === (this.rdMask | TLB_RAM) && (lin & 0xfff) < 0xfff) {
      return this.view.getUint16(this.tlbPhys[lin >>> 12] | (lin & 0xfff), true);
    }
    if ((lin & 0xfff) === 0xfff) {
      this.xlate(lin, false);
      this.xlate(nextPage(lin), false);
      return this.readL8(lin) | (this.readL8(lin + 1) << 8);
    }
    const pa = this.xlate(lin, false);
    if (this.dataBp) watchAccess(this, lin, 2, false);
    return this.readPhys(pa, 2);
  }

  readL32(lin: number): number {
    const info = this.tlbInfo[lin >>> 12];
    if ((info & (this.rdMask | TLB_RAM)) === (this.rdMask | TLB_RAM) && (lin & 0xfff) < 0xffd) {
      return this.view.getInt32(this.tlbPhys[lin >>> 12] | (lin & 0xfff), true);
    }
    if ((lin & 0xfff) > 0xffc) {
      // Page-crossing: translate both pages before reading either (no partial effects).
      this.xlate(lin, false);
      this.xlate(nextPage(lin), false);
      let v = 0;
      for (let i = 0; i < 4; i++) v |= this.readL8(lin + i) << (8 * i);
      return v;
    }
    const pa = this.xlate(lin, false);
    if (this.dataBp) watchAccess(this, lin, 4, false);
    return this.readPhys(pa, 4) | 0;
  }

  writeL8(lin: number, v: number): void {
    const info = this.tlbInfo[lin >>> 12];
    if ((info & (this.wrMask | TLB_RAM)) === (this.wrMask | TLB_RAM)) {
      const pa = this.tlbPhys[lin >>> 12] | (lin & 0xfff);
      this.ram[pa] = v;
      if (this.memory.codePages[pa >>> 12] !== 0) icWritten(this, pa, 1);
      return;
    }
    const pa = this.xlate(lin, true);
    if (this.dataBp) watchAccess(this, lin, 1, true);
    this.writePhys(pa, 1, v);
  }

  writeL16(lin: number, v: number): void {
    const info = this.tlbInfo[lin >>> 12];
    if ((info & (this.wrMask | TLB_RAM)) === (this.wrMask | TLB_RAM) && (lin & 0xfff) < 0xfff) {
      const pa = this.tlbPhys[lin >>> 12] | (lin & 0xfff);
      this.view.setUint16(pa, v, true);
      if (this.memory.codePages[pa >>> 12] !== 0) icWritten(this, pa, 2);
      return;
    }
    if ((lin & 0xfff) === 0xfff) {
      this.xlate(lin, true);
      this.xlate(nextPage(lin), true);
      this.writeL8(lin, v);
      this.writeL8(lin + 1, v >>> 8);
      return;
    }
    const pa = this.xlate(lin, true);
    if (this.dataBp) watchAccess(this, lin, 2, true);
    this.writePhys(pa, 2, v);
  }

  writeL32(lin: number, v: number): void {
    const info = this.tlbInfo[lin >>> 12];
    if ((info & (this.wrMask | TLB_RAM)) === (this.wrMask | TLB_RAM) && (lin & 0xfff) < 0xffd) {
      const pa = this.tlbPhys[lin >>> 12] | (lin & 0xfff);
      this.view.setInt32(pa, v, true);
      if (this.memory.codePages[pa >>> 12] !== 0) icWritten(this, pa, 4);
      return;
    }
    if ((lin & 0xfff) > 0xffc) {
      this.xlate(lin, true);
      this.xlate(nextPage(lin), true);
      for (let i = 0; i < 4; i++) this.writeL8(lin + i, v >>> (8 * i));
      return;
    }
    const pa = this.xlate(lin, true);
    if (this.dataBp) watchAccess(this, lin, 4, true);
    this.writePhys(pa, 4, v);
  }

  /** Checks that `size` bytes at `lin` are writable (RMW instructions check before reading). */
  checkWriteL(lin: number, size: number): void {
    this.xlate(lin, true);
    if (((lin & 0xfff) + size) > 0x1000) this.xlate(nextPage(lin), true);
  }

  private readPhys(pa: number, size: 1 | 2 | 4): number {
    const m = this.memory;
    if (pa + size <= m.ramSize && m.slowPages[pa >>> 12] === 0) {
      return size === 1
        ? this.ram[pa]
        : size === 2
        ? this.view.getUint16(pa, true)
        : this.view.getInt32(pa, true);
    }
    // MMIO/ROM: a device may change interrupt state.
    this.irqCheck = true;
    this.breakLoop = true;
    return size === 1 ? m.read8(pa) : size === 2 ? m.read16(pa) : m.read32(pa);
  }

  private writePhys(pa: number, size: 1 | 2 | 4, v: number): void {
    const m = this.memory;
    if (size === 1) m.write8(pa, v & 0xff);
    else if (size === 2) m.write16(pa, v & 0xffff);
    else m.write32(pa, v);
    if (!(pa + size <= m.ramSize && m.slowPages[pa >>> 12] === 0)) {
      this.irqCheck = true;
      this.breakLoop = true;
    }
  }

  // ======================= segmented memory access =======================

  /** Raises the segment-limit/usability fault: #SS(0) for SS, #GP(0) otherwise. */
  segFault(seg: number): never {
    return this.fault(seg === 2 ? Vec.SS : Vec.GP, 0);
  }

  /** Linear address of `size` bytes at seg:off after limit/type checks (SDM Vol.3 5.3). */
  lin(seg: number, off: number, size: number, write: boolean): number {
    if (
      (this.segOk[seg] & (write ? SEG_W : SEG_R)) === 0 || off < this.segMin[seg] ||
      off + size - 1 > this.segMax[seg]
    ) {
      this.segFault(seg);
    }
    return (this.segBase[seg] + off) | 0;
  }

  read8(seg: number, off: number): number {
    return this.readL8(this.lin(seg, off, 1, false));
  }
  read16(seg: number, off: number): number {
    return this.readL16(this.lin(seg, off, 2, false));
  }
  read32(seg: number, off: number): number {
    return this.readL32(this.lin(seg, off, 4, false));
  }
  write8(seg: number, off: number, v: number): void {
    this.writeL8(this.lin(seg, off, 1, true), v);
  }
  write16(seg: number, off: number, v: number): void {
    this.writeL16(this.lin(seg, off, 2, true), v);
  }
  write32(seg: number, off: number, v: number): void {
    this.writeL32(this.lin(seg, off, 4, true), v);
  }
  /** Reads by size code (0 byte, 1 word, 2 dword). */
  readS(seg: number, off: number, s: number): number {
    return s === 2 ? this.read32(seg, off) : s === 1 ? this.read16(seg, off) : this.read8(seg, off);
  }
  writeS(seg: number, off: number, s: number, v: number): void {
    if (s === 2) this.write32(seg, off, v);
    else if (s === 1) this.write16(seg, off, v);
    else this.write8(seg, off, v);
  }
  /** Validates a later write of size code `s` at seg:off (for read-modify-write). */
  checkWrite(seg: number, off: number, s: number): void {
    const n = 1 << s;
    this.checkWriteL(this.lin(seg, off, n, true), n);
  }

  // ======================= stack =======================

  /** Stack pointer masked to the stack size. */
  sp(): number {
    return this.stack32 ? this.regs[4] >>> 0 : this.regs[4] & 0xffff;
  }

  /** Sets ESP or SP by stack size. */
  setSp(v: number): void {
    if (this.stack32) this.regs[4] = v;
    else this.regs16[8] = v;
  }

  push32(v: number): void {
    const sp = this.stack32 ? (this.regs[4] - 4) >>> 0 : (this.regs[4] - 4) & 0xffff;
    this.write32(2, sp, v);
    this.setSp(sp);
  }

  push16(v: number): void {
    const sp = this.stack32 ? (this.regs[4] - 2) >>> 0 : (this.regs[4] - 2) & 0xffff;
    this.write16(2, sp, v);
    this.setSp(sp);
  }

  /** Pushes by operand size (32 when `o32`). */
  push(v: number, o32: boolean): void {
    if (o32) this.push32(v);
    else this.push16(v);
  }

  /** Reads the stack at SP + `delta` (no SP change) by operand size. */
  peek(delta: number, o32: boolean): number {
    const sp = this.stack32 ? (this.regs[4] + delta) >>> 0 : (this.regs[4] + delta) & 0xffff;
    return o32 ? this.read32(2, sp) : this.read16(2, sp);
  }

  pop32(): number {
    const v = this.peek(0, true);
    this.setSp(this.regs[4] + 4);
    return v;
  }

  pop16(): number {
    const v = this.peek(0, false);
    this.setSp(this.regs[4] + 2);
    return v;
  }

  pop(o32: boolean): number {
    return o32 ? this.pop32() : this.pop16();
  }
}
