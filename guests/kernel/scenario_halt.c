/*
 * scenario=halt: safe_halt and halt with interrupts on and off, a PIT one-shot
 * armed as the wake-up.  On CONFIG_PARAVIRT variants halt() is safe_halt (abi.md
 * §5.2), so halt() with IF=0 still wakes and returns with IF=1.  On the non-PARAVIRT
 * build it is a bare hlt with IF=0 that never wakes; it is executed only with
 * halt_if0=1 (the run then hangs: QEMU needs a timeout, pvreplay reports "idle").
 */
#include "desc.h"
#include "paravirt.h"
#include "scenario.h"
#include "time.h"

static int armed_halt(void (*fn)(void), int irqs_on, u32 *if_after)
{
	u32 c = irq_count[0];
	local_irq_disable();
	paravirt_ops.set_next_event(2000000);
	if (irqs_on)
		local_irq_enable();
	fn();
	*if_after = (local_save_flags() & X86_EFLAGS_IF) != 0;
	local_irq_enable();
	/* A wake-up by an interrupt delivers it before fn() returns. */
	return irq_count[0] == c + 1;
}

int scenario_halt(void)
{
	u32 if1, if2, if3 = 0;
	pic_unmask(0);
	int safe_if0 = armed_halt(paravirt_ops.safe_halt, 0, &if1);
	int halt_if1 = armed_halt(halt, 1, &if2);
	const char *if0_result;
	int pass = safe_if0 && halt_if1 && if1;
#if CONFIG_PARAVIRT
	int woke = armed_halt(halt, 0, &if3);
	if0_result = woke ? "woke" : "stuck";
	pass &= woke && if3;
	printk("halt: halt() with IF=0 routed to safe_halt: %s, IF afterwards=%u\n", if0_result, if3);
#else
	u32 opt = 0;
	if (cmdline_u32("halt_if0", &opt) && opt) {
		printk("halt: executing hlt with IF=0 (non-PARAVIRT): this never wakes\n");
		armed_halt(halt, 0, &if3);
		printk("halt: hlt with IF=0 returned (unexpected)\n");
		if0_result = "woke";
		pass = 0;
	} else {
		if0_result = "not-run";
		printk("halt: non-PARAVIRT halt() with IF=0 is a bare hlt that would never wake; "
		       "not executed (halt_if0=1 runs it)\n");
	}
#endif
	paravirt_ops.clockevent_shutdown();
	pic_mask(0);
	printk("halt: safe_halt IF=0 %s (IF after %u), halt IF=1 %s\n", safe_if0 ? "woke" : "stuck", if1,
	       halt_if1 ? "woke" : "stuck");
	result_begin("halt", pass);
	printk(" safe_halt_if0=%s halt_if1=%s halt_if0=%s halt_is_safe_halt=%d if_after_halt_if0=%u\n",
	       safe_if0 ? "woke" : "stuck", halt_if1 ? "woke" : "stuck", if0_result, CONFIG_PARAVIRT,
	       if3);
	return pass;
}
