/**
 * KVM ABI numbers used by the kvm backend, each with its source.
 *
 * @module
 */

/**
 * VMX basic exit reasons (Linux `arch/x86/include/uapi/asm/vmx.h`; SDM Vol.3 Appendix C).
 * Only the reasons a 32-bit guest of this emulator can trigger.
 */
export const VmxExit = {
  EXCEPTION_NMI: 0,
  EXTERNAL_INTERRUPT: 1,
  TRIPLE_FAULT: 2,
  CPUID: 10,
  HLT: 12,
  INVD: 13,
  INVLPG: 14,
  RDTSC: 16,
  VMCALL: 18,
  CR_ACCESS: 28,
  DR_ACCESS: 29,
  IO_INSTRUCTION: 30,
  MSR_READ: 31,
  MSR_WRITE: 32,
} as const;

/** `kvm_run.exit_reason` values (Linux `include/uapi/linux/kvm.h`). */
export const KvmExit = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
} as const;

/** `kvm_run.io.direction` (Linux `include/uapi/linux/kvm.h`). */
export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

/** CR-access exit qualification, access type field (SDM Vol.3 Table 27-3). */
export const CrAccessType = { movToCr: 0, movFromCr: 1, clts: 2, lmsw: 3 } as const;

/** Hypercall numbers (docs/abi/kvm.md §3). */
export const KVM_HC_NAMES: Readonly<Record<number, string>> = {
  1: "KVM_HC_VAPIC_POLL_IRQ",
  2: "KVM_HC_MMU_OP",
  3: "KVM_HC_FEATURES",
  4: "KVM_HC_PPC_MAP_MAGIC_PAGE",
  5: "KVM_HC_KICK_CPU",
  9: "KVM_HC_CLOCK_PAIRING",
  10: "KVM_HC_SEND_IPI",
  11: "KVM_HC_SCHED_YIELD",
  12: "KVM_HC_MAP_GPA_RANGE",
};
export const KVM_HC_VAPIC_POLL_IRQ = 1;
export const KVM_HC_KICK_CPU = 5;
export const KVM_HC_SEND_IPI = 10;
export const KVM_HC_SCHED_YIELD = 11;

/** Error returns (docs/abi/kvm.md §2, §3): -KVM_ENOSYS, -KVM_EPERM, -KVM_EINVAL. */
export const KVM_ENOSYS = 1000;
export const KVM_EPERM = 1;
export const KVM_EINVAL = 1;
/** The current header's KVM_EINVAL (= Linux's EINVAL), e.g. KVM_HC_SEND_IPI's (docs/abi/kvm.md §8). */
export const KVM_EINVAL_UAPI = 22;

/** CPUID leaves and the "KVMKVMKVM\0\0\0" signature (docs/abi/kvm.md §1). */
export const KVM_CPUID_SIGNATURE = 0x4000_0000;
export const KVM_CPUID_FEATURES = 0x4000_0001;
export const KVM_SIGNATURE_EBX = 0x4b4d_564b; // "KVMK"
export const KVM_SIGNATURE_ECX = 0x564b_4d56; // "VMKV"
export const KVM_SIGNATURE_EDX = 0x0000_004d; // "M\0\0\0"

/** CPUID 0x40000001 EAX feature bits (docs/abi/kvm.md §4). */
export const KvmFeature = {
  CLOCKSOURCE: 1 << 0,
  NOP_IO_DELAY: 1 << 1,
  MMU_OP: 1 << 2,
  CLOCKSOURCE2: 1 << 3,
  ASYNC_PF: 1 << 4,
  STEAL_TIME: 1 << 5,
  PV_EOI: 1 << 6,
  PV_UNHALT: 1 << 7,
  PV_TLB_FLUSH: 1 << 9,
  ASYNC_PF_VMEXIT: 1 << 10,
  PV_SEND_IPI: 1 << 11,
  PV_SCHED_YIELD: 1 << 13,
  ASYNC_PF_INT: 1 << 14,
  /** The host may set PVCLOCK_TSC_STABLE_BIT in the time structure's flags. */
  CLOCKSOURCE_STABLE_BIT: 1 << 24,
} as const;

/** `pvclock_vcpu_time_info.flags` bit 0: the TSC is synchronised (docs/abi/kvm.md §5). */
export const PVCLOCK_TSC_STABLE_BIT = 1;

/** CPUID.1:ECX bit 31, "hypervisor present", set by the VMM (docs/abi/kvm.md §1). */
export const CPUID_1_ECX_HYPERVISOR = 1 << 31;

/** kvmclock MSRs (docs/abi/kvm.md §4). */
export const MSR_KVM_WALL_CLOCK = 0x11;
export const MSR_KVM_SYSTEM_TIME = 0x12;
export const MSR_KVM_WALL_CLOCK_NEW = 0x4b56_4d00;
export const MSR_KVM_SYSTEM_TIME_NEW = 0x4b56_4d01;

/**
 * Experimental 2.6.21/22–2.6.24 interface (docs/abi/kvm.md §1, §2): WRMSR of the page-aligned GPA of
 * `kvm_vcpu_para_state` {u32 guest_version @0, host_version @4, size @8, ret @12; u64
 * hypercall_gpa @16} to MSR_KVM_API_MAGIC; KVM_PARA_API_VERSION 1.
 */
export const MSR_KVM_API_MAGIC = 0x8765_5678;
export const KVM_PARA_API_VERSION = 1;

/**
 * Steal time (docs/abi/kvm.md §8): MSR_KVM_STEAL_TIME takes the GPA of a 64-byte-aligned
 * `kvm_steal_time` {u64 steal @0; u32 version @8; u32 flags @12; u8 preempted @16; pad to 64}
 * with bit 0 = enable; bits 1-5 are reserved (#GP).
 */
export const MSR_KVM_STEAL_TIME = 0x4b56_4d03;
export const KVM_STEAL_TIME_SIZE = 64;
export const KVM_STEAL_RESERVED_MASK = 0x3e;
/** `kvm_steal_time.preempted` bits: set by the host / by a guest asking for a flush. */
export const KVM_VCPU_PREEMPTED = 1;
export const KVM_VCPU_FLUSH_TLB = 2;

/**
 * PV EOI (docs/abi/kvm.md §9): MSR_KVM_PV_EOI_EN takes the GPA of a 4-byte-aligned 32-bit word
 * with bit 0 = enable (KVM_MSR_ENABLED); an unaligned GPA (bit 1 set) raises #GP, so does
 * enabling it at a GPA that is not guest RAM. The host sets KVM_PV_EOI_ENABLED (bit 0 of the
 * word's first byte) when the guest may skip the EOI write of the interrupt just injected.
 */
export const MSR_KVM_PV_EOI_EN = 0x4b56_4d04;
export const KVM_PV_EOI_ALIGN_MASK = 0x2;
export const KVM_PV_EOI_ENABLED = 1;
/**
 * Async page faults (docs/abi/kvm.md §10). MSR_KVM_ASYNC_PF_EN takes the GPA of a 64-byte
 * aligned `kvm_vcpu_pv_apf_data` {u32 flags @0; u32 token @4; pad to 64} with bit 0 enable,
 * bit 1 send-always (also at CPL 0), bit 2 delivery as #PF VM exit (needs ASYNC_PF_VMEXIT),
 * bit 3 'page ready' as an interrupt (needs ASYNC_PF_INT); bits 4-5 are reserved (#GP).
 * MSR_KVM_ASYNC_PF_INT holds that interrupt's vector (bits 8-63 reserved), MSR_KVM_ASYNC_PF_ACK
 * bit 0 tells the host the token slot is free again. The token of a wake-up for every waiting
 * task is 0xffffffff.
 */
export const MSR_KVM_ASYNC_PF_EN = 0x4b56_4d02;
export const MSR_KVM_ASYNC_PF_INT = 0x4b56_4d06;
export const MSR_KVM_ASYNC_PF_ACK = 0x4b56_4d07;
export const KVM_ASYNC_PF_ENABLED = 1 << 0;
export const KVM_ASYNC_PF_DELIVERY_AS_PF_VMEXIT = 1 << 2;
export const KVM_ASYNC_PF_DELIVERY_AS_INT = 1 << 3;
export const KVM_ASYNC_PF_RESERVED_MASK = 0x30;
export const KVM_ASYNC_PF_TOKEN_OFFSET = 4;
export const KVM_ASYNC_PF_WAKE_ALL = 0xffff_ffff;

/** Local-APIC EOI register offset (SDM Vol.3A Table 10-1): a PV EOI stands for a write to it. */
export const APIC_EOI = 0xb0;
/**
 * I/O APIC inputs whose EOI the host must see whatever their trigger mode (docs/abi/kvm.md §9):
 * KVM's RTC_GSI 8 (coalesced-RTC accounting) and pin 2, which QEMU routes GSI 0 (the PIT) to
 * and on which the in-kernel PIT's ack notifier sits.
 */
export const IOAPIC_RTC_PIN = 8;
export const IOAPIC_PIT_PIN = 2;

/** ICR fields KVM_HC_SEND_IPI reads (SDM Vol.3A Figure 10-12; Linux `asm/apicdef.h`). */
export const APIC_VECTOR_MASK = 0xff;
export const APIC_DEST_LOGICAL = 0x800;
export const APIC_SHORT_MASK = 0xc_0000;
export const APIC_INT_LEVELTRIG = 0x8000;
