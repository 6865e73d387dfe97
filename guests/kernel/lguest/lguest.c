/*
 * lguest paravirt_ops as Linux 2.6.23 arch/i386/lguest/lguest.c had them (2.6.24
 * arch/x86/lguest/boot.c for the 2.6.24 variant), from docs/abi/lguest.md:
 *   - irq ops are loads and stores of lguest_data.irq_enabled (no pending check on enable:
 *     the host notices at its next entry), safe_halt = LHCALL_HALT;
 *   - page tables are the guest's own, shadowed by the host: set_pte_at = store + SET_PTE,
 *     set_pmd = store + SET_PMD, set_pte = store + FLUSH_TLB(1), write_cr3 = NEW_PGTABLE,
 *     flush_tlb_single = SET_PTE(cr3, addr, 0); in lazy mode they go to the asynchronous
 *     ring, drained by the host before the next synchronous hypercall (FLUSH_ASYNC on
 *     leaving lazy mode);
 *   - LOAD_GDT (all 32 entries), LOAD_IDT_ENTRY per gate, LOAD_TLS, SET_STACK, TS;
 *   - time: the TSC at lguest_data.tsc_khz (jiffies when 0), the wall clock from
 *     GET_WALLCLOCK (2.6.23) or lguest_data.time (2.6.24), a one-shot clock event by
 *     SET_CLOCKEVENT (relative ns) on virtual IRQ 0, masked by blocked_interrupts;
 *   - console: hvc over SEND_DMA to the launcher (2.6.23) or NOTIFY (2.6.24 early console);
 *   - power-off and panic: LHCALL_CRASH; iret: lguest_iret (lguest_head.S).
 * Built into main.c's object (#include at its end) for the reason vmi/vmi.c gives.
 */
#include "../config.h"

#if CONFIG_LGUEST_GUEST
#include "lguest.h"
#include "../asm_offsets.h"
#include "../desc.h"
#include "../mm.h"
#include "../paravirt.h"
#include "../time.h"

extern char lguest_iret[], lguest_noirq_start[], lguest_noirq_end[];

struct lguest_data lguest_data = {
	.hcall_status = { [0 ... LHCALL_RING_SIZE - 1] = 0xff },
	.noirq_start = (u32)lguest_noirq_start,
	.noirq_end = (u32)lguest_noirq_end,
	.blocked_interrupts = { 1 }, /* the timer stays blocked until enabled */
#if defined(VARIANT_2_6_24)
	.kernel_address = 0, /* PAGE_OFFSET: this kernel runs identity mapped */
	.syscall_vec = SYSCALL_VECTOR,
#endif
};
int lguest_pv;

/* int $0x1f: EAX = call, EDX/EBX/ECX = arguments, result in EAX (§3). */
static u32 hcall(u32 call, u32 a1, u32 a2, u32 a3)
{
	__asm__ volatile("int $0x1f" : "+a"(call) : "d"(a1), "b"(a2), "c"(a3) : "memory");
	return call;
}

/* ---- irq: lguest_data.irq_enabled ---- */

static u32 lguest_save_fl(void) { return lguest_data.irq_enabled; }
static void lguest_restore_fl(u32 flags) { lguest_data.irq_enabled = flags; }
static void lguest_irq_disable(void) { lguest_data.irq_enabled = 0; }
static void lguest_irq_enable(void) { lguest_data.irq_enabled = X86_EFLAGS_IF; }
/* The host wakes us when an unblocked IRQ is pending and sets irq_enabled (an implicit sti). */
static void lguest_safe_halt(void) { hcall(LHCALL_HALT, 0, 0, 0); }

/* ---- the asynchronous ring (§5.3) ---- */

static int lazy_mode;

static void async_hcall(u32 call, u32 a1, u32 a2, u32 a3)
{
	static u32 next_call;
	/* No interrupt handler may queue a call while this one is half written. */
	u32 flags = lguest_save_fl();
	lguest_irq_disable();
	if (lguest_data.hcall_status[next_call] != 0xff) {
		hcall(call, a1, a2, a3); /* ring full: a synchronous call drains it */
	} else {
		struct hcall_ring_entry *e = &lguest_data.hcalls[next_call];
		e->eax = call;
		e->edx = a1;
		e->ebx = a2;
		e->ecx = a3;
		barrier(); /* arguments before the status that hands the entry over */
		lguest_data.hcall_status[next_call] = 0;
		if (++next_call == LHCALL_RING_SIZE)
			next_call = 0;
	}
	lguest_restore_fl(flags);
}

static void lazy_hcall(u32 call, u32 a1, u32 a2, u32 a3)
{
	if (lazy_mode == PARAVIRT_LAZY_NONE)
		hcall(call, a1, a2, a3);
	else
		async_hcall(call, a1, a2, a3);
}

static void lguest_set_lazy_mode(int mode)
{
	if (mode == PARAVIRT_LAZY_FLUSH) {
		if (lazy_mode != PARAVIRT_LAZY_NONE)
			hcall(LHCALL_FLUSH_ASYNC, 0, 0, 0);
		return;
	}
	lazy_mode = mode;
	if (mode == PARAVIRT_LAZY_NONE)
		hcall(LHCALL_FLUSH_ASYNC, 0, 0, 0);
}

/* ---- cpu ---- */

/* Leaf 1: only the features the host supports (SEP, TSC, APIC, PSE hidden); PGE is
 * claimed so that the kernel flushes user mappings alone (§6; reference §5.7). */
static void lguest_cpuid(u32 *eax, u32 *ebx, u32 *ecx, u32 *edx)
{
	u32 leaf = *eax;
	native_cpuid(eax, ebx, ecx, edx);
	if (leaf == 1) {
		*ecx &= 0x00002201;
		*edx &= 0x07808101;
		*edx |= 0x00002000;
	} else if (leaf == 0x80000000 && *eax > 0x80000008) {
		*eax = 0x80000008;
	}
}

static u32 current_cr0, current_cr3;

static u32 lguest_read_cr0(void) { return current_cr0; }
/* Only CR0.TS reaches the host. */
static void lguest_write_cr0(u32 v)
{
	lazy_hcall(LHCALL_TS, v & 8, 0, 0);
	current_cr0 = v;
}
static void lguest_clts(void)
{
	lazy_hcall(LHCALL_TS, 0, 0, 0);
	current_cr0 &= ~8u;
}
static u32 lguest_read_cr2(void) { return lguest_data.cr2; }
/* Modelling choice: 2.6.23 left write_cr2 native (a #GP in ring 1; no 2.6.23 code path
 * writes CR2); here it sets the copy read_cr2 returns. */
static void lguest_write_cr2(u32 v) { lguest_data.cr2 = v; }
static u32 lguest_read_cr3(void) { return current_cr3; }
static void lguest_write_cr3(u32 cr3)
{
	current_cr3 = cr3;
	lazy_hcall(LHCALL_NEW_PGTABLE, cr3, 0, 0);
}
/* CR4 (PGE, PSE) is the host's business: reads 0, writes ignored. */
static u32 lguest_read_cr4(void) { return 0; }
static void lguest_write_cr4(u32 v) { (void)v; }

/* The host takes the whole GDT (GDT_ENTRIES = 32) by physical address and keeps its own
 * TSS and segments; a changed entry means loading it again. */
static void lguest_load_gdt(const struct desc_ptr *d)
{
	if ((d->size + 1u) / 8u != GDT_ENTRIES)
		panic("lguest: GDT of %u entries, the host takes %u", (d->size + 1u) / 8u, GDT_ENTRIES);
	hcall(LHCALL_LOAD_GDT, d->address, GDT_ENTRIES, 0);
}

static void lguest_write_gdt_entry(void *dt, int entry, u32 low, u32 high)
{
	u32 *p = (u32 *)dt + entry * 2;
	p[0] = low;
	p[1] = high;
	hcall(LHCALL_LOAD_GDT, (u32)dt, GDT_ENTRIES, 0);
}

/* Each gate separately; the host forces its own CS and ignores vectors it owns. */
static void lguest_load_idt(const struct desc_ptr *d)
{
	const u32 *g = (const u32 *)d->address;
	for (u32 i = 0; i < (d->size + 1u) / 8u; i++)
		hcall(LHCALL_LOAD_IDT_ENTRY, i, g[2 * i], g[2 * i + 1]);
}

static void lguest_write_idt_entry(void *dt, int entry, u32 low, u32 high)
{
	u32 *p = (u32 *)dt + entry * 2;
	p[0] = low;
	p[1] = high;
	hcall(LHCALL_LOAD_IDT_ENTRY, (u32)entry, low, high);
}

/* The host copies the three TLS descriptors into its GDT; the guest's own table is not
 * what the CPU uses (scenario_boot checks the host's copy with lar). */
static void lguest_load_tls(const u64 *tls, u32 cpu) { lazy_hcall(LHCALL_LOAD_TLS, (u32)tls, cpu, 0); }

/* The ring-1 stack for traps from ring 3: selector with RPL 1, top, pages. */
static void lguest_load_esp0(void *tss, u32 esp0)
{
	((struct tss_struct *)tss)->esp0 = esp0;
	lazy_hcall(LHCALL_SET_STACK, __KERNEL_DS | 1, esp0, 2);
}

/* No LDT, no task register, no cache control and no port delays for a guest. */
static void lguest_set_ldt(const void *addr, u32 entries)
{
	(void)addr;
	(void)entries;
}
static void lguest_nop(void) {}

static u32 lguest_apic_read(u32 reg)
{
	(void)reg;
	return 0;
}
static void lguest_apic_write(u32 reg, u32 v)
{
	(void)reg;
	(void)v;
}

/* ---- mmu: the host's shadow tables (§6) ---- */

static void lguest_flush_tlb_user(void) { lazy_hcall(LHCALL_FLUSH_TLB, 0, 0, 0); }
static void lguest_flush_tlb_kernel(void) { lazy_hcall(LHCALL_FLUSH_TLB, 1, 0, 0); }
/* Zero the shadow entry; if the mapping is still there it faults back in. */
static void lguest_flush_tlb_single(u32 addr) { lazy_hcall(LHCALL_SET_PTE, current_cr3, addr, 0); }

/* This kernel has one address space, swapper_pg_dir (mm is always NULL here). */
static void lguest_set_pte_at(void *mm, u32 addr, u32 *ptep, u32 pte)
{
	(void)mm;
	*ptep = pte;
	lazy_hcall(LHCALL_SET_PTE, (u32)swapper_pg_dir, addr, pte);
}

/* The guest wrote the entry itself: announce it like set_pte_at.  Whether 2.6.23/2.6.24 hooked
 * pte_update (rather than leaving the native no-op, visible to the host at the next flush)
 * is UNVERIFIED here (docs/abi/lguest.md §6). */
static void lguest_pte_update(void *mm, u32 addr, u32 *ptep)
{
	(void)mm;
	lazy_hcall(LHCALL_SET_PTE, (u32)swapper_pg_dir, addr, *ptep);
}

static void lguest_set_pmd(u32 *pmdp, u32 pmd)
{
	*pmdp = pmd;
	lazy_hcall(LHCALL_SET_PMD, (u32)pmdp & PAGE_MASK, ((u32)pmdp & ~PAGE_MASK) / 4, 0);
}

/* No address to name: the host drops every shadow entry once page tables are live. */
static void lguest_set_pte(u32 *ptep, u32 pte)
{
	*ptep = pte;
	if (current_cr3)
		lazy_hcall(LHCALL_FLUSH_TLB, 1, 0, 0);
}

/* ---- time ---- */

static u64 tsc_base;

static u64 lguest_sched_clock(void)
{
	u32 khz = lguest_data.tsc_khz;
	if (!khz)
		return (u64)jiffies * (1000000000u / HZ);
	u64 cyc = native_read_tsc() - tsc_base;
	u32 rem;
	u64 ms = div64_u32(cyc, khz, &rem);
	return ms * 1000000u + div64_u32((u64)rem * 1000000u, khz, NULL);
}

static u32 lguest_get_wallclock(void)
{
#if defined(VARIANT_2_6_24)
	return lguest_data.time.tv_sec;
#else
	return hcall(LHCALL_GET_WALLCLOCK, 0, 0, 0);
#endif
}

/*
 * The clock event is one-shot only (periodic mode is a BUG() in Linux); a periodic request
 * is re-armed from the interrupt as the tick layer does.  Deltas below LG_CLOCK_MIN_DELTA
 * are raised to it, as clockevents_program_event clamps to min_delta_ns.
 */
static u64 deadline, period_ns;

static void program(u64 delta)
{
	if (delta < LG_CLOCK_MIN_DELTA)
		delta = LG_CLOCK_MIN_DELTA;
	if (delta > 0xffffffffull)
		delta = 0xffffffffull;
	deadline = lguest_sched_clock() + delta;
	hcall(LHCALL_SET_CLOCKEVENT, (u32)delta, 0, 0);
}

static void lguest_set_next_event(u32 delta_ns)
{
	period_ns = 0;
	program(delta_ns);
}

static void lguest_set_periodic(u32 hz)
{
	period_ns = 1000000000u / hz;
	program(period_ns);
}

static void lguest_clockevent_shutdown(void)
{
	deadline = period_ns = 0;
	hcall(LHCALL_SET_CLOCKEVENT, 0, 0, 0); /* 0 cancels */
}

/* Virtual IRQs arrive at 0x20 + irq; there is no interrupt controller to acknowledge. */
void lguest_do_irq(u32 irq)
{
	irq_count[irq]++;
	if (irq != 0)
		return;
	timer_interrupt();
	if (period_ns) {
		u64 now = lguest_sched_clock(), next = deadline + period_ns;
		program(next > now ? next - now : LG_CLOCK_MIN_DELTA);
	} else {
		deadline = 0;
	}
}

void lguest_irq_mask(u32 irq) { lguest_data.blocked_interrupts[irq / 32] |= 1u << (irq % 32); }
void lguest_irq_unmask(u32 irq) { lguest_data.blocked_interrupts[irq / 32] &= ~(1u << (irq % 32)); }

/*
 * The host keeps the pending bitmap to itself (struct lguest, not lguest_data), so "IRQ 0
 * pending" is inferred: the one-shot's deadline has passed on the clock the host also
 * counts.  The slack covers the host rounding ns to its own timer granularity.
 */
#define LGUEST_PENDING_SLACK_NS 1000
u32 lguest_irq_pending(void)
{
	return deadline && lguest_data.tsc_khz &&
	       lguest_sched_clock() >= deadline + LGUEST_PENDING_SLACK_NS;
}

/* ---- console (§7) ---- */

#if defined(VARIANT_2_6_24)
/* NOTIFY with the address of a NUL-terminated string: the launcher prints it. */
void lguest_console_write(const char *s, size_t n)
{
	static char buf[257];
	while (n) {
		size_t k = n < sizeof(buf) - 1 ? n : sizeof(buf) - 1;
		memcpy(buf, s, k);
		buf[k] = 0;
		hcall(LHCALL_NOTIFY, (u32)buf, 0, 0);
		s += k;
		n -= k;
	}
}
#else
/* hvc over DMA to the launcher's console key: one section, used_len written back. */
static struct {
	u32 used_len;
	u32 addr[LGUEST_MAX_DMA_SECTIONS];
	u16 len[LGUEST_MAX_DMA_SECTIONS];
} console_dma;

void lguest_console_write(const char *s, size_t n)
{
	while (n) {
		u32 k = n < 0xffff ? (u32)n : 0xffff;
		console_dma.used_len = 0;
		console_dma.addr[0] = (u32)s;
		console_dma.len[0] = (u16)k;
		console_dma.len[1] = 0;
		hcall(LHCALL_SEND_DMA, LGUEST_CONSOLE_DMA_KEY, (u32)&console_dma, 0);
		s += k;
		n -= k;
	}
}
#endif

/* ---- shutdown ---- */

/* Power-off and panic are both LHCALL_CRASH with a message; there is no reboot call, so a
 * reboot request ends the same way, with its own message (§3: the host kills the guest). */
static void __attribute__((noreturn)) lguest_shutdown(int how, int code)
{
	const char *msg = how == SHUTDOWN_REBOOT ? "Restart requested: lguest has no reboot" :
			  code == EXIT_PANIC	    ? "Kernel panic" :
						      "Power down";
	for (;;)
		hcall(LHCALL_CRASH, (u32)msg, 0, 0);
}

/* ---- boot ---- */

/* The launcher's boot_params: command line pointer at 0x228 (setup header). */
void __attribute__((used)) lguest_init(u32 boot_params)
{
	lguest_pv = 1;
	u32 cmd = *(const u32 *)(boot_params + 0x228);
	if (cmd)
		cmdline_set((const char *)cmd);
}

/* The host reserves its Switcher at the top (reserve_mem); time starts at the first read. */
static void lguest_startup(void)
{
	paravirt_ops.reserve_top_address(lguest_data.reserve_mem);
	tsc_base = native_read_tsc();
	tsc_khz = lguest_data.tsc_khz;
	printk("lguest: %s ABI, reserve_mem 0x%x, tsc_khz %u, noirq 0x%08x-0x%08x\n", VARIANT_NAME,
	       lguest_data.reserve_mem, lguest_data.tsc_khz, lguest_data.noirq_start,
	       lguest_data.noirq_end);
}

/* lar reads the descriptor the CPU uses, i.e. the host's copy: TLS entry 6 as scenario_boot
 * loads it (DPL 3 data, accessed). */
int lguest_tls_installed(void)
{
	u32 ar = 0, zf = 0;
	__asm__ volatile("larl %2,%0; setz %b1" : "=r"(ar), "+q"(zf) : "r"((u32)(GDT_ENTRY_TLS_MIN * 8 + 3)));
	return zf && (ar & 0xff00) == 0xf300;
}

void lguest_init_paravirt_ops(void)
{
	paravirt_ops.name = "lguest";
	paravirt_ops.paravirt_enabled = 1;
	paravirt_ops.kernel_rpl = 1;
	paravirt_ops.backend = BACKEND_LGUEST;
	paravirt_ops.iret = lguest_iret;
	paravirt_ops.startup = lguest_startup;
	paravirt_ops.shutdown = lguest_shutdown;
	paravirt_ops.save_fl = lguest_save_fl;
	paravirt_ops.restore_fl = lguest_restore_fl;
	paravirt_ops.irq_disable = lguest_irq_disable;
	paravirt_ops.irq_enable = lguest_irq_enable;
	paravirt_ops.safe_halt = lguest_safe_halt;
	paravirt_ops.halt = lguest_safe_halt; /* hlt would #GP in ring 1 */
	paravirt_ops.cpuid = lguest_cpuid;
	paravirt_ops.read_cr0 = lguest_read_cr0;
	paravirt_ops.write_cr0 = lguest_write_cr0;
	paravirt_ops.read_cr2 = lguest_read_cr2;
	paravirt_ops.write_cr2 = lguest_write_cr2;
	paravirt_ops.read_cr3 = lguest_read_cr3;
	paravirt_ops.write_cr3 = lguest_write_cr3;
	paravirt_ops.read_cr4 = lguest_read_cr4;
	paravirt_ops.write_cr4 = lguest_write_cr4;
	paravirt_ops.load_gdt = lguest_load_gdt;
	paravirt_ops.load_idt = lguest_load_idt;
	paravirt_ops.load_tr_desc = lguest_nop;
	paravirt_ops.set_ldt = lguest_set_ldt;
	paravirt_ops.write_gdt_entry = lguest_write_gdt_entry;
	paravirt_ops.write_idt_entry = lguest_write_idt_entry;
	paravirt_ops.load_tls = lguest_load_tls;
	paravirt_ops.load_esp0 = lguest_load_esp0;
	paravirt_ops.wbinvd = lguest_nop;
	paravirt_ops.clts = lguest_clts;
	paravirt_ops.io_delay = lguest_nop;
	paravirt_ops.flush_tlb_user = lguest_flush_tlb_user;
	paravirt_ops.flush_tlb_kernel = lguest_flush_tlb_kernel;
	paravirt_ops.flush_tlb_single = lguest_flush_tlb_single;
	paravirt_ops.set_pte = lguest_set_pte;
	paravirt_ops.set_pte_at = lguest_set_pte_at;
	paravirt_ops.set_pmd = lguest_set_pmd;
	paravirt_ops.pte_update = lguest_pte_update;
	paravirt_ops.set_lazy_mode = lguest_set_lazy_mode;
	paravirt_ops.get_wallclock = lguest_get_wallclock;
	paravirt_ops.sched_clock = lguest_sched_clock;
	paravirt_ops.set_periodic = lguest_set_periodic;
	paravirt_ops.set_next_event = lguest_set_next_event;
	paravirt_ops.clockevent_shutdown = lguest_clockevent_shutdown;
	paravirt_ops.apic_read = lguest_apic_read;
	paravirt_ops.apic_write = lguest_apic_write;
}
#endif
