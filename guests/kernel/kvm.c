/*
 * KVM backend (2.6.25+ paravirtual ABI, abi.md §1, §2.5, §3.4, §3.5, §4.6):
 * detected by CPUID 0x40000000 "KVMKVMKVM\0\0\0"; feature bits in 0x40000001 EAX.
 * kvmclock: the guest hands the host the physical address of a
 * pvclock_vcpu_time_info (MSR_KVM_SYSTEM_TIME 0x12, or 0x4b564d01 when
 * CLOCKSOURCE2 is set; bit 0 = enable) and of a pvclock_wall_clock (0x11 /
 * 0x4b564d00).  sched_clock and get_wallclock read those; everything else stays
 * native (KVM virtualises the hardware, abi.md §5.1-§5.8).  Cf. Linux
 * arch/x86/kernel/kvmclock.c, kvm.c.
 */
#include "paravirt.h"
#include "time.h"

#define KVM_CPUID_FEATURES 0x40000001
#define KVM_FEATURE_CLOCKSOURCE 0
#define KVM_FEATURE_NOP_IO_DELAY 1
#define KVM_FEATURE_CLOCKSOURCE2 3
#define MSR_KVM_WALL_CLOCK 0x11
#define MSR_KVM_SYSTEM_TIME 0x12
#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define KVM_HC_VAPIC_POLL_IRQ 1
#define KVM_ENOSYS 1000

struct pvclock_vcpu_time_info {
	u32 version;
	u32 pad0;
	u64 tsc_timestamp;
	u64 system_time;
	u32 tsc_to_system_mul;
	s8 tsc_shift;
	u8 flags;
	u8 pad[2];
} __attribute__((packed));
_Static_assert(sizeof(struct pvclock_vcpu_time_info) == 32, "pvclock_vcpu_time_info");

struct pvclock_wall_clock {
	u32 version;
	u32 sec;
	u32 nsec;
} __attribute__((packed));

static struct pvclock_vcpu_time_info hv_clock __attribute__((aligned(64)));
static struct pvclock_wall_clock wall_clock __attribute__((aligned(16)));
static u32 kvm_features, msr_system_time, msr_wall_clock;
static int kvmclock_on;

int kvm_detect(u32 *features)
{
	u32 a, b, c, d;
	cpuid(0x40000000, &a, &b, &c, &d);
	u32 sig[3] = { b, c, d };
	if (memcmp(sig, "KVMKVMKVM\0\0\0", 12))
		return 0;
	/* Max leaf 0 means "only 0x40000001" on old hosts (Linux kvm_cpuid_base). */
	cpuid(KVM_CPUID_FEATURES, &a, &b, &c, &d);
	*features = a;
	return 1;
}

/* Scale a TSC delta to ns: ((delta << shift or >> -shift) * mul) >> 32 (abi.md §4.2). */
static u64 pvclock_scale_delta(u64 delta, u32 mul, s8 shift)
{
	if (shift < 0)
		delta >>= -shift;
	else
		delta <<= shift;
	u64 lo = (u64)(u32)delta * mul;
	u64 hi = (u64)(u32)(delta >> 32) * mul;
	return (lo >> 32) + hi;
}

static u64 kvm_clock_read(void)
{
	u32 version;
	u64 ns;
	/* Seqlock: an odd version means the host is updating. */
	do {
		version = *(volatile u32 *)&hv_clock.version;
		barrier();
		u64 delta = native_read_tsc() - hv_clock.tsc_timestamp;
		ns = hv_clock.system_time +
		     pvclock_scale_delta(delta, hv_clock.tsc_to_system_mul, hv_clock.tsc_shift);
		barrier();
	} while ((version & 1) || version != *(volatile u32 *)&hv_clock.version);
	return ns;
}

static u32 kvm_get_wallclock(void)
{
	paravirt_ops.write_msr(msr_wall_clock, (u32)&wall_clock, 0);
	u32 version, sec, nsec;
	do {
		version = *(volatile u32 *)&wall_clock.version;
		barrier();
		sec = wall_clock.sec;
		nsec = wall_clock.nsec;
		barrier();
	} while ((version & 1) || version != *(volatile u32 *)&wall_clock.version);
	/* Wall time of system-time 0, plus system time now (abi.md §4.6). */
	u32 rem;
	u64 extra = div64_u32((u64)nsec + kvm_clock_read(), 1000000000u, &rem);
	return sec + (u32)extra;
}

static u64 kvm_sched_clock(void) { return kvm_clock_read(); }

/* KVM_FEATURE_NOP_IO_DELAY: port 0x80 writes are pointless exits (Linux kvm.c). */
static void kvm_io_delay(void) {}

void kvm_init(u32 features)
{
	kvm_features = features;
	paravirt_ops.name = "KVM";
	paravirt_ops.paravirt_enabled = 1;
	paravirt_ops.backend = BACKEND_KVM;
	if (features & (1u << KVM_FEATURE_NOP_IO_DELAY))
		paravirt_ops.io_delay = kvm_io_delay;
	if (features & (1u << KVM_FEATURE_CLOCKSOURCE2)) {
		msr_system_time = MSR_KVM_SYSTEM_TIME_NEW;
		msr_wall_clock = MSR_KVM_WALL_CLOCK_NEW;
	} else if (features & (1u << KVM_FEATURE_CLOCKSOURCE)) {
		msr_system_time = MSR_KVM_SYSTEM_TIME;
		msr_wall_clock = MSR_KVM_WALL_CLOCK;
	} else {
		return;
	}
	/* Kernel data is identity mapped: virtual address == guest-physical address. */
	if (paravirt_ops.write_msr(msr_system_time, (u32)&hv_clock | 1, 0)) {
		printk("kvm-clock: wrmsr 0x%x refused, keeping the TSC\n", msr_system_time);
		return;
	}
	kvmclock_on = 1;
	paravirt_ops.sched_clock = kvm_sched_clock;
	paravirt_ops.get_wallclock = kvm_get_wallclock;
}

void kvm_report(void)
{
	printk("kvm: features=0x%x kvmclock=%s msr_system_time=0x%x msr_wall_clock=0x%x "
	       "io_delay=%s\n",
	       kvm_features, kvmclock_on ? "on" : "off", msr_system_time, msr_wall_clock,
	       (kvm_features & (1u << KVM_FEATURE_NOP_IO_DELAY)) ? "nop" : "port80");
	if (kvmclock_on)
		printk("kvm-clock: version=%u tsc_to_system_mul=0x%x tsc_shift=%d flags=0x%x\n",
		       hv_clock.version, hv_clock.tsc_to_system_mul, hv_clock.tsc_shift, hv_clock.flags);
}

/* vmcall: EAX = nr, EBX.. = args, result in EAX (abi.md §2.5). A #UD (no KVM)
 * is caught by the exception table and reported as -1. */
static s32 kvm_hypercall0(u32 nr, int *faulted)
{
	s32 ret;
	int f = 0;
	__asm__ volatile("1: vmcall\n2:\n"
			 ".section .fixup,\"ax\"\n3: movl $1,%1\n jmp 2b\n.previous\n"
			 ".section __ex_table,\"a\"\n .long 1b,3b\n.previous"
			 : "=a"(ret), "+r"(f)
			 : "a"(nr)
			 : "memory");
	*faulted = f;
	return ret;
}

void kvm_vmcall_probe(int *pass)
{
	int f1, f2;
	s32 r1 = kvm_hypercall0(KVM_HC_VAPIC_POLL_IRQ, &f1);
	s32 r2 = kvm_hypercall0(0x7fff, &f2);
	printk("kvm: vmcall(KVM_HC_VAPIC_POLL_IRQ)=%d%s vmcall(0x7fff)=%d%s (expect 0 and -%u)\n", r1,
	       f1 ? " #UD" : "", r2, f2 ? " #UD" : "", KVM_ENOSYS);
	if (f1 || f2 || r1 != 0 || r2 != -KVM_ENOSYS)
		*pass = 0;
}
