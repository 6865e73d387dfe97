/*
 * The public KVM paravirtual ABI as seen by an i386 guest, written from the
 * published interface only (Linux include/uapi/linux/kvm_para.h,
 * arch/x86/include/uapi/asm/kvm_para.h, arch/x86/include/asm/pvclock-abi.h;
 * summarised in shared/reference/abi.md §1, §2.5, §3.4, §3.5, §4.6).
 * Deliberately independent of guests/kernel.
 */
#ifndef KVM_ABI_H
#define KVM_ABI_H

/* CPUID leaves */
#define KVM_CPUID_SIGNATURE 0x40000000u /* EBX ECX EDX = "KVMKVMKVM\0\0\0" */
#define KVM_CPUID_FEATURES 0x40000001u  /* EAX = feature bits */
#define KVM_SIGNATURE "KVMKVMKVM\0\0\0"

/* 0x40000001 EAX bits */
#define KVM_FEATURE_CLOCKSOURCE 0
#define KVM_FEATURE_NOP_IO_DELAY 1
#define KVM_FEATURE_MMU_OP 2
#define KVM_FEATURE_CLOCKSOURCE2 3
#define KVM_FEATURE_ASYNC_PF 4
#define KVM_FEATURE_STEAL_TIME 5
#define KVM_FEATURE_PV_EOI 6
#define KVM_FEATURE_PV_UNHALT 7
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT 24

/* MSRs */
#define MSR_KVM_WALL_CLOCK 0x11u
#define MSR_KVM_SYSTEM_TIME 0x12u
#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00u
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u

/* Hypercalls: vmcall (0F 01 C1), EAX = nr, EBX ECX EDX ESI = args, result in EAX */
#define KVM_HC_VAPIC_POLL_IRQ 1
#define KVM_ENOSYS 1000

/* pvclock structures (packed, i386) */
struct pvclock_vcpu_time_info {
	unsigned int version;
	unsigned int pad0;
	unsigned long long tsc_timestamp;
	unsigned long long system_time;
	unsigned int tsc_to_system_mul;
	signed char tsc_shift;
	unsigned char flags;
	unsigned char pad[2];
} __attribute__((packed));

struct pvclock_wall_clock {
	unsigned int version;
	unsigned int sec;
	unsigned int nsec;
} __attribute__((packed));

#endif
