/**
 * `lguest`: Rusty Russell's in-kernel hypervisor as of Linux 2.6.23/2.6.24 (docs/abi/lguest.md).
 * The launcher boots the guest (launcher.ts); the guest kernel runs in ring 1 and reaches the
 * host by `int $0x1f` (EAX = call, EDX/EBX/ECX = arguments). Interrupts are gated by
 * `lguest_data.irq_enabled` in guest memory (this backend is the CPU's interrupt source),
 * traps and the 32 virtual IRQs are delivered through the IDT entries the guest registered, and
 * any unknown call — or any call before LGUEST_INIT — kills the guest (a `lguest_kill` marker
 * with the reason, exit status {@link EXIT_GUEST_KILLED}).
 *
 * Shadow page tables: the CPU's TLB stands for lguest's shadow tables — SET_PTE invalidates the
 * page, FLUSH_TLB and NEW_PGTABLE drop them — so a guest that edits a PTE without telling the
 * host keeps seeing the old mapping, as on lguest (docs/abi/lguest.md §6).
 *
 * Why this file is long: every call of both releases and the trap and IRQ delivery share one
 * state (lguest_data, the IDT copy, the async ring); split, each part would reach into the other.
 *
 * @module
 */

import type { InterruptController } from "../../core/bus.ts";
import { EXIT_NAMES, type ExitKind, TrapKind } from "../../core/cpu/hooks.ts";
import { EXIT_GUEST_KILLED, EXIT_SUCCESS } from "../../core/exit_status.ts";
import type { BootProtocol, GuestImage, Platform } from "../../core/platform.ts";
import type { Backend, BackendDescription, BackendSnapshot } from "../backend.ts";
import { BaseBackend, exitArgs, exitRet } from "../common/base_backend.ts";
import { HARDWARE_ROWS, TableModel, withRows } from "../common/cross_model.ts";
import { lguestRows } from "./model.ts";
import type { AbiRecord, CallModel, ModelEnv } from "../model.ts";
import {
  CLOCK_IRQ,
  CRASH_MSG_MAX,
  DMA_ADDR,
  DMA_LEN,
  DMA_USED_LEN,
  FIRST_EXTERNAL_VECTOR,
  GDT_ENTRIES,
  GDT_ENTRY_DOUBLEFAULT_TSS,
  GDT_ENTRY_LGUEST_CS,
  GDT_ENTRY_LGUEST_DS,
  GDT_ENTRY_TLS_MIN,
  GDT_ENTRY_TSS,
  GUEST_CS,
  GUEST_PL,
  HCALL_DONE,
  HCALL_PENDING,
  IRQ_ENABLED,
  LGUEST_CONSOLE_DMA_KEY,
  LGUEST_IRQS,
  LGUEST_MAX_DMA_SECTIONS,
  LGUEST_TRAP_ENTRY,
  Lhcall,
  LHCALL_NAMES,
  LHCALL_RING_SIZE,
  RESERVE_MEM,
  SWITCHER_PGD_INDEX,
} from "./abi.ts";
import { bootLguest, mapSwitcher, type Switcher } from "./launcher.ts";
import { LGUEST_PROFILES, LGUEST_VERSIONS, type LguestProfile } from "./profiles.ts";
import { describeLguest } from "./description.ts";

export { LGUEST_PROFILES, LGUEST_VERSIONS, type LguestProfile } from "./profiles.ts";

const EAX = 0, ECX = 1, EDX = 2, EBX = 3;
const IF = 0x200;

/** The canonical op (and its arguments) a hypercall implements, or null. */
export function lguestOp(
  nr: number,
  a1: number,
  a2: number,
  msg = "",
): { op: string; opArgs: number[] } | null {
  switch (nr) {
    case Lhcall.CRASH: // 2.6.23 powers off through CRASH too ("Power down")
      return { op: "shutdown", opArgs: [msg === "Power down" ? 0 : 3] };
    case Lhcall.LOAD_GDT:
      return { op: "load_gdt", opArgs: [a1 >>> 0, (a2 * 8 - 1) >>> 0] };
    case Lhcall.NEW_PGTABLE:
      return { op: "write_cr3", opArgs: [a1 >>> 0] };
    case Lhcall.FLUSH_TLB:
      return { op: a1 ? "flush_tlb_kernel" : "flush_tlb_user", opArgs: [] };
    case Lhcall.TS:
      return a1 & 8 ? { op: "write_cr0", opArgs: [8] } : { op: "clts", opArgs: [] };
    case Lhcall.SET_CLOCKEVENT: // relative ns, one-shot only; 0 cancels
      return { op: "set_timer", opArgs: [0, a1 >>> 0] };
    case Lhcall.HALT:
      return { op: "safe_halt", opArgs: [] };
    default:
      return null;
  }
}

/**
 * The lguest backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLguestBackend } from "./backend.ts";
 * assert.equal(createLguestBackend("2.6.23").bootProtocol, "lguest");
 * ```
 */
export class LguestBackend extends BaseBackend implements InterruptController {
  readonly name = "lguest";
  readonly version: string;
  readonly profile: LguestProfile;
  override readonly bootProtocol: BootProtocol = "lguest";
  #switcher: Switcher | null = null;
  /** Guest-physical address of `lguest_data`, -1 before LGUEST_INIT. */
  #data = -1;
  #noirq: [number, number] = [0, 0];
  #nextHcall = 0;
  #pending = 0;
  /** IDT entries the guest registered: [lo, hi] per vector (0 = not present). */
  #idt = new Uint32Array(256 * 2);
  #gdt = new Uint32Array(GDT_ENTRIES * 2);
  #timer = -1;
  /** The next host tick while an IRQ waits for the guest to enable interrupts, or -1. */
  #hostTick = -1;
  #halted = false;
  #dead = false;

  constructor(profile: LguestProfile) {
    super();
    this.version = profile.version;
    this.profile = profile;
  }

  override boot(platform: Platform, image: GuestImage): void {
    this.#switcher = bootLguest(platform, image).switcher;
  }

  #platform(): Platform {
    const p = this.ctx.platform;
    if (!p) throw new Error("lguest needs the platform contract (core/platform.ts)");
    return p;
  }

  override attach(ctx: Parameters<BaseBackend["attach"]>[0]): void {
    super.attach(ctx);
    ctx.platform?.setInterruptSource(this);
  }

  // ---- naming: lguest has no exits of its own; privileged instructions #GP in ring 1 ----------

  protected override exitRecord(kind: ExitKind, a: number, b: number, c: number): AbiRecord {
    return {
      nr: -1,
      name: EXIT_NAMES[kind],
      args: exitArgs(kind, a, b, c),
      ret: exitRet(kind, a, b),
    };
  }

  // ---- guest memory ------------------------------------------------------------------------

  #r32(pa: number): number {
    return this.ctx.memory.read32(pa >>> 0) >>> 0;
  }
  #w32(pa: number, v: number): void {
    this.ctx.memory.write32(pa >>> 0, v >>> 0);
  }
  #ramOk(pa: number, n: number): boolean {
    return pa >= 0 && pa + n <= this.ctx.memory.ramSize;
  }

  // ---- hypercalls --------------------------------------------------------------------------

  override softwareInterrupt(vector: number): boolean {
    if (vector !== LGUEST_TRAP_ENTRY || this.ctx.cpu.cpl > GUEST_PL || this.#dead) return false;
    const r = this.ctx.cpu.regs;
    const nr = r[EAX] >>> 0;
    if (this.#data < 0) {
      // docs/abi/lguest.md §3: the first hypercall must be LGUEST_INIT.
      if (nr !== Lhcall.LGUEST_INIT) {
        this.#record(nr, r[EDX], r[EBX], r[ECX], null);
        this.#kill(`hypercall ${nr} before LGUEST_INIT`);
        return true;
      }
      this.#record(nr, r[EDX], r[EBX], r[ECX], null);
      this.#initialize(r[EDX] >>> 0);
      return true;
    }
    this.#drainAsync();
    if (this.#dead) return true;
    const ret = this.#hcall(nr, r[EDX] >>> 0, r[EBX] >>> 0, r[ECX] >>> 0);
    if (ret !== null) r[EAX] = ret;
    // Every return to the guest first checks for interrupts to deliver (docs/abi/lguest.md §6).
    this.#platform().kick();
    return true;
  }

  #initialize(pa: number): void {
    const L = this.profile.layout;
    if (!this.#ramOk(pa, L.size)) return this.#kill(`bad guest page ${hex(pa)}`);
    this.#data = pa;
    this.#noirq = [this.#r32(pa + L.noirqStart), this.#r32(pa + L.noirqEnd)];
    this.#w32(pa + L.reserveMem, RESERVE_MEM);
    const khz = this.profile.constantTsc ? Math.floor(this.ctx.clock.tscHz / 1000) : 0;
    this.#w32(pa + L.tscKhz, khz);
    if (L.guestid >= 0) this.ctx.memory.write16(pa + L.guestid, 0);
    this.#writeTime();
  }

  #writeTime(): void {
    const L = this.profile.layout;
    if (L.time < 0 || this.#data < 0) return;
    const ns = this.ctx.clock.nanos();
    this.#w32(
      this.#data + L.time,
      (this.ctx.epoch ?? this.modelEnv().epoch) + Math.floor(ns / 1e9),
    );
    this.#w32(this.#data + L.time + 4, ns % 1e9);
  }

  /** Runs the pending entries of the asynchronous ring in order (docs/abi/lguest.md §5). */
  #drainAsync(): void {
    const L = this.profile.layout;
    const mem = this.ctx.memory;
    for (let i = 0; i < LHCALL_RING_SIZE && !this.#dead; i++) {
      const n = this.#nextHcall;
      const st = this.#data + L.hcallStatus + n;
      if (mem.read8(st) !== HCALL_PENDING) break;
      const e = this.#data + L.hcalls + 16 * n;
      this.#hcall(
        this.#r32(e + L.hcallEax),
        this.#r32(e + L.hcallEdx),
        this.#r32(e + L.hcallEbx),
        this.#r32(e + L.hcallEcx),
        true,
      );
      mem.write8(st, HCALL_DONE);
      this.#nextHcall = (n + 1) % LHCALL_RING_SIZE;
    }
  }

  #hcall(nr: number, a1: number, a2: number, a3: number, async = false): number | null {
    if (!this.profile.calls.includes(nr) || nr === Lhcall.LGUEST_INIT) {
      this.#record(nr, a1, a2, a3, null, async);
      this.#kill(nr === Lhcall.LGUEST_INIT ? "already have lguest_data" : `Bad hypercall ${nr}`);
      return null;
    }
    if (this.profile.timeOnHypercall) this.#writeTime();
    const p = this.#platform();
    let ret: number | null = null;
    let msg = "";
    switch (nr) {
      case Lhcall.FLUSH_ASYNC:
        break;
      case Lhcall.CRASH:
        msg = this.#string(a1, CRASH_MSG_MAX);
        break;
      case Lhcall.LOAD_GDT:
        if (a2 > GDT_ENTRIES) {
          this.#record(nr, a1, a2, a3, null, async);
          this.#kill(`too many gdt entries ${a2}`);
          return null;
        }
        for (let i = 0; i < a2 * 2; i++) this.#gdt[i] = this.#r32(a1 + 4 * i);
        this.#installGdt(0, GDT_ENTRIES);
        break;
      case Lhcall.LOAD_TLS:
        for (let i = 0; i < 6; i++) this.#gdt[GDT_ENTRY_TLS_MIN * 2 + i] = this.#r32(a1 + 4 * i);
        this.#installGdt(GDT_ENTRY_TLS_MIN, GDT_ENTRY_TLS_MIN + 3);
        break;
      case Lhcall.NEW_PGTABLE:
        mapSwitcher(this.ctx.memory, a1);
        p.setCr3(a1);
        break;
      case Lhcall.FLUSH_TLB:
        p.flushTlb(a1 !== 0);
        break;
      case Lhcall.LOAD_IDT_ENTRY:
        this.#setIdt(a1, a2, a3);
        break;
      case Lhcall.SET_STACK:
        if ((a1 & 3) !== GUEST_PL) {
          this.#record(nr, a1, a2, a3, null, async);
          this.#kill(`bad stack segment ${a1}`);
          return null;
        }
        this.#switcher?.setStack(a1, a2);
        break;
      case Lhcall.TS:
        this.ctx.cpu.cr0 = (this.ctx.cpu.cr0 & ~8) | (a1 & 8);
        break;
      case Lhcall.SET_CLOCKEVENT:
        this.#setClockEvent(a1);
        break;
      case Lhcall.HALT:
        this.#halted = true;
        p.block();
        break;
      case Lhcall.GET_WALLCLOCK:
        ret = (this.ctx.epoch ?? this.modelEnv().epoch) + Math.floor(this.ctx.clock.nanos() / 1e9);
        break;
      case Lhcall.BIND_DMA: // no guest-to-guest DMA: the binding is accepted, nothing arrives
        ret = (a3 & 0xff) < LGUEST_IRQS ? 1 : 0;
        break;
      case Lhcall.SEND_DMA:
        this.#sendDma(a1, a2);
        break;
      case Lhcall.SET_PTE:
        if ((a1 & ~0xfff) === (this.ctx.cpu.cr3 & ~0xfff)) p.invlpg(a2);
        break;
      case Lhcall.SET_PMD:
        if (a2 >= SWITCHER_PGD_INDEX) {
          this.#record(nr, a1, a2, a3, null, async);
          this.#kill(`Attempt to set pgd ${a2}/${SWITCHER_PGD_INDEX}`);
          return null;
        }
        if ((a1 & ~0xfff) === (this.ctx.cpu.cr3 & ~0xfff)) p.flushTlb(false);
        break;
      case Lhcall.NOTIFY:
        this.#notify(a1);
        break;
    }
    this.#record(nr, a1, a2, a3, ret, async, msg);
    if (nr === Lhcall.CRASH) this.#kill(`CRASH: ${msg}`, msg === "Power down");
    return ret;
  }

  #record(
    nr: number,
    a1: number,
    a2: number,
    a3: number,
    ret: number | null,
    async = false,
    msg = "",
  ): void {
    const op = lguestOp(nr, a1, a2, msg);
    this.emit({
      kind: "hypercall",
      nr,
      name: (LHCALL_NAMES[nr] ?? `LHCALL_${nr}`) + (async ? " (async)" : ""),
      args: [a1 >>> 0, a2 >>> 0, a3 >>> 0],
      ret,
      eip: this.eip,
      ...(op ?? {}),
    });
  }

  #string(pa: number, max: number): string {
    const out: number[] = [];
    for (let i = 0; i < max - 1 && this.#ramOk(pa + i, 1); i++) {
      const b = this.ctx.memory.read8(pa + i);
      if (b === 0) break;
      out.push(b);
    }
    return String.fromCharCode(...out);
  }

  /** 2.6.23 console: hvc output as DMA to the launcher's console key (docs/abi/lguest.md §7). */
  #sendDma(key: number, dma: number): void {
    if (!this.#ramOk(dma, DMA_LEN + 2 * LGUEST_MAX_DMA_SECTIONS)) return;
    let used = 0;
    if (key === LGUEST_CONSOLE_DMA_KEY) {
      for (let i = 0; i < LGUEST_MAX_DMA_SECTIONS; i++) {
        const len = this.ctx.memory.read16(dma + DMA_LEN + 2 * i);
        if (len === 0) break;
        const addr = this.#r32(dma + DMA_ADDR + 4 * i);
        for (let j = 0; j < len && this.#ramOk(addr + j, 1); j++) {
          this.#platform().console(this.ctx.memory.read8(addr + j));
          used++;
        }
      }
    }
    this.#w32(dma + DMA_USED_LEN, used);
  }

  /** 2.6.24 early console: NOTIFY with the address of a NUL-terminated string. */
  #notify(pa: number): void {
    if (!this.#ramOk(pa, 1)) return this.#kill(`Bad NOTIFY ${hex(pa)}`);
    for (const ch of this.#string(pa, this.ctx.memory.ramSize - pa)) {
      this.#platform().console(ch.charCodeAt(0));
    }
  }

  #setClockEvent(deltaNs: number): void {
    const clock = this.ctx.clock;
    if (this.#timer >= 0) clock.cancel(this.#timer);
    this.#timer = -1;
    if (deltaNs === 0) return;
    this.#timer = clock.scheduleIn(Math.max(1, clock.nanosToInsns(deltaNs)), () => {
      this.#timer = -1;
      this.#raise(CLOCK_IRQ);
    });
  }

  #raise(irq: number): void {
    this.#pending |= 1 << irq;
    const p = this.#platform();
    p.wake();
    p.kick();
    this.#armHostTick();
  }

  /**
   * The host's own timer interrupt returns control to the host, which then injects what is
   * pending (docs/abi/lguest.md §6): while an IRQ waits, look again at each host tick
   * (multiples of 1/hostHz of virtual time). Ticks with nothing pending change nothing
   * observable, so only these are scheduled.
   */
  #armHostTick(): void {
    const hz = this.profile.hostHz;
    if (hz <= 0 || this.#hostTick >= 0 || this.#dead) return;
    const clock = this.ctx.clock;
    const period = Math.max(1, clock.nanosToInsns(1e9 / hz));
    const at = (Math.floor(clock.icount / period) + 1) * period;
    this.#hostTick = clock.schedule(at, () => {
      this.#hostTick = -1;
      if (this.#deliverable() === 0) return;
      this.#platform().kick();
      this.#armHostTick();
    });
  }

  #setIdt(vector: number, lo: number, hi: number): void {
    // The host ignores NMI, double fault, 15 and its own trap entry (docs/abi/lguest.md §6).
    if (vector === 2 || vector === 8 || vector === 15 || vector === LGUEST_TRAP_ENTRY) return;
    if (vector >= 256) return this.#kill(`Setting idt entry ${vector}`);
    if (!(hi & 0x8000)) {
      this.#idt[2 * vector] = this.#idt[2 * vector + 1] = 0;
      return;
    }
    const type = (hi >>> 8) & 0xf;
    if (type !== 0xe && type !== 0xf) return this.#kill(`bad IDT type ${type}`);
    this.#idt[2 * vector] = ((GUEST_CS << 16) | (lo & 0xffff)) >>> 0;
    this.#idt[2 * vector + 1] = (hi & 0xffffef00) >>> 0;
  }

  #installGdt(from: number, to: number): void {
    const s = this.#switcher;
    if (!s) return;
    for (let i = from; i < to; i++) {
      if (
        i === GDT_ENTRY_TSS || i === GDT_ENTRY_LGUEST_CS || i === GDT_ENTRY_LGUEST_DS ||
        i === GDT_ENTRY_DOUBLEFAULT_TSS
      ) continue;
      let hi = this.#gdt[2 * i + 1];
      if (hi & 0x8000) {
        if ((hi & 0x6000) === 0) hi |= GUEST_PL << 13; // ring-0 descriptors become ring 1
        hi |= 0x100; // accessed: the host's GDT is read-only to the guest
      }
      s.setGdt(i, this.#gdt[2 * i], hi);
    }
  }

  #kill(reason: string, powerOff = false): void {
    if (this.#dead) return;
    this.#dead = true;
    this.emit({
      kind: "marker",
      nr: -1,
      name: `lguest_kill: ${reason}`,
      args: [],
      eip: this.eip,
      op: "shutdown",
      opArgs: [powerOff ? 0 : 3],
    });
    this.#platform().shutdown(powerOff ? EXIT_SUCCESS : EXIT_GUEST_KILLED);
  }

  // ---- interrupts and traps ------------------------------------------------------------------

  /** The virtual IRQs the guest may take now (pending, not blocked, handler registered). */
  #deliverable(): number {
    if (this.#data < 0 || this.#dead) return 0;
    const blocked = this.#r32(this.#data + this.profile.layout.blockedInterrupts);
    let m = this.#pending & ~blocked;
    for (let irq = 0; irq < LGUEST_IRQS; irq++) {
      if ((m >>> irq) & 1 && !(this.#idt[2 * (FIRST_EXTERNAL_VECTOR + irq) + 1] & 0x8000)) {
        m &= ~(1 << irq);
      }
    }
    return m >>> 0;
  }

  hasInterrupt(): boolean {
    const m = this.#deliverable();
    if (m === 0) return false;
    const L = this.profile.layout;
    if (this.#halted) {
      // Waking from HALT enables interrupts (docs/abi/lguest.md §6).
      this.#halted = false;
      this.#w32(this.#data + L.irqEnabled, IRQ_ENABLED);
    }
    if (!(this.#r32(this.#data + L.irqEnabled) & IRQ_ENABLED)) return false;
    const eip = this.ctx.cpu.eip >>> 0;
    return !(eip >= this.#noirq[0] && eip < this.#noirq[1]);
  }

  acknowledge(): number {
    const m = this.#deliverable();
    const irq = 31 - Math.clz32(m & -m);
    this.#pending &= ~(1 << irq);
    return FIRST_EXTERNAL_VECTOR + irq;
  }

  override takeTrap(kind: TrapKind, vector: number, errorCode: number): boolean {
    if (this.#dead) return true;
    const lo = this.#idt[2 * vector], hi = this.#idt[2 * vector + 1];
    const cpu = this.ctx.cpu;
    if (kind === TrapKind.software && ((hi >>> 13) & 3) < cpu.cpl) {
      return this.takeTrap(TrapKind.exception, 13, (vector << 3) | 2);
    }
    if (!(hi & 0x8000)) {
      this.#kill(`Unhandled trap ${vector} at ${hex(cpu.eip)} (${hex(cpu.cr2)})`);
      return true;
    }
    const L = this.profile.layout;
    if (vector === 14 && this.#data >= 0) this.#w32(this.#data + L.cr2, cpu.cr2);
    const p = this.#platform();
    // The frame carries the virtual IF (irq_enabled), not the real one.
    const real = cpu.getEflags();
    const virt = this.#data >= 0 ? this.#r32(this.#data + L.irqEnabled) & IF : IF;
    (p.cpu as { setEflags(v: number): void }).setEflags((real & ~IF) | virt);
    const ok = p.bounce({
      cs: lo >>> 16,
      eip: ((hi & 0xffff0000) | (lo & 0xffff)) >>> 0,
      errorCode,
      maskIf: false,
    });
    const now = p.cpu.getEflags();
    p.cpu.setEflags(now | IF);
    if (!ok) {
      p.cpu.setEflags(real);
      this.#kill(`Bad trap frame for trap ${vector}`);
      return true;
    }
    // Interrupt gates disable (virtual) interrupts on entry.
    if (((hi >>> 8) & 0xf) === 0xe && this.#data >= 0) this.#w32(this.#data + L.irqEnabled, 0);
    p.kick(); // the host looks for interrupts before re-entering the guest
    return true;
  }

  // ---- description, model, snapshot ----------------------------------------------------------

  describe(): BackendDescription {
    return describeLguest(this.profile);
  }

  model(env?: Partial<ModelEnv>): CallModel {
    return new TableModel(
      this.name,
      this.version,
      withRows(HARDWARE_ROWS, lguestRows(this.profile)),
      (s) => this.nameStep(s),
      this.modelEnv(env),
    );
  }

  override saveState(): BackendSnapshot {
    return {
      ...super.saveState(),
      lguest: {
        data: this.#data,
        noirq: [...this.#noirq],
        nextHcall: this.#nextHcall,
        pending: this.#pending,
        halted: this.#halted,
        dead: this.#dead,
        idt: [...this.#idt],
        gdt: [...this.#gdt],
      },
    };
  }

  override loadState(s: BackendSnapshot): void {
    super.loadState(s);
    const l = s.lguest as Record<string, unknown> | undefined;
    if (!l) return;
    this.#data = l.data as number;
    this.#noirq = l.noirq as [number, number];
    this.#nextHcall = l.nextHcall as number;
    this.#pending = l.pending as number;
    this.#halted = l.halted as boolean;
    this.#dead = l.dead as boolean;
    this.#idt.set(l.idt as number[]);
    this.#gdt.set(l.gdt as number[]);
  }
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

/** Creates the lguest backend for a profile in {@link LGUEST_PROFILES}. */
export function createLguestBackend(version: string, tweak?: Partial<LguestProfile>): Backend {
  const p = LGUEST_PROFILES[version];
  if (!p) {
    throw new Error(
      `lguest has no version "${version}"; valid: ${LGUEST_VERSIONS.versions.join(", ")}`,
    );
  }
  for (const k of Object.keys(tweak ?? {})) {
    if (!(k in p) || k === "version") {
      throw new Error(`lguest profile has no field "${k}" to tweak`);
    }
  }
  return new LguestBackend({ ...p, ...tweak });
}
