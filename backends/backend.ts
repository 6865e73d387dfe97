/**
 * The backend contract: what native, kvm (and later xen, vmi, lguest) implement. The registry
 * that turns a spec such as `kvm@2.6.25` into a backend is `registry.ts`.
 *
 * A backend is a {@link CpuHooks} (the CPU asks it about privileged operations) that also
 * records every boundary crossing to an {@link EventSink}. Backends only *describe* their calls
 * and exits; {@link BaseBackend} in `base_backend.ts` turns hook invocations plus that
 * description into trace events.
 *
 * @module
 */

import type { IoBus, MmioObserver } from "../core/bus.ts";
import type { VirtualClock } from "../core/clock.ts";
import type { CpuHooks } from "../core/cpu/hooks.ts";
import type { PhysicalMemory } from "../core/memory.ts";
import type { BootProtocol, GuestImage, Platform } from "../core/platform.ts";
import type { EventSink } from "../vocabulary/event.ts";
import type { CallModel, ModelEnv } from "./model.ts";

/**
 * The part of the CPU (`core/cpu/cpu.ts`) a backend uses. An interface so tests can supply a
 * fake; the real `Cpu` satisfies it structurally.
 */
export interface CpuLike {
  /** EAX ECX EDX EBX ESP EBP ESI EDI. */
  regs: Int32Array;
  eip: number;
  getEflags(): number;
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
  cpl: number;
  /** Index ES0 CS1 SS2 DS3 FS4 GS5 LDTR6 TR7. */
  segBase: Int32Array;
  gdtrBase: number;
  /** Linear -> physical, -1 if unmapped (no side effects). */
  translate(lin: number): number;
  /** Ends `run()` at the next instruction boundary. */
  requestStop(): void;
}

/** Everything a backend is attached to. */
export interface BackendContext {
  cpu: CpuLike;
  memory: PhysicalMemory;
  io: IoBus;
  clock: VirtualClock;
  sink: EventSink;
  /**
   * Wall-clock seconds since 1970 at power-on (the machine's configured epoch, shared with its
   * RTC). Never host time. Default `DEFAULT_EPOCH` (core/clock.ts).
   */
  epoch?: number;
  /**
   * Maps an interrupt vector to the ISA IRQ line that raised it (the machine knows the PIC's
   * programmed bases), or -1. Without it interrupts are named by vector.
   */
  irqOfVector?: (vector: number) => number;
  /** Local-APIC timer input clock in Hz (must match the machine's LAPIC model). */
  apicBusHz?: number;
  /**
   * The hypervisor side's control over the machine (core/platform.ts): TLB, CR3, segments,
   * trap bounces, block/wake, interrupt source, shutdown, console, reservations. Absent in
   * unit tests that drive a backend with a fake CPU.
   */
  platform?: Platform;
}

/** Where an ABI argument lives and what it means. */
export interface ArgDescription {
  /** `EAX`..`EBP`, `mem+off`, `MSR lo`, ... */
  loc: string;
  name: string;
  unit: string;
}

/** One entry of a backend's call table (a hypercall, MSR, CPUID leaf or exit reason). */
export interface CallDescription {
  /** `hypercall`, `msr`, `cpuid`, `exit`, `io`. */
  kind: string;
  nr: number;
  name: string;
  args: readonly ArgDescription[];
  /** Return location and meaning, or null. */
  ret: string | null;
  /** The canonical operation it implements, or null. */
  op: string | null;
  /** Source of the number (a docs/abi/*.md section or a public header). */
  source: string;
}

/** Static description of a backend profile. */
export interface BackendDescription {
  name: string;
  version: string;
  summary: string;
  /** How a guest discovers the backend (docs/abi/native.md §1). */
  discovery: string;
  /** Calling convention for hypercalls, or "none". */
  convention: string;
  calls: readonly CallDescription[];
}

/** A hypervisor model the CPU runs under. */
export interface Backend extends CpuHooks, MmioObserver {
  readonly name: string;
  readonly version: string;
  describe(): BackendDescription;
  /** How this backend loads and enters a guest; recorded in the trace header. */
  readonly bootProtocol: BootProtocol;
  /**
   * The protocol {@link boot} will use for `image`, when it depends on the image (the PC
   * backends boot a Multiboot image by `multiboot` and anything else by `linux`); absent means
   * {@link bootProtocol}.
   */
  bootProtocolFor?(image: GuestImage): BootProtocol;
  /**
   * Loads `image` into the machine behind `platform` and sets the entry state by
   * {@link bootProtocol} (before {@link attach}). Throws `ImageError` (core/loaders) for an
   * image the protocol cannot boot.
   */
  boot(platform: Platform, image: GuestImage): void;
  /**
   * Binds the backend to a machine; installs itself as `memory.mmioObserver`, forwarding to any
   * observer already installed (port I/O reaches it as CPU exits).
   */
  attach(ctx: BackendContext): void;
  /** Restores the previous MMIO observer. */
  detach(): void;
  /** Emits events held back for multi-event derivations (call at the end of a run). */
  flush(): void;
  /**
   * Another CPU takes its turn (docs/smp.md §3): the events from now on carry its number in
   * `vcpu`; what was held back is emitted first, under the previous one.
   */
  setVcpu(index: number): void;
  /**
   * INIT reset vCPU `index` (docs/smp.md §3): the backend forgets what the reset clears (a halt
   * it recorded for that vCPU, and hypervisor state such as KVM's `pv_unhalted`).
   */
  resetVcpu(index: number): void;
  /**
   * A fresh trace-driven model of this backend for cross-backend replay. `env` defaults to the
   * attached machine's epoch and TSC rate (or the defaults when not attached).
   */
  model(env?: Partial<ModelEnv>): CallModel;
  /** JSON-serialisable backend state (kvmclock registration, derivation state). */
  saveState(): BackendSnapshot;
  loadState(s: BackendSnapshot): void;
}

/** Opaque, JSON-serialisable backend state. */
export type BackendSnapshot = Record<string, unknown>;

/** A parsed `name@version` spec. */
export interface BackendSpec {
  name: string;
  version: string;
}
