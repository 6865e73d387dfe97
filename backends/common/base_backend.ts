/**
 * The generic backend machinery: turns CPU hook invocations, port I/O and MMIO observations
 * into trace events. A concrete backend supplies its ABI vocabulary (how an exit, a port access
 * is named and numbered) and overrides the hooks it takes over; everything else — event
 * construction, trap naming, canonical-op derivation and ordering — lives here once.
 *
 * @module
 */

import {
  type BootProtocol,
  type GuestImage,
  pcBootProtocol,
  type Platform,
} from "../../core/platform.ts";
import { ImageError } from "../../core/loaders/image_error.ts";
import type { AccessSize, MmioObserver } from "../../core/bus.ts";
import { EXIT_NAMES, ExitKind, TrapKind } from "../../core/cpu/hooks.ts";
import { DEFAULT_EPOCH, DEFAULT_TSC_HZ } from "../../core/clock.ts";
import { makeEvent, type TraceEvent } from "../../vocabulary/event.ts";
import type { Backend, BackendContext, BackendDescription, BackendSnapshot } from "../backend.ts";
import {
  APIC_BASE,
  cpuLocalAtReset,
  type CpuLocalState,
  type Derived,
  type DeriverState,
  HardwareOpDeriver,
  hasPortRule,
  type HwEvent,
} from "./hardware_ops.ts";
import { exceptionHasErrorCode, exceptionName, hex2 } from "../../vocabulary/trap_names.ts";
import type { AbiRecord, CallModel, HwSource, HwStep, ModelEnv } from "../model.ts";

/**
 * Default local-APIC timer input clock. The real value is the machine's LAPIC model's choice
 * (UNVERIFIED here, so configurable through {@link BackendContext.apicBusHz}).
 */
export const DEFAULT_APIC_BUS_HZ = 100_000_000;

/** An event before the deriver adds its canonical side. */
export type PendingEvent = Omit<TraceEvent, "seq">;

/** Fields for {@link BaseBackend.emit}; `icount` defaults to the clock's. */
export type EventFields = Omit<Parameters<typeof makeEvent>[0], "icount"> & { icount?: number };

const CS = 1;

/** How many of a, b, c each exit kind carries (hooks.ts layout), indexed by kind. */
const EXIT_ARITY = new Int8Array(64);
for (
  const [kind, n] of [
    [ExitKind.ifChange, 1],
    [ExitKind.crWrite, 2],
    [ExitKind.crRead, 2],
    [ExitKind.rdmsr, 3],
    [ExitKind.wrmsr, 3],
    [ExitKind.cpuid, 2],
    [ExitKind.invlpg, 1],
    [ExitKind.lgdt, 2],
    [ExitKind.lidt, 2],
    [ExitKind.lldt, 1],
    [ExitKind.ltr, 1],
    [ExitKind.rdtsc, 1],
    [ExitKind.ioIn, 3],
    [ExitKind.ioOut, 3],
    [ExitKind.drWrite, 2],
    [ExitKind.lmsw, 1],
    [ExitKind.shutdown, 1],
  ]
) EXIT_ARITY[kind] = n;

/** The raw arguments of an exit, unsigned (an exit is recorded per privileged instruction). */
export function exitArgs(kind: ExitKind, a: number, b: number, c: number): number[] {
  switch (EXIT_ARITY[kind]) {
    case 0:
      return [];
    case 1:
      return [a >>> 0];
    case 2:
      return [a >>> 0, b >>> 0];
    default:
      return [a >>> 0, b >>> 0, c >>> 0];
  }
}

/** The value an exit gave the guest (CR or MSR read, TSC low half), or null. */
export function exitRet(kind: ExitKind, a: number, b: number): number | null {
  return kind === ExitKind.crRead || kind === ExitKind.rdmsr
    ? b >>> 0
    : kind === ExitKind.rdtsc
    ? a >>> 0
    : null;
}

const PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

/**
 * Base class for every backend. {@link BaseBackend.exitRecord} and {@link BaseBackend.portRecord}
 * name exits as bare hardware does (an exit's number is its kind); a backend with its own exit
 * vocabulary (kvm's exit reasons) overrides them. Subclasses override the CPU hooks they take
 * over (`cpuid`, `rdmsr`, `wrmsr`, `hypercall`, `softwareInterrupt`, `takeTrap`).
 */
export abstract class BaseBackend implements Backend, MmioObserver {
  abstract readonly name: string;
  abstract readonly version: string;
  abstract describe(): BackendDescription;
  abstract model(env?: Partial<ModelEnv>): CallModel;
  /**
   * Multiboot unless a backend boots its own way (docs/backends.md); a PC backend that keeps
   * it boots an image without a Multiboot header by the Linux protocol ({@link bootProtocolFor}).
   */
  readonly bootProtocol: BootProtocol = "multiboot";
  /** The protocol {@link boot} uses for `image` (a PC boots Linux kernels too, as QEMU does). */
  bootProtocolFor(image: GuestImage): BootProtocol {
    return this.bootProtocol === "multiboot" ? pcBootProtocol(image) : this.bootProtocol;
  }
  boot(platform: Platform, image: GuestImage): void {
    if (this.bootProtocolFor(image) === "linux") {
      platform.bootLinux(image);
      return;
    }
    if (image.initrd) {
      throw new ImageError(image.file, "is a Multiboot kernel; --initrd needs a Linux kernel");
    }
    platform.bootMultiboot(image);
  }
  /** The backend's name and number for a CPU exit (default: the hardware's, nr = the kind). */
  protected exitRecord(kind: ExitKind, a: number, b: number, c: number): AbiRecord {
    return {
      nr: kind,
      name: EXIT_NAMES[kind],
      args: exitArgs(kind, a, b, c),
      ret: exitRet(kind, a, b),
    };
  }
  /** The backend's name and arguments for a port access (nr is always the port). */
  protected portRecord(
    dir: "in" | "out",
    _port: number,
    size: AccessSize,
    value: number,
  ): { name: string; args: number[] } {
    return { name: dir, args: [size, value >>> 0] };
  }

  #ctx: BackendContext | null = null;
  #prevMmio: MmioObserver | null = null;
  #deriver: HardwareOpDeriver<PendingEvent> | null = null;
  /** By vCPU: its last exit was HLT (or a shutdown) and no trap or wake-up has followed. */
  #halted: boolean[] = [];
  /** The deriver's per-CPU state of each vCPU while another one runs (docs/smp.md §3). */
  #parked: CpuLocalState[] = [];
  #after: PendingEvent[] = [];
  /** Scratch for {@link BaseBackend.#push}. */
  #hw: HwEvent = { source: "exit", kind: 0, a: 0, b: 0, c: 0, icount: 0, eip: 0 };
  /**
   * A run of exact repetitions of the last port event (a polling loop): `#runPort` is -1 when
   * no run is open. Only opened when the sink takes runs ({@link EventSink.emitRepeat}).
   */
  #runPort = -1;
  #runKind: ExitKind = ExitKind.ioIn;
  #runSize = 0;
  #runValue = 0;
  #runEip = 0;
  #runIcount = 0;
  #runStep = 0;
  #runCount = 0;
  /** The CPU whose events are being recorded (docs/smp.md §3). */
  #vcpu = 0;

  /** The attached context; throws if the backend is used before {@link attach}. */
  protected get ctx(): BackendContext {
    return this.#ctx ?? this.#detached();
  }

  #detached(): never {
    throw new Error(`backend ${this.name}@${this.version} used before attach()`);
  }

  attach(ctx: BackendContext): void {
    if (this.#ctx) throw new Error(`backend ${this.name}@${this.version} is already attached`);
    this.#ctx = ctx;
    this.#prevMmio = ctx.memory.mmioObserver;
    ctx.memory.mmioObserver = this;
    const env = {
      nowNs: () => ctx.clock.nanos(),
      opcode: () => this.#opcode(),
      readLinear32: (lin: number) => this.readLinear32(lin),
      gdtrBase: () => ctx.cpu.gdtrBase >>> 0,
      reg: (i: number) => ctx.cpu.regs[i] >>> 0,
      apicBusHz: ctx.apicBusHz ?? DEFAULT_APIC_BUS_HZ,
    };
    this.#deriver = new HardwareOpDeriver(
      env,
      (ev, d) => {
        // The pending event is this backend's own object: complete it in place (no copy).
        ev.op = d.op;
        ev.opArgs = d.opArgs;
        ev.state = d.state;
        this.#emitNow(ev);
      },
      (hw, d) => this.refine(hw, d),
      ctx.cpu.cr3 >>> 0,
      ctx.cpu.cr4 >>> 0,
    );
  }

  detach(): void {
    if (!this.#ctx) return;
    this.flush();
    this.#ctx.memory.mmioObserver = this.#prevMmio;
    this.#ctx = null;
    this.#deriver = null;
  }

  setVcpu(index: number): void {
    this.flush();
    const d = this.#deriver;
    if (d && index !== this.#vcpu) {
      const s = d.state;
      this.#parked[this.#vcpu] = {
        cr3: s.cr3,
        cr4: s.cr4,
        apicLvtt: s.apicLvtt,
        apicDivide: s.apicDivide,
      };
      Object.assign(s, this.#parked[index] ?? cpuLocalAtReset());
    }
    this.#vcpu = index;
  }

  resetVcpu(index: number): void {
    // The CPU left its halt for wait-for-SIPI: the next trap on it ends no halt.
    this.unhaltVcpu(index);
  }

  flush(): void {
    this.#closeRun();
    this.#deriver?.flush();
    this.#drainAfter();
  }

  // ---- CPU hooks -------------------------------------------------------------------------

  onTrap(kind: TrapKind, vector: number, errorCode: number, eip: number, cr2: number): void {
    this.flush();
    const state: PendingEvent["state"] = [];
    const woke = this.unhaltVcpu(this.#vcpu);
    if (woke) state.push(["HALTED", 0]);
    const base = {
      icount: this.ctx.clock.icount,
      eip: eip >>> 0,
      nr: vector,
      vector,
      vcpu: this.#vcpu,
    };
    if (kind === TrapKind.exception) {
      const pf = vector === 14;
      if (pf) state.unshift(["CR2", cr2 >>> 0]);
      this.#emitNow(makeEvent({
        ...base,
        kind: "exception",
        name: exceptionName(vector),
        errorCode: exceptionHasErrorCode(vector) ? errorCode >>> 0 : null,
        cr2: pf ? cr2 >>> 0 : null,
        state,
      }));
    } else {
      const irq = kind === TrapKind.interrupt ? this.ctx.irqOfVector?.(vector) ?? -1 : -1;
      const name = kind === TrapKind.nmi
        ? "nmi"
        : kind === TrapKind.software
        ? `int_${hex2(vector)}`
        : irq >= 0
        ? `irq${irq}`
        : `vector_${hex2(vector)}`;
      this.#emitNow(makeEvent({ ...base, kind: "interrupt", name, state }));
    }
    this.afterTrap(kind, vector, woke);
  }

  onExit(kind: ExitKind, a: number, b: number, c: number): void {
    if (this.#ctx === null) this.#detached();
    // Port I/O is recorded here, from the CPU's exit, where EIP is the instruction's own (string
    // I/O reports one exit per element); it carries the backend's port vocabulary.
    if (kind === ExitKind.ioIn || kind === ExitKind.ioOut) {
      if (a === this.#runPort && this.#extendsRun(kind, b, c)) return;
      this.#port(kind === ExitKind.ioIn ? "in" : "out", a, b as AccessSize, c);
      return;
    }
    // Events queued by this instruction's own hook (wrmsr) follow its exit: no drain before.
    const rec = this.exitRecord(kind, a, b, c);
    // CPUID has written its answer when the exit is reported: the guest's result is EAX (the
    // other registers are the canonical op's arguments), so a what-if can alter the leaf.
    if (kind === ExitKind.cpuid) rec.ret = this.#ctx!.cpu.regs[0] >>> 0;
    this.#push("exit", kind, a, b, c, "exit", rec.nr, rec.name, rec.args, rec.ret ?? null);
    this.#drainAfter();
  }

  cpuid(_leaf: number, _subleaf: number, _out: Int32Array): void {}
  rdmsr(_index: number, _out: Int32Array): boolean {
    return false;
  }
  wrmsr(_index: number, _lo: number, _hi: number): boolean {
    return false;
  }
  hypercall(_kind: "vmcall" | "vmmcall"): boolean {
    return false;
  }
  softwareInterrupt(_vector: number): boolean {
    return false;
  }
  takeTrap(_kind: TrapKind, _vector: number, _errorCode: number): boolean {
    return false;
  }

  // ---- MMIO observer ---------------------------------------------------------------------

  onMmioRead(pa: number, size: AccessSize, value: number): void {
    this.#prevMmio?.onMmioRead(pa, size, value);
    this.#mmio("mmio_read", pa, size, value);
  }

  onMmioWrite(pa: number, size: AccessSize, value: number): void {
    this.#prevMmio?.onMmioWrite(pa, size, value);
    this.#mmio("mmio_write", pa, size, value);
  }

  beforeMmio(pa: number): void {
    this.#prevMmio?.beforeMmio?.(pa);
    if (this.#ctx && ((pa - APIC_BASE) >>> 0) < 0x1000) this.beforeApicAccess();
  }

  // ---- for subclasses --------------------------------------------------------------------

  /**
   * Called after a trap event has been emitted (KVM refreshes kvmclock on interrupts); `woke`:
   * the trap ended the vCPU's halt.
   */
  protected afterTrap(_kind: TrapKind, _vector: number, _woke: boolean): void {}

  /** Called before the guest's access to the local-APIC window reaches the APIC. */
  protected beforeApicAccess(): void {}

  /** The vCPU whose events are being recorded. */
  protected get vcpu(): number {
    return this.#vcpu;
  }

  /** Forgets that vCPU `index` halted (a trap or the hypervisor woke it); true if it had. */
  protected unhaltVcpu(index: number): boolean {
    const was = this.#halted[index] === true;
    this.#halted[index] = false;
    return was;
  }

  /**
   * Lets a backend replace the hardware derivation for an event it gives meaning to. Must be a
   * pure function of the event for port accesses no rule decodes (polling runs rely on it).
   */
  protected refine(_hw: HwEvent, d: Derived): Derived {
    return d;
  }

  /** Emits an event now, after any held events (hypercalls, markers). */
  protected emit(fields: EventFields): void {
    this.flush();
    this.#emitNow(makeEvent(this.#stamp(fields)));
  }

  /**
   * Queues an event to follow the exit event of the instruction being executed (a hook runs
   * during the instruction, its exit is reported after it); released at the next event.
   */
  protected emitAfterExit(fields: EventFields): void {
    // The queued event follows the open run's repetitions: no more may join it.
    this.#closeRun();
    this.#after.push(makeEvent(this.#stamp(fields)));
  }

  /** Emits an event after the one just recorded (after the deriver's, if it holds events). */
  protected emitAfterEvent(fields: EventFields): void {
    this.emitAfterExit(fields);
    this.#drainAfter();
  }

  #stamp(fields: EventFields) {
    return { vcpu: this.#vcpu, ...fields, icount: fields.icount ?? this.ctx.clock.icount };
  }

  /** Names a modelled hardware step in this backend's vocabulary (as recorded events are). */
  protected nameStep(s: HwStep): AbiRecord {
    if (s.source === "exit") return this.exitRecord(s.kind as ExitKind, s.a, s.b, s.c);
    if (s.source === "in" || s.source === "out") {
      return { nr: s.a, ...this.portRecord(s.source, s.a, s.b as AccessSize, s.c) };
    }
    return { nr: s.a >>> 0, name: s.source, args: [s.b, s.c >>> 0] };
  }

  /** Model constants from the attached machine, else defaults. */
  protected modelEnv(env: Partial<ModelEnv> = {}): ModelEnv {
    return {
      epoch: env.epoch ?? this.#ctx?.epoch ?? DEFAULT_EPOCH,
      tscHz: env.tscHz ?? this.#ctx?.clock.tscHz ?? DEFAULT_TSC_HZ,
    };
  }

  /** Current EIP. */
  protected get eip(): number {
    return this.ctx.cpu.eip >>> 0;
  }

  /** Reads 32 bits at a linear address through the guest's paging, or null if unmapped. */
  protected readLinear32(lin: number): number | null {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const b = this.#readLinear8((lin + i) >>> 0);
      if (b < 0) return null;
      v |= b << (8 * i);
    }
    return v >>> 0;
  }

  /** Physical address of the current instruction, or -1. */
  protected instructionPa(): number {
    const cpu = this.ctx.cpu;
    return cpu.translate((cpu.segBase[CS] + cpu.eip) >>> 0);
  }

  saveState(): BackendSnapshot {
    this.flush();
    const d = this.#deriver?.state;
    return {
      halted: this.#halted[0] === true,
      deriver: d ? structuredClone(d) : null,
      ...(this.#halted.length > 1 || this.#vcpu > 0
        ? { vcpu: this.#vcpu, vcpuHalted: [...this.#halted], parked: structuredClone(this.#parked) }
        : {}),
    };
  }

  loadState(s: BackendSnapshot): void {
    this.#closeRun();
    this.#halted = Array.isArray(s.vcpuHalted) ? [...s.vcpuHalted] : [s.halted === true];
    this.#vcpu = typeof s.vcpu === "number" ? s.vcpu : 0;
    this.#parked = Array.isArray(s.parked) ? structuredClone(s.parked) : [];
    if (this.#deriver && s.deriver) {
      this.#deriver.state = structuredClone(s.deriver as DeriverState);
    }
  }

  // ---- internals -------------------------------------------------------------------------

  #readLinear8(lin: number): number {
    const pa = this.ctx.cpu.translate(lin);
    return pa < 0 ? -1 : this.ctx.memory.read8(pa);
  }

  #opcode(): number {
    const start = (this.ctx.cpu.segBase[CS] + this.ctx.cpu.eip) >>> 0;
    for (let i = 0; i < 15; i++) {
      const b = this.#readLinear8((start + i) >>> 0);
      if (b < 0 || !PREFIXES.has(b)) return b;
    }
    return -1;
  }

  /**
   * The polling fast path, for a port access at the open run's port: the same access at the
   * same instruction with the same data, a constant icount step on, is the previous event
   * again, whatever the backend; it is counted instead of built. Otherwise closes the run.
   */
  #extendsRun(kind: ExitKind, size: number, value: number): boolean {
    const ctx = this.#ctx!;
    if (
      value === this.#runValue && kind === this.#runKind && size === this.#runSize &&
      ctx.cpu.eip >>> 0 === this.#runEip
    ) {
      const icount = ctx.clock.icount;
      const step = icount - this.#runIcount;
      if (this.#runCount === 0 || step === this.#runStep) {
        this.#runStep = step;
        this.#runIcount = icount;
        this.#runCount++;
        return true;
      }
    }
    this.#closeRun();
    return false;
  }

  #port(dir: "in" | "out", port: number, size: AccessSize, value: number): void {
    const ctx = this.#ctx!;
    this.#drainAfter();
    const rec = this.portRecord(dir, port, size, value);
    this.#push(
      dir,
      0,
      port,
      size,
      value,
      "io",
      port,
      rec.name,
      rec.args,
      dir === "in" ? value >>> 0 : null,
    );
    // A run may follow an event that went straight to a sink that takes runs (the deriver
    // holds nothing back), for a port no rule decodes: repeating such an access repeats its
    // ABI record and derivation exactly (portRecord and refine are pure; stateful decoders,
    // e.g. the PIT's byte flip-flop, are rules, and so excluded).
    if (
      !this.#deriver!.holding && ctx.sink.emitRepeat !== undefined && !hasPortRule(port, dir)
    ) {
      this.#runPort = port;
      this.#runKind = dir === "in" ? ExitKind.ioIn : ExitKind.ioOut;
      this.#runSize = size;
      this.#runValue = value;
      this.#runEip = ctx.cpu.eip >>> 0;
      this.#runIcount = ctx.clock.icount;
      this.#runCount = 0;
    }
  }

  /** Emits the open run's repetitions, if any, and closes it. */
  #closeRun(): void {
    if (this.#runPort < 0) return;
    this.#runPort = -1;
    if (this.#runCount > 0) this.#ctx!.sink.emitRepeat!(this.#runCount, this.#runStep);
  }

  #mmio(source: HwSource, pa: number, size: AccessSize, value: number): void {
    // Only the local APIC is a boundary worth a trace event; framebuffers and other device
    // windows would drown the trace.
    if (!this.#ctx || (pa >>> 0) - APIC_BASE >= 0x1000 || pa >>> 0 < APIC_BASE) return;
    this.#drainAfter();
    const ret = source === "mmio_read" ? value >>> 0 : null;
    this.#push(source, 0, pa, size, value, "mmio", pa >>> 0, source, [size, value >>> 0], ret);
  }

  /**
   * Builds the pending event for a hardware event (ABI record `nr`, `name`, `args`, `ret`) and
   * feeds both to the deriver. The HwEvent is a scratch object refilled each time: the deriver
   * copies the ones it holds and nothing else keeps it (one allocation less per port event).
   */
  #push(
    source: HwSource,
    kind: number,
    a: number,
    b: number,
    c: number,
    evKind: "exit" | "io" | "mmio",
    nr: number,
    name: string,
    args: number[],
    ret: number | null,
  ): void {
    // Every event but a run's repetitions passes here, flush() or emitAfterExit(), which close
    // the open run first: its repetitions precede the event (the deriver may hold it back).
    this.#closeRun();
    const ctx = this.#ctx!;
    const hw = this.#hw;
    hw.source = source;
    hw.kind = kind;
    hw.a = a;
    hw.b = b;
    hw.c = c;
    hw.icount = ctx.clock.icount;
    hw.eip = ctx.cpu.eip >>> 0;
    const ev = makeEvent({
      icount: hw.icount,
      eip: hw.eip,
      kind: evKind,
      nr,
      name,
      args,
      ret,
      vcpu: this.#vcpu,
    });
    this.#deriver!.push(hw, ev);
    if (source === "exit" && (kind === ExitKind.hlt || kind === ExitKind.shutdown)) {
      this.#halted[this.#vcpu] = true;
    }
  }

  #emitNow(ev: PendingEvent): void {
    this.#ctx!.sink.emit(ev);
  }

  #drainAfter(): void {
    if (!this.#after.length || this.#deriver?.holding) return;
    const after = this.#after;
    this.#after = [];
    for (const ev of after) this.#emitNow(ev);
  }
}
