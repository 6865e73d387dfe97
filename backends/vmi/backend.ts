/**
 * `vmi`: VMware's VMI (API 3.x, docs/abi/vmi.md). The hypervisor maps an option ROM at 0xC0000
 * (`rom.ts`) and reserves the linear range from the ROM's `virtual_top` up; the guest boots by
 * Multiboot, finds the ROM by scanning, and calls its routines like functions. Each routine's
 * private trap (a VMCALL inside the ROM, `calls.ts`) lands here: the call is recorded as one
 * `hypercall` event with its canonical operation, and the hypervisor-only work is done (cycle
 * counters, alarms, wall clock, TLB flushes, page-table notifications). Instructions the ROM
 * executes itself are the hypervisor's and are not recorded as guest exits; every other guest
 * instruction runs as on the PC (VMware virtualises the rest) and is named as native names it.
 *
 * Alarms are deterministic: an absolute expiry in cycles becomes an instruction count on the
 * virtual clock (core/clock.ts), and a fired alarm raises IRQ0 or the LVTT vector.
 *
 * @module
 */

import type { AccessSize } from "../../core/bus.ts";
import type { ExitKind } from "../../core/cpu/hooks.ts";
import { movToDr } from "../../core/cpu/system.ts";
import type { Cpu } from "../../core/cpu/cpu.ts";
import { EXIT_RESET, EXIT_SUCCESS } from "../../core/exit_status.ts";
import type { GuestImage, Platform } from "../../core/platform.ts";
import { TimerMode } from "../../vocabulary/canonical_ops.ts";
import type { Backend, BackendDescription, BackendSnapshot } from "../backend.ts";
import { BaseBackend } from "../common/base_backend.ts";
import { HARDWARE_ROWS, TableModel, withRows } from "../common/cross_model.ts";
import type { CallModel, ModelEnv } from "../model.ts";
import {
  VMI_ALARM_COUNTER_MASK,
  VMI_ALARM_IS_PERIODIC,
  VMI_ALARM_WIRED_LVTT,
  VMI_CALL_NAMES,
  VMI_FLUSH_GLOBAL,
  VmiCall as C,
  VmiCycles,
} from "./abi.ts";
import { describeVmi } from "./description.ts";
import { vmiRows } from "./model.ts";
import { VMI_PROFILES, VMI_VERSIONS, type VmiProfile } from "./profiles.ts";
import { buildRom, SITE_GET_RELOC, SITE_INIT, type TrapSite, type VmiRom } from "./rom.ts";

export { VMI_PROFILES, VMI_VERSIONS, type VmiProfile } from "./profiles.ts";

const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4;
const SS = 2, TR = 7;
const APIC_LVTT = 0x320;
const U32 = 0x1_0000_0000;

/** The armed alarm (part of snapshots). */
interface Alarm {
  flags: number;
  /** Absolute counter value of the next expiry, in cycles. */
  expiry: number;
  period: number;
}

/**
 * The VMI backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createVmiBackend } from "./backend.ts";
 * const vmi = createVmiBackend("3.0");
 * assert.equal(vmi.describe().calls.some((c) => c.name === "VMI_CALL_SetAlarm"), true);
 * ```
 */
export class VmiBackend extends BaseBackend {
  readonly name = "vmi";
  readonly version: string;
  readonly profile: VmiProfile;
  readonly rom: VmiRom;
  #platform: Platform | null = null;
  #stash = [0, 0];
  #alarm: Alarm | null = null;
  #alarmId = -1;
  #lvttVector = -1;
  #lazyMode = 0;
  #initialised = false;
  /** Page-table pages announced with AllocatePage: pfn -> flags. */
  #pages = new Map<number, number>();

  constructor(profile: VmiProfile) {
    super();
    this.version = profile.version;
    this.profile = profile;
    this.rom = buildRom(profile);
  }

  /** Multiboot, with the ROM mapped and the hypervisor's range reserved (docs/abi/vmi.md §4). */
  override boot(platform: Platform, image: GuestImage): void {
    platform.bootMultiboot(image);
    platform.memory.mapRom(this.profile.romBase, this.rom.bytes);
    platform.reserveLinear("vmi virtual_top", this.profile.virtualTop >>> 0, U32);
    this.#platform = platform;
  }

  /** True while the CPU executes ROM code (the hypervisor's own instructions). */
  #inRom(): boolean {
    const off = this.instructionPa() - this.profile.romBase;
    return off >= 0 && off < this.rom.bytes.length;
  }

  override onExit(kind: ExitKind, a: number, b: number, c: number): void {
    if (this.#inRom()) return;
    super.onExit(kind, a, b, c);
  }

  override onMmioRead(pa: number, size: AccessSize, value: number): void {
    if (this.#inRom()) return;
    super.onMmioRead(pa, size, value);
  }

  override onMmioWrite(pa: number, size: AccessSize, value: number): void {
    if (this.#inRom()) return;
    super.onMmioWrite(pa, size, value);
  }

  // ---- the ROM's private trap ------------------------------------------------------------

  override hypercall(kind: "vmcall" | "vmmcall"): boolean {
    if (kind !== "vmcall") return false;
    const site = this.rom.sites.get(this.instructionPa() - this.profile.romBase);
    // A VMCALL outside the ROM's trap sites is not VMI: #UD, as on the hardware.
    if (!site) return false;
    this.#trap(site);
    return true;
  }

  #platformOf(): Platform {
    const p = this.ctx.platform ?? this.#platform;
    if (!p) throw new Error("vmi: the backend needs the machine's platform (boot it first)");
    return p;
  }

  #stack(off: number): number {
    const cpu = this.ctx.cpu;
    return this.readLinear32((cpu.segBase[SS] + cpu.regs[ESP] + off) >>> 0) ?? 0;
  }

  #writeLinear32(lin: number, v: number): boolean {
    const pa = this.ctx.cpu.translate(lin >>> 0);
    if (pa < 0) return false;
    this.ctx.memory.write32(pa, v >>> 0);
    return true;
  }

  /** Cycle rate of the counters (docs/abi/vmi.md §5). */
  cycleHz(): number {
    return this.profile.cycleHz || this.ctx.clock.tscHz;
  }

  /** REAL counter now, in cycles since power-on. */
  #cycles(): number {
    return this.ctx.clock.ticksAt(this.cycleHz());
  }

  #setU64(v: number | bigint): void {
    const b = BigInt(v);
    const r = this.ctx.cpu.regs;
    r[EAX] = Number(b & 0xffff_ffffn) | 0;
    r[EDX] = Number((b >> 32n) & 0xffff_ffffn) | 0;
  }

  #record(
    nr: number,
    args: number[],
    ret: number | null,
    op: string | null = null,
    opArgs: number[] = [],
  ): void {
    this.emit({
      kind: "hypercall",
      nr,
      name: nr === SITE_INIT
        ? "vmi_init"
        : nr === SITE_GET_RELOC
        ? "get_reloc"
        : VMI_CALL_NAMES[nr],
      args: args.map((x) => x >>> 0),
      ret: ret === null ? null : ret >>> 0,
      eip: this.eip,
      op,
      opArgs: opArgs.map((x) => x >>> 0),
    });
  }

  #trap(site: TrapSite): void {
    const cpu = this.ctx.cpu;
    const r = cpu.regs;
    const a = r[EAX] >>> 0, d = r[EDX] >>> 0, c = r[ECX] >>> 0;
    const nr = site.nr;
    const rec = (
      args: number[],
      ret: number | null,
      op: string | null = null,
      opArgs: number[] = [],
    ) => this.#record(nr, args, ret, op, opArgs);
    switch (nr) {
      case SITE_INIT:
        this.#initialised = true;
        return rec([], 0);
      case SITE_GET_RELOC:
        // After the ROM's own lookup: EBX = call, EAX = routine, EDX = type.
        return rec([r[EBX]], d, null, []), void 0;
      case C.CPUID:
        if (site.early) {
          this.#stash = [a, c];
          return;
        }
        return rec(this.#stash, a, "cpuid", [...this.#stash, a, r[EBX], c, d]);
      case C.WRMSR:
        return rec([a, d, c], null, "write_msr", [a, d, c]);
      case C.RDMSR:
        return rec([c], a, "read_msr", [c, a, d]);
      case C.SetGDT:
      case C.SetIDT: {
        const limit = (this.readLinear32(a) ?? 0) & 0xffff, base = this.readLinear32(a + 2) ?? 0;
        return rec([a], null, nr === C.SetGDT ? "load_gdt" : "load_idt", [base, limit]);
      }
      case C.SetLDT:
        return rec([a & 0xffff], null, "set_ldt", this.#ldtOf(a & 0xffff));
      case C.SetTR:
        return rec([a & 0xffff], null, "load_tr_desc", [a & 0xffff]);
      case C.GetGDT:
      case C.GetIDT:
        return rec([a], null);
      case C.GetLDT:
      case C.GetTR:
        return rec([], a);
      case C.WriteGDTEntry:
      case C.WriteLDTEntry:
      case C.WriteIDTEntry:
        return rec([a, d, c, this.#stack(4)], null);
      case C.UpdateKernelStack: {
        // The hypervisor keeps the ring-0 stack in the current TSS (ss0 @8, esp0 @4).
        const tss = cpu.segBase[TR] >>> 0;
        this.#writeLinear32(tss + 4, d);
        this.#writeLinear32(tss + 8, a & 0xffff);
        return rec([a, d], null);
      }
      case C.SetCR0:
        return rec([a], null, "write_cr0", [a]);
      case C.SetCR2:
        return rec([a], null);
      case C.SetCR3:
        return rec([a], null, "write_cr3", [a]);
      case C.SetCR4:
        return rec([a], null, "write_cr4", [a]);
      case C.GetCR0:
        return rec([], a, "read_cr0", [a]);
      case C.GetCR2:
        return rec([], a, "read_cr2", [a]);
      case C.GetCR3:
        return rec([], a, "read_cr3", [a]);
      case C.GetCR4:
        return rec([], a, "read_cr4", [a]);
      case C.WBINVD:
        return rec([], null, "wbinvd");
      case C.SetDR: {
        const real = this.#platformOf().cpu as Cpu;
        movToDr(real, a & 7, d); // the CPU's own checks; its exit is the ROM's (not recorded)
        return rec([a, d], null, "set_debugreg", [a & 7, d]);
      }
      case C.GetDR: {
        const real = this.#platformOf().cpu as Cpu;
        const n = a & 7;
        const v = real.dr[n === 4 || n === 5 ? n + 2 : n] >>> 0;
        r[EAX] = v | 0;
        return rec([a], v);
      }
      case C.RDPMC:
        // No performance counters are modelled (UNVERIFIED what VMware's ROM returned).
        this.#setU64(0);
        return rec([a], 0);
      case C.RDTSC:
        return rec([], a, "read_tsc", [a, d]);
      case C.CLTS:
        return rec([], null, "clts");
      case C.EnableInterrupts:
        return rec([], null, "irq_enable");
      case C.DisableInterrupts:
        return rec([], null, "irq_disable");
      case C.GetInterruptMask:
        return rec([], a, "save_fl", [a & 0x200]);
      case C.SetInterruptMask:
        return rec([a], null, "restore_fl", [a & 0x200]);
      case C.IRET: {
        const flags = this.#stack(8);
        return rec([flags], null, "iret", [flags & 0x200]);
      }
      case C.SYSEXIT:
        return rec([d, c], null, "irq_enable_sysexit");
      case C.Halt:
        // "All VMI halts are safe" (docs/abi/vmi.md §5): the ROM does sti; hlt.
        return rec([], null, "safe_halt");
      case C.Reboot:
        rec([a], null, "shutdown", [1]);
        this.#platformOf().shutdown(EXIT_RESET);
        return;
      case C.Shutdown:
        rec([], null, "shutdown", [0]);
        this.#platformOf().shutdown(EXIT_SUCCESS);
        return;
      case C.SetPxE:
        return rec([a, d, c], null);
      case C.SetPxELong:
        return rec([a, d, c, this.#stack(4)], null);
      case C.UpdatePxE:
      case C.UpdatePxELong:
        return rec([a, d], null);
      case C.MachineToPhysical:
      case C.PhysicalToMachine:
        // Shadow paging: machine frames are the guest's own frames (docs/abi/vmi.md §5).
        return rec([a], a);
      case C.AllocatePage:
        this.#pages.set(a, d);
        return rec([a, d, c, this.#stack(4), this.#stack(8)], null);
      case C.ReleasePage:
        this.#pages.delete(a);
        return rec([a, d], null);
      case C.InvalPage:
        return rec([a], null, "flush_tlb_single", [a]);
      case C.FlushTLB: {
        const global = (a & VMI_FLUSH_GLOBAL) !== 0;
        this.#platformOf().flushTlb(global);
        return rec([a], null, global ? "flush_tlb_kernel" : "flush_tlb_user");
      }
      case C.SetLinearMapping:
        return rec([a, d, c, this.#stack(4)], null);
      case C.SetIOPLMask:
      case C.SetInitialAPState:
        return rec(nr === C.SetIOPLMask ? [a] : [a, d], null);
      case C.APICWrite:
        if (a === APIC_LVTT) this.#lvttVector = d & 0xff;
        return rec([a, d], null, "apic_write", [a, d]);
      case C.APICRead:
        return rec([d], a, "apic_read", [d, a]);
      case C.IODelay:
        return rec([], null, "io_delay");
      case C.GetCycleFrequency: {
        const hz = this.cycleHz();
        this.#setU64(hz);
        return rec([], hz);
      }
      case C.GetCycleCounter: {
        // REAL = AVAILABLE (one vCPU that is never descheduled: nothing is stolen).
        const now = a === VmiCycles.REAL || a === VmiCycles.AVAILABLE ? this.#cycles() : 0;
        this.#setU64(now);
        const tsc = a === VmiCycles.STOLEN ? null : "read_tsc";
        return rec([a], now % U32, tsc, tsc ? [now % U32, Math.floor(now / U32)] : []);
      }
      case C.SetAlarm: {
        const expiry = d + c * U32, period = this.#stack(4) + this.#stack(8) * U32;
        this.#setAlarm({ flags: a, expiry, period });
        const now = this.#counter(a);
        const deltaNs = Math.max(1, Math.ceil((expiry - now) * 1e9 / this.cycleHz()));
        const periodic = (a & VMI_ALARM_IS_PERIODIC) !== 0 && period > 0;
        return rec(
          [a, d, c, this.#stack(4), this.#stack(8)],
          null,
          "set_timer",
          periodic
            ? [TimerMode.periodic, Math.round(period * 1e9 / this.cycleHz())]
            : [TimerMode.oneshot, deltaNs],
        );
      }
      case C.CancelAlarm:
        this.#cancelAlarm();
        return rec([a], null, "set_timer", [TimerMode.oneshot, 0]);
      case C.GetWallclockTime: {
        const ns = BigInt(this.#epoch()) * 1_000_000_000n + BigInt(this.ctx.clock.nanos());
        this.#setU64(ns);
        return rec([], Number(ns & 0xffff_ffffn), "get_wallclock", [
          Number(ns / 1_000_000_000n),
          Number(ns % 1_000_000_000n),
        ]);
      }
      case C.WallclockUpdated:
        // The virtual machine's wall clock is never stepped by the host.
        r[EAX] = 0;
        return rec([], 0);
      case C.SetLazyMode:
        this.#lazyMode = a;
        return rec([a], null);
      default:
        throw new Error(`vmi: ROM trap for call ${nr} has no handler`);
    }
  }

  #epoch(): number {
    return this.ctx.epoch ?? this.modelEnv().epoch;
  }

  #ldtOf(sel: number): number[] {
    if ((sel & ~7) === 0) return [0, 0];
    const lin = (this.ctx.cpu.gdtrBase + (sel & ~7)) >>> 0;
    const lo = this.readLinear32(lin), hi = this.readLinear32(lin + 4);
    if (lo === null || hi === null) return [0, 0];
    const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff00_0000)) >>> 0;
    let limit = (lo & 0xffff) | (hi & 0xf_0000);
    if (hi & 0x80_0000) limit = limit * 4096 + 0xfff;
    return [base, Math.floor((limit + 1) / 8)];
  }

  // ---- alarms (docs/abi/vmi.md §5) -------------------------------------------------------

  /** Value of the counter an alarm's flags name. */
  #counter(flags: number): number {
    return (flags & VMI_ALARM_COUNTER_MASK) === VmiCycles.STOLEN ? 0 : this.#cycles();
  }

  #setAlarm(al: Alarm): void {
    this.#cancelAlarm();
    this.#alarm = al;
    this.#arm();
  }

  #cancelAlarm(): void {
    if (this.#alarmId >= 0) this.ctx.clock.cancel(this.#alarmId);
    this.#alarmId = -1;
    this.#alarm = null;
  }

  #arm(): void {
    const al = this.#alarm!;
    // The STOLEN counter never advances here: its alarm fires only if already due.
    if ((al.flags & VMI_ALARM_COUNTER_MASK) === VmiCycles.STOLEN && al.expiry > 0) return;
    const clock = this.ctx.clock;
    const at = Math.max(clock.icount + 1, clock.icountAtTicks(al.expiry, this.cycleHz()));
    this.#alarmId = clock.schedule(at, () => this.#fire());
  }

  #fire(): void {
    this.#alarmId = -1;
    const al = this.#alarm;
    if (!al) return;
    const p = this.#platformOf();
    if ((al.flags & VMI_ALARM_WIRED_LVTT) !== 0) {
      if (this.#lvttVector >= 0x10) p.localInterrupt(this.#lvttVector);
    } else {
      p.setIrq(0, true);
      p.setIrq(0, false);
    }
    if ((al.flags & VMI_ALARM_IS_PERIODIC) !== 0 && al.period > 0) {
      al.expiry += al.period;
      this.#arm();
    } else {
      this.#alarm = null;
    }
  }

  // ---- description, model, snapshot ------------------------------------------------------

  describe(): BackendDescription {
    return describeVmi(this.profile, this.rom);
  }

  model(env?: Partial<ModelEnv>): CallModel {
    return new TableModel(
      this.name,
      this.version,
      withRows(HARDWARE_ROWS, vmiRows(this.profile)),
      (s) => this.nameStep(s),
      this.modelEnv(env),
    );
  }

  override saveState(): BackendSnapshot {
    return {
      ...super.saveState(),
      vmi: {
        alarm: this.#alarm ? { ...this.#alarm } : null,
        lvtt: this.#lvttVector,
        lazy: this.#lazyMode,
        init: this.#initialised,
        pages: [...this.#pages],
        stash: [...this.#stash],
      },
    };
  }

  override loadState(s: BackendSnapshot): void {
    super.loadState(s);
    const v = s.vmi as {
      alarm: Alarm | null;
      lvtt: number;
      lazy: number;
      init: boolean;
      pages: Array<[number, number]>;
      stash: number[];
    } | undefined;
    if (!v) return;
    this.#lvttVector = v.lvtt;
    this.#lazyMode = v.lazy;
    this.#initialised = v.init;
    this.#pages = new Map(v.pages);
    this.#stash = [...v.stash];
    // The machine's restore dropped every timer: re-arm from the saved expiry.
    this.#alarmId = -1;
    this.#alarm = v.alarm ? { ...v.alarm } : null;
    if (this.#alarm) this.#arm();
  }
}

/** Creates the VMI backend for a profile in {@link VMI_PROFILES}. */
export function createVmiBackend(version: string, tweak?: Partial<VmiProfile>): Backend {
  const p = VMI_PROFILES[version];
  if (!p) {
    throw new Error(`vmi has no version "${version}"; valid: ${VMI_VERSIONS.versions.join(", ")}`);
  }
  if (!tweak) return new VmiBackend(p);
  for (const k of Object.keys(tweak)) {
    if (!(k in p) || k === "version") throw new Error(`vmi profile has no field "${k}" to tweak`);
  }
  return new VmiBackend({ ...p, ...tweak });
}
