/**
 * `kvm`: a KVM guest on Intel VT-x (docs/abi/kvm.md §1, §2, §3, §4, §5, §7, §8, §9). The CPU
 * semantics are native; exits are named by VMX basic exit reasons, hypercalls follow the
 * profile's ABI, and profiles from 2.6.25 expose the "KVMKVMKVM" CPUID leaves and kvmclock;
 * 6.1 adds steal time, the SMP features (PV unhalt, send-IPI, sched yield, TLB flush), PV
 * EOI (§9, pv_eoi.ts) and async PF (§10, async_pf.ts).
 *
 * kvmclock updates (deterministic): the host rewrites a vCPU's `pvclock_vcpu_time_info` when
 * the guest enables it (system-time MSR write with bit 0 set) and after every external-interrupt
 * delivery to that vCPU; both are instruction-count positions, so replays see identical bytes.
 * Steal time is rewritten on enable and whenever the vCPU leaves a halt (§8).
 *
 * Why this file is long: it is the one host side of the KVM ABI (exit naming, hypercalls,
 * kvmclock, steal time, PV unhalt/send-IPI, the exits PV EOI syncs at and async PF delivers
 * at), whose parts share the per-vCPU state and the placement of host events around exits;
 * PV EOI's rules are pv_eoi.ts, async PF's async_pf.ts.
 *
 * @module
 */

import type { AccessSize } from "../../core/bus.ts";
import { EXIT_NAMES, ExitKind, TrapKind } from "../../core/cpu/hooks.ts";
import type { Backend, BackendContext, BackendDescription, BackendSnapshot } from "../backend.ts";
import { BaseBackend, type EventFields, exitArgs, exitRet } from "../common/base_backend.ts";
import { HARDWARE_ROWS, TableModel, withRows } from "../common/cross_model.ts";
import type { Derived, HwEvent } from "../common/hardware_ops.ts";
import type { Platform } from "../../core/platform.ts";
import {
  APIC_EOI,
  CrAccessType,
  KVM_EINVAL,
  KVM_EXIT_IO_IN,
  KVM_EXIT_IO_OUT,
  KVM_HC_KICK_CPU,
  KVM_HC_SEND_IPI,
  KVM_PARA_API_VERSION,
  KVM_STEAL_RESERVED_MASK,
  KVM_STEAL_TIME_SIZE,
  KVM_VCPU_FLUSH_TLB,
  KvmExit,
  KvmFeature,
  MSR_KVM_API_MAGIC,
  VmxExit,
} from "./abi.ts";
import { APIC_BASE } from "../common/hardware_ops.ts";
import { Delivery } from "../../core/devices/apic_bus.ts";
import {
  PVCLOCK_VCPU_TIME_INFO_SIZE,
  PVCLOCK_WALL_CLOCK_SIZE,
  type TimeScale,
  timeScale,
  writeVcpuTimeInfo,
  writeWallClock,
} from "../common/pvclock.ts";

import { describeKvm } from "./description.ts";
import { kvmRows } from "./model.ts";
import {
  asyncPfMsrOf,
  clockMsrOf,
  hasFeature,
  isPvEoiMsr,
  isStealMsr,
  KVM_PROFILES,
  KVM_VERSIONS,
  kvmCpuid,
  type KvmProfile,
  kvmVmcall,
  pvIpi,
} from "./profiles.ts";
import type { AbiRecord, CallModel, ModelEnv } from "../model.ts";
import {
  pvEoiAtExit,
  pvEoiAtReset,
  pvEoiOnInjection,
  type PvEoiState,
  writePvEoiMsr,
} from "./pv_eoi.ts";
import {
  asyncPfAtReset,
  type AsyncPfState,
  deliverAsyncPf,
  writeAsyncPfEn,
  writeAsyncPfInt,
} from "./async_pf.ts";

export { KVM_PROFILES, KVM_VERSIONS, type KvmProfile } from "./profiles.ts";

const VMX_NAMES = Object.fromEntries(Object.entries(VmxExit).map(([k, v]) => [v, k]));
const PAGE = 4096;
const EAX = 0, ECX = 1, EDX = 2, EBX = 3, EBP = 5, ESI = 6, EDI = 7;
const PARA_STATE_SIZE = 24;

/** What KVM keeps per vCPU (docs/abi/kvm.md §5, §8, §9, §10). */
interface VcpuState {
  systemMsr: [number, number];
  /** PA of the registered `pvclock_vcpu_time_info`, -1 if disabled. */
  timePa: number;
  /** Host-side version counter; +2 per update, so the guest always sees an even value. */
  version: number;
  stealMsr: [number, number];
  /** `pv_unhalted`: a kick found the vCPU running, so its next HLT returns at once. */
  pvUnhalted: boolean;
  /** Only on a profile with PV_EOI (older profiles' snapshots stay as they were). */
  pvEoi?: PvEoiState;
  /** Only on a profile with ASYNC_PF, likewise. */
  asyncPf?: AsyncPfState;
}

/** Guest-registered host state (part of snapshots). */
interface KvmState {
  wallMsr: [number, number];
  /**
   * Host-side wall-clock version: KVM keeps one counter (`kvm_write_wall_clock`'s static
   * `version`, odd while writing, even after), not the guest's value; +2 per registration.
   */
  wallVersion: number;
  /** By vCPU index (= APIC ID). */
  vcpus: VcpuState[];
}

function vcpuAtReset(): VcpuState {
  return { systemMsr: [0, 0], timePa: -1, version: 0, stealMsr: [0, 0], pvUnhalted: false };
}

/**
 * The KVM backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createKvmBackend } from "./backend.ts";
 * const kvm = createKvmBackend("2.6.25");
 * const out = new Int32Array(4);
 * kvm.cpuid(0x40000000, 0, out);
 * assert.equal(out[1], 0x4b4d564b); // "KVMK"
 * ```
 */
export class KvmBackend extends BaseBackend {
  readonly name = "kvm";
  readonly version: string;
  readonly profile: KvmProfile;
  readonly scale: () => TimeScale;
  #state: KvmState = { wallMsr: [0, 0], wallVersion: 0, vcpus: [] };
  /** A PV EOI the host completed before an APIC access, recorded after the access's event. */
  #apicEoi: EventFields | null = null;
  /**
   * The platform whose local APICs report to this backend: new requests (PV EOI) and SVR
   * writes that leave them enabled (async PF).
   */
  #kicks: Platform | null = null;

  constructor(profile: KvmProfile) {
    super();
    this.version = profile.version;
    this.profile = profile;
    let cached: TimeScale | null = null;
    this.scale = () => (cached ??= timeScale(this.ctx.clock.tscHz));
  }

  // ---- naming ------------------------------------------------------------------------------

  protected override exitRecord(kind: ExitKind, a: number, b: number, c: number): AbiRecord {
    const reason = this.#vmxReason(kind, a);
    if (reason < 0) {
      return {
        nr: -1,
        name: EXIT_NAMES[kind],
        args: exitArgs(kind, a, b, c),
        ret: exitRet(kind, a, b),
      };
    }
    const name = `EXIT_REASON_${VMX_NAMES[reason]}`;
    switch (kind) {
      case ExitKind.crWrite:
        return { nr: reason, name, args: [a, CrAccessType.movToCr, b >>> 0], ret: null };
      case ExitKind.crRead:
        return { nr: reason, name, args: [a, CrAccessType.movFromCr, b >>> 0], ret: b >>> 0 };
      case ExitKind.clts:
        return { nr: reason, name, args: [0, CrAccessType.clts, 0], ret: null };
      case ExitKind.lmsw:
        return { nr: reason, name, args: [0, CrAccessType.lmsw, a & 0xffff], ret: null };
      case ExitKind.shutdown:
        // The triple fault reaches userspace as KVM_EXIT_SHUTDOWN.
        return { nr: reason, name, args: [a >>> 0, KvmExit.SHUTDOWN], ret: null };
      default:
        return { nr: reason, name, args: exitArgs(kind, a, b, c), ret: exitRet(kind, a, b) };
    }
  }

  /** VMX basic exit reason an exit kind causes under KVM, or -1 if it runs without exiting. */
  #vmxReason(kind: ExitKind, a: number): number {
    switch (kind) {
      case ExitKind.hlt:
        return VmxExit.HLT;
      // With EPT, MOV to CR3 does not exit (docs/abi/kvm.md §6).
      case ExitKind.crWrite:
        return a === 3 && this.profile.ept ? -1 : VmxExit.CR_ACCESS;
      case ExitKind.clts:
      case ExitKind.lmsw:
        return VmxExit.CR_ACCESS;
      // CR0/CR4 reads are served from read shadows; CR3 reads exit under shadow paging only.
      case ExitKind.crRead:
        return a === 3 && !this.profile.ept ? VmxExit.CR_ACCESS : -1;
      case ExitKind.rdmsr:
        return VmxExit.MSR_READ;
      case ExitKind.wrmsr:
        return VmxExit.MSR_WRITE;
      case ExitKind.cpuid:
        return VmxExit.CPUID;
      case ExitKind.invlpg:
        return this.profile.invlpgExits ? VmxExit.INVLPG : -1;
      case ExitKind.invd:
        return VmxExit.INVD;
      case ExitKind.drWrite:
        return VmxExit.DR_ACCESS;
      case ExitKind.ioIn:
      case ExitKind.ioOut:
        return VmxExit.IO_INSTRUCTION;
      case ExitKind.shutdown:
        return VmxExit.TRIPLE_FAULT;
      // cli/sti/popf, descriptor-table loads, rdtsc (TSC offsetting), wbinvd, sysenter/exit:
      // no exit with the controls 2007 KVM set.
      default:
        return -1;
    }
  }

  protected override portRecord(dir: "in" | "out", _port: number, size: AccessSize, value: number) {
    const direction = dir === "in" ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
    return { name: "EXIT_REASON_IO_INSTRUCTION", args: [size, value >>> 0, direction] };
  }

  override attach(ctx: BackendContext): void {
    super.attach(ctx);
    const pf = ctx.platform;
    const pvEoi = this.#pvEoiOn(), asyncPf = hasFeature(this.profile, KvmFeature.ASYNC_PF);
    if (!pf || (!pvEoi && !asyncPf)) return;
    this.#kicks = pf;
    for (let i = 0; i < pf.cpuCount; i++) {
      const apic = pf.localApic(i);
      // A request entering a vCPU's APIC kicks it out of the guest: an exit (docs/abi/kvm.md §9).
      if (pvEoi) {
        apic.onAccept = () => {
          const m = this.#pvEoiExit(i);
          if (m) this.emitAfterEvent(m);
        };
      }
      // apic_set_spiv: an SVR write leaving the APIC enabled requests KVM_REQ_APF_READY (§10).
      if (asyncPf) apic.onSoftwareEnable = () => this.#pageReady(i, true);
    }
  }

  override detach(): void {
    const pf = this.#kicks;
    this.#kicks = null;
    for (let i = 0; pf && i < pf.cpuCount; i++) {
      pf.localApic(i).onAccept = pf.localApic(i).onSoftwareEnable = null;
    }
    super.detach();
  }

  // ---- CPU hooks ---------------------------------------------------------------------------

  override cpuid(leaf: number, _subleaf: number, out: Int32Array): void {
    kvmCpuid(this.profile, leaf, out);
  }

  override rdmsr(index: number, out: Int32Array): boolean {
    index >>>= 0;
    const pair = this.#clockMsr(index);
    const apf = asyncPfMsrOf(this.profile, index);
    if (apf) {
      const s = this.#apf();
      // The last value written; ACK reads as 0 (kvm_get_msr_common).
      [out[0], out[1]] = apf === "en" ? s.en : [apf === "int" ? s.int : 0, 0];
      return true;
    }
    // KVM returns the last value written (kvm_get_msr_common).
    const v = isStealMsr(this.profile, index)
      ? this.#vc().stealMsr
      : isPvEoiMsr(this.profile, index)
      ? this.#eoi().msr
      : !pair
      ? null
      : index === pair.wall
      ? this.#state.wallMsr
      : this.#vc().systemMsr;
    if (!v) return false;
    out[0] = v[0];
    out[1] = v[1];
    return true;
  }

  override wrmsr(index: number, lo: number, hi: number): boolean {
    index >>>= 0;
    if (this.profile.apiMagic && index === MSR_KVM_API_MAGIC) return this.#registerPara(lo, hi);
    if (isStealMsr(this.profile, index)) return this.#registerStealTime(lo >>> 0, hi >>> 0);
    if (isPvEoiMsr(this.profile, index)) {
      // The exit's PV EOI sync comes before the write is handled.
      const m = this.#pvEoiExit(this.vcpu);
      if (m) this.emitAfterExit(m);
      return writePvEoiMsr(this.#eoi(), lo, hi, this.ctx.memory);
    }
    const apf = asyncPfMsrOf(this.profile, index);
    if (apf) return this.#writeAsyncPfMsr(apf, lo >>> 0, hi >>> 0);
    const pair = this.#clockMsr(index);
    if (!pair) return false;
    if (index === pair.wall) {
      this.#state.wallMsr = [lo >>> 0, hi >>> 0];
      this.#writeWallClock(lo >>> 0, hi >>> 0);
    } else {
      const v = this.#vc();
      v.systemMsr = [lo >>> 0, hi >>> 0];
      // Bit 0 enables; the structure must be RAM and must not cross a page (docs/abi/kvm.md §5).
      const pa = (lo & ~1) >>> 0;
      const ok = (lo & 1) === 1 && hi === 0 && (pa % PAGE) + PVCLOCK_VCPU_TIME_INFO_SIZE <= PAGE &&
        this.ctx.memory.isPlainRam(pa, PVCLOCK_VCPU_TIME_INFO_SIZE);
      v.timePa = ok ? pa : -1;
      if (ok) this.#updateTimeInfo(true);
    }
    return true;
  }

  override hypercall(kind: "vmcall" | "vmmcall"): boolean {
    const p = this.profile;
    const eoi = this.#pvEoiExit(this.vcpu);
    if (kind === "vmmcall") {
      // VMMCALL #UDs on VT-x; KVM rewrites it to VMCALL and retries (the mirror of the AMD
      // case in docs/abi/kvm.md §2; inference). Only the PV-ABI profiles have the emulator path.
      if (p.hypercalls !== "pv" || !this.#patchVmcall(this.instructionPa())) {
        if (eoi) this.emitAfterEvent(eoi); // the #UD is an exit too
        return false;
      }
    }
    const cpu = this.ctx.cpu;
    const r = cpu.regs;
    const regs = [r[EAX], r[EBX], r[ECX], r[EDX], r[ESI], r[EDI], r[EBP], cpu.cpl].map((x) =>
      x >>> 0
    );
    const o = kvmVmcall(p, regs, (id, mode) => this.#acceptsIpi(id, mode));
    if (o.ret !== null) r[EAX] = o.ret;
    this.emit({
      kind: o.kind,
      nr: o.nr,
      name: o.name,
      args: o.args,
      ret: o.ret,
      eip: this.eip,
      op: "vmcall",
      opArgs: regs,
    });
    if (eoi) this.emitAfterEvent(eoi);
    if (o.stops) cpu.requestStop();
    // Handled (EAX not an error): the host side of PV unhalt and send-IPI (docs/abi/kvm.md §8).
    if (o.kind === "hypercall" && o.ret !== null && o.ret >>> 31 === 0 && p.hypercalls === "pv") {
      const [a0, a1, a2, a3] = o.args;
      if (o.nr === KVM_HC_KICK_CPU) this.#kick(a1);
      else if (o.nr === KVM_HC_SEND_IPI) this.#sendIpi(a0, a1, a2, a3);
    }
    return true;
  }

  override onExit(kind: ExitKind, a: number, b: number, c: number): void {
    super.onExit(kind, a, b, c);
    if (this.#state.vcpus[this.vcpu]?.pvEoi?.pending && this.#vmxReason(kind, a) >= 0) {
      const m = this.#pvEoiExit(this.vcpu);
      if (m) this.emitAfterEvent(m);
    }
    if (kind !== ExitKind.hlt) return; // the hot path (port I/O) stops here
    const v = this.#vc();
    // A kick that came while the vCPU ran: this HLT finds it runnable and returns at once
    // (KVM's vcpu_block clears pv_unhalted); it never blocked, so no steal-time update.
    if (!v.pvUnhalted) return;
    v.pvUnhalted = false;
    this.ctx.platform?.unhalt(this.vcpu);
    this.#unhaltedMarker(this.vcpu, 1);
  }

  protected override afterTrap(kind: TrapKind, vector: number, woke: boolean): void {
    if (kind === TrapKind.interrupt && this.#vc().timePa >= 0) this.#updateTimeInfo(false);
    if (woke) this.#recordStealTime(this.vcpu, false);
    const pf = this.ctx.platform;
    if ((kind === TrapKind.interrupt || kind === TrapKind.nmi) && pf && this.#pvEoiOn()) {
      pvEoiOnInjection(this.#eoi(), this.vcpu, vector, pf, this.ctx.memory);
    }
  }

  // ---- PV EOI (docs/abi/kvm.md §9, pv_eoi.ts) -------------------------------------------------

  #pvEoiOn(): boolean {
    return hasFeature(this.profile, KvmFeature.PV_EOI);
  }

  #eoi(index = this.vcpu): PvEoiState {
    return this.#vc(index).pvEoi ??= pvEoiAtReset();
  }

  /**
   * An exit of vCPU `index`: if the host's bit is pending, KVM's sync from the guest; returns
   * the `kvm_pv_eoi` marker of an EOI the host performed, for the caller to place after the
   * exit's own event (nr = the word's GPA, args [vector retired, 0xffffffff if none]; op
   * apic_write of the EOI register, what the guest's skipped write would have been).
   */
  #pvEoiExit(index: number): EventFields | null {
    const v = this.#state.vcpus[index]?.pvEoi;
    const pf = this.ctx.platform;
    if (!v?.pending || !pf) return null;
    const vector = pvEoiAtExit(v, index, pf, this.ctx.memory);
    if (vector === null) return null;
    return {
      kind: "marker",
      nr: (v.msr[0] & ~3) >>> 0,
      name: "kvm_pv_eoi",
      args: [vector >>> 0],
      eip: this.eip,
      vcpu: index,
      op: "apic_write",
      opArgs: [APIC_EOI, 0],
    };
  }

  protected override beforeApicAccess(): void {
    this.#apicEoi = this.#pvEoiExit(this.vcpu) ?? this.#apicEoi;
  }

  override onMmioRead(pa: number, size: AccessSize, value: number): void {
    super.onMmioRead(pa, size, value);
    this.#afterApicAccess();
  }

  override onMmioWrite(pa: number, size: AccessSize, value: number): void {
    // The guest's own EOI: KVM's apic_set_eoi forgets the cached in-service vector.
    const pf = this.ctx.platform;
    if (pa >>> 0 === APIC_BASE + APIC_EOI && size === 4 && pf && this.#pvEoiOn()) {
      if (pf.localApic(this.vcpu).highestInService() >= 0) this.#eoi().isrCache = -1;
    }
    super.onMmioWrite(pa, size, value);
    this.#afterApicAccess();
  }

  #afterApicAccess(): void {
    const m = this.#apicEoi;
    if (!m) return;
    this.#apicEoi = null;
    this.emitAfterEvent(m);
  }

  protected override refine(hw: HwEvent, d: Derived): Derived {
    if (hw.source !== "exit" || hw.kind !== ExitKind.wrmsr) return d;
    const pair = this.#clockMsr(hw.a);
    if (!pair || hw.a >>> 0 !== pair.wall) return d;
    // The guest asks for the wall clock by registering the structure (docs/abi/kvm.md §5).
    const ns = this.ctx.clock.nanos();
    return { ...d, op: "get_wallclock", opArgs: [this.#epoch() + Math.floor(ns / 1e9), ns % 1e9] };
  }

  // ---- async PF (docs/abi/kvm.md §10, async_pf.ts) --------------------------------------------

  #apf(index = this.vcpu): AsyncPfState {
    return this.#vc(index).asyncPf ??= asyncPfAtReset();
  }

  /** WRMSR of an async-PF MSR; false = #GP. An enable and an ACK look at the queue after it. */
  #writeAsyncPfMsr(msr: "en" | "int" | "ack", lo: number, hi: number): boolean {
    // The exit's PV EOI sync comes before the write is handled (the guest's handler EOIs, then
    // ACKs), so the host's EOI precedes the next interrupt.
    const m = this.#pvEoiExit(this.vcpu);
    if (m) this.emitAfterExit(m);
    const s = this.#apf();
    const features = this.profile.features;
    if (msr === "int") return writeAsyncPfInt(s, lo, hi);
    if (msr === "en" && !writeAsyncPfEn(s, lo, hi, features, this.ctx.memory)) return false;
    if (msr === "en" || (lo & 1) === 1) this.#pageReady(this.vcpu, false);
    return true;
  }

  /**
   * The entry after a KVM_REQ_APF_READY on vCPU `index`: a waiting wake-all is delivered if it
   * can be, as a `kvm_async_pf` marker (nr = the structure's GPA, args [token, vector]) after
   * the exit's event, then the interrupt enters the vCPU's APIC. No canonical operation: bare
   * hardware has nothing it stands for.
   */
  #pageReady(index: number, afterEvent: boolean): void {
    const s = this.#state.vcpus[index]?.asyncPf;
    const pf = this.ctx.platform;
    if (!s?.queued || !pf) return;
    const r = deliverAsyncPf(s, pf.acceptsFixedIpi(index), this.ctx.memory);
    if (!r) return;
    const fields: EventFields = {
      kind: "marker",
      nr: r.pa,
      name: "kvm_async_pf",
      args: [r.token, r.vector],
      eip: this.eip,
      vcpu: index,
    };
    if (afterEvent) this.emitAfterEvent(fields);
    else this.emitAfterExit(fields);
    pf.sendFixedIpi(index, r.vector, false);
  }

  // ---- per-vCPU state, PV unhalt, send-IPI, steal time (docs/abi/kvm.md §8) ------------------

  #vc(index = this.vcpu): VcpuState {
    return this.#state.vcpus[index] ??= vcpuAtReset();
  }

  /**
   * KVM_HC_SEND_IPI's `kvm_apic_set_irq` result: the vCPU exists and its APIC is enabled
   * (globally and, for fixed and lowest priority, by software; an NMI needs only the global
   * enable, docs/abi/kvm.md §8).
   */
  #acceptsIpi(apicId: number, mode: number): boolean {
    const pf = this.ctx.platform;
    if (!pf || apicId >= pf.cpuCount) return false;
    if (mode === Delivery.nmi) return pf.acceptsNmi(apicId);
    if (mode !== Delivery.fixed && mode !== Delivery.lowest) return false;
    return pf.acceptsFixedIpi(apicId);
  }

  #sendIpi(low: number, high: number, min: number, icr: number): void {
    const ipi = pvIpi(low, high, min, icr)!;
    for (const id of ipi.targets) {
      if (!this.#acceptsIpi(id, ipi.mode)) continue;
      if (ipi.mode === Delivery.nmi) this.ctx.platform!.sendNmi(id);
      // Lowest priority to one named APIC is that APIC (KVM delivers it as fixed).
      else this.ctx.platform!.sendFixedIpi(id, ipi.vector, ipi.level);
    }
  }

  /**
   * KVM_HC_KICK_CPU: an APIC_DM_REMRD message sets the target's `pv_unhalted`; a halted target
   * becomes runnable whatever its EFLAGS.IF (kvm_wait may halt with interrupts off), a running
   * one keeps the flag for its next HLT. Physical destination 0xFF addresses every vCPU.
   */
  #kick(apicId: number): void {
    const pf = this.ctx.platform;
    if (!pf) return;
    const n = pf.cpuCount;
    const targets = apicId === 0xff ? [...Array(n).keys()] : apicId < n ? [apicId] : [];
    for (const i of targets) {
      if (pf.unhalt(i)) {
        this.#unhaltedMarker(i, 1);
        // The blocked vCPU is scheduled in again (kvm_arch_vcpu_load: KVM_REQ_STEAL_UPDATE).
        this.#recordStealTime(i, false);
      } else {
        this.#vc(i).pvUnhalted = true;
        this.#unhaltedMarker(i, 0);
      }
    }
  }

  /** A `kvm_pv_unhalt` marker on vCPU `index`: 1 = its halt ended, 0 = flag kept for later. */
  #unhaltedMarker(index: number, woke: number): void {
    const state: EventFields["state"] = woke && this.unhaltVcpu(index) ? [["HALTED", 0]] : [];
    this.emit({
      kind: "marker",
      nr: index,
      name: "kvm_pv_unhalt",
      args: [woke],
      eip: this.eip,
      vcpu: index,
      state,
    });
  }

  /** MSR_KVM_STEAL_TIME: reserved bits 1-5 raise #GP; bit 0 enables (an update follows). */
  #registerStealTime(lo: number, hi: number): boolean {
    if ((lo & KVM_STEAL_RESERVED_MASK) !== 0) return false;
    this.#vc().stealMsr = [lo, hi];
    if ((lo & 1) === 1) this.#recordStealTime(this.vcpu, true);
    return true;
  }

  /**
   * KVM's `record_steal_time` for vCPU `index`: takes `preempted` (flushing the vCPU's TLB when
   * the guest set KVM_VCPU_FLUSH_TLB and PV_TLB_FLUSH is on), makes `version` even, odd while
   * writing, even again (+2), and adds the steal accrued since the last update to `steal`:
   * always 0, as no host preemption is modelled (every vCPU has its own physical CPU).
   */
  #recordStealTime(index: number, fromMsrWrite: boolean): void {
    const [lo, hi] = this.#vc(index).stealMsr;
    const pa = (lo & ~0x3f) >>> 0;
    const mem = this.ctx.memory;
    if ((lo & 1) === 0 || hi !== 0 || !mem.isPlainRam(pa, KVM_STEAL_TIME_SIZE)) return;
    const v = mem.view;
    const preempted = v.getUint8(pa + 16);
    v.setUint8(pa + 16, 0);
    let version = v.getUint32(pa + 8, true);
    if (version & 1) version += 1; // the guest's first value may be junk
    version = (version + 2) >>> 0;
    v.setUint32(pa + 8, version, true);
    mem.noteWrite(pa, KVM_STEAL_TIME_SIZE);
    const flush = hasFeature(this.profile, KvmFeature.PV_TLB_FLUSH) &&
      (preempted & KVM_VCPU_FLUSH_TLB) !== 0;
    if (flush) this.ctx.platform?.flushTlbOf(index);
    const fields = {
      kind: "marker" as const,
      nr: pa,
      name: "kvm_steal_time",
      args: [v.getUint32(pa, true), v.getUint32(pa + 4, true), version, preempted],
      eip: this.eip,
      vcpu: index,
      // The flush the guest asked for instead of an IPI (kvm_flush_tlb_multi).
      op: flush ? "flush_tlb_kernel" : null,
    };
    if (fromMsrWrite) this.emitAfterExit(fields);
    else this.emit(fields);
  }

  // ---- kvmclock ----------------------------------------------------------------------------

  #clockMsr(index: number) {
    return clockMsrOf(this.profile, index);
  }

  #epoch(): number {
    return this.ctx.epoch ?? this.modelEnv().epoch;
  }

  #writeWallClock(pa: number, hi: number): void {
    const mem = this.ctx.memory;
    if (hi !== 0 || !mem.isPlainRam(pa, PVCLOCK_WALL_CLOCK_SIZE)) return;
    // Seqlock (docs/abi/kvm.md §5): the host's counter, odd while writing, even when done.
    const version = this.#state.wallVersion = (this.#state.wallVersion + 2) >>> 0;
    const sec = this.#epoch(), nsec = 0; // wall time at system time 0 = the machine's epoch
    writeWallClock(mem, pa, version, sec, nsec);
    this.emitAfterExit({
      kind: "marker",
      nr: pa,
      name: "pvclock_wall_clock",
      args: [version >>> 0, sec >>> 0, nsec],
      eip: this.eip,
    });
  }

  #updateTimeInfo(fromMsrWrite: boolean): void {
    const c = this.#vc();
    c.version = (c.version + 2) >>> 0;
    const clock = this.ctx.clock;
    const tsc = clock.tsc();
    const sys = BigInt(clock.nanos());
    const scale = this.scale();
    writeVcpuTimeInfo(this.ctx.memory, c.timePa, {
      version: c.version,
      tscTimestamp: tsc,
      systemTime: sys,
      scale,
      flags: this.profile.pvclockFlags,
    });
    const fields = {
      kind: "marker" as const,
      nr: c.timePa,
      name: "pvclock_vcpu_time_info",
      op: "clock_update",
      opArgs: [Number(tsc & 0xffff_ffffn), Number(tsc >> 32n), Number(sys)],
      args: [
        c.version,
        Number(tsc & 0xffff_ffffn),
        Number(tsc >> 32n),
        Number(sys & 0xffff_ffffn),
        Number(sys >> 32n),
        scale.mul,
        scale.shift & 0xff,
        this.profile.pvclockFlags,
      ],
      eip: this.eip,
    };
    if (fromMsrWrite) this.emitAfterExit(fields);
    else this.emit(fields);
  }

  // ---- experimental 2.6.22 interface ---------------------------------------------------------

  #registerPara(lo: number, hi: number): boolean {
    const pa = lo >>> 0;
    const mem = this.ctx.memory;
    // Not page aligned or not RAM: #GP (vcpu_register_para "err_gp"), i.e. not handled here.
    if (hi !== 0 || pa % PAGE !== 0 || !mem.isPlainRam(pa, PARA_STATE_SIZE)) return false;
    const v = mem.view;
    v.setUint32(pa + 4, KVM_PARA_API_VERSION, true);
    let ret = -KVM_EINVAL;
    if (v.getUint32(pa, true) <= KVM_PARA_API_VERSION) {
      const gpaHi = v.getUint32(pa + 20, true);
      const gpa = v.getUint32(pa + 16, true);
      if (gpaHi === 0 && this.#patchVmcall(gpa)) ret = 0;
    }
    v.setUint32(pa + 12, ret >>> 0, true);
    mem.noteWrite(pa, PARA_STATE_SIZE);
    this.emitAfterExit({
      kind: "marker",
      nr: pa,
      name: "kvm_vcpu_para_state",
      args: [KVM_PARA_API_VERSION, ret >>> 0],
      eip: this.eip,
    });
    return true;
  }

  /** Writes VMCALL (0F 01 C1) at `pa`, as `vmx_patch_hypercall` does; false if not RAM. */
  #patchVmcall(pa: number): boolean {
    const mem = this.ctx.memory;
    if (pa < 0 || !mem.isPlainRam(pa, 3)) return false;
    mem.write8(pa, 0x0f);
    mem.write8(pa + 1, 0x01);
    mem.write8(pa + 2, 0xc1);
    return true;
  }

  // ---- description, model, snapshot ----------------------------------------------------------

  describe(): BackendDescription {
    return describeKvm(this.profile);
  }

  model(env?: Partial<ModelEnv>): CallModel {
    return new TableModel(
      this.name,
      this.version,
      withRows(HARDWARE_ROWS, kvmRows(this.profile)),
      (s) => this.nameStep(s),
      this.modelEnv(env),
    );
  }

  override saveState(): BackendSnapshot {
    return { ...super.saveState(), kvm: structuredClone(this.#state) };
  }

  override loadState(s: BackendSnapshot): void {
    super.loadState(s);
    if (s.kvm) this.#state = structuredClone(s.kvm as KvmState);
  }

  /**
   * INIT (`kvm_vcpu_reset` with init_event): `pv_unhalted`, the kvmclock, steal-time, PV EOI
   * and async-PF registrations and the async-PF queue go; the host's time-info version counter
   * stays (kvmclock_reset leaves `hv_clock`).
   */
  override resetVcpu(index: number): void {
    super.resetVcpu(index);
    const v = this.#state.vcpus[index];
    if (!v) return;
    this.#state.vcpus[index] = {
      ...vcpuAtReset(),
      version: v.version,
      ...(v.pvEoi ? { pvEoi: pvEoiAtReset() } : {}),
      ...(v.asyncPf ? { asyncPf: asyncPfAtReset() } : {}),
    };
  }
}

/** Creates the KVM backend for a profile in {@link KVM_PROFILES}. */
export function createKvmBackend(version: string, tweak?: Partial<KvmProfile>): Backend {
  const p = KVM_PROFILES[version];
  if (!p) {
    throw new Error(`kvm has no version "${version}"; valid: ${KVM_VERSIONS.versions.join(", ")}`);
  }
  if (!tweak) return new KvmBackend(p);
  for (const k of Object.keys(tweak)) {
    if (!(k in p) || k === "version") throw new Error(`kvm profile has no field "${k}" to tweak`);
  }
  return new KvmBackend({ ...p, ...tweak });
}
