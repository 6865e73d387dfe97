/*
 * Native time: PIT channel 0 as the clock-event device (periodic mode 2, one-shot
 * mode 0), TSC calibrated against PIT channel 2 for sched_clock, CMOS RTC for the
 * wall clock, local-APIC timer (abi.md §5.5, §5.6; Linux 2.6.20
 * arch/i386/kernel/i8253.c, tsc.c, time.c get_cmos_time).
 */
#include "time.h"
#include "desc.h"
#include "paravirt.h"
#if CONFIG_XEN
#include "xen.h"
#endif
#if CONFIG_LGUEST_GUEST
#include "lguest/lguest.h"
#endif

volatile u32 jiffies;
u32 tsc_khz;
int cpu_has_apic, cpu_has_tsc, cpu_has_sep, cpu_has_pge;
static u64 tsc_at_boot;

void cpu_detect(void)
{
	u32 a, b, c, d;
	cpuid(0, &a, &b, &c, &d);
	if (a < 1)
		return;
	cpuid(1, &a, &b, &c, &d);
	cpu_has_tsc = (d >> 4) & 1;
	cpu_has_apic = (d >> 9) & 1;
	/* SEP is unusable on family 6 model < 3 stepping < 3 (Linux cpu/intel.c). */
	cpu_has_sep = ((d >> 11) & 1) && !(((a >> 8) & 0xf) == 6 && ((a >> 4) & 0xf) < 3 && (a & 0xf) < 3);
	cpu_has_pge = (d >> 13) & 1;
}

void timer_interrupt(void) { jiffies++; }

void pit_set_periodic(u32 hz)
{
	u32 latch = (PIT_TICK_RATE + hz / 2) / hz;
	outb(0x34, 0x43); /* ch0, lobyte/hibyte, mode 2 (rate generator) */
	outb(latch & 0xff, 0x40);
	outb(latch >> 8, 0x40);
}

void pit_set_next_event(u32 delta_ns)
{
	u32 rem;
	u64 ticks = div64_u32((u64)delta_ns * PIT_TICK_RATE, 1000000000u, &rem);
	if (ticks < 1)
		ticks = 1;
	if (ticks > 0xffff)
		ticks = 0xffff;
	outb(0x30, 0x43); /* ch0, lobyte/hibyte, mode 0 (interrupt on terminal count) */
	outb(ticks & 0xff, 0x40);
	outb((ticks >> 8) & 0xff, 0x40);
}

/* Mode 0 control word without a count: the counter waits for a count, OUT low. */
void pit_shutdown(void) { outb(0x30, 0x43); }

static void calibrate_tsc(void)
{
	/* PIT channel 2 gated by port 0x61 bit 0, mode 0, ~50 ms; OUT2 is port 0x61 bit 5. */
	const u32 count = 59659; /* 50 ms at PIT_TICK_RATE */
	outb((inb(0x61) & ~0x02) | 0x01, 0x61);
	outb(0xb0, 0x43);
	outb(count & 0xff, 0x42);
	outb(count >> 8, 0x42);
	u64 t0 = paravirt_ops.read_tsc();
	u32 spins = 0;
	while (!(inb(0x61) & 0x20) && spins < 100000000u)
		spins++;
	u64 t1 = paravirt_ops.read_tsc();
	outb(inb(0x61) & ~0x01, 0x61);
	u64 khz = div64_u32(t1 - t0, 50, NULL);
	tsc_khz = khz > 0 && khz < 0xffffffffull ? (u32)khz : 0;
}

u64 native_sched_clock(void)
{
	if (!cpu_has_tsc || !tsc_khz)
		return (u64)jiffies * (1000000000u / HZ);
	/* cycles_2_ns: ns = cycles * 10^6 / tsc_khz, split to stay in 64 bits. */
	u64 cyc = paravirt_ops.read_tsc() - tsc_at_boot;
	u32 rem;
	u64 ms = div64_u32(cyc, tsc_khz, &rem);
	return ms * 1000000u + div64_u32((u64)rem * 1000000u, tsc_khz, NULL);
}

static u8 cmos_read(u8 reg)
{
	outb(reg, 0x70);
	return inb(0x71);
}

static u32 bcd2bin(u32 v) { return (v & 0x0f) + (v >> 4) * 10; }

/* Gregorian date to seconds since 1970 (Linux kernel/time.c mktime). */
u32 mktime(u32 year, u32 mon, u32 day, u32 hour, u32 min, u32 sec)
{
	if (0 >= (int)(mon -= 2)) {
		mon += 12;
		year -= 1;
	}
	return ((((year / 4 - year / 100 + year / 400 + 367 * mon / 12 + day) + year * 365 - 719499) * 24 +
		 hour) * 60 + min) * 60 + sec;
}

u32 native_get_wallclock(void)
{
	/* Wait out an update in progress (register A bit 7), read twice until stable. */
	u32 sec, min, hour, day, mon, year, cent;
	for (int tries = 0; tries < 4; tries++) {
		for (u32 i = 0; i < 1000000 && (cmos_read(0x0a) & 0x80); i++)
			;
		sec = cmos_read(0x00);
		min = cmos_read(0x02);
		hour = cmos_read(0x04);
		day = cmos_read(0x07);
		mon = cmos_read(0x08);
		year = cmos_read(0x09);
		cent = cmos_read(0x32);
		if (sec == cmos_read(0x00))
			break;
	}
	if (!(cmos_read(0x0b) & 0x04)) { /* register B bit 2 clear: BCD */
		sec = bcd2bin(sec);
		min = bcd2bin(min);
		hour = bcd2bin(hour);
		day = bcd2bin(day);
		mon = bcd2bin(mon);
		year = bcd2bin(year);
		cent = bcd2bin(cent);
	}
	year += cent >= 19 && cent <= 21 ? cent * 100 : (year < 70 ? 2000 : 1900);
	return mktime(year, mon, day, hour, min, sec);
}

void rtc_from_seconds(u32 secs, struct rtc_time *tm)
{
	static const u8 mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	u32 days = secs / 86400, rem = secs % 86400;
	tm->hour = rem / 3600;
	tm->min = rem / 60 % 60;
	tm->sec = rem % 60;
	u32 y = 1970;
	for (;;) {
		u32 len = (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
		if (days < len)
			break;
		days -= len;
		y++;
	}
	tm->year = y;
	u32 m = 0;
	for (; m < 12; m++) {
		u32 len = mdays[m] + (m == 1 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
		if (days < len)
			break;
		days -= len;
	}
	tm->mon = m + 1;
	tm->mday = days + 1;
}

u32 native_apic_read(u32 reg) { return *(volatile u32 *)(APIC_DEFAULT_PHYS_BASE + reg); }
void native_apic_write(u32 reg, u32 v) { *(volatile u32 *)(APIC_DEFAULT_PHYS_BASE + reg) = v; }

void lapic_setup(void)
{
	if (!cpu_has_apic)
		return;
	/* IA32_APIC_BASE (MSR 0x1b) bit 11 = global enable. */
	int err;
	u64 base = paravirt_ops.read_msr(0x1b, &err);
	if (!err && !(base & 0x800))
		paravirt_ops.write_msr(0x1b, (u32)base | 0x800, (u32)(base >> 32));
	paravirt_ops.apic_write(APIC_SPIV, 0x100 | SPURIOUS_APIC_VECTOR);
	paravirt_ops.apic_write(APIC_TASKPRI, 0);
	/* Virtual-wire mode as Linux's setup_local_APIC on the BSP: LINT0 ExtINT
	 * (8259A interrupts pass through), LINT1 NMI. */
	paravirt_ops.apic_write(APIC_LVT0, 0x700);
	paravirt_ops.apic_write(APIC_LVT1, 0x400);
	paravirt_ops.apic_write(APIC_LVTT, APIC_LVT_MASKED | LOCAL_TIMER_VECTOR);
}

void lapic_timer_start(u32 count, int periodic)
{
	paravirt_ops.apic_write(APIC_TDCR, 0x3); /* divide by 16 */
	paravirt_ops.apic_write(APIC_LVTT, LOCAL_TIMER_VECTOR | (periodic ? APIC_LVT_TIMER_PERIODIC : 0));
	paravirt_ops.apic_write(APIC_TMICT, count);
}

void lapic_timer_stop(void)
{
	paravirt_ops.apic_write(APIC_LVTT, APIC_LVT_MASKED | LOCAL_TIMER_VECTOR);
	paravirt_ops.apic_write(APIC_TMICT, 0);
}

void time_init(void)
{
#if CONFIG_LGUEST_GUEST
	if (lguest_pv) /* no PIT: lguest.c uses the host's lguest_data.tsc_khz */
		return;
#endif
#if CONFIG_XEN
	if (xen_pv) /* no PIT to calibrate against: xen.c took tsc_khz from vcpu_time_info */
		return;
#endif
	if (cpu_has_tsc) {
		calibrate_tsc();
		tsc_at_boot = paravirt_ops.read_tsc();
	}
}

int wait_event_halt(volatile u32 *counter, u32 target, u32 max_halts)
{
	/* The Linux idle pattern: check with interrupts off, then sti;hlt atomically. */
	u32 halts = 0;
	local_irq_disable();
	while ((s32)(*counter - target) < 0 && halts < max_halts) {
		safe_halt();
		halts++;
		local_irq_disable();
	}
	local_irq_enable();
	return (s32)(*counter - target) >= 0;
}
