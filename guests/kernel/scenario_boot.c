/* scenario=boot: the detected backend, the variant's configuration, a complete
 * paravirt_ops table; on KVM also the vmcall ABI probe and kvmclock state. */
#include "desc.h"
#include "mm.h"
#include "paravirt.h"
#include "scenario.h"
#include "time.h"
#include "vdso.h"
#if CONFIG_LGUEST_GUEST
#include "lguest/lguest.h"
#endif

/* Exercise the cpu operations no other scenario needs, each with an observable effect. */
static u32 cpu_ops_selftest(u32 *total)
{
	u32 ok = 0, n = 0;
	static u64 ldt[2];
	const u64 tls[3] = { 0x00cff2000000ffffull, 0x00cff3000000ffffull, 0 };
	paravirt_ops.load_tls(tls, 0);
#if CONFIG_LGUEST_GUEST
	if (lguest_pv) /* the host's GDT holds them, not gdt_table */
		n++, ok += lguest_tls_installed();
	else
#endif
	n++, ok += gdt_table[GDT_ENTRY_TLS_MIN] == tls[0] && gdt_table[GDT_ENTRY_TLS_MIN + 1] == tls[1];
#if CONFIG_LGUEST_GUEST
	if (!lguest_pv) { /* lguest has no IOPL: every port access traps to the host */
#endif
#if CONFIG_XEN
	/* Xen keeps the virtual IOPL (physdev set_iopl) out of EFLAGS and save_fl. */
	if (xen_pv) {
		paravirt_ops.set_iopl_mask(0x1000);
		n++, ok += xen_iopl_mask == 0x1000;
		paravirt_ops.set_iopl_mask(0);
		n++, ok += xen_iopl_mask == 0;
	} else {
#endif
	paravirt_ops.set_iopl_mask(0x1000);
	n++, ok += (local_save_flags() & 0x3000) == 0x1000;
	paravirt_ops.set_iopl_mask(0);
	n++, ok += (local_save_flags() & 0x3000) == 0;
#if CONFIG_XEN
	}
#endif
#if CONFIG_LGUEST_GUEST
	}
#endif
	paravirt_ops.write_cr0(paravirt_ops.read_cr0() | 0x8); /* CR0.TS */
	paravirt_ops.clts();
	n++, ok += !(paravirt_ops.read_cr0() & 0x8);
	paravirt_ops.write_cr2(0x12345000);
	n++, ok += paravirt_ops.read_cr2() == 0x12345000;
	paravirt_ops.wbinvd();
	paravirt_ops.io_delay();
#if CONFIG_LGUEST_GUEST
	if (lguest_pv) { /* set_ldt is a no-op (no LDT for a guest); no SEP */
		*total = n;
		return ok;
	}
#endif
#if CONFIG_XEN
	if (xen_pv) {
		/* LDTR belongs to Xen (its own GDT slot): MMUEXT_SET_LDT succeeding is the check
		 * (xen_set_ldt panics otherwise). */
		paravirt_ops.set_ldt(ldt, 2);
		paravirt_ops.set_ldt(NULL, 0);
		n += 2, ok += 2;
		*total = n;
		return ok;
	}
#endif
	paravirt_ops.set_ldt(ldt, 2);
	u16 sel;
	__asm__ volatile("sldt %0" : "=r"(sel));
	n++, ok += sel == GDT_ENTRY_LDT * 8;
	paravirt_ops.set_ldt(NULL, 0);
	__asm__ volatile("sldt %0" : "=r"(sel));
	n++, ok += sel == 0;
	if (cpu_has_sep) {
		int err;
		u64 cs = paravirt_ops.read_msr(0x174, &err); /* SYSENTER_CS set by enable_sep_cpu */
		n++, ok += !err && cs == __KERNEL_CS;
	}
	*total = n;
	return ok;
}

int scenario_boot(void)
{
	u32 missing;
	u32 ops = paravirt_count_ops(&missing);
	int pass = missing == 0;
	printk("paravirt_ops: %u operations, %u missing\n", ops, missing);
	if (paravirt_ops.backend == BACKEND_KVM) {
		kvm_report();
		kvm_vmcall_probe(&pass);
	}
	u32 a, b, c, d;
	cpuid(0, &a, &b, &c, &d);
	u32 vendor[4] = { b, d, c, 0 };
	printk("cpu: vendor=%s sep=%d apic=%d pge=%d tsc=%d\n", (const char *)vendor, cpu_has_sep,
	       cpu_has_apic, cpu_has_pge, cpu_has_tsc);
	u32 cr0 = paravirt_ops.read_cr0(), cr3 = paravirt_ops.read_cr3();
	if (!(cr0 & 0x80000000u) || cr3 != (u32)swapper_pg_dir)
		pass = 0;
	u32 cpu_total, cpu_ok = cpu_ops_selftest(&cpu_total);
	printk("cpu ops: %u of %u checks passed (load_tls, set_iopl_mask, clts, cr2, set_ldt, rdmsr)\n",
	       cpu_ok, cpu_total);
	if (cpu_ok != cpu_total)
		pass = 0;
	result_begin("boot", pass);
	printk(" variant=%s paravirt=%d ops=%u missing=%u cpu_ops=%u/%u vdso=%u compat_vdso=%d fixaddr_top=0x%08x "
	       "vdso_fixmap=0x%08x\n",
	       VARIANT_NAME, CONFIG_PARAVIRT, ops, missing, cpu_ok, cpu_total, vdso_enabled, CONFIG_COMPAT_VDSO,
	       __FIXADDR_TOP, fix_to_virt(FIX_VDSO));
	return pass;
}
