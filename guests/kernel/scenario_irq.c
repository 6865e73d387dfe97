/*
 * scenario=irq: irq_disable / irq_enable / save_fl / restore_fl with an interrupt
 * pending.  A PIT one-shot is armed with interrupts off; the kernel polls the
 * 8259A IRR until IRQ0 is pending, checks it was not delivered, then enables
 * (or restores) and checks delivery happened immediately (abi.md §5.1).
 */
#include "desc.h"
#include "paravirt.h"
#include "scenario.h"
#include "time.h"
#if CONFIG_LGUEST_GUEST
#include "lguest/lguest.h"

/*
 * Where enabling interrupts is a plain store the hypervisor does not see (lguest: no pending
 * check, docs/abi/lguest.md §6), a pending interrupt arrives at the host's next entry, its
 * next tick at the latest: wait for it (at most 20 ms), counting how long it took.
 */
static u32 delivery_latency_us;
static void await_delivery(u32 before)
{
	if (!lguest_pv)
		return;
	u64 t0 = paravirt_ops.sched_clock(), t = t0;
	while (irq_count[0] == before && t - t0 < 20000000u) {
		cpu_relax();
		t = paravirt_ops.sched_clock();
	}
	u32 us = (u32)div64_u32(t - t0, 1000u, NULL);
	if (us > delivery_latency_us)
		delivery_latency_us = us;
}
#else
#define await_delivery(before) ((void)0)
#endif

/* Arm a 200 us one-shot and wait (interrupts off) until IRQ0 is pending in the IRR. */
static int make_irq0_pending(void)
{
	paravirt_ops.set_next_event(200000);
	for (u32 i = 0; i < 50000000u; i++)
		if (pic_read_irr() & 1)
			return 1;
	return 0;
}

int scenario_irq(void)
{
	int pass = 1, held = 0, delivered = 0;
	pic_unmask(0);

	/* 1. disable, pending, enable */
	local_irq_disable();
	u32 before = irq_count[0];
	int pending = make_irq0_pending();
	u32 while_off = irq_count[0];
	local_irq_enable();
	await_delivery(before);
	u32 after = irq_count[0];
	printk("irq: disable+pending: pending=%d count %u -> %u (disabled) -> %u (after enable)\n",
	       pending, before, while_off, after);
	held += pending && while_off == before;
	delivered += after == before + 1;

	/* 2. save_fl / restore_fl */
	u32 flags_on = local_save_flags();
	local_irq_disable();
	u32 flags_off = local_save_flags();
	before = irq_count[0];
	pending = make_irq0_pending();
	local_irq_restore(flags_off); /* still disabled: must stay pending */
	u32 still = irq_count[0];
	local_irq_restore(flags_on);
	await_delivery(before);
	after = irq_count[0];
	printk("irq: save_fl on=0x%x off=0x%x pending=%d count %u -> %u (restore off) -> %u (restore on)\n",
	       flags_on & X86_EFLAGS_IF, flags_off & X86_EFLAGS_IF, pending, before, still, after);
	held += pending && still == before;
	delivered += after == before + 1;
	int save_fl_ok = (flags_on & X86_EFLAGS_IF) && !(flags_off & X86_EFLAGS_IF);

	paravirt_ops.clockevent_shutdown();
	pic_mask(0);
	pass = held == 2 && delivered == 2 && save_fl_ok;
#if CONFIG_LGUEST_GUEST
	if (lguest_pv)
		printk("INFO irq: delivered at the host's next entry, at most %u us after enabling\n",
		       delivery_latency_us);
#endif
	result_begin("irq", pass);
	printk(" held_while_disabled=%d delivered_on_enable=%d save_fl=%s\n", held, delivered,
	       save_fl_ok ? "ok" : "bad");
	return pass;
}
