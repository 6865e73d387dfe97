/**
 * The static description of a KVM profile (`matrix --list`, `inspect --header`): its VMX exits,
 * hypercalls, MSRs and CPUID leaves with the canonical operations they implement.
 *
 * @module
 */

import type { BackendDescription, CallDescription } from "../backend.ts";
import {
  KVM_CPUID_FEATURES,
  KVM_CPUID_SIGNATURE,
  KVM_EINVAL,
  KVM_HC_KICK_CPU,
  KVM_HC_SCHED_YIELD,
  KVM_HC_SEND_IPI,
  KVM_HC_VAPIC_POLL_IRQ,
  KvmFeature,
  MSR_KVM_API_MAGIC,
  MSR_KVM_ASYNC_PF_ACK,
  MSR_KVM_ASYNC_PF_EN,
  MSR_KVM_ASYNC_PF_INT,
  MSR_KVM_PV_EOI_EN,
  MSR_KVM_STEAL_TIME,
  MSR_KVM_WALL_CLOCK,
  VmxExit,
} from "./abi.ts";

import { hasFeature, type KvmProfile } from "./profiles.ts";

const VMX_NAMES = Object.fromEntries(Object.entries(VmxExit).map(([k, v]) => [v, k]));

/** The static description of a KVM profile: its exits, hypercalls, MSRs and CPUID leaves. */
export function describeKvm(p: KvmProfile): BackendDescription {
  const reg = (loc: string, name: string, unit = "u32") => ({ loc, name, unit });
  const calls: CallDescription[] = [];
  const exitOps: Array<[number, string | null]> = [
    [VmxExit.CPUID, "cpuid"],
    [VmxExit.HLT, "halt / safe_halt"],
    [VmxExit.INVD, null],
    [
      VmxExit.CR_ACCESS,
      p.ept ? "write_cr0/4, clts" : "write_cr0/3/4, read_cr3, clts, flush_tlb_user/kernel",
    ],
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
      source: "docs/abi/kvm.md §3",
    });
    const pv: Array<[number, number, string, string[], string]> = [
      [
        KvmFeature.PV_UNHALT,
        KVM_HC_KICK_CPU,
        "KVM_HC_KICK_CPU",
        ["flags", "apic_id"],
        "EAX = 0; wakes the halted vCPU (or its next HLT returns)",
      ],
      [
        KvmFeature.PV_SEND_IPI,
        KVM_HC_SEND_IPI,
        "KVM_HC_SEND_IPI",
        ["bitmap_low", "bitmap_high", "min_apic_id", "icr"],
        "EAX = vCPUs delivered to, -22 for a logical/shorthand ICR",
      ],
      [
        KvmFeature.PV_SCHED_YIELD,
        KVM_HC_SCHED_YIELD,
        "KVM_HC_SCHED_YIELD",
        ["apic_id"],
        "EAX = 0 (no host preemption: nothing to yield to)",
      ],
    ];
    for (const [bit, nr, name, names, ret] of pv) {
      if (!hasFeature(p, bit)) continue;
      calls.push({
        kind: "hypercall",
        nr,
        name,
        args: names.map((n, i) => ({ ...args[i], name: n })),
        ret,
        op: null,
        source: "docs/abi/kvm.md §8",
      });
    }
  } else if (p.hypercalls === "experimental") {
    calls.push({
      kind: "hypercall",
      nr: -1,
      name: "KVM_EXIT_HYPERCALL",
      args: ["EAX", "ECX", "EDX", "ESI", "EDI", "EBP"].map((r, i) => reg(r, `a${i}`)),
      ret: `EAX = -KVM_EINVAL (-${KVM_EINVAL}); nr in EBX`,
      op: null,
      source: "docs/abi/kvm.md §2",
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
      source: "docs/abi/kvm.md §1",
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
      source: "docs/abi/kvm.md §4, §5",
    }, {
      kind: "msr",
      nr: m.system,
      name: `MSR_KVM_SYSTEM_TIME${suffix}`,
      args: [reg("EDX:EAX", "pvclock_vcpu_time_info | enable(bit 0)", "gpa")],
      ret: "host keeps the structure updated (ns)",
      op: null,
      source: "docs/abi/kvm.md §4, §5",
    });
  }
  // The MSRs a 6.1 guest registers a structure with, when CPUID advertises the feature.
  const featureMsrs = [
    [
      KvmFeature.STEAL_TIME,
      MSR_KVM_STEAL_TIME,
      "MSR_KVM_STEAL_TIME",
      "kvm_steal_time",
      64,
      8,
      "host updates version/steal (0)/preempted; honours KVM_VCPU_FLUSH_TLB",
    ],
    [
      KvmFeature.PV_EOI,
      MSR_KVM_PV_EOI_EN,
      "MSR_KVM_PV_EOI_EN",
      "PV EOI word",
      4,
      9,
      "host sets bit 0 of the word on injections whose EOI the guest may skip",
    ],
  ] as const;
  for (const [bit, nr, name, what, align, section, ret] of featureMsrs) {
    if (!hasFeature(p, bit)) continue;
    calls.push({
      kind: "msr",
      nr,
      name,
      args: [reg("EDX:EAX", `${what} | enable(bit 0)`, `gpa, ${align}-byte aligned`)],
      ret,
      op: null,
      source: `docs/abi/kvm.md §${section}`,
    });
  }
  if (hasFeature(p, KvmFeature.ASYNC_PF_INT)) {
    const apf = "docs/abi/kvm.md §10";
    calls.push({
      kind: "msr",
      nr: MSR_KVM_ASYNC_PF_EN,
      name: "MSR_KVM_ASYNC_PF_EN",
      args: [
        reg(
          "EDX:EAX",
          "kvm_vcpu_pv_apf_data | enable(0) | send-always(1) | as-vmexit(2) | as-int(3)",
          "gpa, 64-byte aligned",
        ),
      ],
      ret: "each enable queues a wake-all (token 0xffffffff), given as the interrupt",
      op: null,
      source: apf,
    }, {
      kind: "msr",
      nr: MSR_KVM_ASYNC_PF_INT,
      name: "MSR_KVM_ASYNC_PF_INT",
      args: [reg("EAX", "'page ready' vector", "vector")],
      ret: "bits 8-63 reserved (#GP)",
      op: null,
      source: apf,
    }, {
      kind: "msr",
      nr: MSR_KVM_ASYNC_PF_ACK,
      name: "MSR_KVM_ASYNC_PF_ACK",
      args: [reg("EAX", "done(bit 0)", "bits")],
      ret: "the host delivers the next waiting 'page ready'",
      op: null,
      source: apf,
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
      source: "docs/abi/kvm.md §1",
    }, {
      kind: "cpuid",
      nr: KVM_CPUID_FEATURES,
      name: "KVM_CPUID_FEATURES",
      args: [],
      ret: `EAX = 0x${p.features.toString(16)}`,
      op: "cpuid",
      source: "docs/abi/kvm.md §4",
    });
  }
  return {
    name: "kvm",
    version: p.version,
    summary: "KVM on VT-x: native CPU semantics, exits named by VMX basic exit reason",
    discovery: p.signature
      ? 'CPUID 0x40000000 "KVMKVMKVM" (docs/abi/kvm.md §1)'
      : p.apiMagic
      ? "WRMSR 0x87655678 with the GPA of kvm_vcpu_para_state (docs/abi/kvm.md §1)"
      : "none (unmodified guests, docs/abi/kvm.md §1)",
    convention: p.hypercalls === "pv"
      ? "vmcall; EAX = nr; EBX, ECX, EDX, ESI = args; EAX = ret; unknown = -1000"
      : p.hypercalls === "experimental"
      ? "vmcall; EBX = nr; EAX, ECX, EDX, ESI, EDI, EBP = args; exits to userspace, EAX = -1"
      : "none (VMCALL exits to userspace as KVM_EXIT_UNKNOWN and the VM stops)",
    calls,
  };
}
