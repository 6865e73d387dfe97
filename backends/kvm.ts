/**
 * `kvm`: a KVM guest on Intel VT-x (abi.md §1, §2.5, §3.4, §3.5, §4.6, §7.4). The CPU semantics
 * are native; exits are named by VMX basic exit reasons, hypercalls follow the profile's ABI,
 * and profiles from 2.6.25 expose the "KVMKVMKVM" CPUID leaves and kvmclock.
 *
 * kvmclock updates (deterministic): the host rewrites `pvclock_vcpu_time_info` when the guest
 * enables it (system-time MSR write with bit 0 set) and after every external-interrupt
 * delivery; both are instruction-count positions, so replays see identical bytes.
 *
 * @module
 */

import type { AccessSize } from "../core/bus.ts";
import { EXIT_NAMES, ExitKind, TrapKind } from "../core/cpu/hooks.ts";
import type { Backend, BackendDescription, BackendSnapshot, CallDescription } from "./backend.ts";
import { type AbiRecord, BaseBackend, exitArgs, exitRet } from "./base_backend.ts";
import {
  type CallModel,
  CPU_MSRS,
  cpuidEax,
  HARDWARE_ROWS,
  type ModelEnv,
  type ModelRow,
  type MsrFault,
  msrRows,
  TableModel,
  unknownMsr,
  withRows,
} from "./cross_model.ts";
import type { Derived, HwEvent } from "./hardware_ops.ts";
import {
  CrAccessType,
  KVM_CPUID_FEATURES,
  KVM_CPUID_SIGNATURE,
  KVM_EINVAL,
  KVM_ENOSYS,
  KVM_EPERM,
  KVM_EXIT_IO_IN,
  KVM_EXIT_IO_OUT,
  KVM_HC_NAMES,
  KVM_HC_VAPIC_POLL_IRQ,
  KVM_PARA_API_VERSION,
  KVM_SIGNATURE_EBX,
  KVM_SIGNATURE_ECX,
  KVM_SIGNATURE_EDX,
  KvmExit,
  KvmFeature,
  MSR_KVM_API_MAGIC,
  MSR_KVM_SYSTEM_TIME,
  MSR_KVM_SYSTEM_TIME_NEW,
  MSR_KVM_WALL_CLOCK,
  MSR_KVM_WALL_CLOCK_NEW,
  VmxExit,
} from "./kvm_abi.ts";
import {
  PVCLOCK_VCPU_TIME_INFO_SIZE,
  PVCLOCK_WALL_CLOCK_SIZE,
  type TimeScale,
  timeScale,
  writeVcpuTimeInfo,
  writeWallClock,
} from "./pvclock.ts";

/** Hypercall ABI generations (abi.md §2.5, §7.4). */
export type KvmHypercallAbi =
  /** 2.6.20: no VMCALL handler; the exit reaches userspace as KVM_EXIT_UNKNOWN and stops. */
  | "unhandled"
  /** 2.6.21/22–2.6.24: nr in EBX, every call exits to userspace with -KVM_EINVAL. */
  | "experimental"
  /** 2.6.25+: nr in EAX, args EBX ECX EDX ESI, -KVM_ENOSYS for unknown numbers. */
  | "pv";

/** A KVM version profile. */
export interface KvmProfile {
  version: string;
  hypercalls: KvmHypercallAbi;
  /** CPUID 0x40000000/1 present. */
  signature: boolean;
  /**
   * EAX of leaf 0x40000000. Hosts of this era answer 0, meaning "0x40000001 only" (Linux
   * Documentation/kvm/cpuid.txt, 2010: "returns: eax = 0"; later revisions: "old hosts set eax
   * value to 0x0"); later KVM puts KVM_CPUID_FEATURES there.
   */
  maxLeaf: number;
  /** EAX of leaf 0x40000001 (abi.md §3.5). */
  features: number;
  /** kvmclock MSR pairs understood. */
  clockMsrs: ReadonlyArray<{ wall: number; system: number }>;
  /** Experimental MSR_KVM_API_MAGIC registration (abi.md §1). */
  apiMagic: boolean;
  /**
   * -KVM_EPERM for hypercalls from CPL > 0 ("later kernels", abi.md §2.5). Absent from the
   * 2.6.26-era x86.c (no check before the switch); the fix for CVE-2009-3290 is said to have
   * added it in 2.6.31, which the stored sources do not confirm (UNVERIFIED).
   */
  cplCheck: boolean;
  /**
   * INVLPG causes a VM exit. 2.6.20's vmx.c has no INVLPG handler (so it cannot have enabled
   * INVLPG exiting); from which release it did is UNVERIFIED.
   */
  invlpgExits: boolean;
  /** `pvclock_vcpu_time_info.flags` (TSC_STABLE 1 came later; 2.6.25 wrote padding 0). */
  pvclockFlags: number;
}

const OLD_CLOCK = { wall: MSR_KVM_WALL_CLOCK, system: MSR_KVM_SYSTEM_TIME };
const NEW_CLOCK = { wall: MSR_KVM_WALL_CLOCK_NEW, system: MSR_KVM_SYSTEM_TIME_NEW };

/** The profiles; `2.6.25` is the default. */
export const KVM_PROFILES: Readonly<Record<string, KvmProfile>> = {
  "2.6.20": {
    version: "2.6.20",
    hypercalls: "unhandled",
    signature: false,
    maxLeaf: 0,
    features: 0,
    clockMsrs: [],
    apiMagic: false,
    cplCheck: false,
    invlpgExits: false,
    pvclockFlags: 0,
  },
  "2.6.22": {
    version: "2.6.22",
    hypercalls: "experimental",
    signature: false,
    maxLeaf: 0,
    features: 0,
    clockMsrs: [],
    apiMagic: true,
    cplCheck: false,
    invlpgExits: true,
    pvclockFlags: 0,
  },
  "2.6.25": {
    version: "2.6.25",
    hypercalls: "pv",
    signature: true,
    maxLeaf: 0,
    // MMU_OP is not modelled (its batch layouts are not in abi.md), so it is not advertised.
    features: KvmFeature.CLOCKSOURCE | KvmFeature.NOP_IO_DELAY,
    clockMsrs: [OLD_CLOCK],
    apiMagic: false,
    cplCheck: false,
    invlpgExits: true,
    pvclockFlags: 0,
  },
  "2.6.33": {
    version: "2.6.33",
    hypercalls: "pv",
    signature: true,
    maxLeaf: 0,
    // Still the original kvmclock MSRs only: CLOCKSOURCE2 is absent from a 2.6.32 tree's
    // asm/kvm_para.h and was documented in 2010 together with the 0x4b564dxx MSRs (first
    // release 2.6.35: UNVERIFIED).
    features: KvmFeature.CLOCKSOURCE | KvmFeature.NOP_IO_DELAY,
    clockMsrs: [OLD_CLOCK],
    apiMagic: false,
    cplCheck: true,
    invlpgExits: true,
    pvclockFlags: 0,
  },
  "2.6.35": {
    version: "2.6.35",
    hypercalls: "pv",
    signature: true,
    maxLeaf: 0,
    features: KvmFeature.CLOCKSOURCE | KvmFeature.NOP_IO_DELAY | KvmFeature.CLOCKSOURCE2,
    // The original MSRs stay accepted next to the new ones (abi.md §3.5 "deprecated").
    clockMsrs: [OLD_CLOCK, NEW_CLOCK],
    apiMagic: false,
    cplCheck: true,
    invlpgExits: true,
    // PVCLOCK_TSC_STABLE_BIT is defined guest-side from here but set by no host yet.
    pvclockFlags: 0,
  },
};

/** Registry entry data. */
export const KVM_VERSIONS = { versions: Object.keys(KVM_PROFILES), defaultVersion: "2.6.25" };

const VMX_NAMES = Object.fromEntries(Object.entries(VmxExit).map(([k, v]) => [v, k]));
const PAGE = 4096;
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

const EAX = 0, ECX = 1, EDX = 2, EBX = 3, EBP = 5, ESI = 6, EDI = 7;

/** KVM's rewrite of a CPUID answer (`out` = EAX..EDX, holding the CPU's answer) (abi.md §1). */
export function kvmCpuid(p: KvmProfile, leaf: number, out: Int32Array): void {
  if (!p.signature) return; // the CPU's native answer stands
  if (leaf >>> 0 === KVM_CPUID_SIGNATURE) {
    out[0] = p.maxLeaf;
    out[1] = KVM_SIGNATURE_EBX;
    out[2] = KVM_SIGNATURE_ECX;
    out[3] = KVM_SIGNATURE_EDX;
  } else if (leaf >>> 0 === KVM_CPUID_FEATURES) {
    out[0] = p.features;
    out[1] = out[2] = out[3] = 0;
  }
}

/** What a profile does with VMCALL: the event it records and what the guest gets back. */
export interface VmcallOutcome {
  kind: "exit" | "hypercall";
  nr: number;
  name: string;
  args: number[];
  /** EAX afterwards (unsigned), or null when the VM stops. */
  ret: number | null;
  /** The exit reaches userspace, which stops the VM. */
  stops: boolean;
}

/**
 * VMCALL on a KVM profile, from the canonical `vmcall` registers [EAX, EBX, ECX, EDX, ESI, EDI,
 * EBP, CPL] (abi.md §2.5, §7.4). Shared by the live hook and the cross-replay model.
 */
export function kvmVmcall(p: KvmProfile, r: readonly number[]): VmcallOutcome {
  const [eax, ebx, ecx, edx, esi, edi, ebp, cpl] = r.map((x) => x >>> 0);
  if (p.hypercalls === "unhandled") {
    // No handler for exit reason 18: userspace gets KVM_EXIT_UNKNOWN with the hardware exit
    // reason and stops the VM (2.6.20 vmx.c kvm_handle_exit).
    return {
      kind: "exit",
      nr: KvmExit.UNKNOWN,
      name: "KVM_EXIT_UNKNOWN",
      args: [VmxExit.VMCALL],
      ret: null,
      stops: true,
    };
  }
  if (p.hypercalls === "experimental") {
    // nr in EBX, args EAX ECX EDX ESI EDI EBP; exit to userspace, result -KVM_EINVAL.
    return {
      kind: "hypercall",
      nr: ebx,
      name: "KVM_EXIT_HYPERCALL",
      args: [eax, ecx, edx, esi, edi, ebp],
      ret: -KVM_EINVAL >>> 0,
      stops: false,
    };
  }
  const ret = p.cplCheck && cpl !== 0
    ? -KVM_EPERM
    : eax === KVM_HC_VAPIC_POLL_IRQ
    ? 0
    : -KVM_ENOSYS;
  return {
    kind: "hypercall",
    nr: eax,
    name: KVM_HC_NAMES[eax] ?? "unknown",
    args: [ebx, ecx, edx, esi],
    ret: ret >>> 0,
    stops: false,
  };
}

/** Whether an MSR access faults on a profile: the CPU's MSRs plus the profile's own. */
function kvmMsrFault(p: KvmProfile): MsrFault {
  return (write, index, lo, hi) => {
    index >>>= 0;
    if (CPU_MSRS.has(index) || clockMsrOf(p, index)) return null;
    if (write && p.apiMagic && index === MSR_KVM_API_MAGIC) {
      // vcpu_register_para's err_gp: the GPA must be page aligned (and RAM, which the model
      // cannot see).
      return hi === 0 && lo % PAGE === 0
        ? null
        : `WRMSR of MSR_KVM_API_MAGIC with 0x${(lo >>> 0).toString(16)} raises #GP(0): ` +
          "kvm_vcpu_para_state must be page aligned";
    }
    // kvm_set_msr_common / kvm_get_msr_common: "unhandled wrmsr/rdmsr" -> inject #GP.
    return unknownMsr(write, index);
  };
}

function clockMsrOf(p: KvmProfile, index: number) {
  return p.clockMsrs.find((m) => m.wall === index >>> 0 || m.system === index >>> 0);
}

/**
 * The KVM backend.
 *
 * @example
 * ```ts
 * import { createKvmBackend } from "./kvm.ts";
 * const kvm = createKvmBackend("2.6.25");
 * const out = new Int32Array(4);
 * kvm.cpuid(0x40000000, 0, out);
 * console.assert(out[1] === 0x4b4d564b); // "KVMK"
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

  protected exitRecord(kind: ExitKind, a: number, b: number, c: number): AbiRecord {
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
      case ExitKind.crWrite:
      case ExitKind.clts:
      case ExitKind.lmsw:
        return VmxExit.CR_ACCESS;
      // CR0/CR4 reads are served from read shadows; CR3 reads exit under shadow paging.
      case ExitKind.crRead:
        return a === 3 ? VmxExit.CR_ACCESS : -1;
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

  protected portRecord(dir: "in" | "out", _port: number, size: AccessSize, value: number) {
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
      // Bit 0 enables; the structure must be RAM and must not cross a page (abi.md §4.6).
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
      // case in abi.md §2.5; inference). Only the PV-ABI profiles have the emulator path.
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
    // The guest asks for the wall clock by registering the structure (abi.md §5.6).
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
    // Seqlock (abi.md §4.2): the host's counter, odd while writing, even when done.
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
    const p = this.profile;
    const reg = (loc: string, name: string, unit = "u32") => ({ loc, name, unit });
    const calls: CallDescription[] = [];
    const exitOps: Array<[number, string | null]> = [
      [VmxExit.CPUID, "cpuid"],
      [VmxExit.HLT, "halt / safe_halt"],
      [VmxExit.INVD, null],
      [VmxExit.CR_ACCESS, "write_cr0/3/4, read_cr3, clts, flush_tlb_user/kernel"],
      [VmxExit.DR_ACCESS, "set_debugreg"],
      [VmxExit.IO_INSTRUCTION, "io_delay, set_timer (PIT), get_wallclock (CMOS)"],
      [VmxExit.MSR_READ, "read_msr"],
      [VmxExit.MSR_WRITE, "write_msr, get_wallclock (kvmclock)"],
      [VmxExit.TRIPLE_FAULT, "shutdown"],
    ];
    if (p.invlpgExits) exitOps.push([VmxExit.INVLPG, "flush_tlb_single"]);
    for (const [nr, op] of exitOps) {
      calls.push({
        kind: "exit",
        nr,
        name: `EXIT_REASON_${VMX_NAMES[nr]}`,
        args: [],
        ret: null,
        op,
        source: "arch/x86/include/uapi/asm/vmx.h",
      });
    }
    if (p.hypercalls === "pv") {
      const args = [reg("EBX", "a0"), reg("ECX", "a1"), reg("EDX", "a2"), reg("ESI", "a3")];
      calls.push({
        kind: "hypercall",
        nr: KVM_HC_VAPIC_POLL_IRQ,
        name: "KVM_HC_VAPIC_POLL_IRQ",
        args,
        ret: "EAX = 0",
        op: null,
        source: "abi.md §3.4",
      });
    } else if (p.hypercalls === "experimental") {
      calls.push({
        kind: "hypercall",
        nr: -1,
        name: "KVM_EXIT_HYPERCALL",
        args: ["EAX", "ECX", "EDX", "ESI", "EDI", "EBP"].map((r, i) => reg(r, `a${i}`)),
        ret: `EAX = -KVM_EINVAL (-${KVM_EINVAL}); nr in EBX`,
        op: null,
        source: "abi.md §2.5",
      });
    }
    if (p.apiMagic) {
      calls.push({
        kind: "msr",
        nr: MSR_KVM_API_MAGIC,
        name: "MSR_KVM_API_MAGIC",
        args: [reg("EDX:EAX", "kvm_vcpu_para_state", "gpa, page aligned")],
        ret: "para_state.host_version = 1, .ret = 0 or -1",
        op: null,
        source: "abi.md §1",
      });
    }
    for (const m of p.clockMsrs) {
      const suffix = m.wall === MSR_KVM_WALL_CLOCK ? "" : "_NEW";
      calls.push({
        kind: "msr",
        nr: m.wall,
        name: `MSR_KVM_WALL_CLOCK${suffix}`,
        args: [reg("EDX:EAX", "pvclock_wall_clock", "gpa")],
        ret: "fills {version, sec, nsec} = wall time at system time 0",
        op: "get_wallclock",
        source: "abi.md §3.5, §4.6",
      }, {
        kind: "msr",
        nr: m.system,
        name: `MSR_KVM_SYSTEM_TIME${suffix}`,
        args: [reg("EDX:EAX", "pvclock_vcpu_time_info | enable(bit 0)", "gpa")],
        ret: "host keeps the structure updated (ns)",
        op: null,
        source: "abi.md §3.5, §4.6",
      });
    }
    if (p.signature) {
      calls.push({
        kind: "cpuid",
        nr: KVM_CPUID_SIGNATURE,
        name: "KVM_CPUID_SIGNATURE",
        args: [],
        ret: `EAX = 0x${p.maxLeaf.toString(16)}, EBX:ECX:EDX = "KVMKVMKVM\\0\\0\\0"`,
        op: "cpuid",
        source: "abi.md §1",
      }, {
        kind: "cpuid",
        nr: KVM_CPUID_FEATURES,
        name: "KVM_CPUID_FEATURES",
        args: [],
        ret: `EAX = 0x${p.features.toString(16)}`,
        op: "cpuid",
        source: "abi.md §3.5",
      });
    }
    return {
      name: this.name,
      version: this.version,
      summary: "KVM on VT-x: native CPU semantics, exits named by VMX basic exit reason",
      discovery: p.signature
        ? 'CPUID 0x40000000 "KVMKVMKVM" (abi.md §1)'
        : p.apiMagic
        ? "WRMSR 0x87655678 with the GPA of kvm_vcpu_para_state (abi.md §1)"
        : "none (unmodified guests, abi.md §1)",
      convention: p.hypercalls === "pv"
        ? "vmcall; EAX = nr; EBX, ECX, EDX, ESI = args; EAX = ret; unknown = -1000"
        : p.hypercalls === "experimental"
        ? "vmcall; EBX = nr; EAX, ECX, EDX, ESI, EDI, EBP = args; exits to userspace, EAX = -1"
        : "none (VMCALL exits to userspace as KVM_EXIT_UNKNOWN and the VM stops)",
      calls,
    };
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

/** Rows where a KVM profile differs from bare hardware. */
function kvmRows(p: KvmProfile): ModelRow[] {
  const rows: ModelRow[] = [
    {
      op: "cpuid",
      translate: (a) => ({
        steps: [{ source: "exit", kind: ExitKind.cpuid, a: a[0], b: a[1], c: 0 }],
      }),
      apply: (a) => {
        const out = Int32Array.of(cpuidEax(a[0], a[1]), 0, 0, 0);
        kvmCpuid(p, a[0], out);
        return { ret: out[0] >>> 0, writes: [] };
      },
    },
    // kvmclock MSRs read back what was last written, 0 before (kvm_get_msr_common).
    ...msrRows(kvmMsrFault(p), (i) => (clockMsrOf(p, i) ? 0 : null)),
    {
      op: "vmcall",
      translate: (a) => {
        const o = kvmVmcall(p, a);
        return {
          steps: [{ nr: o.nr, name: o.name, args: o.args }],
          notes: o.stops
            ? [{
              class: "fatal",
              reason: `kvm@${p.version} has no VMCALL exit handler: KVM_EXIT_UNKNOWN reaches ` +
                "userspace and the VM stops (abi.md §7.4: no PV interface before 2.6.21)",
            }]
            : [],
        };
      },
      apply: (a) => ({ ret: kvmVmcall(p, a).ret, writes: [] }),
    },
  ];
  const clock = p.clockMsrs[p.clockMsrs.length - 1];
  if (clock) {
    rows.push({
      op: "get_wallclock",
      translate: () => ({
        steps: [{ source: "exit", kind: ExitKind.wrmsr, a: clock.wall, b: 0, c: 0 }],
      }),
      apply: (_a, _st, nowNs, env) => ({ ret: env.epoch + Math.floor(nowNs / 1e9), writes: [] }),
    }, {
      // kvmclock is read from memory: no exit at all.
      op: "sched_clock",
      translate: () => ({ steps: [{ nr: -1, name: "pvclock_read", args: [] }] }),
      apply: (_a, _st, nowNs) => ({ ret: nowNs, writes: [] }),
    }, {
      // The host rewrites the structure the guest registered through a system-time MSR.
      op: "clock_update",
      translate: (_a, st) => {
        const reg = p.clockMsrs.map((m) => st.msrs.get(m.system)).find((v) => v && v[0] & 1);
        return {
          steps: [{ nr: reg ? (reg[0] & ~1) >>> 0 : -1, name: "pvclock_vcpu_time_info", args: [] }],
        };
      },
      apply: () => ({ ret: null, writes: [] }),
    });
  }
  return rows;
}

/** Creates the KVM backend for a profile in {@link KVM_PROFILES}. */
export function createKvmBackend(version: string): Backend {
  const p = KVM_PROFILES[version];
  if (!p) {
    throw new Error(`kvm has no version "${version}"; valid: ${KVM_VERSIONS.versions.join(", ")}`);
  }
  return new KvmBackend(p);
}
