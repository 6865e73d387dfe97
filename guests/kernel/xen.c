/*
 * Xen PV paravirt_ops as Linux 2.6.23/2.6.24 arch/i386/xen had them (enlighten.c, mmu.c,
 * time.c, events.c, hvc_xen.c), written from Xen 3.1's public headers
 * (guests/xenabi/xen_abi.h, xen.h here) and docs/abi/xen.md:
 *   - irq ops on vcpu_info.evtchn_upcall_mask (+ a hypercall to get pending events
 *     delivered when unmasking), safe_halt = SCHEDOP_block (unmasks events itself),
 *     halt with events masked = VCPUOP_down (2.6.23 xen_halt);
 *   - write_cr3 = MMUEXT_NEW_BASEPTR of a machine frame (first one pins the table),
 *     set_pmd = mmu_update, set_pte = a direct write (writable page tables, a required
 *     feature of 2.6.23), set_pte_at = update_va_mapping, lazy MMU batches mmu_update,
 *     TLB flushes = mmuext, alloc_pt/release_pt = read-only/writable mappings;
 *   - load_gdt = set_gdt, load_idt / write_idt_entry = set_trap_table, load_tls /
 *     write_gdt_entry = update_descriptor, load_esp0 = stack_switch, set_ldt = mmuext
 *     SET_LDT, clts/write_cr0 TS = fpu_taskswitch, set_iopl_mask = physdev set_iopl,
 *     cpuid through the forced-emulation prefix with Linux's feature masks;
 *   - time from vcpu_time_info (ns) and the shared_info wall clock; clock events:
 *     VCPUOP_set_singleshot_timer when VCPUOP_stop_periodic_timer works, else
 *     set_timer_op (Xen < 3.1), on the VIRQ_TIMER channel from EVTCHNOP_bind_virq;
 *   - console on the console ring (notify its event channel) and console_io;
 *   - shutdown = SCHEDOP_shutdown (poweroff, reboot, crash for a panic).
 * Only compiled into CONFIG_XEN variants (guests/build.ts features: "xen").
 *
 * Why this file is long: every Xen paravirt_op of the model is here, one section per op
 * group (console, irq, events, time, cpu, descriptor tables, mmu, shutdown), so the
 * common kernel only gains #if CONFIG_XEN hooks and no Xen code.
 */
#include "xen.h"

#if CONFIG_XEN
#include "boot.h"
#include "desc.h"
#include "mm.h"
#include "paravirt.h"
#include "time.h"

extern char hypercall_page[];
extern char xen_iret[], xen_irq_enable_sysexit[], xen_hypervisor_callback[],
	xen_failsafe_callback[];

int xen_pv;
struct start_info *xen_start_info;
u32 xen_nr_pages;
static u32 *p2m;                     /* start_info.mfn_list: pfn -> mfn */
static const u32 *const m2p = (const u32 *)HYPERVISOR_VIRT_START_NONPAE; /* Xen's M2P */
static volatile struct shared_info *shinfo;
static volatile struct vcpu_info *vcpu;
static volatile struct xencons_interface *cons;
static u32 cons_port;
static u32 timer_port = NR_EVENT_CHANNELS;
static int page_filled;
/* The page shared_info is mapped at (a machine frame outside the P2M: Linux's
 * FIX_PARAVIRT_BOOTMAP role). */
static u8 shinfo_page[4096] __attribute__((aligned(4096)));

/* EAX = number, EBX..EDI = arguments, result in EAX (negative errno): a call into the
 * hypercall page, slot nr (32 bytes each), or legacy int $0x82 before the page is known
 * to be filled. */
#define HC(nr, a1, a2, a3, a4, a5)                                                              \
	({                                                                                      \
		long r_;                                                                        \
		u32 b_ = (u32)(a1), c_ = (u32)(a2), d_ = (u32)(a3), S_ = (u32)(a4), D_ = (u32)(a5); \
		if (page_filled)                                                                \
			__asm__ volatile("call hypercall_page+%c[off]"                          \
					 : "=a"(r_), "+b"(b_), "+c"(c_), "+d"(d_), "+S"(S_), "+D"(D_) \
					 : [off] "i"((nr) * 32), "0"(nr)                        \
					 : "memory");                                           \
		else                                                                            \
			__asm__ volatile("int $0x82"                                            \
					 : "=a"(r_), "+b"(b_), "+c"(c_), "+d"(d_), "+S"(S_), "+D"(D_) \
					 : "0"(nr)                                              \
					 : "memory");                                           \
		r_;                                                                             \
	})
#define HC1(nr, a) HC(nr, a, 0, 0, 0, 0)
#define HC2(nr, a, b) HC(nr, a, b, 0, 0, 0)
#define HC3(nr, a, b, c) HC(nr, a, b, c, 0, 0)
#define HC4(nr, a, b, c, d) HC(nr, a, b, c, d, 0)

static inline u32 pfn_to_mfn(u32 pfn) { return pfn < xen_nr_pages ? p2m[pfn] : 0; }
static inline u32 virt_to_machine(const void *p)
{
	return (pfn_to_mfn((u32)p >> 12) << 12) | ((u32)p & 0xfff);
}

u32 xen_pte_phys(u32 pte)
{
	if (!xen_pv)
		return pte & PAGE_MASK;
	return m2p[pte >> 12] << 12;
}

/* Machine PTE for a pseudo-physical one (Linux pte_val_ma / make_pte). */
static u32 pte_to_machine(u32 pte)
{
	if (!(pte & _PAGE_PRESENT))
		return pte;
	return (pfn_to_mfn(pte >> 12) << 12) | (pte & ~PAGE_MASK);
}

u32 xen_pte_ma(u32 pte) { return xen_pv ? pte_to_machine(pte) : pte; }

/* Event-channel op: the new call (32), else the compat one (16) with the same struct
 * behind a command word (2.6.23 HYPERVISOR_event_channel_op). */
static long evtchn_op(u32 cmd, void *arg, u32 size)
{
	long r = HC2(HYPERVISOR_event_channel_op, cmd, arg);
	if (r == -XEN_ENOSYS) {
		struct evtchn_op op;
		op.cmd = cmd;
		memcpy(&op.u, arg, size);
		r = HC1(HYPERVISOR_event_channel_op_compat, &op);
		memcpy(arg, &op.u, size);
	}
	return r;
}

static long sched_op(u32 cmd, void *arg) { return HC2(HYPERVISOR_sched_op, cmd, arg); }

static void notify(u32 port)
{
	struct evtchn_send s = { port };
	evtchn_op(EVTCHNOP_send, &s, sizeof(s));
}

/* ---- console: the ring of io/console.h, and console_io as a fallback ---- */

void xen_console_write(const char *s, size_t n)
{
	if (!cons) {
		HC3(HYPERVISOR_console_io, CONSOLEIO_write, n, s);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		for (int tries = 0; cons->out_prod - cons->out_cons >= sizeof(cons->out) && tries < 1000;
		     tries++) {
			notify(cons_port);
			sched_op(SCHEDOP_yield, NULL);
		}
		if (cons->out_prod - cons->out_cons >= sizeof(cons->out))
			return; /* nobody consumes: drop rather than hang */
		u32 prod = cons->out_prod;
		cons->out[XENCONS_OUT_MASK(prod)] = s[i];
		barrier(); /* data before the index (x86 stores are ordered) */
		cons->out_prod = prod + 1;
	}
	notify(cons_port);
}

static void __attribute__((noreturn)) xen_shutdown_reason(u32 reason)
{
	struct sched_shutdown s = { reason };
	for (;;) {
		if (sched_op(SCHEDOP_shutdown, &s) == -XEN_ENOSYS)
			HC2(HYPERVISOR_sched_op_compat, SCHEDOP_shutdown, reason);
		HC2(HYPERVISOR_sched_op_compat, SCHEDOP_yield, 0);
	}
}

void __attribute__((used)) xen_failsafe(void)
{
	printk("Xen: failsafe callback (segment reload failed)\n");
	xen_shutdown_reason(SHUTDOWN_crash);
}

void __attribute__((used, noreturn)) xen_sysexit_unreachable(void)
{
	panic("Xen: sysexit in ring 1");
}

static u32 find_pfn(u32 mfn)
{
	for (u32 pfn = 0; pfn < xen_nr_pages; pfn++)
		if (p2m[pfn] == mfn)
			return pfn;
	return 0;
}

/*
 * Before anything else under startup_xen: no port I/O in ring 1, so the console and the
 * command line come from start_info.  A hypercall page the builder left empty (Xen
 * 3.0.0 fills none) means this kernel cannot run: it says why through legacy int $0x82
 * (console_io and the console ring) and crashes the domain.
 */
void xen_early_init(u32 start_info_va)
{
	xen_pv = 1;
	xen_start_info = (struct start_info *)start_info_va;
	xen_nr_pages = xen_start_info->nr_pages;
	p2m = (u32 *)xen_start_info->mfn_list;
	/* The builder writes `mov $nr,%eax` (0xB8) at the start of each slot. */
	page_filled = (u8)hypercall_page[HYPERVISOR_xen_version * 32] == 0xb8;
	u32 cpfn = find_pfn(xen_start_info->console.domU.mfn);
	if (cpfn)
		cons = (volatile struct xencons_interface *)(cpfn << 12);
	cons_port = xen_start_info->console.domU.evtchn;
	cmdline_set((const char *)xen_start_info->cmd_line);
	if (!page_filled) {
		printk("Xen: the hypercall page at 0x%08x was not filled by the domain builder: "
		       "this kernel (%s) requires XEN_ELFNOTE_HYPERCALL_PAGE support (Xen >= 3.0.2); "
		       "cannot continue\n",
		       (u32)hypercall_page, VARIANT_NAME);
		xen_shutdown_reason(SHUTDOWN_crash);
	}
	/* shared_info: a machine frame outside the P2M, mapped at our own page. */
	HC4(HYPERVISOR_update_va_mapping, (u32)shinfo_page,
	    xen_start_info->shared_info | PAGE_KERNEL_FLAGS, 0, UVMF_INVLPG);
	shinfo = (volatile struct shared_info *)shinfo_page;
	vcpu = &shinfo->vcpu_info[0];
}

/* ---- irq: the event-channel upcall mask in vcpu_info (2.6.23 enlighten.c) ---- */

/* A hypercall returns through Xen's event check: pending events are delivered. */
static void force_evtchn_callback(void) { HC2(HYPERVISOR_xen_version, 0, 0); }

static u32 xen_save_fl(void) { return vcpu->evtchn_upcall_mask ? 0 : X86_EFLAGS_IF; }

static void xen_restore_fl(u32 flags)
{
	vcpu->evtchn_upcall_mask = !(flags & X86_EFLAGS_IF);
	barrier();
	if ((flags & X86_EFLAGS_IF) && vcpu->evtchn_upcall_pending)
		force_evtchn_callback();
}

static void xen_irq_disable(void)
{
	vcpu->evtchn_upcall_mask = 1;
	barrier();
}

static void xen_irq_enable(void)
{
	vcpu->evtchn_upcall_mask = 0;
	barrier(); /* unmask, then check for anything that arrived meanwhile */
	if (vcpu->evtchn_upcall_pending)
		force_evtchn_callback();
}

/* SCHEDOP_block clears the upcall mask itself before blocking: like sti;hlt, no
 * wake-up is lost, and events are enabled afterwards. */
static void xen_safe_halt(void)
{
	if (sched_op(SCHEDOP_block, NULL) != 0)
		panic("Xen: SCHEDOP_block failed");
}

/* 2.6.23 xen_halt: with events masked a halt can never wake, so the vCPU goes down. */
static void xen_halt(void)
{
	if (vcpu->evtchn_upcall_mask)
		HC3(HYPERVISOR_vcpu_op, VCPUOP_down, 0, 0);
	else
		xen_safe_halt();
}

/* ---- events ---- */

static volatile u32 stray_timer_events;
static void xen_timer_event(void);

void xen_evtchn_do_upcall(struct pt_regs *regs)
{
	(void)regs;
	do {
		vcpu->evtchn_upcall_pending = 0;
		u32 sel;
		__asm__ volatile("xchgl %0,%1" : "=r"(sel), "+m"(vcpu->evtchn_pending_sel) : "0"(0u));
		while (sel) {
			u32 w = (u32)__builtin_ctz(sel);
			sel &= sel - 1;
			u32 bits = shinfo->evtchn_pending[w] & ~shinfo->evtchn_mask[w];
			while (bits) {
				u32 b = (u32)__builtin_ctz(bits);
				bits &= bits - 1;
				__asm__ volatile("lock btrl %1,%0" : "+m"(shinfo->evtchn_pending[w]) : "r"(b));
				if (w * 32 + b == timer_port)
					xen_timer_event();
			}
		}
	} while (vcpu->evtchn_upcall_pending);
}

/* The scenarios' "IRQ 0" is the VIRQ_TIMER channel: mask/unmask/pending bits. */
void xen_irq_mask(u32 irq)
{
	if (irq == 0 && timer_port < NR_EVENT_CHANNELS)
		__asm__ volatile("lock btsl %1,%0" : "+m"(shinfo->evtchn_mask[0]) : "r"(timer_port));
}

void xen_irq_unmask(u32 irq)
{
	if (irq != 0 || timer_port >= NR_EVENT_CHANNELS)
		return;
	struct evtchn_unmask u = { timer_port };
	evtchn_op(EVTCHNOP_unmask, &u, sizeof(u));
}

u32 xen_irq_pending(void)
{
	if (timer_port >= NR_EVENT_CHANNELS)
		return 0;
	return (shinfo->evtchn_pending[timer_port / 32] >> (timer_port % 32)) & 1;
}

/* ---- time: vcpu_time_info and the wall clock (2.6.23 xen/time.c) ---- */

static u64 xen_clocksource_read(void)
{
	volatile struct vcpu_time_info *t = &vcpu->time;
	u32 ver;
	u64 ns;
	do {
		ver = t->version;
		barrier();
		u64 delta = native_read_tsc() - t->tsc_timestamp;
		s8 shift = t->tsc_shift;
		delta = shift < 0 ? delta >> -shift : delta << shift;
		u32 mul = t->tsc_to_system_mul;
		/* (delta * mul) >> 32 without a 128-bit product */
		ns = t->system_time + ((((u64)(u32)delta * mul) >> 32) + (delta >> 32) * mul);
		barrier();
	} while ((ver & 1) || ver != t->version);
	return ns;
}

static u64 boot_ns;
static u64 xen_sched_clock(void) { return xen_clocksource_read() - boot_ns; }

static u32 xen_get_wallclock(void)
{
	u32 ver, sec, nsec;
	do {
		ver = shinfo->wc_version;
		barrier();
		sec = shinfo->wc_sec;
		nsec = shinfo->wc_nsec;
		barrier();
	} while ((ver & 1) || ver != shinfo->wc_version);
	u32 rem;
	u64 up = div64_u32(xen_clocksource_read() + nsec, 1000000000u, &rem);
	return sec + (u32)up;
}

/*
 * Clock events.  2.6.23 picks the interface once: VCPUOP_stop_periodic_timer succeeding
 * means the VCPUOP timers exist (Xen >= 3.1) and the default 100 Hz tick is off; else
 * set_timer_op (absolute ns) and the 100 Hz VIRQ_TIMER keeps coming.  Linux's clockevent
 * is one-shot only; a periodic request is re-armed from the handler, as the tick layer
 * does.  An event before the programmed deadline (the unrequested tick) is counted,
 * not delivered.
 */
static int use_vcpuop;
static u64 deadline;      /* absolute Xen ns, 0 = disarmed */
static u64 period_ns;     /* non-zero: periodic emulation */
static u32 singleshot_enosys;
#define XEN_TIMER_SLOP_NS 100000 /* an event this early counts as on time */

static void program(u64 when)
{
	if (use_vcpuop) {
		struct vcpu_set_singleshot_timer single = { when, VCPU_SSHOTTMR_future };
		long r = HC3(HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, &single);
		if (r == -XEN_ETIME) { /* already past: clockevents retries a little later */
			single.timeout_abs_ns = xen_clocksource_read() + 50000;
			single.flags = 0;
			r = HC3(HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, &single);
		}
		if (r == -XEN_ENOSYS) { /* fall back as on an older hypervisor */
			singleshot_enosys++;
			use_vcpuop = 0;
		} else if (r) {
			panic("Xen: VCPUOP_set_singleshot_timer returned %d", (int)r);
		} else {
			return;
		}
	}
	if (HC2(HYPERVISOR_set_timer_op, (u32)when, (u32)(when >> 32)) < 0)
		panic("Xen: set_timer_op failed");
}

static void xen_set_next_event(u32 delta_ns)
{
	period_ns = 0;
	deadline = xen_clocksource_read() + delta_ns;
	program(deadline);
}

static void xen_set_periodic(u32 hz)
{
	period_ns = 1000000000u / hz;
	deadline = xen_clocksource_read() + period_ns;
	program(deadline);
}

static void xen_clockevent_shutdown(void)
{
	deadline = 0;
	period_ns = 0;
	if (use_vcpuop)
		HC3(HYPERVISOR_vcpu_op, VCPUOP_stop_singleshot_timer, 0, 0);
	else
		HC2(HYPERVISOR_set_timer_op, 0, 0); /* timeout 0 cancels */
}

static void xen_timer_event(void)
{
	u64 now = xen_clocksource_read();
	if (!deadline || now + XEN_TIMER_SLOP_NS < deadline) {
		stray_timer_events++;
		if (deadline)
			program(deadline); /* early: the tick layer re-programs the rest */
		return;
	}
	irq_count[0]++;
	timer_interrupt();
	if (period_ns) {
		deadline += period_ns;
		if (deadline <= now)
			deadline = now + period_ns;
		program(deadline);
	} else {
		deadline = 0;
	}
}

static void xen_time_init(void)
{
	struct evtchn_bind_virq bind = { VIRQ_TIMER, 0, 0 };
	long r = evtchn_op(EVTCHNOP_bind_virq, &bind, sizeof(bind));
	if (r)
		panic("Xen: EVTCHNOP_bind_virq(VIRQ_TIMER) returned %d", (int)r);
	timer_port = bind.port;
	xen_irq_mask(0); /* the scenarios unmask "IRQ 0" when they want ticks */
	use_vcpuop = HC3(HYPERVISOR_vcpu_op, VCPUOP_stop_periodic_timer, 0, 0) == 0;
	printk("Xen: VIRQ_TIMER on event channel %u, using %s timer interface\n", timer_port,
	       use_vcpuop ? "vcpuop" : "timerop (set_timer_op)");
	boot_ns = xen_clocksource_read();
	/* TSC rate from the scale Xen publishes: khz = 10^6 * 2^32 / mul, undo the shift. */
	u64 khz = div64_u32(1000000ull << 32, vcpu->time.tsc_to_system_mul, NULL);
	s8 shift = vcpu->time.tsc_shift;
	khz = shift < 0 ? khz << -shift : khz >> shift;
	tsc_khz = (u32)khz;
}

/* ---- cpu ---- */

static void xen_cpuid(u32 *eax, u32 *ebx, u32 *ecx, u32 *edx)
{
	u32 leaf = *eax;
	/* ud2a; "xen"; cpuid: Xen's forced-emulation prefix returns the domain's view. */
	__asm__ volatile("ud2a; .ascii \"xen\"; cpuid"
			 : "=a"(*eax), "=b"(*ebx), "=c"(*ecx), "=d"(*edx)
			 : "0"(*eax), "2"(*ecx));
	if (leaf == 1) /* 2.6.23 xen_cpuid: no APIC, ACPI, SEP, ACC; Xen hides PSE/PGE too */
		*edx &= ~((1u << 9) | (1u << 22) | (1u << 11) | (1u << 29) | (1u << 3) | (1u << 13));
}

static u32 cr0_shadow = X86_CR0_PE | 0x10 /* ET */ | X86_CR0_PG | X86_CR0_WP;
static u32 cr3_shadow, cr4_shadow;

static u32 xen_read_cr0(void) { return cr0_shadow; }
static void xen_write_cr0(u32 v)
{
	/* Only CR0.TS matters to Xen: fpu_taskswitch. */
	HC1(HYPERVISOR_fpu_taskswitch, (v & 8) != 0);
	cr0_shadow = (cr0_shadow & ~8u) | (v & 8);
}
static void xen_clts(void)
{
	HC1(HYPERVISOR_fpu_taskswitch, 0);
	cr0_shadow &= ~8u;
}
static u32 xen_read_cr2(void) { return vcpu->cr2; }
static void xen_write_cr2(u32 v) { vcpu->cr2 = v; }
static u32 xen_read_cr4(void) { return cr4_shadow; }
static void xen_write_cr4(u32 v) { cr4_shadow = v & ~(u32)(X86_CR4_PGE | X86_CR4_PSE); }
static u32 xen_read_cr3(void) { return cr3_shadow; }

static void xen_load_esp0(void *tss, u32 esp0)
{
	((struct tss_struct *)tss)->esp0 = esp0;
	HC2(HYPERVISOR_stack_switch, __KERNEL_DS | 1, esp0);
}

static void xen_load_tr_desc(void) {}
static void xen_io_delay(void) {}

u32 xen_iopl_mask;

static void xen_set_iopl_mask(u32 mask)
{
	xen_iopl_mask = mask & 0x3000;
	/* 2.6.23: iopl 1 (the ring-1 kernel) when the mask is 0. */
	u32 set_iopl = mask ? (mask >> 12) & 3 : 1;
	if (HC2(HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, &set_iopl) == -XEN_ENOSYS) {
		u32 op[2] = { PHYSDEVOP_set_iopl, set_iopl };
		HC1(HYPERVISOR_physdev_op_compat, op);
	}
}

static u32 xen_apic_read(u32 reg)
{
	(void)reg;
	return 0;
}
static void xen_apic_write(u32 reg, u32 v)
{
	(void)reg;
	(void)v;
}

/* ---- descriptor tables ---- */

/* The GDT Xen gets: a whole page of its own (set_gdt takes frames and validates every
 * descriptor in them), read-only once loaded. */
static u64 xen_gdt[512] __attribute__((aligned(4096)));
static u32 gdt_loaded_entries;
static const void *gdt_loaded_base;

static void make_ro(const void *va, int ro)
{
	u32 pte = pte_to_machine(((u32)va & PAGE_MASK) | PAGE_KERNEL_FLAGS);
	if (ro)
		pte &= ~(u32)_PAGE_RW;
	if (HC4(HYPERVISOR_update_va_mapping, (u32)va & PAGE_MASK, pte, 0, UVMF_INVLPG))
		panic("Xen: update_va_mapping(0x%08x, %s) failed", (u32)va, ro ? "ro" : "rw");
}

/* System descriptors other than call gates are refused by Xen: TSS and LDT entries are
 * kept out of the hypervisor's copy (2.6.23 xen_write_gdt_entry ignores them). */
static int xen_gdt_skipped(u32 high)
{
	u32 type = (high >> 8) & 0x1f;
	return !(type & 0x10) && (type & 0xf) != 0xc;
}

/* Xen raises a code/data descriptor's DPL 0 to the guest kernel's ring 1 (check_descriptor);
 * the copy is kept the way the hypervisor holds it. */
static u32 ring1_dpl(u32 high)
{
	if ((high & 0x1000) && !(high & 0x6000))
		high |= 0x2000;
	return high;
}

static void xen_load_gdt(const struct desc_ptr *d)
{
	u32 n = (d->size + 1u) / 8u;
	const u32 *src = (const u32 *)d->address;
	if (gdt_loaded_entries)
		make_ro(xen_gdt, 0);
	memset(xen_gdt, 0, sizeof(xen_gdt));
	for (u32 i = 0; i < n && i < 512; i++) {
		u32 lo = src[2 * i], hi = src[2 * i + 1];
		if (xen_gdt_skipped(hi))
			continue;
		xen_gdt[i] = ((u64)ring1_dpl(hi) << 32) | lo;
	}
	make_ro(xen_gdt, 1);
	u32 frame = pfn_to_mfn((u32)xen_gdt >> 12);
	long r = HC2(HYPERVISOR_set_gdt, &frame, n);
	if (r)
		panic("Xen: set_gdt returned %d", (int)r);
	gdt_loaded_entries = n;
	gdt_loaded_base = src;
}

static void xen_write_gdt_entry(void *dt, int entry, u32 low, u32 high)
{
	u32 *p = (u32 *)dt + entry * 2;
	p[0] = low;
	p[1] = high;
	if (dt != gdt_loaded_base || !gdt_loaded_entries || xen_gdt_skipped(high))
		return;
	u32 ma = virt_to_machine(&xen_gdt[entry]);
	long r = HC4(HYPERVISOR_update_descriptor, ma, 0, low, ring1_dpl(high));
	if (r)
		panic("Xen: update_descriptor(%d) returned %d", entry, (int)r);
}

static void xen_load_tls(const u64 *tls, u32 cpu)
{
	(void)cpu;
	for (int i = 0; i < 3; i++)
		xen_write_gdt_entry(gdt_table, GDT_ENTRY_TLS_MIN + i, (u32)tls[i], (u32)(tls[i] >> 32));
}

/* LDT frames may have no writable mapping: the descriptors go to a page of their own. */
static u64 xen_ldt[512] __attribute__((aligned(4096)));
static int ldt_ro;

static void set_ldt_op(u32 va, u32 entries)
{
	struct mmuext_op op = { MMUEXT_SET_LDT, va, entries };
	u32 done;
	if (HC4(HYPERVISOR_mmuext_op, &op, 1, &done, DOMID_SELF))
		panic("Xen: MMUEXT_SET_LDT(%u entries) failed", entries);
}

static void xen_set_ldt(const void *addr, u32 entries)
{
	if (!entries) {
		set_ldt_op(0, 0);
		return;
	}
	if (entries > ARRAY_SIZE(xen_ldt))
		entries = ARRAY_SIZE(xen_ldt);
	if (ldt_ro) { /* rewrite: release it, make it writable, copy, protect again */
		set_ldt_op(0, 0);
		make_ro(xen_ldt, 0);
	}
	memcpy(xen_ldt, addr, entries * 8);
	make_ro(xen_ldt, 1);
	ldt_ro = 1;
	set_ldt_op((u32)xen_ldt, entries);
}

/* IDT gate -> trap_info: DPL from the gate, bit 2 (mask events) for interrupt gates. */
static struct trap_info trap_table[257];
static const void *idt_loaded_base;

static int gate_to_trap(u32 vec, u32 lo, u32 hi, struct trap_info *t)
{
	if (!(hi & 0x8000))
		return 0;
	t->vector = (u8)vec;
	t->flags = (u8)(((hi >> 13) & 3) | (((hi >> 8) & 0xf) == 0xe ? 4 : 0));
	t->cs = FLAT_KERNEL_CS;
	t->address = (hi & 0xffff0000) | (lo & 0xffff);
	return 1;
}

static void xen_load_idt(const struct desc_ptr *d)
{
	u32 n = (d->size + 1u) / 8u, k = 0;
	const u32 *g = (const u32 *)d->address;
	for (u32 v = 0; v < n && v < 256; v++)
		k += gate_to_trap(v, g[2 * v], g[2 * v + 1], &trap_table[k]);
	memset(&trap_table[k], 0, sizeof(trap_table[k]));
	if (HC1(HYPERVISOR_set_trap_table, trap_table))
		panic("Xen: set_trap_table failed");
	idt_loaded_base = g;
}

static void xen_write_idt_entry(void *dt, int entry, u32 low, u32 high)
{
	u32 *p = (u32 *)dt + entry * 2;
	p[0] = low;
	p[1] = high;
	if (dt != idt_loaded_base)
		return;
	static struct trap_info one[2];
	memset(one, 0, sizeof(one));
	if (gate_to_trap((u32)entry, low, high, &one[0]))
		HC1(HYPERVISOR_set_trap_table, one);
}

/* ---- mmu (2.6.23 mmu.c) ---- */

static int pinned;
static int lazy_mmu;
static struct mmu_update mmu_queue[32];
static u32 mmu_queued;

static void mmu_flush_queue(void)
{
	u32 done = 0;
	if (!mmu_queued)
		return;
	if (HC4(HYPERVISOR_mmu_update, mmu_queue, mmu_queued, &done, DOMID_SELF) || done != mmu_queued)
		panic("Xen: mmu_update of %u entries: %u done", mmu_queued, done);
	mmu_queued = 0;
}

static void mmu_queue_update(void *ptr, u32 val)
{
	mmu_queue[mmu_queued].ptr = virt_to_machine(ptr) | MMU_NORMAL_PT_UPDATE;
	mmu_queue[mmu_queued].val = val;
	mmu_queued++;
	if (!lazy_mmu || mmu_queued == ARRAY_SIZE(mmu_queue))
		mmu_flush_queue();
}

static void mmuext(u32 cmd, u32 arg1)
{
	struct mmuext_op op = { cmd, arg1, 0 };
	u32 done;
	long r = HC4(HYPERVISOR_mmuext_op, &op, 1, &done, DOMID_SELF);
	if (r)
		panic("Xen: mmuext_op %u (0x%x) returned %d", cmd, arg1, (int)r);
}

/* Non-PAE set_pte is a plain store: once the table is pinned Xen traps and validates it
 * (writable page tables, "!writable_page_tables" in FEATURES). */
static void xen_set_pte(u32 *ptep, u32 pte) { *(volatile u32 *)ptep = pte_to_machine(pte); }

static void xen_set_pte_at(void *mm, u32 addr, u32 *ptep, u32 pte)
{
	(void)mm;
	u32 ma = pte_to_machine(pte);
	if (addr == (u32)shinfo_page) /* keep the shared_info frame where it is */
		ma = xen_start_info->shared_info | (pte & ~PAGE_MASK);
	if (!pinned) {
		*(volatile u32 *)ptep = ma;
		return;
	}
	if (lazy_mmu) {
		mmu_queue_update(ptep, ma);
		return;
	}
	if (HC4(HYPERVISOR_update_va_mapping, addr, ma, 0, UVMF_NONE) == 0)
		return;
	xen_set_pte(ptep, pte);
}

static void xen_set_pmd(u32 *pmdp, u32 pmd)
{
	u32 ma = pte_to_machine(pmd);
	if (!pinned)
		*(volatile u32 *)pmdp = ma;
	else
		mmu_queue_update(pmdp, ma);
}

static void xen_pte_update(void *mm, u32 addr, u32 *ptep)
{
	(void)mm;
	(void)addr;
	(void)ptep;
}

static void xen_set_lazy_mode(int mode)
{
	if (mode == PARAVIRT_LAZY_MMU) {
		lazy_mmu = 1;
		return;
	}
	mmu_flush_queue();
	if (mode == PARAVIRT_LAZY_NONE)
		lazy_mmu = 0;
}

static void xen_alloc_pt(u32 pfn)
{
	if (pinned)
		make_ro((void *)(pfn << 12), 1);
}

static void xen_release_pt(u32 pfn)
{
	if (pinned)
		make_ro((void *)(pfn << 12), 0);
}

static void xen_flush_tlb(void) { mmuext(MMUEXT_TLB_FLUSH_LOCAL, 0); }
static void xen_flush_tlb_single(u32 addr) { mmuext(MMUEXT_INVLPG_LOCAL, addr & PAGE_MASK); }

/* In a table about to be pinned, a page-table frame may have no writable mapping. */
static void ro_in(u32 *pgd, u32 va)
{
	u32 pde = pgd[va >> 22];
	if (!(pde & _PAGE_PRESENT))
		return;
	u32 *pt = (u32 *)xen_pte_phys(pde);
	pt[(va >> 12) & 0x3ff] &= ~(u32)_PAGE_RW;
}

/*
 * First CR3 load: the kernel's swapper_pg_dir replaces the builder's tables.  Every
 * page-table frame (ours and the builder's, which Xen keeps pinned) is made read-only
 * in the new tables and in the current ones, the directory is pinned as an L2 table,
 * then NEW_BASEPTR switches to it.  Later loads are NEW_BASEPTR alone.
 */
static void xen_write_cr3(u32 cr3)
{
	u32 *pgd = (u32 *)cr3;
	if (!pinned) {
		u32 bp = xen_start_info->pt_base;
		for (u32 i = 0; i < xen_start_info->nr_pt_frames; i++)
			ro_in(pgd, bp + i * PAGE_SIZE);
		ro_in(pgd, cr3);
		ro_in(pgd, (u32)xen_gdt); /* the loaded GDT frame stays read-only */
		if (ldt_ro)
			ro_in(pgd, (u32)xen_ldt);
		for (u32 i = 0; i < 1024; i++)
			if (pgd[i] & _PAGE_PRESENT)
				ro_in(pgd, xen_pte_phys(pgd[i]));
		for (u32 i = 0; i < 1024; i++)
			if (pgd[i] & _PAGE_PRESENT)
				make_ro((void *)xen_pte_phys(pgd[i]), 1);
		make_ro(pgd, 1);
		mmuext(MMUEXT_PIN_L2_TABLE, pfn_to_mfn(cr3 >> 12));
		pinned = 1;
	}
	mmuext(MMUEXT_NEW_BASEPTR, pfn_to_mfn(cr3 >> 12));
	cr3_shadow = cr3;
}

u32 xen_first_free_page(u32 after_image)
{
	struct start_info *si = xen_start_info;
	u32 end = after_image;
	u32 ends[] = {
		si->pt_base + si->nr_pt_frames * PAGE_SIZE,
		si->mfn_list + si->nr_pages * 4,
		(u32)si + sizeof(*si),
		(u32)cons + PAGE_SIZE,
		(find_pfn(si->store_mfn) + 1) << 12,
	};
	for (u32 i = 0; i < ARRAY_SIZE(ends); i++)
		if (ends[i] > end)
			end = ends[i];
	/* and the builder's boot stack page after its last object */
	return ((end + PAGE_SIZE - 1) & PAGE_MASK) + PAGE_SIZE;
}

u32 xen_lowmem_limit(u32 lowmem)
{
	u32 have = xen_nr_pages * PAGE_SIZE;
	return have < lowmem ? have : lowmem;
}

/* ---- shutdown ---- */

static void __attribute__((noreturn)) xen_shutdown(int how, int code)
{
	xen_irq_disable();
	if (how == SHUTDOWN_REBOOT)
		xen_shutdown_reason(SHUTDOWN_reboot);
	/* A panic crashes the domain (Linux's panic notifier); the verdict of a scenario
	 * is its RESULT line, so pass and fail both power off. */
	xen_shutdown_reason(code == EXIT_PANIC ? SHUTDOWN_crash : SHUTDOWN_poweroff);
}

/* Xen reserves the top of the address space from HYPERVISOR_VIRT_START, plus two pages
 * (2.6.23 xen_start_kernel: reserve_top_address(-HYPERVISOR_VIRT_START + 2 pages)). */
static void xen_startup(void)
{
	paravirt_ops.reserve_top_address(0u - HYPERVISOR_VIRT_START_NONPAE + 2 * PAGE_SIZE);
	HC2(HYPERVISOR_vm_assist, VMASST_CMD_enable, VMASST_TYPE_writable_pagetables);
	if (HC4(HYPERVISOR_set_callbacks, FLAT_KERNEL_CS, xen_hypervisor_callback, FLAT_KERNEL_CS,
		xen_failsafe_callback))
		panic("Xen: set_callbacks failed");
	long v = HC2(HYPERVISOR_xen_version, XENVER_version, 0);
	printk("Xen: version %u.%u, %u pages, start_info at 0x%08x, shared_info MA 0x%08x, "
	       "console evtchn %u\n",
	       (u32)v >> 16, (u32)v & 0xffff, xen_nr_pages, (u32)xen_start_info,
	       xen_start_info->shared_info, cons_port);
	xen_time_init();
}

void xen_init_paravirt_ops(void)
{
	paravirt_ops.name = "Xen";
	paravirt_ops.paravirt_enabled = 1;
	paravirt_ops.kernel_rpl = 1;
	paravirt_ops.backend = BACKEND_XEN;
	paravirt_ops.iret = xen_iret;
	paravirt_ops.irq_enable_sysexit = xen_irq_enable_sysexit;
	paravirt_ops.startup = xen_startup;
	paravirt_ops.shutdown = xen_shutdown;
	paravirt_ops.save_fl = xen_save_fl;
	paravirt_ops.restore_fl = xen_restore_fl;
	paravirt_ops.irq_disable = xen_irq_disable;
	paravirt_ops.irq_enable = xen_irq_enable;
	paravirt_ops.safe_halt = xen_safe_halt;
	paravirt_ops.halt = xen_halt;
	paravirt_ops.cpuid = xen_cpuid;
	paravirt_ops.read_cr0 = xen_read_cr0;
	paravirt_ops.write_cr0 = xen_write_cr0;
	paravirt_ops.read_cr2 = xen_read_cr2;
	paravirt_ops.write_cr2 = xen_write_cr2;
	paravirt_ops.read_cr3 = xen_read_cr3;
	paravirt_ops.write_cr3 = xen_write_cr3;
	paravirt_ops.read_cr4 = xen_read_cr4;
	paravirt_ops.write_cr4 = xen_write_cr4;
	paravirt_ops.load_gdt = xen_load_gdt;
	paravirt_ops.load_idt = xen_load_idt;
	paravirt_ops.load_tr_desc = xen_load_tr_desc;
	paravirt_ops.set_ldt = xen_set_ldt;
	paravirt_ops.write_gdt_entry = xen_write_gdt_entry;
	paravirt_ops.write_idt_entry = xen_write_idt_entry;
	paravirt_ops.load_tls = xen_load_tls;
	paravirt_ops.load_esp0 = xen_load_esp0;
	paravirt_ops.clts = xen_clts;
	paravirt_ops.set_iopl_mask = xen_set_iopl_mask;
	paravirt_ops.io_delay = xen_io_delay;
	paravirt_ops.flush_tlb_user = xen_flush_tlb;
	paravirt_ops.flush_tlb_kernel = xen_flush_tlb;
	paravirt_ops.flush_tlb_single = xen_flush_tlb_single;
	paravirt_ops.alloc_pt = xen_alloc_pt;
	paravirt_ops.release_pt = xen_release_pt;
	paravirt_ops.set_pte = xen_set_pte;
	paravirt_ops.set_pte_at = xen_set_pte_at;
	paravirt_ops.set_pmd = xen_set_pmd;
	paravirt_ops.pte_update = xen_pte_update;
	paravirt_ops.set_lazy_mode = xen_set_lazy_mode;
	paravirt_ops.get_wallclock = xen_get_wallclock;
	paravirt_ops.sched_clock = xen_sched_clock;
	paravirt_ops.set_periodic = xen_set_periodic;
	paravirt_ops.set_next_event = xen_set_next_event;
	paravirt_ops.clockevent_shutdown = xen_clockevent_shutdown;
	paravirt_ops.apic_read = xen_apic_read;
	paravirt_ops.apic_write = xen_apic_write;
}

/* Numbers the scenarios can print (stray = unrequested timer events, e.g. the default
 * 100 Hz tick under set_timer_op). */
u32 xen_stray_timer_events(void) { return stray_timer_events; }
int xen_timer_uses_vcpuop(void) { return use_vcpuop; }
#endif
