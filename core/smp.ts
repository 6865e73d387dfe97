/**
 * Several CPUs on one machine (docs/smp.md §3): per-CPU local APICs on one APIC bus, the
 * INIT/SIPI start-up protocol, the local-APIC window that shows each CPU its own APIC, and the
 * deterministic round-robin that interleaves the CPUs.
 *
 * Scheduling: the CPUs take turns in APIC ID order, each for a quantum of {@link SMP_QUANTUM}
 * retired instructions on the shared virtual clock (so virtual time counts the instructions of
 * every CPU). A CPU's turn ends early when it halts or waits for a SIPI. When no CPU can run,
 * virtual time jumps to the next device event, as it does for one halted CPU. The position in
 * the rotation and what is left of the current quantum survive the end of a run, so where a
 * host slices a run is not guest-visible. An interrupt raised for another CPU is taken at that
 * CPU's next turn (a latency of at most (N - 1) quanta).
 *
 * @module
 */

import type { AccessSize, IoBus, MmioDevice } from "./bus.ts";
import type { VirtualClock } from "./clock.ts";
import { Cpu, type CpuSnapshot, type StopReason } from "./cpu/cpu.ts";
import type { CpuHooks } from "./cpu/hooks.ts";
import { IF } from "./cpu/flags.ts";
import { type ApicBus, Delivery } from "./devices/apic_bus.ts";
import { PcInterruptRouter } from "./devices/interrupt_router.ts";
import { type LapicState, LocalApic } from "./devices/lapic.ts";
import type { Pic } from "./devices/pic.ts";
import type { PhysicalMemory } from "./memory.ts";

/** Instructions a CPU runs before the next one takes its turn. */
export const SMP_QUANTUM = 10_000;
/** Most CPUs a machine has (the MP table describes them in one kilobyte). */
export { MP_MAX_CPUS as MAX_CPUS } from "./loaders/mp_table.ts";

/** Where a CPU is in the start-up protocol. */
export type CpuRunState = "running" | "wait-for-sipi";

/** One CPU with its local APIC and interrupt router. */
export interface CpuSlot {
  cpu: Cpu;
  lapic: LocalApic;
  router: PcInterruptRouter;
}

/** What every CPU of a machine is wired to. */
export interface CpuWiring {
  memory: PhysicalMemory;
  io: IoBus;
  clock: VirtualClock;
  pic: Pic;
  bus: ApicBus;
  apicHz: number;
  hooks?: CpuHooks;
  /** INIT or SIPI accepted by the APIC of CPU `index`. */
  onStartup: (index: number, mode: number, vector: number) => void;
}

/**
 * CPU `index` (APIC ID `index`) with its own local APIC on `w.bus` and its interrupt router;
 * only the BSP's LINT0 takes the 8259A (core/devices/lapic.ts).
 */
export function createCpuSlot(index: number, w: CpuWiring): CpuSlot {
  const lapic = new LocalApic({
    clock: w.clock,
    hz: w.apicHz,
    id: index,
    bus: w.bus,
    bsp: index === 0,
    onStartup: (mode, vector) => w.onStartup(index, mode, vector),
    onNmi: () => cpu.nmi(),
  });
  // IA32_APIC_BASE lives in the CPU (MSR 0x1B); bit 11 is the APIC global enable.
  const router = new PcInterruptRouter(lapic, w.pic, () => (cpu.apicBase & 0x800) !== 0);
  const cpu: Cpu = new Cpu({
    memory: w.memory,
    io: w.io,
    clock: w.clock,
    intr: router,
    hooks: w.hooks,
    apicId: index,
  });
  return { cpu, lapic, router };
}

/** Serialised scheduler state, with the application processors' CPUs and APICs. */
export interface SmpState {
  states: CpuRunState[];
  current: number;
  quantumLeft: number;
  aps: { cpu: CpuSnapshot; lapic: LapicState }[];
}

/**
 * The local-APIC window at 0xFEE00000: each CPU reaches its own APIC at the same address
 * (SDM Vol.3A 10.4.1), so the window forwards to the running CPU's.
 */
export class LocalApicWindow implements MmioDevice {
  constructor(readonly processors: Processors) {}

  mmioRead(offset: number, size: AccessSize): number {
    return this.processors.currentSlot.lapic.mmioRead(offset, size);
  }

  mmioWrite(offset: number, size: AccessSize, value: number): void {
    this.processors.currentSlot.lapic.mmioWrite(offset, size, value);
  }
}

/**
 * The CPUs of a machine and their round-robin.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Machine } from "./machine.ts";
 * const m = new Machine({ memMiB: 2, cpus: 2 });
 * assert.equal(m.processors?.states.join(), "running,wait-for-sipi");
 * ```
 */
export class Processors {
  readonly slots: readonly CpuSlot[];
  readonly #clock: VirtualClock;
  #states: CpuRunState[];
  #current = 0;
  #quantumLeft = SMP_QUANTUM;
  #lastRun = -1;
  /** Called when another CPU takes its turn (a backend stamps its events with it). */
  onSwitch: (index: number) => void = () => {};
  /**
   * Called when INIT has reset CPU `index` (a hypervisor drops the vCPU state its reset clears:
   * a halt it recorded, KVM's `pv_unhalted` and PV EOI registration).
   */
  onInit: (index: number) => void = () => {};

  constructor(slots: CpuSlot[], clock: VirtualClock) {
    this.slots = slots;
    this.#clock = clock;
    // SDM Vol.3A 8.4.3: after power-on the APs wait for a SIPI from the BSP.
    this.#states = slots.map((_, i) => i === 0 ? "running" : "wait-for-sipi");
    for (const s of slots) s.cpu.haltSkipsTime = false;
  }

  /** Each CPU's start-up state, by APIC ID. */
  get states(): readonly CpuRunState[] {
    return this.#states;
  }

  /** The index of the CPU whose turn it is. */
  get current(): number {
    return this.#current;
  }

  get currentSlot(): CpuSlot {
    return this.slots[this.#current];
  }

  /**
   * The start-up protocol seen from CPU `index` (its APIC accepted the message): INIT puts it
   * into wait-for-SIPI with its power-on register state (SDM 8.4.1: pvreplay also resets the
   * state INIT keeps, x87 and MTRRs, which the kernel reprograms on every AP); a SIPI with
   * vector VV starts a waiting CPU in real mode at VV00:0000, i.e. physical 0x000VV000
   * (SDM 8.4.4.1, 10.6.1), and is ignored by a running one.
   */
  startup(index: number, mode: number, vector: number): void {
    const cpu = this.slots[index].cpu;
    if (mode === Delivery.init) {
      cpu.reset();
      this.#states[index] = "wait-for-sipi";
      this.onInit(index);
      return;
    }
    if (this.#states[index] !== "wait-for-sipi") return;
    cpu.segSel[1] = vector << 8;
    cpu.segBase[1] = vector << 12;
    cpu.eip = 0;
    cpu.updateMode();
    this.#states[index] = "running";
  }

  #runnable(index: number): boolean {
    if (this.#states[index] !== "running") return false;
    const { cpu, router } = this.slots[index];
    if (cpu.nmiPending && !cpu.nmiBlocked) return true; // an NMI wakes it whatever IF says
    return !cpu.halted || ((cpu.flags & IF) !== 0 && router.hasInterrupt());
  }

  /** Whether a halted, started CPU could be woken by a device event. */
  #wakeable(): boolean {
    if (this.#clock.nextDeadline === Number.POSITIVE_INFINITY) return false;
    return this.slots.some((s, i) => this.#states[i] === "running" && (s.cpu.flags & IF) !== 0);
  }

  /**
   * Runs the CPUs in turn for up to `maxInsns` instructions in all; the reasons are
   * {@link Cpu.run}'s ("idle": every started CPU is halted and nothing can wake one).
   */
  run(maxInsns: number): StopReason {
    const clock = this.#clock;
    const n = this.slots.length;
    let budget = maxInsns;
    let skipped = 0;
    while (true) {
      if (budget <= 0) return "budget";
      const k = this.#current;
      if (this.#quantumLeft > 0 && this.#runnable(k)) {
        const cpu = this.slots[k].cpu;
        if (k !== this.#lastRun) {
          this.#lastRun = k;
          this.onSwitch(k);
        }
        const before = clock.icount;
        const r = cpu.run(Math.min(this.#quantumLeft, budget));
        const used = clock.icount - before;
        budget -= used;
        this.#quantumLeft -= used;
        if (r === "shutdown" || r === "stop") return r;
        if (r !== "budget" || used === 0) this.#quantumLeft = 0;
        if (used > 0) skipped = 0;
        continue;
      }
      this.#current = (k + 1) % n;
      this.#quantumLeft = SMP_QUANTUM;
      if (++skipped <= n) continue;
      // A whole round and nobody could run: virtual time jumps to the next device event.
      if (!this.#wakeable()) return "idle";
      const skip = Math.min(clock.nextDeadline - clock.icount, budget);
      clock.icount += Math.max(0, skip);
      budget -= Math.max(0, skip);
      clock.fireDue();
      skipped = 0;
    }
  }

  saveState(): SmpState {
    return {
      states: [...this.#states],
      current: this.#current,
      quantumLeft: this.#quantumLeft,
      aps: this.slots.slice(1).map((s) => ({ cpu: s.cpu.saveState(), lapic: s.lapic.saveState() })),
    };
  }

  loadState(s: SmpState): void {
    this.#states = [...s.states];
    this.#current = s.current;
    this.#quantumLeft = s.quantumLeft;
    this.#lastRun = -1;
    s.aps.forEach((ap, i) => {
      this.slots[i + 1].lapic.loadState(ap.lapic);
      this.slots[i + 1].cpu.loadState(ap.cpu);
    });
  }
}

/**
 * The CPU whose turn it is, seen through the fields a backend reads (backends/backend.ts
 * `CpuLike`): one backend serves every CPU, each hook call on behalf of the running one.
 */
export class RunningCpu {
  constructor(readonly processors: Processors) {}

  get #cpu(): Cpu {
    return this.processors.currentSlot.cpu;
  }
  get regs(): Int32Array {
    return this.#cpu.regs;
  }
  get eip(): number {
    return this.#cpu.eip;
  }
  get cr0(): number {
    return this.#cpu.cr0;
  }
  get cr2(): number {
    return this.#cpu.cr2;
  }
  get cr3(): number {
    return this.#cpu.cr3;
  }
  get cr4(): number {
    return this.#cpu.cr4;
  }
  get cpl(): number {
    return this.#cpu.cpl;
  }
  get segBase(): Int32Array {
    return this.#cpu.segBase;
  }
  get gdtrBase(): number {
    return this.#cpu.gdtrBase;
  }
  getEflags(): number {
    return this.#cpu.getEflags();
  }
  translate(lin: number): number {
    return this.#cpu.translate(lin);
  }
  requestStop(): void {
    this.#cpu.requestStop();
  }
}
