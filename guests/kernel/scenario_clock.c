/*
 * scenario=clock: sched_clock (TSC calibrated against PIT channel 2 on native,
 * kvmclock on KVM) is monotonic and runs at the PIT's rate; the wall clock (CMOS
 * RTC on native, pvclock_wall_clock on KVM) is a plausible date (abi.md §5.6).
 */
#include "desc.h"
#include "paravirt.h"
#include "scenario.h"
#include "time.h"
#if CONFIG_LGUEST_GUEST
#include "lguest/lguest.h"
#endif

#define SAMPLES 1000

int scenario_clock(void)
{
	int monotonic = 1;
	u64 prev = paravirt_ops.sched_clock();
	for (int i = 0; i < SAMPLES; i++) {
		u64 now = paravirt_ops.sched_clock();
		if (now < prev)
			monotonic = 0;
		prev = now;
	}
	/* Rate: 20 PIT ticks (200 ms) against sched_clock; accept 0.5x - 2x. */
	pic_unmask(0);
	u32 start = jiffies;
	paravirt_ops.set_periodic(HZ);
	wait_event_halt(&jiffies, start + 1, 100); /* align to a tick */
	u64 t0 = paravirt_ops.sched_clock();
	wait_event_halt(&jiffies, start + 21, 1000);
	u64 t1 = paravirt_ops.sched_clock();
	paravirt_ops.clockevent_shutdown();
	pic_mask(0);
	u32 ms = (u32)div64_u32(t1 - t0, 1000000u, NULL);
	int rate_ok = t1 > t0 && ms >= 100 && ms <= 400;
	if (t1 <= t0)
		monotonic = 0;

	u32 wall = paravirt_ops.get_wallclock();
	struct rtc_time tm;
	rtc_from_seconds(wall, &tm);
	int wall_ok = tm.year >= 2000 && tm.year < 2100;
	const char *source = paravirt_ops.backend == BACKEND_KVM ? "kvmclock" :
			     (cpu_has_tsc && tsc_khz) ? "tsc" : "jiffies";
#if CONFIG_LGUEST_GUEST
	if (paravirt_ops.backend == BACKEND_LGUEST) /* the TSC at lguest_data.tsc_khz, or jiffies */
		source = lguest_data.tsc_khz ? "lguest-tsc" : "jiffies";
#endif
#if CONFIG_XEN
	if (paravirt_ops.backend == BACKEND_XEN)
		source = "xen"; /* vcpu_time_info system time */
#endif
	printk("INFO clock: tsc_khz=%u 200ms-by-pit=%u ms-by-sched_clock wall=%u "
	       "(%04u-%02u-%02u %02u:%02u:%02u UTC)\n",
	       tsc_khz, ms, wall, tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec);
	int pass = monotonic && rate_ok && wall_ok;
	result_begin("clock", pass);
	printk(" monotonic=%d samples=%u rate=%s wall=%s source=%s\n", monotonic, SAMPLES,
	       rate_ok ? "ok" : "bad", wall_ok ? "plausible" : "implausible", source);
	return pass;
}
