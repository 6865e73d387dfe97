/**
 * KVM version profiles: what each kernel release's KVM answered (docs/abi/kvm.md §1, §2, §3, §4, §7;
 * docs/abi/kvm.md), and the profile-level ABI rules (CPUID rewrite, VMCALL outcome, which MSRs
 * fault) shared by the live backend (backend.ts) and the cross-replay model (model.ts).
 *
 * @module
 */

import { CPU_MSRS, type MsrFault, unknownMsr } from "../common/cross_model.ts";
import {
  APIC_DEST_LOGICAL,
  APIC_INT_LEVELTRIG,
  APIC_SHORT_MASK,
  APIC_VECTOR_MASK,
  CPUID_1_ECX_HYPERVISOR,
  KVM_ASYNC_PF_RESERVED_MASK,
  KVM_CPUID_FEATURES,
  KVM_CPUID_SIGNATURE,
  KVM_EINVAL,
  KVM_EINVAL_UAPI,
  KVM_ENOSYS,
  KVM_EPERM,
  KVM_HC_KICK_CPU,
  KVM_HC_NAMES,
  KVM_HC_SCHED_YIELD,
  KVM_HC_SEND_IPI,
  KVM_HC_VAPIC_POLL_IRQ,
  KVM_PV_EOI_ALIGN_MASK,
  KVM_SIGNATURE_EBX,
  KVM_SIGNATURE_ECX,
  KVM_SIGNATURE_EDX,
  KVM_STEAL_RESERVED_MASK,
  KvmExit,
  KvmFeature,
  MSR_KVM_API_MAGIC,
  MSR_KVM_ASYNC_PF_ACK,
  MSR_KVM_ASYNC_PF_EN,
  MSR_KVM_ASYNC_PF_INT,
  MSR_KVM_PV_EOI_EN,
  MSR_KVM_STEAL_TIME,
  MSR_KVM_SYSTEM_TIME,
  MSR_KVM_SYSTEM_TIME_NEW,
  MSR_KVM_WALL_CLOCK,
  MSR_KVM_WALL_CLOCK_NEW,
  PVCLOCK_TSC_STABLE_BIT,
  VmxExit,
} from "./abi.ts";

/** Hypercall ABI generations (docs/abi/kvm.md §2, §7). */
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
  /** EAX of leaf 0x40000001 (docs/abi/kvm.md §4). */
  features: number;
  /** kvmclock MSR pairs understood. */
  clockMsrs: ReadonlyArray<{ wall: number; system: number }>;
  /** Experimental MSR_KVM_API_MAGIC registration (docs/abi/kvm.md §1). */
  apiMagic: boolean;
  /**
   * -KVM_EPERM for hypercalls from CPL > 0 ("later kernels", docs/abi/kvm.md §2). Absent from the
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
  /**
   * CPUID.1:ECX bit 31 set (docs/abi/kvm.md §1): a current Linux guest looks for the KVM leaves
   * only when it is; the 2.6.2x guests probe 0x40000000 directly. Absent means false.
   */
  hypervisorBit?: boolean;
  /**
   * The host runs the guest with EPT (docs/abi/kvm.md §6): MOV to/from CR3 and INVLPG do not
   * exit. Absent means false (shadow paging, as every 2.6.2x-era host).
   */
  ept?: boolean;
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
    // MMU_OP is not modelled (its batch layouts are not documented in docs/abi/kvm.md), so it is not advertised.
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
    // The original MSRs stay accepted next to the new ones (docs/abi/kvm.md §4 "deprecated").
    clockMsrs: [OLD_CLOCK, NEW_CLOCK],
    apiMagic: false,
    cplCheck: true,
    invlpgExits: true,
    // PVCLOCK_TSC_STABLE_BIT is defined guest-side from here but set by no host yet.
    pvclockFlags: 0,
  },
  // A 6.1 host as the Debian 12 guest meets it under QEMU (docs/abi/kvm.md §7): kvmclock with
  // the 0x4b564dxx MSRs and the stable bit, steal time, the SMP features (§8), PV EOI (§9) and
  // async PF with 'page ready' as an interrupt (§10). KVM offers poll control too; pvreplay
  // does not model it, so it stays clear, which is a configuration a VMM may choose (QEMU's
  // kvm-poll-control CPU property), and the guest then leaves it unused.
  "6.1": {
    version: "6.1",
    hypercalls: "pv",
    signature: true,
    maxLeaf: KVM_CPUID_FEATURES,
    features: KvmFeature.CLOCKSOURCE | KvmFeature.NOP_IO_DELAY | KvmFeature.CLOCKSOURCE2 |
      KvmFeature.ASYNC_PF | KvmFeature.STEAL_TIME | KvmFeature.PV_EOI | KvmFeature.PV_UNHALT |
      KvmFeature.PV_TLB_FLUSH | KvmFeature.ASYNC_PF_VMEXIT | KvmFeature.PV_SEND_IPI |
      KvmFeature.PV_SCHED_YIELD | KvmFeature.ASYNC_PF_INT | KvmFeature.CLOCKSOURCE_STABLE_BIT,
    clockMsrs: [OLD_CLOCK, NEW_CLOCK],
    apiMagic: false,
    cplCheck: true,
    invlpgExits: false,
    // The master clock is in use (a constant, synchronised virtual TSC): kvm_guest_time_update
    // sets PVCLOCK_TSC_STABLE_BIT.
    pvclockFlags: PVCLOCK_TSC_STABLE_BIT,
    hypervisorBit: true,
    ept: true,
  },
};

/** Registry entry data. */
export const KVM_VERSIONS = { versions: Object.keys(KVM_PROFILES), defaultVersion: "2.6.25" };

const PAGE = 4096;

/** KVM's rewrite of a CPUID answer (`out` = EAX..EDX, holding the CPU's answer) (docs/abi/kvm.md §1). */
export function kvmCpuid(p: KvmProfile, leaf: number, out: Int32Array): void {
  if (!p.signature) return; // the CPU's native answer stands
  if (leaf === 1 && p.hypervisorBit) {
    out[2] |= CPUID_1_ECX_HYPERVISOR;
  } else if (leaf >>> 0 === KVM_CPUID_SIGNATURE) {
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

/** Whether a profile advertises (and so handles) a KVM_FEATURE_* bit: KVM's `guest_pv_has`. */
export function hasFeature(p: KvmProfile, bit: number): boolean {
  return (p.features & bit) !== 0;
}

/** The destinations and message of a KVM_HC_SEND_IPI (docs/abi/kvm.md §8), or null: -EINVAL. */
export interface PvIpi {
  /** APIC IDs named by the bitmap, in increasing order. */
  targets: number[];
  vector: number;
  /** ICR delivery mode (bits 10:8). */
  mode: number;
  /** Level-triggered (ICR bit 15). */
  level: boolean;
}

/** Decodes KVM_HC_SEND_IPI's a0..a3: bitmap low, bitmap high, lowest APIC ID, ICR. */
export function pvIpi(low: number, high: number, min: number, icr: number): PvIpi | null {
  // The hypercall carries physical destinations only: no logical mode, no shorthand.
  if ((icr & (APIC_DEST_LOGICAL | APIC_SHORT_MASK)) !== 0) return null;
  const targets: number[] = [];
  // A 32-bit guest's longs are 32 bits: `high` covers the APIC IDs from min + 32.
  for (const [bits, base] of [[low, min], [high, min + 32]]) {
    for (let i = 0; i < 32; i++) if ((bits >>> i) & 1) targets.push(base + i);
  }
  return {
    targets,
    vector: icr & APIC_VECTOR_MASK,
    mode: (icr >>> 8) & 7,
    level: (icr & APIC_INT_LEVELTRIG) !== 0,
  };
}

/**
 * VMCALL on a KVM profile, from the canonical `vmcall` registers [EAX, EBX, ECX, EDX, ESI, EDI,
 * EBP, CPL] (docs/abi/kvm.md §2, §7, §8). Shared by the live hook and the cross-replay model;
 * `accepts` answers whether the vCPU with an APIC ID takes an IPI of a delivery mode (the
 * model, which sees no machine, assumes every addressed vCPU exists and does).
 */
export function kvmVmcall(
  p: KvmProfile,
  r: readonly number[],
  accepts: (apicId: number, mode: number) => boolean = () => true,
): VmcallOutcome {
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
    : pvHypercall(p, eax, [ebx, ecx, edx, esi], accepts);
  return {
    kind: "hypercall",
    nr: eax,
    name: KVM_HC_NAMES[eax] ?? "unknown",
    args: [ebx, ecx, edx, esi],
    ret: ret >>> 0,
    stops: false,
  };
}

/** EAX after a PV-ABI hypercall from CPL 0: KVM's `kvm_emulate_hypercall` switch. */
function pvHypercall(
  p: KvmProfile,
  nr: number,
  a: number[],
  accepts: (apicId: number, mode: number) => boolean,
): number {
  switch (nr) {
    case KVM_HC_VAPIC_POLL_IRQ:
      return 0;
    case KVM_HC_KICK_CPU:
      return hasFeature(p, KvmFeature.PV_UNHALT) ? 0 : -KVM_ENOSYS;
    case KVM_HC_SCHED_YIELD:
      return hasFeature(p, KvmFeature.PV_SCHED_YIELD) ? 0 : -KVM_ENOSYS;
    case KVM_HC_SEND_IPI: {
      if (!hasFeature(p, KvmFeature.PV_SEND_IPI)) return -KVM_ENOSYS;
      const ipi = pvIpi(a[0], a[1], a[2], a[3]);
      return ipi ? ipi.targets.filter((id) => accepts(id, ipi.mode)).length : -KVM_EINVAL_UAPI;
    }
    default:
      return -KVM_ENOSYS;
  }
}

/** Whether an MSR access faults on a profile: the CPU's MSRs plus the profile's own. */
export function kvmMsrFault(p: KvmProfile): MsrFault {
  return (write, index, lo, hi) => {
    index >>>= 0;
    if (CPU_MSRS.has(index) || clockMsrOf(p, index)) return null;
    if (isStealMsr(p, index)) {
      return write && (lo & KVM_STEAL_RESERVED_MASK) !== 0
        ? `WRMSR of MSR_KVM_STEAL_TIME with reserved bits 0x${
          (lo & KVM_STEAL_RESERVED_MASK).toString(16)
        } raises #GP(0)`
        : null;
    }
    if (isPvEoiMsr(p, index)) {
      // kvm_lapic_set_pv_eoi: the GPA must be 4-byte aligned (and RAM when enabling, which the
      // model cannot see).
      return write && (lo & KVM_PV_EOI_ALIGN_MASK) !== 0
        ? `WRMSR of MSR_KVM_PV_EOI_EN with 0x${(lo >>> 0).toString(16)} raises #GP(0): ` +
          "the PV EOI word must be 4-byte aligned"
        : null;
    }
    const apf = asyncPfMsrOf(p, index);
    if (apf) {
      // kvm_pv_enable_async_pf / kvm_pv_enable_async_pf_int: reserved bits (and, which the
      // model cannot see, enabling at a GPA that is not RAM).
      if (write && apf === "en" && (lo & KVM_ASYNC_PF_RESERVED_MASK) !== 0) {
        return `WRMSR of MSR_KVM_ASYNC_PF_EN with reserved bits 0x${
          (lo & KVM_ASYNC_PF_RESERVED_MASK).toString(16)
        } raises #GP(0)`;
      }
      if (write && apf === "int" && (hi !== 0 || lo >>> 8 !== 0)) {
        return "WRMSR of MSR_KVM_ASYNC_PF_INT with bits 8-63 set raises #GP(0): only a vector";
      }
      return null;
    }
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

export function clockMsrOf(p: KvmProfile, index: number) {
  return p.clockMsrs.find((m) => m.wall === index >>> 0 || m.system === index >>> 0);
}

/** MSR_KVM_PV_EOI_EN on a profile that advertises PV_EOI (docs/abi/kvm.md §9). */
export function isPvEoiMsr(p: KvmProfile, index: number): boolean {
  return index >>> 0 === MSR_KVM_PV_EOI_EN && hasFeature(p, KvmFeature.PV_EOI);
}

/** MSR_KVM_STEAL_TIME on a profile that advertises STEAL_TIME (docs/abi/kvm.md §8). */
export function isStealMsr(p: KvmProfile, index: number): boolean {
  return index >>> 0 === MSR_KVM_STEAL_TIME && hasFeature(p, KvmFeature.STEAL_TIME);
}

/**
 * Which async-PF MSR `index` is on a profile that has it (docs/abi/kvm.md §10):
 * MSR_KVM_ASYNC_PF_EN needs ASYNC_PF, the interrupt vector and ACK MSRs need ASYNC_PF_INT.
 */
export function asyncPfMsrOf(p: KvmProfile, index: number): "en" | "int" | "ack" | null {
  switch (index >>> 0) {
    case MSR_KVM_ASYNC_PF_EN:
      return hasFeature(p, KvmFeature.ASYNC_PF) ? "en" : null;
    case MSR_KVM_ASYNC_PF_INT:
      return hasFeature(p, KvmFeature.ASYNC_PF_INT) ? "int" : null;
    case MSR_KVM_ASYNC_PF_ACK:
      return hasFeature(p, KvmFeature.ASYNC_PF_INT) ? "ack" : null;
    default:
      return null;
  }
}
