/**
 * Why this file is long: the hypercall dispatch (sched, timers, event channels, iret,
 * xen_version) and the trap hooks (bounce, forced CPUID, writable page tables, ring-1
 * emulation) share the domain's private state and guest-memory accessors; the MMU and
 * descriptor calls are in mmu.ts, the decoding in emulate.ts.
 *
 * `xen`: a 32-bit non-PAE Xen 3.x PV domU (docs/abi/xen.md). The backend boots the guest with
 * its own domain builder (`domain_builder.ts`), takes hypercalls from the transfer page or
 * legacy `int $0x82`, bounces traps through the guest's trap table, delivers events through
 * the registered callback gated by `evtchn_upcall_mask` in shared_info, and drains the console
 * ring to the platform console.
 *
 * @module
 */

import { TrapKind } from "../../core/cpu/hooks.ts";
import type { GuestImage, Platform } from "../../core/platform.ts";
import type { Backend, BackendContext, BackendDescription, BackendSnapshot } from "../backend.ts";
import { DEFAULT_EPOCH } from "../../core/clock.ts";
import { XenTime } from "./time.ts";
import { BaseBackend } from "../common/base_backend.ts";
import { HARDWARE_ROWS, TableModel, withRows } from "../common/cross_model.ts";
import { xenRows } from "./model.ts";
import type { CallModel, ModelEnv } from "../model.ts";
import {
  buildDomain,
  type DomainLayout,
  HYPERVISOR_VIRT_START,
  TSS_VIRT,
} from "./domain_builder.ts";
import { type GuestAccess, XenMmu } from "./mmu.ts";
import { EventChannels, EvtchnStat, NR_EVENT_CHANNELS, SH } from "./event_channels.ts";
import {
  HC,
  HC_NAMES,
  XEN_EEXIST,
  XEN_EFAULT,
  XEN_EINVAL,
  XEN_ENOSYS,
  XEN_EPERM,
  XEN_ETIME,
} from "./hypercalls.ts";
import { SHUTDOWN_EXIT, XEN_PROFILES, XEN_VERSIONS, type XenProfile } from "./profiles.ts";
import { describeXen } from "./description.ts";
import { decodePrivileged, decodeStore, FORCED_CPUID, isForcedCpuid, xenCpuid } from "./emulate.ts";

export { XEN_PROFILES, XEN_VERSIONS } from "./profiles.ts";

const PAGE = 4096;
const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, ESI = 6, EDI = 7;
/** The vector our event source reports; it never reaches an IDT (the upcall is a bounce). */
const UPCALL_VECTOR = 0xf3;
const VIRQ_TIMER = 0;
/** Xen's console ring layout (io/console.h; docs/abi/xen.md §6). */
const CONS_OUT = 1024, CONS_OUT_SIZE = 2048, CONS_OUT_CONS = 3080, CONS_OUT_PROD = 3084;

class Fault extends Error {}

interface TrapEntry {
  flags: number;
  cs: number;
  eip: number;
}

/** The Xen backend. */
export class XenBackend extends BaseBackend {
  readonly name = "xen";
  readonly version: string;
  readonly profile: XenProfile;
  override readonly bootProtocol = "xen" as const;
  #platform: Platform | null = null;
  #layout: DomainLayout | null = null;
  #ev: EventChannels | null = null;
  #traps = new Map<number, TrapEntry>();
  #callback: { cs: number; eip: number } | null = null;
  #failsafe: { cs: number; eip: number } | null = null;
  #timerId = -1;
  #periodicId = -1;
  /** Periodic VIRQ_TIMER period in ns: Xen's default 100 Hz tick until the guest stops it. */
  #periodNs = 10_000_000;
  #time: XenTime | null = null;
  #mmu: XenMmu | null = null;
  /** VMASST_TYPE_* bits the guest enabled (vm_assist). */
  #assists = 0;

  constructor(profile: XenProfile) {
    super();
    this.profile = profile;
    this.version = profile.version;
  }

  override boot(platform: Platform, image: GuestImage): void {
    this.#platform = platform;
    const l = this.#layout = buildDomain(platform, image, this.profile);
    this.#ev = new EventChannels(platform.memory, l.sharedInfoMa);
    // The console channel is bound by the builder to the console daemon (interdomain, dom0).
    this.#ev.ports[l.consoleEvtchn] = { status: EvtchnStat.interdomain, info: 0 };
    this.#ev.ports[l.storeEvtchn] = { status: EvtchnStat.interdomain, info: 0 };
    this.#mmu = new XenMmu(platform, l, (mfn) => this.#owned(mfn));
    platform.setInterruptSource({
      hasInterrupt: () => this.#callback !== null && this.#ev!.upcallDue(),
      acknowledge: () => UPCALL_VECTOR,
    });
  }

  override attach(ctx: BackendContext): void {
    super.attach(ctx);
    const l = this.#layout;
    if (!l) return;
    this.#time = new XenTime(ctx.memory, l.sharedInfoMa, ctx.clock, ctx.epoch ?? DEFAULT_EPOCH);
    this.#time.update();
    this.#time.wallClock();
    this.#armPeriodic();
    if (l.notes.hypercallPage && !this.profile.hypercallPage) {
      // Xen 3.0.0's builder predates XEN_ELFNOTE_HYPERCALL_PAGE and leaves the page as the
      // image has it (docs/abi/xen.md §2, §7): a kernel that calls into it cannot run. The
      // trace says so once the run has started (the session opens the trace after attach).
      ctx.clock.schedule(ctx.clock.icount + 1, () =>
        this.emit({
          kind: "marker",
          nr: 2, // the note's number
          name: "hypercall_page_not_filled",
          args: [l.notes.hypercallPage >>> 0],
          eip: ctx.cpu.eip >>> 0,
        }));
    }
  }

  /** Xen's periodic tick (docs/abi/xen.md §5): VIRQ_TIMER every period until stopped. */
  #armPeriodic(): void {
    const clock = this.ctx.clock;
    if (this.#periodicId >= 0) clock.cancel(this.#periodicId);
    this.#periodicId = -1;
    if (this.#periodNs <= 0) return;
    const next = (Math.floor(clock.nanos() / this.#periodNs) + 1) * this.#periodNs;
    this.#periodicId = clock.schedule(Math.max(clock.icount + 1, clock.nanosToInsns(next)), () => {
      this.#periodicId = -1;
      if (this.#ev!.portOfVirq(VIRQ_TIMER) >= 0) {
        // Named in the trace: a tick from Xen's own periodic timer, not one the guest armed
        // (docs/abi/xen.md §9, "default tick").
        this.emit({
          kind: "marker",
          nr: VIRQ_TIMER,
          name: "virq_timer_periodic",
          args: [this.#periodNs],
          eip: this.eip,
        });
      }
      this.#virq(VIRQ_TIMER);
      this.#armPeriodic();
    });
  }

  get #p(): Platform {
    return this.#platform ?? this.ctx.platform!;
  }

  // ---- guest memory --------------------------------------------------------------------------

  #pa(va: number): number {
    const pa = this.ctx.cpu.translate(va >>> 0);
    if (pa < 0) throw new Fault();
    return pa;
  }
  #r32(va: number): number {
    return this.ctx.memory.read32(this.#pa(va)) >>> 0;
  }
  #w32(va: number, v: number): void {
    this.ctx.memory.write32(this.#pa(va), v >>> 0);
  }
  #w8(va: number, v: number): void {
    this.ctx.memory.write8(this.#pa(va), v);
  }
  #wstr(va: number, s: string, size: number): void {
    for (let i = 0; i < size; i++) this.#w8(va + i, i < s.length ? s.charCodeAt(i) : 0);
  }

  /** Hypercall argument access through the guest's page tables. */
  readonly #guest: GuestAccess = {
    r32: (va) => this.#r32(va),
    w32: (va, v) => this.#w32(va, v),
  };

  /**
   * stack_switch(ss, esp): the ring-1 stack a bounce from ring 3 uses, kept in the
   * hypervisor's TSS (ss1/esp1); a selector with RPL 0 is raised to the kernel's ring 1
   * (docs/abi/xen.md §4).
   */
  #stackSwitch(ss: number, esp: number): number {
    if ((ss & 3) === 0) ss |= 1;
    if ((ss & 3) !== 1 || (ss & 4)) return -XEN_EINVAL;
    this.ctx.memory.write32(this.#tssPa + 12, esp);
    this.ctx.memory.write32(this.#tssPa + 16, ss & 0xffff);
    return 0;
  }

  get #tssPa(): number {
    return this.ctx.cpu.translate(TSS_VIRT);
  }

  #owned(mfn: number): boolean {
    const l = this.#layout!;
    return mfn >= 0x100 && mfn < 0x100 + l.nrPages;
  }

  // ---- CPU hooks ---------------------------------------------------------------------------

  override softwareInterrupt(vector: number): boolean {
    if (vector !== 0x82) return false;
    // Legacy TRAP_INSTR and the hypercall page's slots both arrive here (docs/abi/xen.md §2).
    const r = this.ctx.cpu.regs;
    const nr = r[EAX] >>> 0;
    const args = [r[EBX], r[ECX], r[EDX], r[ESI], r[EDI]].map((x) => x >>> 0);
    const eip = this.eip;
    const canon = this.#canonical(nr, args);
    const ret = this.#call(nr, args, false);
    if (ret !== null) r[EAX] = ret | 0;
    this.emit({
      kind: "hypercall",
      nr,
      name: HC_NAMES[nr] ?? `hypercall_${nr}`,
      args,
      ret: ret === null ? null : ret >>> 0,
      eip,
      ...(canon ? { op: canon.op, opArgs: canon.args } : {}),
    });
    this.#deliverIfDue();
    return true;
  }

  /** The canonical operation a hypercall implements (docs/canonical-ops.md), read before it runs. */
  #canonical(nr: number, a: number[]): { op: string; args: number[] } | null {
    try {
      if (nr === HC.sched_op && a[0] === 2) return { op: "shutdown", args: [this.#r32(a[1])] };
      if (nr === HC.sched_op_compat && a[0] === 2) return { op: "shutdown", args: [a[1]] };
      if (nr === HC.iret) {
        return { op: "iret", args: [this.#r32((this.ctx.cpu.regs[ESP] >>> 0) + 12) & 0x200] };
      }
      if (nr === HC.set_timer_op) return this.#oneShot(a[0] + a[1] * 2 ** 32);
      if (nr === HC.vcpu_op && this.profile.vcpuTimers) {
        if (a[0] === 6) { // set_periodic_timer {u64 period_ns}
          return { op: "set_timer", args: [1, this.#r32(a[2]) + this.#r32(a[2] + 4) * 2 ** 32] };
        }
        if (a[0] === 8) return this.#oneShot(this.#r32(a[2]) + this.#r32(a[2] + 4) * 2 ** 32);
        if (a[0] === 9) return { op: "set_timer", args: [0, 0] };
      }
      if ((nr === HC.sched_op || nr === HC.sched_op_compat) && a[0] === 1) {
        return { op: "safe_halt", args: [] };
      }
      if (nr === HC.fpu_taskswitch && a[0] === 0) return { op: "clts", args: [] };
      if (nr === HC.mmuext_op && a[1] >= 1) {
        // The first operation of the batch (docs/abi/xen.md §3).
        const cmd = this.#r32(a[0]), arg1 = this.#r32(a[0] + 4);
        if (cmd === 5) { // NEW_BASEPTR: the MFN back to the guest-physical address (M2P)
          const pfn = this.#layout!.p2m.indexOf(arg1);
          return pfn < 0 ? null : { op: "write_cr3", args: [pfn * PAGE] };
        }
        if (cmd === 6) return { op: "flush_tlb_user", args: [] };
        if (cmd === 7) return { op: "flush_tlb_single", args: [arg1] };
        if (cmd === 13) return { op: "set_ldt", args: [arg1, this.#r32(a[0] + 8)] };
      }
    } catch (e) {
      if (!(e instanceof Fault)) throw e;
    }
    return null;
  }

  /** An absolute deadline in Xen ns as the canonical relative one-shot (0 = cancel). */
  #oneShot(abs: number): { op: string; args: number[] } {
    return { op: "set_timer", args: [0, abs ? Math.max(1, abs - this.ctx.clock.nanos()) : 0] };
  }

  override takeTrap(kind: TrapKind, vector: number, errorCode: number): boolean {
    const ev = this.#ev!;
    if (kind === TrapKind.interrupt) {
      if (vector !== UPCALL_VECTOR || !this.#callback) return true;
      this.#bounceTo(this.#callback.cs, this.#callback.eip, -1, true);
      return true;
    }
    if (kind === TrapKind.exception && vector === 6 && this.#forcedCpuid()) return true;
    if (kind === TrapKind.exception && vector === 14 && this.#ptwr(errorCode)) return true;
    if (kind === TrapKind.exception && vector === 13 && this.#privileged(errorCode)) return true;
    const t = this.#traps.get(vector);
    if (kind === TrapKind.software && t && (t.flags & 3) < this.ctx.cpu.cpl) {
      // A software interrupt through an entry whose DPL is below the caller's ring: #GP.
      const gp = this.#traps.get(13);
      if (gp) return this.#bounceTo(gp.cs, gp.eip, (vector << 3) | 2, false), true;
    }
    if (!t) {
      // No handler registered: Xen crashes the domain (docs/abi/xen.md §4).
      this.#shutdown(3);
      return true;
    }
    if (vector === 14) this.ctx.memory.write32(ev.shared + SH.cr2, this.ctx.cpu.cr2 >>> 0);
    this.#bounceTo(t.cs, t.eip, kind === TrapKind.exception ? errorCode : -1, (t.flags & 4) !== 0);
    return true;
  }

  /** Emulates `ud2a; "xen"; cpuid` at EIP (docs/abi/xen.md §8); false if it is not that. */
  #forcedCpuid(): boolean {
    if (!this.profile.forcedCpuid) return false;
    const cpu = this.ctx.cpu, eip = cpu.eip >>> 0;
    if (!isForcedCpuid(this.#insnBytes(FORCED_CPUID.length))) return false;
    const r = cpu.regs, leaf = r[EAX] >>> 0, sub = r[ECX] >>> 0;
    const out = new Int32Array(4);
    xenCpuid(this.profile, leaf, sub, out);
    [r[EAX], r[EBX], r[ECX], r[EDX]] = out;
    (cpu as unknown as { eip: number }).eip = (eip + FORCED_CPUID.length) >>> 0;
    this.emit({
      kind: "marker",
      nr: leaf,
      name: "forced_cpuid",
      args: [leaf, sub, ...[...out].map((x) => x >>> 0)],
      eip,
      op: "cpuid",
      opArgs: [leaf, sub, ...[...out].map((x) => x >>> 0)],
    });
    return true;
  }

  /**
   * Writable page tables (VMASST_TYPE_writable_pagetables; docs/abi/xen.md §3): a ring-1
   * write fault on a read-only mapping of one of the domain's L1 tables is the guest writing
   * a PTE; Xen validates the new entry and performs the store itself. Anything else, or an
   * entry Xen refuses, is reflected as the page fault it was.
   */
  #ptwr(errorCode: number): boolean {
    const cpu = this.ctx.cpu;
    if (!(this.#assists & 1 << 2) || (errorCode & 7) !== 3) return false;
    const cr2 = cpu.cr2 >>> 0, pa = cpu.translate(cr2);
    if (pa < 0 || this.#mmu!.tables.get(pa >>> 12) !== 1) return false;
    const eip = cpu.eip >>> 0, bytes = this.#insnBytes(16);
    const st = decodeStore(bytes, cpu.regs);
    if (!st || st.ea !== cr2 || (cr2 & 3) || !this.#mmu!.writeEntry(pa, st.value)) return false;
    (cpu as unknown as { eip: number }).eip = (eip + st.length) >>> 0;
    this.emit({ kind: "marker", nr: pa, name: "ptwr_emulated", args: [cr2, st.value], eip });
    return true;
  }

  /** Up to `n` instruction bytes at EIP (fewer where the mapping ends). */
  #insnBytes(n: number): number[] {
    const cpu = this.ctx.cpu, eip = cpu.eip >>> 0, bytes: number[] = [];
    for (let i = 0; i < n; i++) {
      const pa = cpu.translate((eip + i) >>> 0);
      if (pa < 0) break;
      bytes.push(this.ctx.memory.read8(pa));
    }
    return bytes;
  }

  /** A ring-1 #GP(0) from an instruction Xen emulates (emulate.ts decodePrivileged). */
  #privileged(errorCode: number): boolean {
    const cpu = this.ctx.cpu;
    if (errorCode !== 0 || cpu.cpl !== 1) return false;
    const op = decodePrivileged(this.#insnBytes(3));
    if (!op) return false;
    const eip = cpu.eip >>> 0;
    if (op.name === "clts") this.#dispatch(HC.fpu_taskswitch, [0, 0, 0, 0, 0], false);
    (cpu as unknown as { eip: number }).eip = (eip + op.length) >>> 0;
    this.emit({ kind: "marker", nr: 0, name: `emulated_${op.name}`, args: [], eip, op: op.name });
    return true;
  }

  /** Builds Xen's bounce frame and masks events when the entry asks (docs/abi/xen.md §4). */
  #bounceTo(cs: number, eip: number, err: number, mask: boolean): void {
    const ev = this.#ev!;
    const saved = ev.mask;
    if (!this.#p.bounce({ cs, eip, errorCode: err, maskIf: false })) {
      if (this.#failsafe && this.#p.bounce({ ...this.#failsafe, errorCode: -1, maskIf: false })) {
        return;
      }
      this.#shutdown(3);
      return;
    }
    // The saved upcall mask rides in bits 16..23 of the CS slot; EFLAGS.IF shows !mask.
    const sp = this.ctx.cpu.regs[ESP] >>> 0;
    const csSlot = sp + (err >= 0 ? 8 : 4);
    try {
      this.#w32(csSlot, (this.#r32(csSlot) & 0xffff) | saved << 16);
      const fl = this.#r32(csSlot + 4);
      this.#w32(csSlot + 4, saved ? fl & ~0x200 : fl | 0x200);
    } catch (e) {
      if (!(e instanceof Fault)) throw e;
    }
    if (mask) ev.mask = 1;
  }

  #deliverIfDue(): void {
    if (this.#callback && this.#ev!.upcallDue()) {
      this.#p.wake();
      this.#p.kick();
    }
  }

  #shutdown(reason: number): void {
    this.#p.shutdown(SHUTDOWN_EXIT[reason] ?? SHUTDOWN_EXIT[3]);
  }

  // ---- dispatch ----------------------------------------------------------------------------

  /** Runs hypercall `nr`; returns EAX, or null when the call sets the registers itself. */
  #call(nr: number, a: number[], inMulticall: boolean): number | null {
    try {
      return this.#dispatch(nr, a, inMulticall);
    } catch (e) {
      if (e instanceof Fault) return -XEN_EFAULT;
      throw e;
    }
  }

  #dispatch(nr: number, a: number[], inMulticall: boolean): number | null {
    const p = this.profile;
    switch (nr) {
      case HC.set_trap_table:
        return this.#setTrapTable(a[0]);
      case HC.mmu_update:
        return this.#mmu!.mmuUpdate(this.#guest, a[0], a[1], a[2], a[3]);
      case HC.set_gdt:
        return this.#mmu!.setGdt(this.#guest, a[0], a[1]);
      case HC.update_descriptor:
        return this.#mmu!.updateDescriptor(a[0] + a[1] * 2 ** 32, a[2], a[3]);
      case HC.set_callbacks:
        this.#callback = { cs: a[0] & 0xffff, eip: a[1] };
        this.#failsafe = { cs: a[2] & 0xffff, eip: a[3] };
        return 0;
      case HC.stack_switch:
        return this.#stackSwitch(a[0], a[1]);
      case HC.fpu_taskswitch: {
        const c = this.ctx.cpu as unknown as { cr0: number };
        c.cr0 = a[0] ? c.cr0 | 8 : c.cr0 & ~8;
        return 0;
      }
      case HC.sched_op_compat:
        return this.#sched(a[0], a[1], true);
      case HC.multicall:
        return inMulticall ? -XEN_EINVAL : this.#multicall(a[0], a[1]);
      case HC.update_va_mapping:
        return this.#mmu!.updateVaMapping(a[0], a[1], a[3]);
      case HC.set_timer_op:
        return this.#setTimer(a[0] + a[1] * 2 ** 32);
      case HC.event_channel_op_compat:
        return this.#evtchn(this.#r32(a[0]), a[0] + 4);
      case HC.xen_version:
        return this.#xenVersion(a[0], a[1]);
      case HC.console_io:
        // A domU's console_io is refused unless Xen was built verbose (docs/abi/xen.md §6).
        return -XEN_EPERM;
      case HC.vm_assist:
        // VMASST_CMD_enable 0 / disable 1 of a type bit (xen.h); writable_pagetables (2) is
        // the one the model acts on (the store emulation in takeTrap).
        if (a[0] > 1 || a[1] >= 32) return -XEN_EINVAL;
        this.#assists = a[0] === 0 ? this.#assists | 1 << a[1] : this.#assists & ~(1 << a[1]);
        return 0;
      case HC.iret:
        if (inMulticall) return -XEN_EINVAL;
        return this.#iret();
      case HC.vcpu_op:
        return this.#vcpuOp(a[0], a[1], a[2]);
      case HC.mmuext_op:
        return this.#mmu!.mmuextOp(this.#guest, a[0], a[1], a[2]);
      case HC.sched_op:
        return p.schedOpNew ? this.#sched(a[0], a[1], false) : -XEN_ENOSYS;
      case HC.event_channel_op:
        return p.eventChannelOpNew ? this.#evtchn(a[0], a[1]) : -XEN_ENOSYS;
      case HC.physdev_op:
        return p.eventChannelOpNew ? (a[0] === 6 ? 0 : -XEN_ENOSYS) : -XEN_ENOSYS;
      default:
        return -XEN_ENOSYS;
    }
  }

  #setTrapTable(va: number): number {
    if (va === 0) {
      this.#traps.clear();
      return 0;
    }
    for (let i = 0; i < 256; i++) {
      const w0 = this.#r32(va + i * 8), addr = this.#r32(va + i * 8 + 4);
      if (addr === 0) break; // the list ends at a zero address (xen.h trap_info)
      this.#traps.set(w0 & 0xff, { flags: (w0 >>> 8) & 0xff, cs: w0 >>> 16, eip: addr });
    }
    return 0;
  }

  #multicall(list: number, n: number): number {
    for (let i = 0; i < n; i++) {
      const e = list + i * 32;
      const op = this.#r32(e);
      const args = [0, 1, 2, 3, 4].map((k) => this.#r32(e + 8 + k * 4));
      const r = this.#call(op, args, true);
      this.#w32(e + 4, (r ?? 0) >>> 0);
    }
    return 0;
  }

  // ---- scheduling, timers, events ------------------------------------------------------------

  #sched(cmd: number, arg: number, compat: boolean): number {
    switch (cmd) {
      case 0: // SCHEDOP_yield
        return 0;
      case 1: // SCHEDOP_block: enables event delivery, then waits for an event
        this.#ev!.mask = 0;
        if (!this.#ev!.upcallDue()) this.#p.block();
        return 0;
      case 2: // SCHEDOP_shutdown
        this.#shutdown(compat ? arg : this.#r32(arg));
        return 0;
      default:
        return -XEN_EINVAL;
    }
  }

  /** set_timer_op: an absolute deadline in Xen system time (ns since boot; docs §5). */
  #setTimer(deadlineNs: number): number {
    const clock = this.ctx.clock;
    if (this.#timerId >= 0) clock.cancel(this.#timerId);
    this.#timerId = -1;
    if (deadlineNs === 0) return 0;
    const at = Math.max(clock.icount + 1, clock.nanosToInsns(deadlineNs));
    this.#timerId = clock.schedule(at, () => {
      this.#timerId = -1;
      this.#virq(VIRQ_TIMER);
    });
    return 0;
  }

  #virq(virq: number): void {
    this.#time?.update();
    const port = this.#ev!.portOfVirq(virq);
    if (port < 0) return;
    this.#ev!.setPending(port);
    this.#p.wake();
    this.#p.kick();
  }

  #vcpuOp(cmd: number, vcpu: number, arg: number): number {
    if (vcpu !== 0) return -XEN_EINVAL;
    if (!this.profile.vcpuTimers && cmd >= 6) return -XEN_ENOSYS;
    switch (cmd) {
      case 6: { // set_periodic_timer {u64 period_ns}
        const ns = this.#r32(arg) + this.#r32(arg + 4) * 2 ** 32;
        if (ns < 1_000_000) return -XEN_EINVAL; // Xen refuses periods under 1 ms
        this.#periodNs = ns;
        this.#armPeriodic();
        return 0;
      }
      case 7: // stop_periodic_timer
        this.#periodNs = 0;
        this.#armPeriodic();
        return 0;
      case 8: { // set_singleshot_timer {u64 timeout_abs_ns, u32 flags}
        const ns = this.#r32(arg) + this.#r32(arg + 4) * 2 ** 32;
        const flags = this.#r32(arg + 8);
        if (flags & 1 && ns < this.ctx.clock.nanos()) return -XEN_ETIME;
        return this.#setTimer(ns);
      }
      case 9: // stop_singleshot_timer
        return this.#setTimer(0);
      case 3: // is_up
        return 1;
      default:
        return -XEN_ENOSYS;
    }
  }

  #evtchn(cmd: number, arg: number): number {
    const ev = this.#ev!;
    switch (cmd) {
      case 1: { // bind_virq {virq, vcpu, port OUT}
        const virq = this.#r32(arg);
        if (virq >= 24 || this.#r32(arg + 4) !== 0) return -XEN_EINVAL;
        if (ev.portOfVirq(virq) >= 0) return -XEN_EEXIST;
        const port = ev.alloc(EvtchnStat.virq, virq);
        this.#w32(arg + 8, port);
        return 0;
      }
      case 7: { // bind_ipi {vcpu, port OUT}
        if (this.#r32(arg) !== 0) return -XEN_EINVAL;
        this.#w32(arg + 4, ev.alloc(EvtchnStat.ipi, -1));
        return 0;
      }
      case 3: { // close {port}
        const port = this.#r32(arg);
        if (!ev.isOpen(port)) return -XEN_EINVAL;
        ev.close(port);
        return 0;
      }
      case 4: { // send {port}
        const port = this.#r32(arg);
        if (!ev.isOpen(port)) return -XEN_EINVAL;
        if (port === this.#layout!.consoleEvtchn) this.#drainConsole();
        else if (ev.ports[port].status === EvtchnStat.ipi) {
          ev.setPending(port);
          this.#deliverIfDue();
        }
        return 0;
      }
      case 5: { // status {dom u16, pad, port, status OUT, vcpu OUT, u OUT}
        const port = this.#r32(arg + 4);
        if (port >= NR_EVENT_CHANNELS) return -XEN_EINVAL;
        const b = ev.ports[port] ?? { status: EvtchnStat.closed, info: -1 };
        this.#w32(arg + 8, b.status);
        this.#w32(arg + 12, 0);
        this.#w32(arg + 16, b.info >>> 0);
        return 0;
      }
      case 9: { // unmask {port}
        const port = this.#r32(arg);
        if (port >= NR_EVENT_CHANNELS) return -XEN_EINVAL;
        ev.unmask(port);
        this.#deliverIfDue();
        return 0;
      }
      default:
        return -XEN_ENOSYS;
    }
  }

  /** The console daemon's side: consume out[] up to out_prod (io/console.h; docs §6). */
  #drainConsole(): void {
    const m = this.ctx.memory, page = this.#layout!.consoleMfn * PAGE;
    let cons = m.read32(page + CONS_OUT_CONS) >>> 0;
    const prod = m.read32(page + CONS_OUT_PROD) >>> 0;
    for (let n = 0; cons !== prod && n < CONS_OUT_SIZE; n++, cons = (cons + 1) >>> 0) {
      this.#p.console(m.read8(page + CONS_OUT + (cons & (CONS_OUT_SIZE - 1))));
    }
    m.write32(page + CONS_OUT_CONS, cons);
  }

  #iret(): null {
    // struct iret_context at ESP: eax, eip, cs, eflags[, esp, ss] (arch-x86_32.h; docs §4).
    // Xen strips IOPL, forces the real IF, refuses a return to ring 0 (crashes the domain),
    // restores the upcall mask from the frame's IF, then returns as a hardware IRET does.
    const r = this.ctx.cpu.regs;
    const sp = r[ESP] >>> 0;
    const eax = this.#r32(sp), cs = this.#r32(sp + 8) & 0xffff, fl = this.#r32(sp + 12);
    if ((cs & 3) === 0) {
      this.#shutdown(3);
      return null;
    }
    this.#w32(sp + 12, ((fl & ~0x3000) | 0x200) >>> 0);
    r[ESP] = (sp + 4) | 0;
    if (!this.#p.iret()) {
      r[ESP] = sp | 0;
      this.#shutdown(3); // a frame Xen cannot return through (docs §4: failsafe not modelled)
      return null;
    }
    r[EAX] = eax | 0;
    this.#ev!.mask = fl & 0x200 ? 0 : 1;
    return null;
  }

  #xenVersion(cmd: number, arg: number): number {
    const p = this.profile;
    switch (cmd) {
      case 0:
        return (p.major << 16) | p.minor;
      case 1:
        this.#wstr(arg, p.extra, 16);
        return 0;
      case 2: // compile_info: compiler[64], compile_by[16], compile_domain[32], date[32]
        this.#wstr(arg, "gcc version 4.1.2", 64);
        this.#wstr(arg + 64, "pvreplay", 16);
        this.#wstr(arg + 80, "pvreplay.invalid", 32);
        this.#wstr(arg + 112, "pvreplay model", 32);
        return 0;
      case 3:
        this.#wstr(arg, "xen-3.0-x86_32 ", 1024);
        return 0;
      case 4:
        this.#wstr(arg, "unavailable", 64);
        return 0;
      case 5:
        this.#w32(arg, HYPERVISOR_VIRT_START);
        return 0;
      case 6: // get_features {submap_idx, submap OUT}: no optional features for a PV domU
        if (this.#r32(arg) !== 0) return -XEN_EINVAL;
        this.#w32(arg + 4, 0);
        return 0;
      case 7:
        return PAGE;
      case 8:
        this.#wstr(arg, "", 16);
        return 0;
      default:
        return -XEN_ENOSYS;
    }
  }

  // ---- description, model, snapshot ----------------------------------------------------------

  describe(): BackendDescription {
    return describeXen(this.profile);
  }

  model(env?: Partial<ModelEnv>): CallModel {
    return new TableModel(
      this.name,
      this.version,
      withRows(HARDWARE_ROWS, xenRows(this.profile)),
      (s) => this.nameStep(s),
      this.modelEnv(env),
    );
  }

  override saveState(): BackendSnapshot {
    return { ...super.saveState(), xen: { traps: [...this.#traps], callback: this.#callback } };
  }
}

/** Creates the Xen backend for a profile in {@link XEN_PROFILES}. */
export function createXenBackend(version: string, tweak?: Partial<XenProfile>): Backend {
  const p = XEN_PROFILES[version];
  if (!p) {
    throw new Error(`xen has no version "${version}"; valid: ${XEN_VERSIONS.versions.join(", ")}`);
  }
  if (!tweak) return new XenBackend(p);
  for (const k of Object.keys(tweak)) {
    if (!(k in p) || k === "version") throw new Error(`xen profile has no field "${k}" to tweak`);
  }
  return new XenBackend({ ...p, ...tweak });
}
