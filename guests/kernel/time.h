/* PIT, TSC, CMOS RTC and local APIC (native clock sources and clock events). */
#ifndef TIME_H
#define TIME_H

#include "lib.h"

#define PIT_TICK_RATE 1193182u /* abi.md §5.5 */
#define LATCH ((PIT_TICK_RATE + HZ / 2) / HZ)

#define APIC_DEFAULT_PHYS_BASE 0xfee00000
#define APIC_ID 0x20
#define APIC_LVR 0x30
#define APIC_TASKPRI 0x80
#define APIC_EOI 0xb0
#define APIC_SPIV 0xf0
#define APIC_LVTT 0x320
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_TMICT 0x380
#define APIC_TMCCT 0x390
#define APIC_TDCR 0x3e0
#define APIC_LVT_MASKED 0x10000
#define APIC_LVT_TIMER_PERIODIC 0x20000

extern volatile u32 jiffies;
extern u32 tsc_khz;
extern int cpu_has_apic, cpu_has_tsc, cpu_has_sep, cpu_has_pge;

void cpu_detect(void);
void time_init(void);
void timer_interrupt(void);

/* native time/apic operations (installed in paravirt_ops) */
u32 native_get_wallclock(void);
u64 native_sched_clock(void);
void pit_set_periodic(u32 hz);
void pit_set_next_event(u32 delta_ns);
void pit_shutdown(void);
u32 native_apic_read(u32 reg);
void native_apic_write(u32 reg, u32 v);

/* local-APIC timer as a second clock-event device, programmed through apic_write */
void lapic_setup(void);
void lapic_timer_start(u32 count, int periodic);
void lapic_timer_stop(void);

/* CMOS RTC decoding, for printing */
struct rtc_time {
	u32 year, mon, mday, hour, min, sec;
};
void rtc_from_seconds(u32 secs, struct rtc_time *tm);
u32 mktime(u32 year, u32 mon, u32 day, u32 hour, u32 min, u32 sec);

/* Wait with interrupts enabled until `done` reads non-zero, halting via safe_halt. */
int wait_event_halt(volatile u32 *counter, u32 target, u32 max_halts);

#endif
