/*
 * GDT/IDT/TSS setup through paravirt_ops (load_gdt, load_idt, load_tr_desc,
 * write_*_entry, load_esp0), trap dispatch with an exception table, and the 8259A
 * PIC.  Layout after Linux 2.6.20 include/asm-i386/segment.h, arch/i386/kernel/traps.c.
 */
#include "desc.h"
#include "paravirt.h"
#include "time.h"
#if CONFIG_XEN
#include "xen.h"
#endif
#if CONFIG_LGUEST_GUEST
#include "lguest/lguest.h"
#endif

u64 gdt_table[GDT_ENTRIES] __attribute__((aligned(32)));
static u64 idt_table[256] __attribute__((aligned(8)));
struct tss_struct init_tss __attribute__((aligned(128)));
struct fault_info last_fault;
struct user_kill last_kill;
volatile u32 irq_count[16];
volatile u32 apic_timer_count;
volatile u32 spurious_count;

/* Scratch stack for SYSENTER_ESP: sysenter_entry switches to TSS.esp0 at once. */
static u32 sysenter_scratch[16];
/* Kernel stack for traps and system calls from ring 3. */
static u8 process_kstack[8192] __attribute__((aligned(16)));

static u64 make_seg(u32 base, u32 limit, u32 type_dpl)
{
	/* type_dpl = access byte (P, DPL, S, type); flags G=1 D=1 for 4 GiB flat. */
	u32 lo = (base << 16) | (limit & 0xffff);
	u32 hi = (base & 0xff000000) | ((base >> 16) & 0xff) | (type_dpl << 8) | (limit & 0xf0000) |
		 0x00c00000;
	return ((u64)hi << 32) | lo;
}

static void set_gate(int vec, void *handler, u32 type_dpl)
{
	u32 off = (u32)handler;
	u32 lo = (__KERNEL_CS << 16) | (off & 0xffff);
	u32 hi = (off & 0xffff0000) | (type_dpl << 8);
	paravirt_ops.write_idt_entry(idt_table, vec, lo, hi);
}

void trap_init(void)
{
	gdt_table[GDT_ENTRY_KERNEL_CS] = make_seg(0, 0xfffff, 0x9a);
	gdt_table[GDT_ENTRY_KERNEL_DS] = make_seg(0, 0xfffff, 0x92);
	gdt_table[GDT_ENTRY_USER_CS] = make_seg(0, 0xfffff, 0xfa);
	gdt_table[GDT_ENTRY_USER_DS] = make_seg(0, 0xfffff, 0xf2);
	/* 32-bit available TSS (type 9), byte granular. */
	u32 tb = (u32)&init_tss, tl = sizeof(init_tss) - 1;
	u32 tss_lo = (tb << 16) | (tl & 0xffff);
	u32 tss_hi = (tb & 0xff000000) | ((tb >> 16) & 0xff) | 0x8900 | (tl & 0xf0000);
	paravirt_ops.write_gdt_entry(gdt_table, GDT_ENTRY_TSS, tss_lo, tss_hi);

	struct desc_ptr gdtr = { sizeof(gdt_table) - 1, (u32)gdt_table };
	paravirt_ops.load_gdt(&gdtr);
#if CONFIG_LGUEST_GUEST
	if (!lguest_pv) /* lguest: KEEP_SEGMENTS, the launcher's ring-1 segments stay */
#endif
#if CONFIG_XEN
	if (!xen_pv) /* a Xen guest keeps the flat ring-1 segments it was entered with */
#endif
	reload_segments();

	init_tss.ss0 = __KERNEL_DS;
	init_tss.io_bitmap_base = sizeof(init_tss); /* no I/O bitmap: ring 3 has no ports */
	paravirt_ops.load_esp0(&init_tss, (u32)process_kstack + sizeof(process_kstack));
	paravirt_ops.load_tr_desc();
	paravirt_ops.set_ldt(NULL, 0);

	for (int v = 0; v < 48; v++)
		set_gate(v, trap_stubs + 16 * v, 0x8e); /* interrupt gate, DPL 0 */
	set_gate(SYSCALL_VECTOR, system_call_entry, 0xef); /* trap gate, DPL 3 (set_system_gate) */
	set_gate(LOCAL_TIMER_VECTOR, apic_timer_entry, 0x8e);
	set_gate(SPURIOUS_APIC_VECTOR, spurious_entry, 0x8e);
	struct desc_ptr idtr = { sizeof(idt_table) - 1, (u32)idt_table };
	paravirt_ops.load_idt(&idtr);
}

void enable_sep_cpu(void)
{
	/* Linux 2.6.20 sysenter.c enable_sep_cpu: MSRs 0x174-0x176. */
	paravirt_ops.write_msr(0x174, __KERNEL_CS, 0);
	paravirt_ops.write_msr(0x175, (u32)(sysenter_scratch + ARRAY_SIZE(sysenter_scratch)), 0);
	paravirt_ops.write_msr(0x176, (u32)sysenter_entry, 0);
}

/* Linux-style exception table: (faulting instruction, fixup) pairs. */
struct exception_table_entry {
	u32 insn, fixup;
};
extern const struct exception_table_entry __start___ex_table[], __stop___ex_table[];

static u32 search_exception_table(u32 eip)
{
	for (const struct exception_table_entry *e = __start___ex_table; e < __stop___ex_table; e++)
		if (e->insn == eip)
			return e->fixup;
	return 0;
}

int probe_read32(u32 addr, u32 *out)
{
	int e = 0;
	u32 v = 0;
	__asm__ volatile("1: movl (%2),%0\n2:\n"
			 ".section .fixup,\"ax\"\n3: movl $-1,%1\n jmp 2b\n.previous\n"
			 ".section __ex_table,\"a\"\n .long 1b,3b\n.previous"
			 : "+r"(v), "+r"(e)
			 : "r"(addr)
			 : "memory");
	*out = v;
	return e;
}

int probe_write32(u32 addr, u32 val)
{
	int e = 0;
	__asm__ volatile("1: movl %2,(%1)\n2:\n"
			 ".section .fixup,\"ax\"\n3: movl $-1,%0\n jmp 2b\n.previous\n"
			 ".section __ex_table,\"a\"\n .long 1b,3b\n.previous"
			 : "+r"(e)
			 : "r"(addr), "r"(val)
			 : "memory");
	return e;
}

static const char *const trap_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS",
	"#GP", "#PF", "?15", "#MF", "#AC", "#MC", "#XM",
};

const char *trap_name(u32 vec)
{
	if (vec < 32 && trap_names[vec])
		return trap_names[vec];
	return "?";
}

static void handle_irq(u32 irq)
{
#if CONFIG_LGUEST_GUEST
	if (lguest_pv) { /* virtual IRQs: no 8259A to acknowledge */
		lguest_do_irq(irq);
		return;
	}
#endif
	if (irq == 7 || irq == 15) {
		/* Spurious 8259A interrupt: ISR bit clear (OCW3 0x0b reads ISR). */
		u16 port = irq == 7 ? 0x20 : 0xa0;
		outb(0x0b, port);
		if (!(inb(port) & 0x80)) {
			spurious_count++;
			if (irq == 15)
				outb(0x20, 0x20);
			return;
		}
	}
	irq_count[irq]++;
	if (irq == 0)
		timer_interrupt();
	if (irq >= 8)
		outb(0x20, 0xa0);
	outb(0x20, 0x20);
}

void do_trap(struct pt_regs *regs)
{
	u32 vec = regs->vector;
	if (vec == SYSCALL_VECTOR) {
		regs->eax = do_syscall(regs);
		return;
	}
	if (vec >= FIRST_EXTERNAL_VECTOR && vec < FIRST_EXTERNAL_VECTOR + 16) {
		handle_irq(vec - FIRST_EXTERNAL_VECTOR);
		return;
	}
	if (vec == LOCAL_TIMER_VECTOR) {
		apic_timer_count++;
		paravirt_ops.apic_write(APIC_EOI, 0);
		return;
	}
	if (vec == SPURIOUS_APIC_VECTOR) {
		spurious_count++; /* no EOI for the APIC spurious vector (SDM Vol.3 10.9) */
		return;
	}
	u32 cr2 = vec == 14 ? paravirt_ops.read_cr2() : 0;
	if ((regs->cs & 3) == 3) {
		last_kill.vector = vec;
		last_kill.error = regs->error;
		last_kill.cr2 = cr2;
		last_kill.eip = regs->eip;
		last_kill.esp = regs->esp;
		user_exit(RUN_KILLED | (int)vec);
	}
	u32 fixup = search_exception_table(regs->eip);
	if (fixup) {
		last_fault.vector = vec;
		last_fault.error = regs->error;
		last_fault.cr2 = cr2;
		last_fault.eip = regs->eip;
		last_fault.count++;
		regs->eip = fixup;
		return;
	}
	panic("unexpected trap %s (vector %u) in kernel at eip=0x%08x err=0x%x cr2=0x%08x eax=0x%08x",
	      trap_name(vec), vec, regs->eip, regs->error, cr2, regs->eax);
}

void pic_init(void)
{
#if CONFIG_XEN
	if (xen_pv) /* no 8259A: event channels */
		return;
#endif
#if CONFIG_LGUEST_GUEST
	if (lguest_pv) /* no 8259A: lguest_data.blocked_interrupts */
		return;
#endif
	/* ICW1-4: edge triggered, cascade, vectors 0x20/0x28, 8086 mode (8259A data sheet). */
	outb(0x11, 0x20);
	outb(0x11, 0xa0);
	outb(FIRST_EXTERNAL_VECTOR, 0x21);
	outb(FIRST_EXTERNAL_VECTOR + 8, 0xa1);
	outb(0x04, 0x21);
	outb(0x02, 0xa1);
	outb(0x01, 0x21);
	outb(0x01, 0xa1);
	outb(0xfb, 0x21); /* all masked but the cascade (IRQ2) */
	outb(0xff, 0xa1);
}

void pic_unmask(u32 irq)
{
#if CONFIG_LGUEST_GUEST
	if (lguest_pv) {
		lguest_irq_unmask(irq);
		return;
	}
#endif
#if CONFIG_XEN
	if (xen_pv) {
		xen_irq_unmask(irq);
		return;
	}
#endif
	u16 port = irq < 8 ? 0x21 : 0xa1;
	outb(inb(port) & ~(1u << (irq & 7)), port);
}

void pic_mask(u32 irq)
{
#if CONFIG_LGUEST_GUEST
	if (lguest_pv) {
		lguest_irq_mask(irq);
		return;
	}
#endif
#if CONFIG_XEN
	if (xen_pv) {
		xen_irq_mask(irq);
		return;
	}
#endif
	u16 port = irq < 8 ? 0x21 : 0xa1;
	outb(inb(port) | (1u << (irq & 7)), port);
}

u32 pic_read_irr(void)
{
#if CONFIG_LGUEST_GUEST
	if (lguest_pv) /* inferred from the clock event's deadline (lguest.c) */
		return lguest_irq_pending();
#endif
#if CONFIG_XEN
	if (xen_pv) /* "IRQ 0 pending" = the VIRQ_TIMER channel's pending bit */
		return xen_irq_pending();
#endif
	/* OCW3 0x0a selects IRR for the next read. */
	outb(0x0a, 0x20);
	outb(0x0a, 0xa0);
	return inb(0x20) | ((u32)inb(0xa0) << 8);
}
