/**
 * `kvm`: a KVM guest on Intel VT-x (docs/abi/kvm.md §1, §2, §3, §4, §5, §7). The CPU semantics
 * are native; exits are named by VMX basic exit reasons, hypercalls follow the profile's ABI,
 * and profiles from 2.6.25 expose the "KVMKVMKVM" CPUID leaves and kvmclock.
 *
 * kvmclock updates (deterministic): the host rewrites `pvclock_vcpu_time_info` when the guest
 * enables it (system-time MSR write with bit 0 set) and after every external-interrupt
 * delivery; both are instruction-count positions, so replays see identical bytes.
 *
 * @module
 */

import type { AccessSize } from "../../core/bus.ts";
import { EXIT_NAMES, ExitKind, TrapKind } from "../../core/cpu/hooks.ts";
import type { Backend, BackendDescription, BackendSnapshot } from "../backend.ts";
import { BaseBackend, exitArgs, exitRet } from "../common/base_backend.ts";
import { HARDWARE_ROWS, TableModel, withRows } from "../common/cross_model.ts";
import type { Derived, HwEvent } from "../common/hardware_ops.ts";
import {
  CrAccessType,
  KVM_EINVAL,
  KVM_EXIT_IO_IN,
  KVM_EXIT_IO_OUT,
  KVM_PARA_API_VERSION,
  KvmExit,
  MSR_KVM_API_MAGIC,
  VmxExit,
} from "./abi.ts";
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
  clockMsrOf,
  KVM_PROFILES,
  KVM_VERSIONS,
  kvmCpuid,
  type KvmProfile,
  kvmVmcall,
} from "./profiles.ts";
import type { AbiRecord, CallModel, ModelEnv } from "../model.ts";

export { KVM_PROFILES, KVM_VERSIONS, type KvmProfile } from "./profiles.ts";

const VMX_NAMES = Object.fromEntries(Object.entries(VmxExit).map(([k, v]) => [v, k]));
const PAGE = 4096;
const EAX = 0, ECX = 1, EDX = 2, EBX = 3, EBP = 5, ESI = 6, EDI = 7;
const PARA_STATE_SIZE = 24;

/** Guest-registered kvmclock state (part of snapshots). */
interface ClockState {
  wallMsr: [number, number];
  systemMsr: [number, number];
  /** PA of the registered `pvclock_vcpu_time_info`, -1 if disabled. */
  timePa: number;
  /** Host-side version counter; +2 per update, so the guest always sees an even value. */
  version: number;
  /**
   * Host-side wall-clock version: KVM keeps one counter (`kvm_write_wall_clock`'s static
   * `version`, odd while writing, even after), not the guest's value; +2 per registration.
   */
  wallVersion: number;
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
  #clock: ClockState = {
    wallMsr: [0, 0],
    systemMsr: [0, 0],
    timePa: -1,
    version: 0,
    wallVersion: 0,
  };

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

  // ---- CPU hooks ---------------------------------------------------------------------------

  override cpuid(leaf: number, _subleaf: number, out: Int32Array): void {
    kvmCpuid(this.profile, leaf, out);
  }

  override rdmsr(index: number, out: Int32Array): boolean {
    const pair = this.#clockMsr(index);
    if (!pair) return false;
    // KVM returns the last value written (kvm_get_msr_common).
    const v = index >>> 0 === pair.wall ? this.#clock.wallMsr : this.#clock.systemMsr;
    out[0] = v[0];
    out[1] = v[1];
    return true;
  }

  override wrmsr(index: number, lo: number, hi: number): boolean {
    index >>>= 0;
    if (this.profile.apiMagic && index === MSR_KVM_API_MAGIC) return this.#registerPara(lo, hi);
    const pair = this.#clockMsr(index);
    if (!pair) return false;
    if (index === pair.wall) {
      this.#clock.wallMsr = [lo >>> 0, hi >>> 0];
      this.#writeWallClock(lo >>> 0, hi >>> 0);
    } else {
      this.#clock.systemMsr = [lo >>> 0, hi >>> 0];
      // Bit 0 enables; the structure must be RAM and must not cross a page (docs/abi/kvm.md §5).
      const pa = (lo & ~1) >>> 0;
      const ok = (lo & 1) === 1 && hi === 0 && (pa % PAGE) + PVCLOCK_VCPU_TIME_INFO_SIZE <= PAGE &&
        this.ctx.memory.isPlainRam(pa, PVCLOCK_VCPU_TIME_INFO_SIZE);
      this.#clock.timePa = ok ? pa : -1;
      if (ok) this.#updateTimeInfo(true);
    }
    return true;
  }

  override hypercall(kind: "vmcall" | "vmmcall"): boolean {
    const p = this.profile;
    if (kind === "vmmcall") {
      // VMMCALL #UDs on VT-x; KVM rewrites it to VMCALL and retries (the mirror of the AMD
      // case in docs/abi/kvm.md §2; inference). Only the PV-ABI profiles have the emulator path.
      if (p.hypercalls !== "pv" || !this.#patchVmcall(this.instructionPa())) return false;
    }
    const cpu = this.ctx.cpu;
    const r = cpu.regs;
    const regs = [r[EAX], r[EBX], r[ECX], r[EDX], r[ESI], r[EDI], r[EBP], cpu.cpl].map((x) =>
      x >>> 0
    );
    const o = kvmVmcall(p, regs);
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
    if (o.stops) cpu.requestStop();
    return true;
  }

  protected override afterTrap(kind: TrapKind): void {
    if (kind === TrapKind.interrupt && this.#clock.timePa >= 0) this.#updateTimeInfo(false);
  }

  protected override refine(hw: HwEvent, d: Derived): Derived {
    if (hw.source !== "exit" || hw.kind !== ExitKind.wrmsr) return d;
    const pair = this.#clockMsr(hw.a);
    if (!pair || hw.a >>> 0 !== pair.wall) return d;
    // The guest asks for the wall clock by registering the structure (docs/abi/kvm.md §5).
    const ns = this.ctx.clock.nanos();
    return { ...d, op: "get_wallclock", opArgs: [this.#epoch() + Math.floor(ns / 1e9), ns % 1e9] };
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
    const version = this.#clock.wallVersion = (this.#clock.wallVersion + 2) >>> 0;
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
    const c = this.#clock;
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
    return { ...super.saveState(), kvmclock: structuredClone(this.#clock) };
  }

  override loadState(s: BackendSnapshot): void {
    super.loadState(s);
    if (s.kvmclock) this.#clock = structuredClone(s.kvmclock as ClockState);
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
