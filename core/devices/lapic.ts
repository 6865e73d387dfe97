/**
 * Local APIC (xAPIC, memory-mapped at 0xFEE00000), one per CPU.
 *
 * Registers per Intel SDM Vol.3A chapter 10 ("Advanced Programmable Interrupt Controller"):
 * ID, version, TPR, PPR (10.8.3.1), EOI, LDR, DFR, SVR (10.9), ISR/TMR/IRR (10.8.4), ESR
 * (10.5.3), the LVT (timer, thermal, performance counter, LINT0, LINT1, error; 10.5.1), the
 * timer's initial/current count and divide configuration (10.5.4) and the ICR (10.6.1).
 *
 * Choices (documented): the version register reads 0x00050014 (integrated APIC version 14h,
 * max LVT entry 5 = six LVT entries), as QEMU's `hw/intc/apic.c` reports; after reset LINT0 is
 * unmasked in ExtINT mode (virtual-wire mode, MP spec 1.4 §3.6.2.2), as QEMU resets the BSP to
 * stand in for the BIOS, so the 8259A reaches the CPU through the APIC. The timer counts a bus
 * clock (`hz`, default 100 MHz) derived from virtual time; the current count is a pure function
 * of the instruction count. Only 32-bit aligned writes take effect (SDM 10.4.1: other access
 * sizes are undefined; sub-dword reads return the addressed bytes). The ICR sends fixed,
 * lowest-priority, INIT and SIPI messages over the APIC bus (`apic_bus.ts`, docs/smp.md §2) to
 * the APICs its destination and shorthand address; IPIs are edge-triggered (SDM 10.6.1: the
 * trigger-mode bit only qualifies INIT level de-assert, which changes no CPU state). An INIT
 * resets this APIC but for its ID (SDM 10.4.7.3) and, like a SIPI, goes on to the CPU
 * (`onStartup`). An NMI message, sent to a destination or with the self shorthand, or LINT1
 * asserted while programmed for NMI, goes to the CPU's NMI input (`onNmi`, docs/smp.md §5); the
 * vector field of an NMI is ignored. SMI messages are not modelled. A fixed
 * interrupt accepted level-triggered sets its TMR bit, and its EOI is broadcast to the I/O
 * APICs (SDM 10.8.5). Only the BSP's LINT0 starts in ExtINT mode (QEMU's firmware stand-in);
 * an AP's LVT is all masked. The arbitration priority register reads 0 (as QEMU).
 *
 * @module
 */

import type { AccessSize, MmioDevice } from "../bus.ts";
import type { VirtualClock } from "../clock.ts";
import { ApicBus, type ApicBusMember, Delivery } from "./apic_bus.ts";
import type { Stateful } from "./stateful.ts";

/** Physical base address of the local APIC (SDM 10.4.1). */
export const LAPIC_BASE = 0xfee00000;
/** Default APIC timer bus clock: 100 MHz. */
export const DEFAULT_APIC_HZ = 100_000_000;
/** Version register: version 14h, max LVT entry 5 (SDM 10.4.8; QEMU `APIC_VERSION`). */
export const LAPIC_VERSION = 0x00050014;

const LVT_TIMER = 0;
const LVT_LINT0 = 3;
const LVT_LINT1 = 4;
const LVT_ERROR = 5;
const LVT_MASKED = 0x10000;
/** Writable bits per LVT entry: timer, thermal, perf, LINT0, LINT1, error (SDM Figure 10-8). */
const LVT_WRITABLE = [0x300ff, 0x107ff, 0x107ff, 0x1a7ff, 0x1a7ff, 0x100ff];

const ESR_SEND_ILLEGAL = 0x20;
const ESR_RECV_ILLEGAL = 0x40;
const ESR_ILLEGAL_REG = 0x80;

/** Serialised APIC state. */
export interface LapicState {
  id: number;
  tpr: number;
  ldr: number;
  dfr: number;
  svr: number;
  irr: number[];
  isr: number[];
  tmr: number[];
  esr: number;
  esrPending: number;
  lvt: number[];
  icrLo: number;
  icrHi: number;
  initialCount: number;
  dcr: number;
  running: boolean;
  baseTick: number;
  baseCount: number;
  deadline: number;
}

/** Options for {@link LocalApic}. */
export interface LapicOptions {
  clock: VirtualClock;
  /** Timer bus clock in Hz. */
  hz?: number;
  /** APIC ID. */
  id?: number;
  /** The APIC bus it sends and receives on (default: a bus of its own). */
  bus?: ApicBus;
  /** False for an application processor: LVT all masked at power-on. */
  bsp?: boolean;
  /** An accepted INIT (`Delivery.init`) or SIPI (`Delivery.startup`, with its vector). */
  onStartup?: (mode: number, vector: number) => void;
  /** An accepted NMI: the CPU's NMI input (docs/smp.md §5). */
  onNmi?: () => void;
}

function highestBit(words: Uint32Array): number {
  for (let w = 7; w >= 0; w--) {
    if (words[w] !== 0) return w * 32 + 31 - Math.clz32(words[w]);
  }
  return -1;
}

/**
 * The local APIC.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LocalApic } from "./lapic.ts";
 * import { VirtualClock } from "../clock.ts";
 * const apic = new LocalApic({ clock: new VirtualClock() });
 * apic.mmioWrite(0xf0, 4, 0x1ff); // software enable, spurious vector 0xFF
 * apic.mmioWrite(0x300, 4, 0x40041); // self IPI, vector 0x41
 * assert.ok(apic.hasInterrupt());
 * assert.equal(apic.acknowledge(), 0x41);
 * ```
 */
export class LocalApic implements MmioDevice, ApicBusMember, Stateful<LapicState> {
  readonly #clock: VirtualClock;
  readonly #bus: ApicBus;
  readonly #onStartup: (mode: number, vector: number) => void;
  readonly #onNmi: () => void;
  readonly hz: number;
  #id: number;
  #tpr = 0;
  #ldr = 0;
  #dfr = 0xffffffff;
  #svr = 0xff;
  #irr = new Uint32Array(8);
  #isr = new Uint32Array(8);
  #tmr = new Uint32Array(8);
  #esr = 0;
  #esrPending = 0;
  #lvt = [LVT_MASKED, LVT_MASKED, LVT_MASKED, 0x700, LVT_MASKED, LVT_MASKED];
  #icrLo = 0;
  #icrHi = 0;
  #initialCount = 0;
  #dcr = 0;
  #running = false;
  #baseTick = 0;
  #baseCount = 0;
  #deadline = -1;
  #timer = 0;
  /**
   * Called after a fixed interrupt entered IRR: a hypervisor whose vCPU must leave the guest
   * when its virtual APIC gets a request (KVM kicks it, docs/abi/kvm.md §9). Not saved.
   */
  onAccept: (() => void) | null = null;
  /**
   * Called after an SVR write that leaves the APIC software-enabled: a hypervisor holding an
   * interrupt until the APIC takes it (KVM's async-PF 'page ready', docs/abi/kvm.md §10).
   * Not saved.
   */
  onSoftwareEnable: (() => void) | null = null;

  constructor(o: LapicOptions) {
    this.#clock = o.clock;
    this.hz = o.hz ?? DEFAULT_APIC_HZ;
    if (!(this.hz > 0)) throw new RangeError(`APIC timer frequency must be positive: ${this.hz}`);
    this.#id = o.id ?? 0;
    this.#bus = o.bus ?? new ApicBus();
    this.#bus.attach(this);
    this.#onStartup = o.onStartup ?? (() => {});
    this.#onNmi = o.onNmi ?? (() => {});
    if (o.bsp === false) this.#lvt.fill(LVT_MASKED);
  }

  /** The APIC ID (bits 31:24 of the ID register). */
  get id(): number {
    return this.#id;
  }

  /** Physical or logical destination match (SDM 10.6.2.1, 10.6.2.2). */
  addressedBy(logical: boolean, dest: number): boolean {
    if (!logical) return dest === 0xff || dest === this.#id;
    const ldr = this.#ldr >>> 24;
    if ((this.#dfr >>> 28) === 0xf) return (dest & ldr) !== 0; // flat model
    return (dest >> 4 === 0xf || dest >> 4 === ldr >> 4) && (dest & ldr & 0xf) !== 0;
  }

  taskPriority(): number {
    return this.#tpr;
  }

  receive(mode: number, vector: number, level: boolean): void {
    if (mode === Delivery.fixed) this.#accept(vector, level);
    else if (mode === Delivery.nmi) this.#onNmi();
    else if (mode === Delivery.init) {
      this.#initReset();
      this.#onStartup(mode, 0);
    } else if (mode === Delivery.startup) this.#onStartup(mode, vector);
  }

  /** INIT: every register to its power-on value but the APIC ID (SDM 10.4.7.3). */
  #initReset(): void {
    if (this.#deadline >= 0) this.#clock.cancel(this.#timer);
    this.#deadline = -1;
    this.#tpr =
      this.#ldr =
      this.#esr =
      this.#esrPending =
        0;
    this.#dfr = 0xffffffff;
    this.#svr = 0xff;
    this.#irr.fill(0);
    this.#isr.fill(0);
    this.#tmr.fill(0);
    this.#lvt.fill(LVT_MASKED);
    this.#icrLo =
      this.#icrHi =
      this.#initialCount =
      this.#dcr =
        0;
    this.#running = false;
  }

  /** SVR bit 8 (SDM 10.9). */
  get softwareEnabled(): boolean {
    return (this.#svr & 0x100) !== 0;
  }

  /** The spurious-interrupt vector (SVR bits 7..0). */
  get spuriousVector(): number {
    return this.#svr & 0xff;
  }

  /** Processor priority (SDM 10.8.3.1). */
  ppr(): number {
    const isrv = highestBit(this.#isr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.#tpr & 0xf0) >= isrClass ? this.#tpr & 0xff : isrClass;
  }

  /** True when a fixed interrupt in IRR outranks the processor priority. */
  hasInterrupt(): boolean {
    if (!this.softwareEnabled) return false;
    const v = highestBit(this.#irr);
    return v >= 0 && (v & 0xf0) > (this.ppr() & 0xf0);
  }

  /** Whether any vector is requested (IRR not empty), deliverable or not. */
  irrPending(): boolean {
    return highestBit(this.#irr) >= 0;
  }

  /** The highest in-service vector, or -1 when ISR is empty. */
  highestInService(): number {
    return highestBit(this.#isr);
  }

  /**
   * End of interrupt (SDM 10.8.5): retires the highest in-service vector, broadcasting it to the
   * I/O APICs when it was accepted level-triggered; returns it, or -1 when none was in service.
   * A write to the EOI register does this; so does a hypervisor completing a paravirtual EOI.
   */
  eoi(): number {
    const isrv = highestBit(this.#isr);
    if (isrv < 0) return -1;
    const bit = 1 << (isrv & 31);
    this.#isr[isrv >>> 5] &= ~bit;
    if (this.#tmr[isrv >>> 5] & bit) this.#bus.eoi(isrv);
    return isrv;
  }

  /** INTA: IRR -> ISR for the highest deliverable vector, else the spurious vector. */
  acknowledge(): number {
    if (!this.hasInterrupt()) return this.spuriousVector;
    const v = highestBit(this.#irr);
    this.#irr[v >>> 5] &= ~(1 << (v & 31));
    this.#isr[v >>> 5] |= 1 << (v & 31);
    return v;
  }

  /** True when the 8259A's INTR may pass through LINT0 (unmasked, ExtINT delivery mode). */
  acceptsPicInterrupt(): boolean {
    const lint0 = this.#lvt[LVT_LINT0];
    return (lint0 & LVT_MASKED) === 0 && ((lint0 >> 8) & 7) === 7;
  }

  /**
   * An edge on the LINT1 pin (the PC's NMI line): delivered as its LVT entry says when unmasked,
   * NMI (100b) or fixed (SDM 10.5.1). `disabled`: the APIC is globally disabled (IA32_APIC_BASE
   * bit 11 clear, which the CPU holds), and then the pin is the CPU's NMI input (SDM 10.4.3).
   */
  lint1(disabled = false): void {
    if (disabled) {
      this.#onNmi();
      return;
    }
    const e = this.#lvt[LVT_LINT1];
    if (e & LVT_MASKED) return;
    const mode = (e >> 8) & 7;
    if (mode === Delivery.nmi) this.#onNmi();
    else if (mode === Delivery.fixed) this.#accept(e & 0xff, false);
  }

  /**
   * A fixed-mode interrupt from outside the local bus: a hypervisor's virtual timer wired to
   * the LVTT (VMI SetAlarm with WIRED_LVTT, docs/abi/vmi.md §5).
   */
  inject(vector: number): void {
    this.#accept(vector & 0xff, false);
  }

  /**
   * Accepts a fixed-mode interrupt into IRR, TMR recording its trigger mode (vectors 0-15 are
   * illegal, SDM 10.5.2).
   */
  #accept(vector: number, level: boolean): void {
    if (vector < 16) {
      this.#error(ESR_RECV_ILLEGAL);
      return;
    }
    const bit = 1 << (vector & 31);
    this.#irr[vector >>> 5] |= bit;
    if (level) this.#tmr[vector >>> 5] |= bit;
    else this.#tmr[vector >>> 5] &= ~bit;
    this.onAccept?.();
  }

  #error(bits: number): void {
    const fresh = bits & ~this.#esrPending;
    this.#esrPending |= bits;
    const lvt = this.#lvt[LVT_ERROR];
    if (fresh && !(lvt & LVT_MASKED) && (lvt & 0xff) >= 16) this.#accept(lvt & 0xff, false);
  }

  // ---- timer (SDM 10.5.4) ----

  #divisor(): number {
    const v = ((this.#dcr & 8) >> 1) | (this.#dcr & 3);
    return 1 << ((v + 1) & 7);
  }

  #elapsed(): number {
    return Math.floor((this.#clock.ticksAt(this.hz) - this.#baseTick) / this.#divisor());
  }

  #currentCount(): number {
    if (!this.#running) return 0;
    return Math.max(0, this.#baseCount - this.#elapsed());
  }

  #startTimer(count: number): void {
    if (this.#deadline >= 0) this.#clock.cancel(this.#timer);
    this.#deadline = -1;
    this.#running = count > 0;
    if (!this.#running) return;
    this.#baseTick = this.#clock.ticksAt(this.hz);
    this.#baseCount = count;
    this.#arm(this.#clock.icountAtTicks(this.#baseTick + count * this.#divisor(), this.hz));
  }

  #arm(at: number): void {
    this.#deadline = Math.max(at, this.#clock.icount + 1);
    this.#timer = this.#clock.schedule(this.#deadline, () => this.#expire());
  }

  #expire(): void {
    this.#deadline = -1;
    const lvt = this.#lvt[LVT_TIMER];
    if (!(lvt & LVT_MASKED)) this.#accept(lvt & 0xff, false);
    if (lvt & 0x20000 && this.#initialCount > 0) {
      // Periodic: the next period starts where this one ended, not at the (later) fire time.
      this.#baseTick += this.#baseCount * this.#divisor();
      this.#baseCount = this.#initialCount;
      this.#arm(
        this.#clock.icountAtTicks(this.#baseTick + this.#baseCount * this.#divisor(), this.hz),
      );
    } else {
      this.#running = false;
    }
  }

  // ---- register file ----

  #readReg(reg: number): number {
    switch (reg) {
      case 0x020:
        return this.#id << 24;
      case 0x030:
        return LAPIC_VERSION;
      case 0x080:
        return this.#tpr;
      case 0x090:
        return 0;
      case 0x0a0:
        return this.ppr();
      case 0x0d0:
        return this.#ldr;
      case 0x0e0:
        return this.#dfr;
      case 0x0f0:
        return this.#svr;
      case 0x280:
        return this.#esr;
      case 0x300:
        return this.#icrLo;
      case 0x310:
        return this.#icrHi;
      case 0x380:
        return this.#initialCount;
      case 0x390:
        return this.#currentCount();
      case 0x3e0:
        return this.#dcr;
      case 0x0b0: // EOI, RRD: write-only / unsupported remote read
      case 0x0c0:
        return 0;
    }
    if (reg >= 0x100 && reg < 0x280) {
      const arr = reg < 0x180 ? this.#isr : reg < 0x200 ? this.#tmr : this.#irr;
      return arr[(reg >> 4) & 7];
    }
    if (reg >= 0x320 && reg <= 0x370) return this.#lvt[(reg - 0x320) >> 4];
    this.#error(ESR_ILLEGAL_REG);
    return 0;
  }

  #writeReg(reg: number, v: number): void {
    switch (reg) {
      case 0x020:
        this.#id = v >>> 24;
        return;
      case 0x080:
        this.#tpr = v & 0xff;
        return;
      case 0x0b0:
        this.eoi();
        return;
      case 0x0d0:
        this.#ldr = v & 0xff000000;
        return;
      case 0x0e0:
        this.#dfr = (v | 0x0fffffff) >>> 0;
        return;
      case 0x0f0:
        this.#svr = v & 0x13ff;
        // SDM 10.4.7.2: software disable sets every LVT mask bit.
        if (!this.softwareEnabled) this.#lvt = this.#lvt.map((e) => e | LVT_MASKED);
        else this.onSoftwareEnable?.();
        return;
      case 0x280: // a write latches the accumulated errors (SDM 10.5.3)
        this.#esr = this.#esrPending;
        this.#esrPending = 0;
        return;
      case 0x300:
        this.#icrLo = v & ~0x1000; // delivery completes at once: status idle
        this.#sendIpi();
        return;
      case 0x310:
        this.#icrHi = v & 0xff000000;
        return;
      case 0x380:
        this.#initialCount = v >>> 0;
        this.#startTimer(this.#initialCount);
        return;
      case 0x3e0: {
        const current = this.#currentCount();
        this.#dcr = v & 0xb;
        if (this.#running) this.#startTimer(current); // re-base at the new rate
        return;
      }
    }
    if (reg >= 0x320 && reg <= 0x370) {
      const i = (reg - 0x320) >> 4;
      let e = v & LVT_WRITABLE[i];
      if (!this.softwareEnabled) e |= LVT_MASKED; // masks cannot be cleared while disabled
      this.#lvt[i] = e;
      return;
    }
    // Read-only or reserved register.
    this.#error(ESR_ILLEGAL_REG);
  }

  #sendIpi(): void {
    const lo = this.#icrLo;
    const vector = lo & 0xff;
    const mode = (lo >> 8) & 7;
    const shorthand = (lo >> 18) & 3;
    const startup = mode === Delivery.init || mode === Delivery.startup;
    const nmi = mode === Delivery.nmi;
    if (mode === Delivery.init && !(lo & 0x4000)) return; // INIT level de-assert: no effect
    if (!startup && !nmi && mode !== Delivery.fixed && mode !== Delivery.lowest) return;
    if (!startup && !nmi && vector < 16) {
      this.#error(ESR_SEND_ILLEGAL);
      return;
    }
    const bus = this.#bus;
    // INIT and SIPI never reset or start the sender itself (SDM Table 10-3).
    if (shorthand === 1) {
      // Self: an NMI too, as QEMU's and KVM's APICs deliver it (docs/smp.md §5).
      if (nmi) this.#onNmi();
      else if (!startup) this.#accept(vector, false);
    } else if (shorthand === 2) bus.broadcast(mode, vector, false, startup ? this : null);
    else if (shorthand === 3) bus.broadcast(mode, vector, false, this);
    else {
      bus.send(mode, vector, (lo & 0x800) !== 0, this.#icrHi >>> 24, false, startup ? this : null);
    }
  }

  mmioRead(offset: number, size: AccessSize): number {
    const sub = offset & 0xf;
    if (offset >= 0x400) return 0;
    if (sub + size > 4) return 0;
    const v = this.#readReg(offset & 0xff0) >>> (sub * 8);
    return size === 4 ? v >>> 0 : v & (size === 2 ? 0xffff : 0xff);
  }

  mmioWrite(offset: number, size: AccessSize, value: number): void {
    if (size !== 4 || (offset & 0xf) !== 0 || offset >= 0x400) return;
    this.#writeReg(offset, value >>> 0);
  }

  saveState(): LapicState {
    return {
      id: this.#id,
      tpr: this.#tpr,
      ldr: this.#ldr,
      dfr: this.#dfr,
      svr: this.#svr,
      irr: [...this.#irr],
      isr: [...this.#isr],
      tmr: [...this.#tmr],
      esr: this.#esr,
      esrPending: this.#esrPending,
      lvt: [...this.#lvt],
      icrLo: this.#icrLo,
      icrHi: this.#icrHi,
      initialCount: this.#initialCount,
      dcr: this.#dcr,
      running: this.#running,
      baseTick: this.#baseTick,
      baseCount: this.#baseCount,
      deadline: this.#deadline,
    };
  }

  loadState(s: LapicState): void {
    this.#id = s.id;
    this.#tpr = s.tpr;
    this.#ldr = s.ldr;
    this.#dfr = s.dfr;
    this.#svr = s.svr;
    this.#irr = Uint32Array.from(s.irr);
    this.#isr = Uint32Array.from(s.isr);
    this.#tmr = Uint32Array.from(s.tmr);
    this.#esr = s.esr;
    this.#esrPending = s.esrPending;
    this.#lvt = [...s.lvt];
    this.#icrLo = s.icrLo;
    this.#icrHi = s.icrHi;
    this.#initialCount = s.initialCount;
    this.#dcr = s.dcr;
    this.#running = s.running;
    this.#baseTick = s.baseTick;
    this.#baseCount = s.baseCount;
    this.#deadline = -1;
    if (s.deadline >= 0) this.#arm(s.deadline);
  }
}
