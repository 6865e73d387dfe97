/* scenario=boot: the detected backend, the variant's configuration, a complete
 * paravirt_ops table; on KVM also the vmcall ABI probe and kvmclock state. */
#include "mm.h"
#include "paravirt.h"
#include "scenario.h"
#include "time.h"
#include "vdso.h"

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
	result_begin("boot", pass);
	printk(" variant=%s paravirt=%d ops=%u missing=%u vdso=%u compat_vdso=%d fixaddr_top=0x%08x "
	       "vdso_fixmap=0x%08x\n",
	       VARIANT_NAME, CONFIG_PARAVIRT, ops, missing, vdso_enabled, CONFIG_COMPAT_VDSO,
	       __FIXADDR_TOP, fix_to_virt(FIX_VDSO));
	return pass;
}
