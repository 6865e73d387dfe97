/**
 * The platform contract's machine side: what a paravirtual backend (Xen, VMI, lguest) may do to
 * the machine it runs, as the real hypervisor does to its guest. The CPU asks the backend through
 * `core/cpu/hooks.ts`; the backend answers through this {@link Platform}. docs/backends.md
 * explains the whole contract with a worked example.
 *
 * @module
 */

import type { InterruptController } from "./bus.ts";
import type { Cpu } from "./cpu/cpu.ts";
import { FAULT } from "./cpu/fault.ts";
import { atomic } from "./cpu/control.ts";
import { enterHandler, iret } from "./cpu/interrupts.ts";
import { flushTlb, invalidatePage } from "./cpu/paging.ts";
import { loadSegment } from "./cpu/segments.ts";
import { Delivery } from "./devices/apic_bus.ts";
import type { IoApicRoute } from "./devices/ioapic.ts";
import type { LocalApic } from "./devices/lapic.ts";
import type { LinuxBoot } from "./loaders/linux_boot.ts";
import { findMultibootHeader, type MultibootBoot } from "./loaders/multiboot.ts";
import type { Machine } from "./machine.ts";
import type { PhysicalMemory } from "./memory.ts";

/**
 * How a guest image is loaded and entered. The backend chooses (`Backend.bootProtocol`); the
 * trace header names it when it is not `multiboot`, so a replay boots the same way.
 * `linux` is the 32-bit Linux boot protocol (core/loaders/linux_boot.ts: a bzImage or vmlinux
 * with a zero page and an initrd), which the PC backends (native, kvm) use for an image without
 * a Multiboot header, as QEMU's `-kernel` does ({@link pcBootProtocol}).
 * `lguest` is the same loader as lguest's launcher applies it (zero page at guest-physical 0,
 * subarch 1, the guest entered in ring 1 with paging on: docs/abi/lguest.md §2): a distinct name
 * because the entry state differs, so a replay never boots an lguest trace in ring 0.
 */
export type BootProtocol = "multiboot" | "xen" | "linux" | "lguest";

/** Every boot protocol name, for validating headers. */
export const BOOT_PROTOCOLS: readonly BootProtocol[] = ["multiboot", "xen", "linux", "lguest"];

/** A guest image and what the user passed with it. */
export interface GuestImage {
  bytes: Uint8Array;
  /** File name recorded in the trace (no directories). */
  file: string;
  cmdline: string;
  /** Initial ramdisk (Linux boot protocol only) and the file name recorded for it. */
  initrd?: { bytes: Uint8Array; file: string };
}

/**
 * How a PC (native, kvm) boots `image`: Multiboot when a Multiboot header is in its first
 * 8 KiB, else the Linux boot protocol, the way QEMU's `-kernel` tells them apart.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pcBootProtocol } from "./platform.ts";
 * assert.equal(pcBootProtocol({ bytes: new Uint8Array(64), file: "bzImage", cmdline: "" }), "linux");
 * ```
 */
export function pcBootProtocol(image: GuestImage): "multiboot" | "linux" {
  return findMultibootHeader(image.bytes, image.file) ? "multiboot" : "linux";
}

/** A linear range or a run of descriptor-table entries the hypervisor keeps for itself. */
export interface Reservation {
  /** Who owns it (e.g. `xen hypervisor hole`). */
  owner: string;
  /** First linear address or first GDT index. */
  start: number;
  /** One past the last (linear addresses as unsigned 32-bit, up to 2^32). */
  end: number;
}

/** Where a trap bounce enters the guest (a trap-table entry or a callback). */
export interface BounceTarget {
  /** Code selector and offset of the guest handler. */
  cs: number;
  eip: number;
  /** Error code to push, or -1 for none. */
  errorCode: number;
  /** Clear EFLAGS.IF on entry (an interrupt gate; Xen masks events in shared memory instead). */
  maskIf: boolean;
}

/**
 * The hypervisor side's control over the machine. Every operation is one a real hypervisor
 * performs on its guest's virtual CPU; none reads host state, so determinism is kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Machine } from "./machine.ts";
 * import { MachinePlatform } from "./platform.ts";
 * const p = new MachinePlatform(new Machine({ memMiB: 4 }));
 * p.reserveLinear("hole", 0xfc000000, 0x1_0000_0000);
 * assert.equal(p.linearReservation(0xfc001000, 4)?.owner, "hole");
 * ```
 */
export interface Platform {
  /** The machine's CPU and RAM, for a domain builder and for hypercalls that read guest state. */
  readonly cpu: Cpu;
  readonly memory: PhysicalMemory;
  /** Invalidates the TLB; `global` also drops global entries. */
  flushTlb(global: boolean): void;
  /** Invalidates one linear page. */
  invlpg(lin: number): void;
  /** Loads CR3 (page-directory base) and flushes non-global TLB entries, as MOV CR3 does. */
  setCr3(value: number): void;
  /**
   * Loads segment register `index` (ES0 CS1 SS2 DS3 FS4 GS5) with `selector` under the CPU's
   * own checks at the current CPL. Returns false (state unchanged) if the load would fault.
   */
  loadSegment(index: number, selector: number): boolean;
  /**
   * Enters a guest handler with the CPU's own interrupt-frame code (core/cpu/interrupts.ts
   * `enterHandler`): inner-stack switch through the TSS, EFLAGS CS EIP [error] pushed. Returns
   * false, with the CPU state unchanged, if building the frame faults (bad stack or selector):
   * the hypervisor decides what follows (Xen: failsafe callback or domain crash).
   */
  bounce(target: BounceTarget): boolean;
  /**
   * Returns to the guest through the IRET frame (EIP, CS, EFLAGS[, ESP, SS]) at the current
   * stack with the CPU's own IRET (privilege checks, outer-ring stack switch): a hypervisor's
   * return-to-guest (Xen's iret hypercall). False, state unchanged, if the frame faults.
   */
  iret(): boolean;
  /** The guest's vCPU waits for an interrupt (as HLT with interrupts enabled). */
  block(): void;
  /** Ends a block. */
  wake(): void;
  /**
   * Makes the CPU look for a pending interrupt at the next instruction boundary: call it when
   * the backend's gate may have opened (Xen checks events on every return to the guest).
   */
  kick(): void;
  /**
   * Replaces the CPU's interrupt source (the PC's PIC/APIC router) with the backend's own,
   * or restores the router with null. The CPU still gates on EFLAGS.IF; a backend whose gate
   * lives in guest memory answers `hasInterrupt()` from it.
   */
  setInterruptSource(source: InterruptController | null): void;
  /**
   * Drives ISA line `irq` of the PC's 8259A pair, as a device would (a hypervisor's virtual
   * timer wired to IRQ0: VMI's WIRED_IRQ0 alarm).
   */
  setIrq(irq: number, level: boolean): void;
  /** Requests local-APIC fixed interrupt `vector` (a hypervisor timer wired to the LVTT). */
  localInterrupt(vector: number): void;
  /** The machine's CPUs (docs/smp.md); CPU `i` has APIC ID `i`. */
  readonly cpuCount: number;
  /**
   * Ends the HLT of CPU `index` with EFLAGS.IF untouched (a hypervisor's wake-up of a blocked
   * vCPU, KVM's PV unhalt); true if it was halted.
   */
  unhalt(index: number): boolean;
  /**
   * Whether the local APIC with physical ID `apicId` exists and takes a fixed interrupt now
   * (globally and software-enabled, SDM 10.4.3, 10.9).
   */
  acceptsFixedIpi(apicId: number): boolean;
  /**
   * A hypervisor-sent fixed interrupt `vector` for the local APIC with physical ID `apicId`
   * (KVM's PV send-IPI), if {@link acceptsFixedIpi}; `level`: level-triggered.
   */
  sendFixedIpi(apicId: number, vector: number, level: boolean): void;
  /**
   * Whether the local APIC with physical ID `apicId` exists and takes an NMI now: globally
   * enabled; an NMI needs no software enable (docs/smp.md §5).
   */
  acceptsNmi(apicId: number): boolean;
  /** A hypervisor-sent NMI for that APIC (KVM's PV send-IPI), if {@link acceptsNmi}. */
  sendNmi(apicId: number): void;
  /** Invalidates every TLB entry of CPU `index`, global ones included. */
  flushTlbOf(index: number): void;
  /**
   * The local APIC of CPU `index`, for a hypervisor's virtual-APIC services (KVM's PV EOI reads
   * its IRR/ISR, retires in-service vectors and learns of new requests).
   */
  localApic(index: number): LocalApic;
  /** The I/O APIC's redirection entries, masked ones included; empty without an I/O APIC. */
  ioapicRoutes(): IoApicRoute[];
  /**
   * An EOI to the local APIC of CPU `index` on the guest's behalf (KVM completing a PV EOI):
   * as a write to its EOI register, then CPU `index` looks for the next interrupt. Returns the
   * vector retired, or -1.
   */
  apicEoi(index: number): number;
  /** Ends the current `run()` call at the next instruction boundary (the guest can resume). */
  stop(): void;
  /** Ends the run as a guest power-off/reboot/crash with process status `exitCode`. */
  shutdown(exitCode: number): void;
  /** Writes one byte of guest console output (shown on `--serial` as `xl console` would). */
  console(byte: number): void;
  /** Claims a linear range for the hypervisor (validators refuse guest mappings of it). */
  reserveLinear(owner: string, start: number, end: number): void;
  /** Claims GDT entries `first` .. `first + count - 1` for the hypervisor. */
  reserveGdt(owner: string, first: number, count: number): void;
  /** The reservation overlapping linear `[lin, lin + len)`, or null. */
  linearReservation(lin: number, len: number): Reservation | null;
  /** The reservation holding GDT entry `index`, or null. */
  gdtReservation(index: number): Reservation | null;
  /** Loads a Multiboot image (the `multiboot` protocol; native and kvm use it). */
  bootMultiboot(image: GuestImage): MultibootBoot;
  /** Loads a Linux kernel and its initrd by the 32-bit boot protocol (the `linux` protocol). */
  bootLinux(image: GuestImage): LinuxBoot;
}

/** {@link Platform} over a {@link Machine}. */
export class MachinePlatform implements Platform {
  readonly cpu: Cpu;
  readonly memory: PhysicalMemory;
  readonly #machine: Machine;
  readonly #cpu: Cpu;
  readonly #linear: Reservation[] = [];
  readonly #gdt: Reservation[] = [];

  constructor(machine: Machine) {
    this.#machine = machine;
    this.#cpu = machine.cpu;
    this.cpu = machine.cpu;
    this.memory = machine.memory;
  }

  flushTlb(global: boolean): void {
    flushTlb(this.#cpu, global);
  }

  invlpg(lin: number): void {
    invalidatePage(this.#cpu, lin);
  }

  setCr3(value: number): void {
    const c = this.#cpu;
    c.cr3 = value;
    flushTlb(c, false);
  }

  loadSegment(index: number, selector: number): boolean {
    const c = this.#cpu;
    return this.#guarded(() => loadSegment(c, index, selector));
  }

  bounce(t: BounceTarget): boolean {
    const c = this.#cpu;
    const ok = this.#guarded(() => enterHandler(c, t.cs, t.eip, t.errorCode, true, t.maskIf, 0));
    if (ok) {
      c.halted = false;
      c.breakLoop = true;
    }
    return ok;
  }

  iret(): boolean {
    const c = this.#cpu;
    const ok = this.#guarded(() => iret(c, true));
    if (ok) c.breakLoop = true;
    return ok;
  }

  block(): void {
    this.#cpu.halted = true;
    this.#cpu.breakLoop = true;
  }

  wake(): void {
    this.#cpu.halted = false;
  }

  kick(): void {
    this.#cpu.irqCheck = true;
  }

  setInterruptSource(source: InterruptController | null): void {
    this.#cpu.intr = source ?? this.#machine.router;
    this.#cpu.irqCheck = true;
  }

  setIrq(irq: number, level: boolean): void {
    this.#machine.pic.setIrq(irq, level);
    this.#cpu.irqCheck = true;
  }

  localInterrupt(vector: number): void {
    this.#machine.lapic.inject(vector);
    this.#cpu.irqCheck = true;
  }

  get cpuCount(): number {
    return this.#machine.cpus.length;
  }

  unhalt(index: number): boolean {
    const c = this.#machine.cpus[index];
    if (!c?.halted) return false;
    c.halted = false;
    return true;
  }

  acceptsFixedIpi(apicId: number): boolean {
    const c = this.#machine.cpus[apicId];
    // IA32_APIC_BASE bit 11 (global enable) and SVR bit 8 (software enable).
    return c !== undefined && (c.apicBase & 0x800) !== 0 && this.#lapicOf(apicId).softwareEnabled;
  }

  sendFixedIpi(apicId: number, vector: number, level: boolean): void {
    if (!this.acceptsFixedIpi(apicId)) return;
    this.#lapicOf(apicId).receive(Delivery.fixed, vector & 0xff, level);
    this.#machine.cpus[apicId].irqCheck = true;
  }

  acceptsNmi(apicId: number): boolean {
    const c = this.#machine.cpus[apicId];
    return c !== undefined && (c.apicBase & 0x800) !== 0;
  }

  sendNmi(apicId: number): void {
    if (this.acceptsNmi(apicId)) this.#lapicOf(apicId).receive(Delivery.nmi, 0, false);
  }

  #lapicOf(apicId: number) {
    const m = this.#machine;
    return m.processors?.slots[apicId].lapic ?? m.lapic;
  }

  localApic(index: number): LocalApic {
    return this.#lapicOf(index);
  }

  ioapicRoutes(): IoApicRoute[] {
    return this.#machine.ioapic?.routes() ?? [];
  }

  apicEoi(index: number): number {
    const vector = this.#lapicOf(index).eoi();
    this.#machine.cpus[index].irqCheck = true;
    return vector;
  }

  flushTlbOf(index: number): void {
    flushTlb(this.#machine.cpus[index], true);
  }

  stop(): void {
    this.#cpu.requestStop();
  }

  shutdown(exitCode: number): void {
    this.#machine.requestShutdown(exitCode);
  }

  console(byte: number): void {
    this.#machine.consoleWrite(byte);
  }

  reserveLinear(owner: string, start: number, end: number): void {
    this.#linear.push({ owner, start: start >>> 0, end });
  }

  reserveGdt(owner: string, first: number, count: number): void {
    this.#gdt.push({ owner, start: first, end: first + count });
  }

  linearReservation(lin: number, len: number): Reservation | null {
    const a = lin >>> 0, b = a + len;
    return this.#linear.find((r) => a < r.end && b > r.start) ?? null;
  }

  gdtReservation(index: number): Reservation | null {
    return this.#gdt.find((r) => index >= r.start && index < r.end) ?? null;
  }

  bootMultiboot(image: GuestImage): MultibootBoot {
    return this.#machine.bootMultiboot(image.bytes, { file: image.file, cmdline: image.cmdline });
  }

  bootLinux(image: GuestImage): LinuxBoot {
    return this.#machine.bootLinux(image.bytes, {
      file: image.file,
      cmdline: image.cmdline,
      initrd: image.initrd?.bytes,
      initrdFile: image.initrd?.file,
    });
  }

  /** Runs a CPU operation transactionally: a guest fault rolls it back and yields false. */
  #guarded(fn: () => void): boolean {
    const c = this.#cpu;
    try {
      atomic(c, fn);
      c.updateMode();
      return true;
    } catch (e) {
      if (e !== FAULT) throw e;
      return false;
    }
  }
}
