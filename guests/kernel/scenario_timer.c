/*
 * scenario=timer: clock events.  PIT periodic at HZ and PIT one-shots through
 * paravirt_ops.set_periodic / set_next_event; the local-APIC timer periodic and
 * one-shot through apic_write.  Every wait is a safe_halt loop (abi.md §5.2, §5.5).
 */
#include "desc.h"
#include "paravirt.h"
#include "scenario.h"
#include "time.h"

#define TICKS 10
#define ONESHOTS 3

/* Busy-wait `ns` of sched_clock time (interrupts enabled). */
static void ndelay_sched(u64 ns)
{
	u64 end = paravirt_ops.sched_clock() + ns;
	while (paravirt_ops.sched_clock() < end)
		cpu_relax();
}

int scenario_timer(void)
{
	int pass = 1;
	pic_unmask(0);

	/* PIT periodic */
	u32 start = jiffies;
	u64 t0 = paravirt_ops.sched_clock();
	paravirt_ops.set_periodic(HZ);
	int ok = wait_event_halt(&jiffies, start + TICKS, 1000);
	u64 t1 = paravirt_ops.sched_clock();
	paravirt_ops.clockevent_shutdown();
	u32 ticks = jiffies - start;
	u32 ms = (u32)div64_u32(t1 - t0, 1000000u, NULL);
	printk("timer: pit periodic %u Hz: %u ticks waited with safe_halt\n", HZ, ticks);
	printk("INFO timer: pit periodic elapsed %u ms by sched_clock (expect ~%u)\n", ms,
	       TICKS * 1000 / HZ);
	pass &= ok && ticks == TICKS;

	/* PIT one-shot: each programmed event fires exactly once */
	u32 oneshots = 0;
	for (int i = 0; i < ONESHOTS; i++) {
		u32 c = irq_count[0];
		paravirt_ops.set_next_event(2000000); /* 2 ms */
		if (wait_event_halt(&irq_count[0], c + 1, 1000))
			oneshots++;
	}
	u32 c = irq_count[0];
	ndelay_sched(10000000); /* 10 ms: no further event may arrive */
	int extra = irq_count[0] - c;
	paravirt_ops.clockevent_shutdown();
	pic_mask(0);
	printk("timer: pit one-shot: %u of %u fired, %d spurious afterwards\n", oneshots, ONESHOTS, extra);
	pass &= oneshots == ONESHOTS && extra == 0;

	/* Local-APIC timer */
	u32 lticks = 0, lone = 0;
	if (cpu_has_apic) {
		u32 s = apic_timer_count;
		lapic_timer_start(100000, 1);
		wait_event_halt(&apic_timer_count, s + TICKS, 1000);
		lapic_timer_stop();
		lticks = apic_timer_count - s;
		s = apic_timer_count;
		lapic_timer_start(200000, 0);
		wait_event_halt(&apic_timer_count, s + 1, 1000);
		u32 ccr = paravirt_ops.apic_read(APIC_TMCCT);
		ndelay_sched(5000000);
		lone = apic_timer_count - s;
		lapic_timer_stop();
		printk("timer: lapic periodic %u ticks, one-shot fired %u (current count %u)\n", lticks, lone,
		       ccr);
		pass &= lticks == TICKS && lone == 1 && ccr == 0;
	}
	result_begin("timer", pass);
	printk(" ticks=%u oneshot=%u lapic=%s lapic_ticks=%u lapic_oneshot=%u\n", ticks, oneshots,
	       cpu_has_apic ? "yes" : "no", lticks, lone);
	return pass;
}
