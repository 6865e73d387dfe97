/*
 * The native ("bare hardware") paravirt_ops: each operation is the privileged
 * instruction itself (abi.md §2.1; L2.6.20 arch/i386/kernel/paravirt.c).
 */
#include "paravirt.h"
#include "desc.h"
#include "mm.h"
#include "time.h"

const char *const paravirt_backend_names[] = { "native", "kvm", "xen", "vmi", "lguest" };

static u32 native_save_fl(void)
{
	u32 f;
	__asm__ volatile("pushfl; popl %0" : "=r"(f) : : "memory");
	return f;
}
static void native_restore_fl(u32 f) { __asm__ volatile("pushl %0; popfl" : : "g"(f) : "memory", "cc"); }
static void native_irq_disable(void) { __asm__ volatile("cli" : : : "memory"); }
static void native_irq_enable(void) { __asm__ volatile("sti" : : : "memory"); }
/* sti;hlt: the STI shadow means a wake-up cannot be lost (abi.md §5.2). */
static void native_safe_halt(void) { __asm__ volatile("sti; hlt" : : : "memory"); }
static void native_halt(void) { __asm__ volatile("hlt" : : : "memory"); }

void native_cpuid(u32 *eax, u32 *ebx, u32 *ecx, u32 *edx)
{
	__asm__ volatile("cpuid" : "=a"(*eax), "=b"(*ebx), "=c"(*ecx), "=d"(*edx) : "0"(*eax), "2"(*ecx));
}

static u32 native_read_cr0(void) { u32 v; __asm__ volatile("movl %%cr0,%0" : "=r"(v)); return v; }
static void native_write_cr0(u32 v) { __asm__ volatile("movl %0,%%cr0" : : "r"(v) : "memory"); }
static u32 native_read_cr2(void) { u32 v; __asm__ volatile("movl %%cr2,%0" : "=r"(v)); return v; }
static void native_write_cr2(u32 v) { __asm__ volatile("movl %0,%%cr2" : : "r"(v) : "memory"); }
static u32 native_read_cr3(void) { u32 v; __asm__ volatile("movl %%cr3,%0" : "=r"(v)); return v; }
static void native_write_cr3(u32 v) { __asm__ volatile("movl %0,%%cr3" : : "r"(v) : "memory"); }
static u32 native_read_cr4(void) { u32 v; __asm__ volatile("movl %%cr4,%0" : "=r"(v)); return v; }
static void native_write_cr4(u32 v) { __asm__ volatile("movl %0,%%cr4" : : "r"(v) : "memory"); }

static void native_load_gdt(const struct desc_ptr *d) { __asm__ volatile("lgdt %0" : : "m"(*d)); }
static void native_load_idt(const struct desc_ptr *d) { __asm__ volatile("lidt %0" : : "m"(*d)); }
static void native_load_tr_desc(void) { __asm__ volatile("ltr %w0" : : "q"(__TSS_SEL)); }

static void native_write_dt_entry(void *dt, int entry, u32 low, u32 high)
{
	u32 *p = (u32 *)dt + entry * 2;
	p[0] = low;
	p[1] = high;
}

static void native_set_ldt(const void *addr, u32 entries)
{
	if (!entries) {
		__asm__ volatile("lldt %w0" : : "q"(0));
		return;
	}
	u32 base = (u32)addr, limit = entries * 8 - 1;
	/* LDT system descriptor, type 2, present (SDM Vol.3 3.5). */
	u32 low = (base << 16) | (limit & 0xffff);
	u32 high = (base & 0xff000000) | ((base >> 16) & 0xff) | 0x8200 | (limit & 0xf0000);
	native_write_dt_entry(gdt_table, GDT_ENTRY_LDT, low, high);
	__asm__ volatile("lldt %w0" : : "q"(GDT_ENTRY_LDT * 8));
}

static void native_load_tls(const u64 *tls, u32 cpu)
{
	(void)cpu;
	for (int i = 0; i < 3; i++)
		native_write_dt_entry(gdt_table, GDT_ENTRY_TLS_MIN + i, (u32)tls[i], (u32)(tls[i] >> 32));
}

static void native_load_esp0(void *tss, u32 esp0) { ((struct tss_struct *)tss)->esp0 = esp0; }
static void native_wbinvd(void) { __asm__ volatile("wbinvd" : : : "memory"); }

/* rdmsr/wrmsr of an MSR the CPU lacks raise #GP; the exception table turns that
 * into *err = -EIO as Linux's rdmsr_safe does. */
u64 native_read_msr(u32 msr, int *err)
{
	u32 lo, hi;
	int e = 0;
	__asm__ volatile("1: rdmsr\n2:\n"
			 ".section .fixup,\"ax\"\n3: movl $-5,%2\n xorl %0,%0\n xorl %1,%1\n jmp 2b\n.previous\n"
			 ".section __ex_table,\"a\"\n .long 1b,3b\n.previous"
			 : "=a"(lo), "=d"(hi), "+r"(e)
			 : "c"(msr));
	if (err)
		*err = e;
	return ((u64)hi << 32) | lo;
}

int native_write_msr(u32 msr, u32 low, u32 high)
{
	int e = 0;
	__asm__ volatile("1: wrmsr\n2:\n"
			 ".section .fixup,\"ax\"\n3: movl $-5,%0\n jmp 2b\n.previous\n"
			 ".section __ex_table,\"a\"\n .long 1b,3b\n.previous"
			 : "+r"(e)
			 : "c"(msr), "a"(low), "d"(high)
			 : "memory");
	return e;
}

u64 native_read_tsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

static void native_clts(void) { __asm__ volatile("clts"); }

static void native_set_iopl_mask(u32 mask)
{
	u32 f = native_save_fl();
	native_restore_fl((f & ~0x3000u) | mask);
}

/* outb %al,$0x80 (abi.md §2.1). */
static void native_io_delay(void) { __asm__ volatile("outb %%al,$0x80" : : : "memory"); }

static void native_flush_tlb_user(void) { native_write_cr3(native_read_cr3()); }

/* Global entries survive a CR3 load; toggling CR4.PGE flushes them (abi.md §5.3). */
static void native_flush_tlb_kernel(void)
{
	u32 cr4 = native_read_cr4();
	if (cr4 & X86_CR4_PGE) {
		native_write_cr4(cr4 & ~X86_CR4_PGE);
		native_write_cr4(cr4);
	} else {
		native_flush_tlb_user();
	}
}

static void native_flush_tlb_single(u32 addr) { __asm__ volatile("invlpg (%0)" : : "r"(addr) : "memory"); }
static void paravirt_nop_pfn(u32 pfn) { (void)pfn; }
static void native_set_pte(u32 *ptep, u32 pte) { *(volatile u32 *)ptep = pte; }
static void native_set_pte_at(void *mm, u32 addr, u32 *ptep, u32 pte)
{
	(void)mm;
	(void)addr;
	*(volatile u32 *)ptep = pte;
}
static void native_set_pmd(u32 *pmdp, u32 pmd) { *(volatile u32 *)pmdp = pmd; }
static void native_pte_update(void *mm, u32 addr, u32 *ptep)
{
	(void)mm;
	(void)addr;
	(void)ptep;
}
static void native_set_lazy_mode(int mode) { (void)mode; }

static void native_startup(void) {}

static int reboot_via_port92_first;

static void kbc_reset(void)
{
	/* Wait for the 8042 input buffer (status bit 1) to drain, then pulse reset. */
	for (u32 i = 0; i < 0x10000 && (inb(0x64) & 0x02); i++)
		native_io_delay();
	outb(0xfe, 0x64);
}

static void port92_reset(void)
{
	/* System control port A bit 0: fast reset on a 0 -> 1 transition. */
	u8 v = inb(0x92);
	outb(v & ~1, 0x92);
	outb(v | 1, 0x92);
}

/*
 * Power-off: isa-debug-exit (QEMU -device isa-debug-exit,iobase=0xf4) ends the run
 * with status (code << 1) | 1.  Reboot: 8042 reset pulse, port 0x92, then a triple
 * fault (abi.md §5.10).
 */
static void __attribute__((noreturn)) native_shutdown(int how, int code)
{
	native_irq_disable();
	if (how == SHUTDOWN_REBOOT) {
		for (int attempt = 0; attempt < 2; attempt++) {
			if ((attempt == 0) == !reboot_via_port92_first)
				kbc_reset();
			else
				port92_reset();
			for (u32 i = 0; i < 100000; i++)
				native_io_delay();
		}
		struct desc_ptr none = { 0, 0 };
		native_load_idt(&none);
		__asm__ volatile("int3");
	}
	outb((u8)code, 0xf4);
	for (;;)
		native_halt();
}

void paravirt_set_reboot_port92_first(int v) { reboot_via_port92_first = v; }

struct paravirt_ops paravirt_ops;

void paravirt_init_native(void)
{
	static const struct paravirt_ops native = {
		.name = "bare hardware",
		.paravirt_enabled = 0,
		.kernel_rpl = 0,
		.iret = native_iret,
		.irq_enable_sysexit = native_irq_enable_sysexit,
		.backend = BACKEND_NATIVE,
		.startup = native_startup,
		.shutdown = native_shutdown,
		.reserve_top_address = reserve_top_address,
		.save_fl = native_save_fl,
		.restore_fl = native_restore_fl,
		.irq_disable = native_irq_disable,
		.irq_enable = native_irq_enable,
		.safe_halt = native_safe_halt,
		.halt = native_halt,
		.cpuid = native_cpuid,
		.read_cr0 = native_read_cr0,
		.write_cr0 = native_write_cr0,
		.read_cr2 = native_read_cr2,
		.write_cr2 = native_write_cr2,
		.read_cr3 = native_read_cr3,
		.write_cr3 = native_write_cr3,
		.read_cr4 = native_read_cr4,
		.write_cr4 = native_write_cr4,
		.load_gdt = native_load_gdt,
		.load_idt = native_load_idt,
		.load_tr_desc = native_load_tr_desc,
		.set_ldt = native_set_ldt,
		.write_gdt_entry = native_write_dt_entry,
		.write_idt_entry = native_write_dt_entry,
		.load_tls = native_load_tls,
		.load_esp0 = native_load_esp0,
		.wbinvd = native_wbinvd,
		.read_msr = native_read_msr,
		.write_msr = native_write_msr,
		.read_tsc = native_read_tsc,
		.clts = native_clts,
		.set_iopl_mask = native_set_iopl_mask,
		.io_delay = native_io_delay,
		.flush_tlb_user = native_flush_tlb_user,
		.flush_tlb_kernel = native_flush_tlb_kernel,
		.flush_tlb_single = native_flush_tlb_single,
		.alloc_pt = paravirt_nop_pfn,
		.release_pt = paravirt_nop_pfn,
		.set_pte = native_set_pte,
		.set_pte_at = native_set_pte_at,
		.set_pmd = native_set_pmd,
		.pte_update = native_pte_update,
		.set_lazy_mode = native_set_lazy_mode,
		.get_wallclock = native_get_wallclock,
		.sched_clock = native_sched_clock,
		.set_periodic = pit_set_periodic,
		.set_next_event = pit_set_next_event,
		.clockevent_shutdown = pit_shutdown,
		.apic_read = native_apic_read,
		.apic_write = native_apic_write,
	};
	paravirt_ops = native;
}

u32 paravirt_count_ops(u32 *missing)
{
	/* Every slot after `backend` is a pointer; count the NULL ones. */
	void *const *p = (void *const *)&paravirt_ops.startup;
	void *const *end = (void *const *)(&paravirt_ops + 1);
	u32 n = 0, m = 0;
	for (; p < end; p++, n++)
		if (!*p)
			m++;
	if (!paravirt_ops.iret)
		m++;
	if (!paravirt_ops.irq_enable_sysexit)
		m++;
	*missing = m;
	return n + 2;
}

void halt(void)
{
#if CONFIG_PARAVIRT
	paravirt_ops.safe_halt();
#else
	paravirt_ops.halt();
#endif
}
