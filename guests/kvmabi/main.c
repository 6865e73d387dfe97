/*
 * KVM-ABI conformance guest: checks a host against the public KVM paravirtual ABI
 * (kvm_abi.h) and reports on COM1, exiting through isa-debug-exit (port 0xf4):
 *   status 0 (QEMU exit 1) = conforms, 1 (exit 3) = violates, 3 (exit 7) = no KVM
 *   signature (nothing to test), 2 (exit 5) = unexpected exception.
 * Checks: CPUID 0x40000000 signature and 0x40000001 features; vmcall with an
 * unknown number returns -KVM_ENOSYS; KVM_HC_VAPIC_POLL_IRQ returns 0; kvmclock
 * system-time structure sane (version even, tsc_to_system_mul != 0, time advances);
 * wall clock version even and a plausible date.
 */
#include "kvm_abi.h"

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

static inline void outb(u8 v, u16 p) { __asm__ volatile("outb %0,%1" : : "a"(v), "Nd"(p)); }
static inline u8 inb(u16 p)
{
	u8 v;
	__asm__ volatile("inb %1,%0" : "=a"(v) : "Nd"(p));
	return v;
}

static void putc_(char c)
{
	for (u32 i = 0; i < 100000 && !(inb(0x3f8 + 5) & 0x20); i++)
		;
	outb((u8)c, 0x3f8);
}

static void puts_(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			putc_('\r');
		putc_(*s);
	}
}

static void putu(u32 v, u32 base)
{
	char b[12];
	int n = 0;
	do {
		b[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (base == 16)
		puts_("0x");
	while (n)
		putc_(b[--n]);
}

static void puti(int v)
{
	if (v < 0) {
		putc_('-');
		putu((u32)-v, 10);
	} else {
		putu((u32)v, 10);
	}
}

static void __attribute__((noreturn)) finish(u8 status)
{
	outb(status, 0xf4);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void __attribute__((noreturn, used)) exception(u32 vector, u32 ret_eip)
{
	puts_("kvmabi: unexpected exception, vector ");
	putu(vector, 10);
	puts_(" after eip ");
	putu(ret_eip, 16);
	puts_("\nRESULT guest=kvmabi pass=0 error=exception\n");
	finish(2);
}

extern char exc_stubs[];
static u64 idt[32];

static void idt_init(void)
{
	u16 cs;
	__asm__ volatile("movw %%cs,%0" : "=r"(cs));
	for (u32 v = 0; v < 32; v++) {
		u32 off = (u32)exc_stubs + 16 * v;
		idt[v] = ((u64)((off & 0xffff0000u) | 0x8e00u) << 32) | ((u32)cs << 16) | (off & 0xffff);
	}
	struct {
		u16 limit;
		u32 base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (u32)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

static void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "0"(leaf), "2"(0));
}

static int vmcall0(u32 nr)
{
	int r;
	__asm__ volatile("vmcall" : "=a"(r) : "a"(nr) : "memory");
	return r;
}

static void wrmsr(u32 msr, u64 v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}

static u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

static int same(const void *a, const void *b, u32 n)
{
	const u8 *p = a, *q = b;
	for (u32 i = 0; i < n; i++)
		if (p[i] != q[i])
			return 0;
	return 1;
}

static struct pvclock_vcpu_time_info ti __attribute__((aligned(64)));
static struct pvclock_wall_clock wc __attribute__((aligned(16)));

/* 64/32 division with two divl steps (no libgcc). */
static u64 div64(u64 n, u32 base)
{
	u32 hi = (u32)(n >> 32), lo = (u32)n, qhi = hi / base, qlo, r;
	hi %= base;
	__asm__("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(hi), "rm"(base));
	return ((u64)qhi << 32) | qlo;
}

/* system_time + scaled TSC delta, seconds part only (enough for plausibility). */
static u32 pvclock_seconds(void)
{
	u64 d = rdtsc() - ti.tsc_timestamp;
	d = ti.tsc_shift < 0 ? d >> -ti.tsc_shift : d << ti.tsc_shift;
	u64 ns = ti.system_time + (((u64)(u32)d * ti.tsc_to_system_mul) >> 32) +
		 (u64)(u32)(d >> 32) * ti.tsc_to_system_mul;
	return (u32)div64(ns, 1000000000u);
}

static void check(const char *what, int ok, int *pass)
{
	puts_(ok ? "  ok   " : "  FAIL ");
	puts_(what);
	puts_("\n");
	if (!ok)
		*pass = 0;
}

void kvmabi_main(void)
{
	idt_init();
	puts_("kvmabi: KVM paravirtual ABI conformance guest\n");
	u32 a, b, c, d;
	cpuid(KVM_CPUID_SIGNATURE, &a, &b, &c, &d);
	u32 sig[3] = { b, c, d };
	if (!same(sig, KVM_SIGNATURE, 12)) {
		puts_("kvmabi: CPUID 0x40000000 has no KVMKVMKVM signature: not a KVM host\n");
		puts_("RESULT guest=kvmabi pass=0 skip=1 signature=absent\n");
		finish(3);
	}
	int pass = 1;
	/* Max leaf 0 is what older KVM reports; it means 0x40000001 (Linux kvm_cpuid_base). */
	u32 max = a;
	check("CPUID 0x40000000 signature KVMKVMKVM", 1, &pass);
	check("CPUID 0x40000000 max leaf is 0 or >= 0x40000001", max == 0 || max >= KVM_CPUID_FEATURES,
	      &pass);
	u32 features;
	cpuid(KVM_CPUID_FEATURES, &features, &b, &c, &d);
	puts_("kvmabi: features ");
	putu(features, 16);
	puts_("\n");

	int unknown = vmcall0(0x7fffu);
	int poll = vmcall0(KVM_HC_VAPIC_POLL_IRQ);
	puts_("kvmabi: vmcall(0x7fff) = ");
	puti(unknown);
	puts_(", vmcall(KVM_HC_VAPIC_POLL_IRQ) = ");
	puti(poll);
	puts_("\n");
	check("vmcall with an unknown number returns -KVM_ENOSYS (-1000)", unknown == -KVM_ENOSYS, &pass);
	check("KVM_HC_VAPIC_POLL_IRQ returns 0", poll == 0, &pass);

	u32 msr_time = 0, msr_wall = 0;
	if (features & (1u << KVM_FEATURE_CLOCKSOURCE2)) {
		msr_time = MSR_KVM_SYSTEM_TIME_NEW;
		msr_wall = MSR_KVM_WALL_CLOCK_NEW;
	} else if (features & (1u << KVM_FEATURE_CLOCKSOURCE)) {
		msr_time = MSR_KVM_SYSTEM_TIME;
		msr_wall = MSR_KVM_WALL_CLOCK;
	}
	check("a kvmclock feature bit (CLOCKSOURCE or CLOCKSOURCE2) is set", msr_time != 0, &pass);
	u32 wall = 0;
	int clock_ok = 0, wall_ok = 0;
	if (msr_time) {
		wrmsr(msr_time, (u32)&ti | 1u); /* bit 0 = enable */
		u32 v1 = *(volatile u32 *)&ti.version;
		u64 s1 = ti.system_time;
		for (volatile u32 i = 0; i < 100000; i++)
			;
		wrmsr(msr_time, (u32)&ti | 1u); /* re-registering makes the host refresh it */
		u32 v2 = *(volatile u32 *)&ti.version;
		u64 s2 = ti.system_time;
		puts_("kvmabi: system time version ");
		putu(v1, 10);
		puts_(" mul ");
		putu(ti.tsc_to_system_mul, 16);
		puts_(" shift ");
		puti(ti.tsc_shift);
		puts_(" flags ");
		putu(ti.flags, 16);
		puts_("\n");
		check("pvclock_vcpu_time_info version even", !(v1 & 1) && !(v2 & 1) && v1 != 0, &pass);
		check("pvclock_vcpu_time_info tsc_to_system_mul != 0", ti.tsc_to_system_mul != 0, &pass);
		check("pvclock system_time does not go backwards", s2 >= s1, &pass);
		clock_ok = !(v1 & 1) && ti.tsc_to_system_mul != 0 && s2 >= s1;

		wrmsr(msr_wall, (u32)&wc);
		u32 wv = *(volatile u32 *)&wc.version;
		wall = wc.sec + pvclock_seconds();
		puts_("kvmabi: wall clock version ");
		putu(wv, 10);
		puts_(" sec ");
		putu(wc.sec, 10);
		puts_(" nsec ");
		putu(wc.nsec, 10);
		puts_(" now ");
		putu(wall, 10);
		puts_("\n");
		/* 2000-01-01 .. 2100-01-01 */
		wall_ok = !(wv & 1) && wc.nsec < 1000000000u && wall >= 946684800u && wall < 4102444800u;
		check("pvclock_wall_clock version even, nsec < 1e9, date in 2000..2099", wall_ok, &pass);
	}
	puts_("RESULT guest=kvmabi pass=");
	putu((u32)pass, 10);
	puts_(" features=");
	putu(features, 16);
	puts_(" vmcall_unknown=");
	puti(unknown);
	puts_(" vapic_poll=");
	puti(poll);
	puts_(" kvmclock_msr=");
	putu(msr_time, 16);
	puts_(clock_ok ? " kvmclock=sane" : " kvmclock=bad");
	puts_(wall_ok ? " wall=plausible\n" : " wall=implausible\n");
	finish(pass ? 0 : 1);
}
