/*
 * start_kernel: capture the entry state, pick the paravirt backend, set up
 * descriptor tables, paging, interrupts, time and the vDSO, run the scenario named
 * on the command line, then power off through isa-debug-exit with the verdict.
 */
#include "boot.h"
#include "desc.h"
#include "mm.h"
#include "paravirt.h"
#include "scenario.h"
#include "time.h"
#include "vdso.h"
#if CONFIG_VMI
#include "vmi/vmi.h"
#endif
#if CONFIG_XEN
#include "xen.h"
#endif
#if CONFIG_LGUEST_GUEST
#include "lguest/lguest.h"
#endif

static const struct {
	const char *name;
	int (*run)(void);
} scenarios[] = {
	{ "boot", scenario_boot },   { "irq", scenario_irq },	     { "timer", scenario_timer },
	{ "clock", scenario_clock }, { "mmu", scenario_mmu },	     { "syscall", scenario_syscall },
	{ "halt", scenario_halt },   { "shutdown", scenario_shutdown },
};

static char detect_reason[64];
static enum paravirt_backend detected;

void result_begin(const char *name, int pass)
{
	printk("RESULT scenario=%s backend=%s pass=%d", name, paravirt_backend_names[paravirt_ops.backend],
	       pass);
}

static void select_backend(const struct boot_state *b)
{
	detected = detect_hypervisor(b, detect_reason, sizeof(detect_reason));
#if CONFIG_PARAVIRT
	u32 features;
	switch (detected) {
	case BACKEND_KVM:
		if (kvm_detect(&features))
			kvm_init(features);
		break;
	case BACKEND_XEN:
#if CONFIG_XEN
		if (xen_pv) {
			xen_init_paravirt_ops();
			break;
		}
#endif
		if ((b->cs & 3) == 1) {
			/* A ring-1 Xen PV entry cannot fall back to native code: no port I/O, no
			 * privileged instructions.  Stop here (nothing can be printed). */
			for (;;)
				__asm__ volatile("" ::: "memory");
		}
		printk("paravirt: Xen detected (%s): not implemented in this guest yet, using native\n",
		       detect_reason);
		break;
	case BACKEND_VMI:
#if CONFIG_VMI
		if (vmi_init())
			break;
#endif
		/* fall through */
	case BACKEND_LGUEST:
#if CONFIG_LGUEST_GUEST
		if (lguest_pv) {
			lguest_init_paravirt_ops();
			break;
		}
#endif
		printk("paravirt: %s detected (%s): not implemented in this guest yet, using native\n",
		       paravirt_backend_names[detected], detect_reason);
		break;
	case BACKEND_NATIVE:
		break;
	}
#endif
}

void start_kernel(void)
{
	struct boot_state b = { boot_regs[0], boot_regs[1], boot_regs[2], boot_regs[3] };
#if CONFIG_LGUEST_GUEST
	if (lguest_pv) { /* lguest_init took the command line; the console is the host's */
	} else
#endif
#if CONFIG_XEN
	if ((b.cs & 3) == 1) /* startup_xen: ring 1, ESI = start_info */
		xen_early_init(b.esi);
	else
#endif
	serial_init();
	if (b.eax == 0x2badb002) {
		const struct multiboot_info *mbi = (const struct multiboot_info *)b.ebx;
		if (mbi->flags & MULTIBOOT_INFO_CMDLINE)
			cmdline_set((const char *)mbi->cmdline);
	}
	paravirt_init_native();
	printk("pvkernel %s (Linux %s i386 model) CONFIG_PARAVIRT=%s CONFIG_COMPAT_VDSO=%s\n",
	       VARIANT_NAME, VARIANT_NAME, CONFIG_PARAVIRT ? "y" : "n", CONFIG_COMPAT_VDSO ? "y" : "n");
	printk("Command line: %s\n", cmdline_get());
	select_backend(&b);
	printk("paravirt: backend=%s (%s) detected=%s (%s)\n", paravirt_backend_names[paravirt_ops.backend],
	       paravirt_ops.name, paravirt_backend_names[detected], detect_reason);
	paravirt_ops.startup();

	u32 v;
	if (cmdline_u32("vdso", &v)) /* __setup("vdso=", vdso_setup) */
		vdso_enabled = v;
	if (cmdline_u32("reservetop", &v)) /* early_param("reservetop", parse_reservetop) */
		paravirt_ops.reserve_top_address(v);
	char buf[16];
	if (cmdline_str("reboot", buf, sizeof(buf)) && !strncmp(buf, "92", 3))
		paravirt_set_reboot_port92_first(1);

	cpu_detect();
	trap_init();
	pic_init();
	paging_init();
	lapic_setup();
	time_init();
	sysenter_setup();
	local_irq_enable();

	char name[16] = "boot";
	cmdline_str("scenario", name, sizeof(name));
	for (u32 i = 0; i < ARRAY_SIZE(scenarios); i++) {
		if (strncmp(name, scenarios[i].name, sizeof(name)))
			continue;
		int pass = scenarios[i].run();
		paravirt_ops.shutdown(SHUTDOWN_POWER_OFF, pass ? EXIT_PASS : EXIT_FAIL);
	}
	printk("RESULT scenario=%s backend=%s pass=0 error=unknown-scenario\n", name,
	       paravirt_backend_names[paravirt_ops.backend]);
	paravirt_ops.shutdown(SHUTDOWN_POWER_OFF, EXIT_FAIL);
}

#if CONFIG_VMI
#include "vmi/vmi.c" /* the VMI paravirt_ops (guests/kernel/vmi/) */
#endif
#if CONFIG_LGUEST_GUEST
#include "lguest/lguest.c" /* the lguest paravirt_ops (guests/kernel/lguest/) */
#endif
