/*
 * VMI paravirt_ops as Linux 2.6.21/2.6.22 arch/i386/kernel/vmi.c had them (docs/abi/vmi.md):
 * scan 0xC0000-0xDFFFF for the option ROM, check it, call vmi_init, reserve the top of the
 * address space below virtual_top, then ask get_reloc for each call and install what it
 * answers: CALL_REL -> the ROM routine (called directly, "para_fill", or from a wrapper with
 * the regparm(3) convention, "para_wrap"), JUMP_REL -> iret/sysexit jump targets, NOP -> an
 * empty op, NONE -> the native op stays.  The timer is the VMI alarm when the ROM has
 * GetCycleFrequency (2.6.22 vmiclock.c: REAL counter, PIT parked); safe_halt is Halt, and on
 * 2.6.21 with NO_IDLE_HZ a wrapper that juggles the alarms around it (vmitime.c).
 */
/*
 * Built into main.c's object (#include at its end) rather than compiled on its own: every .c
 * file in guests/kernel/ is linked into every variant, and an object of its own would add its
 * file symbol to the images that have no VMI support (which must stay byte-identical).
 */
#include "../config.h"

#if CONFIG_VMI
#include "vmi.h"
#include "../asm_offsets.h"
#include "../desc.h"
#include "../mm.h"
#include "../paravirt.h"
#include "../time.h"

#define REGPARM __attribute__((regparm(3)))

static const u8 *vmi_rom;

static void vmi_nop(void) {}

/* get_reloc (ROM+136): EAX = call -> EAX = eip, DL = relocation type (docs/abi/vmi.md §2). */
static u32 vmi_reloc(u32 call, u32 *type)
{
	u32 eip, t;
	__asm__ volatile("call *%2" : "=a"(eip), "=d"(t) : "r"(vmi_rom + 136), "0"(call)
			 : "ecx", "memory");
	*type = t & 0xff;
	return eip;
}

/* The ROM routine for `call` if it is a CALL_REL, else NULL (NONE: keep native; NOP: the
 * caller installs vmi_nop; JUMP_REL where a call is expected is a BUG in Linux). */
static void *vmi_get_function(u32 call, int *nop)
{
	u32 type, eip = vmi_reloc(call, &type);
	*nop = type == VMI_RELOCATION_NOP;
	if (type == VMI_RELOCATION_JUMP_REL)
		panic("VMI: JUMP_REL for call %u where a call is expected", call);
	return type == VMI_RELOCATION_CALL_REL ? (void *)eip : 0;
}

/* para_fill: the ROM routine itself when the C signature matches; NOP -> empty op. */
#define para_fill(op, call)                                                   \
	do {                                                                  \
		int nop_;                                                     \
		void *f_ = vmi_get_function(VMI_CALL_##call, &nop_);          \
		if (f_)                                                       \
			paravirt_ops.op = f_;                                 \
		else if (nop_)                                                \
			paravirt_ops.op = (void *)vmi_nop;                    \
	} while (0)

/* para_wrap: the op becomes a wrapper calling the ROM routine with regparm(3). */
#define para_wrap(op, wrapper, slot, call)                                    \
	do {                                                                  \
		int nop_;                                                     \
		void *f_ = vmi_get_function(VMI_CALL_##call, &nop_);          \
		if (f_) {                                                     \
			slot = f_;                                            \
			paravirt_ops.op = wrapper;                            \
		} else if (nop_) {                                            \
			paravirt_ops.op = (void *)vmi_nop;                    \
		}                                                             \
	} while (0)

static struct {
	void *cpuid;
	void(REGPARM *restore_fl)(u32);
	void(REGPARM *write_cr)(u32);
	void(REGPARM *write_cr0)(u32);
	void(REGPARM *write_cr2)(u32);
	void(REGPARM *write_cr3)(u32);
	void(REGPARM *write_cr4)(u32);
	void(REGPARM *set_gdt)(const struct desc_ptr *);
	void(REGPARM *set_idt)(const struct desc_ptr *);
	void(REGPARM *set_tr)(u32);
	void(REGPARM *set_ldt)(u32);
	void(REGPARM *write_gdt_entry)(void *, int, u32, u32);
	void(REGPARM *write_idt_entry)(void *, int, u32, u32);
	void(REGPARM *set_kernel_stack)(u32, u32);
	void(REGPARM *set_iopl_mask)(u32);
	void(REGPARM *flush_tlb)(u32);
	void(REGPARM *inval_page)(u32);
	void(REGPARM *allocate_page)(u32, u32, u32, u32, u32);
	void(REGPARM *release_page)(u32, u32);
	void(REGPARM *set_pte)(u32, u32 *, u32);
	void(REGPARM *update_pte)(u32 *, u32);
	void(REGPARM *set_lazy_mode)(u32);
	void(REGPARM *apic_write)(u32, u32);
	u32(REGPARM *apic_read)(u32);
	u64(REGPARM *get_cycle_frequency)(void);
	u64(REGPARM *get_cycle_counter)(u32);
	void(REGPARM *set_alarm)(u32, u64, u64);
	void(REGPARM *cancel_alarm)(u32);
	u64(REGPARM *get_wallclock)(void);
	void(REGPARM *halt)(void);
} vmi_ops;

/* ---- cpu ---- */

static void vmi_cpuid(u32 *a, u32 *b, u32 *c, u32 *d)
{
	/* Non-C: EAX/ECX in, EAX..EDX out, like the instruction. */
	__asm__ volatile("call *%4"
			 : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
			 : "m"(vmi_ops.cpuid), "0"(*a), "2"(*c)
			 : "memory");
}

static void vmi_restore_fl(u32 f) { vmi_ops.restore_fl(f); }
static void vmi_write_cr0(u32 v) { vmi_ops.write_cr0(v); }
static void vmi_write_cr2(u32 v) { vmi_ops.write_cr2(v); }
static void vmi_write_cr3(u32 v) { vmi_ops.write_cr3(v); }
static void vmi_write_cr4(u32 v) { vmi_ops.write_cr4(v); }
static void vmi_load_gdt(const struct desc_ptr *d) { vmi_ops.set_gdt(d); }
static void vmi_load_idt(const struct desc_ptr *d) { vmi_ops.set_idt(d); }
static void vmi_load_tr_desc(void) { vmi_ops.set_tr(__TSS_SEL); }
static void vmi_write_gdt_entry(void *dt, int entry, u32 low, u32 high)
{
	vmi_ops.write_gdt_entry(dt, entry, low, high);
}
static void vmi_write_idt_entry(void *dt, int entry, u32 low, u32 high)
{
	vmi_ops.write_idt_entry(dt, entry, low, high);
}

/* vmi_set_ldt: the LDT descriptor goes into the GDT, SetLDT gets its selector (0 = none). */
static void vmi_set_ldt(const void *addr, u32 entries)
{
	u32 base = (u32)addr, limit = entries * 8 - 1;
	u32 low = (base << 16) | (limit & 0xffff);
	u32 high = (base & 0xff000000) | ((base >> 16) & 0xff) | 0x8200 | (limit & 0xf0000);
	paravirt_ops.write_gdt_entry(gdt_table, GDT_ENTRY_LDT, low, high);
	vmi_ops.set_ldt(entries ? GDT_ENTRY_LDT * 8 : 0);
}

/* vmi_load_tls: only the entries that changed, each through the GDT-entry call. */
static void vmi_load_tls(const u64 *tls, u32 cpu)
{
	(void)cpu;
	for (int i = 0; i < 3; i++)
		if (gdt_table[GDT_ENTRY_TLS_MIN + i] != tls[i])
			paravirt_ops.write_gdt_entry(gdt_table, GDT_ENTRY_TLS_MIN + i, (u32)tls[i],
						     (u32)(tls[i] >> 32));
}

static void vmi_load_esp0(void *tss, u32 esp0)
{
	((struct tss_struct *)tss)->esp0 = esp0;
	vmi_ops.set_kernel_stack(__KERNEL_DS, esp0);
}

static void vmi_set_iopl_mask(u32 mask) { vmi_ops.set_iopl_mask(mask); }

/* ---- mmu ---- */

static void vmi_flush_tlb_user(void) { vmi_ops.flush_tlb(VMI_FLUSH_TLB); }
static void vmi_flush_tlb_kernel(void) { vmi_ops.flush_tlb(VMI_FLUSH_TLB | VMI_FLUSH_GLOBAL); }
static void vmi_flush_tlb_single(u32 addr) { vmi_ops.inval_page(addr); }
static void vmi_allocate_pt(u32 pfn) { vmi_ops.allocate_page(pfn, VMI_PAGE_L1, 0, 0, 0); }
static void vmi_release_pt(u32 pfn) { vmi_ops.release_page(pfn, VMI_PAGE_PT); }

/* vmi_flags_addr: the PTE belongs to the current address space at `addr`. */
static u32 vmi_flags_addr(u32 addr, u32 level)
{
	return level | VMI_PAGE_CURRENT_AS | (addr & VMI_PAGE_VA_MASK);
}

static void vmi_set_pte(u32 *ptep, u32 pte) { vmi_ops.set_pte(pte, ptep, VMI_PAGE_PT); }
static void vmi_set_pte_at(void *mm, u32 addr, u32 *ptep, u32 pte)
{
	(void)mm;
	vmi_ops.set_pte(pte, ptep, vmi_flags_addr(addr, VMI_PAGE_PT));
}
static void vmi_set_pmd(u32 *pmdp, u32 pmd) { vmi_ops.set_pte(pmd, pmdp, VMI_PAGE_PD); }
static void vmi_pte_update(void *mm, u32 addr, u32 *ptep)
{
	(void)mm;
	vmi_ops.update_pte(ptep, vmi_flags_addr(addr, VMI_PAGE_PT));
}

static int lazy_mode;
/* FLUSH is SetLazyMode(0) then the previous mode again (docs/abi/vmi.md §5). */
static void vmi_set_lazy_mode(int mode)
{
	if (mode == PARAVIRT_LAZY_FLUSH) {
		vmi_ops.set_lazy_mode(0);
		vmi_ops.set_lazy_mode(lazy_mode);
		return;
	}
	lazy_mode = mode;
	vmi_ops.set_lazy_mode(mode);
}

/* ---- apic ---- */

static u32 vmi_apic_read(u32 reg) { return vmi_ops.apic_read(reg); }
static void vmi_apic_write(u32 reg, u32 v) { vmi_ops.apic_write(reg, v); }

/* ---- time (2.6.22 vmiclock.c; 2.6.21 vmitime.c) ---- */

static u32 cycles_per_sec;

static u64 cycles_to_ns(u64 cyc)
{
	u32 rem;
	u64 s = div64_u32(cyc, cycles_per_sec, &rem);
	return s * 1000000000u + div64_u32((u64)rem * 1000000000u, cycles_per_sec, NULL);
}

static u64 ns_to_cycles(u32 ns) { return div64_u32((u64)ns * cycles_per_sec, 1000000000u, NULL); }

static u64 vmi_sched_clock(void) { return cycles_to_ns(vmi_ops.get_cycle_counter(VMI_CYCLES_AVAILABLE)); }

static u32 vmi_get_wallclock(void) { return (u32)div64_u32(vmi_ops.get_wallclock(), 1000000000u, NULL); }

#if CONFIG_NO_IDLE_HZ
/* 2.6.21: the periodic tick runs on the AVAILABLE counter; safe_halt stops it around Halt. */
#define VMI_TICK_COUNTER VMI_CYCLES_AVAILABLE
#else
#define VMI_TICK_COUNTER VMI_CYCLES_REAL
#endif
static u64 tick_period, next_tick;
static int tick_on;

static void vmi_set_periodic(u32 hz)
{
	tick_period = cycles_per_sec / hz;
	next_tick = vmi_ops.get_cycle_counter(VMI_TICK_COUNTER) + tick_period;
	tick_on = 1;
	vmi_ops.set_alarm(VMI_TICK_COUNTER | VMI_ALARM_IS_PERIODIC | VMI_ALARM_WIRED_IRQ0, next_tick,
			  tick_period);
}

static void vmi_set_next_event(u32 delta_ns)
{
	u64 now = vmi_ops.get_cycle_counter(VMI_CYCLES_REAL);
	tick_on = 0;
	vmi_ops.set_alarm(VMI_CYCLES_REAL | VMI_ALARM_IS_ONESHOT | VMI_ALARM_WIRED_IRQ0,
			  now + ns_to_cycles(delta_ns), 0);
}

static void vmi_clockevent_shutdown(void)
{
	tick_on = 0;
	vmi_ops.cancel_alarm(VMI_CYCLES_REAL);
}

#if CONFIG_NO_IDLE_HZ
/*
 * 2.6.21 vmi_safe_halt with NO_IDLE_HZ (Amsden, "[PATCH 5/5] Vmi timer.patch", Dec 2006): stop
 * the periodic alarm, arm a one-shot on REAL at the next tick, Halt, then re-account the
 * jiffies no interrupt counted and re-arm the periodic alarm.  2.6.22 removed it.
 */
static void vmi_safe_halt_noidle(void)
{
	if (!tick_on) {
		vmi_ops.halt();
		return;
	}
	vmi_ops.cancel_alarm(VMI_TICK_COUNTER);
	vmi_ops.set_alarm(VMI_CYCLES_REAL | VMI_ALARM_IS_ONESHOT | VMI_ALARM_WIRED_IRQ0, next_tick, 0);
	vmi_ops.halt();
	u64 now = vmi_ops.get_cycle_counter(VMI_CYCLES_REAL);
	if (now >= next_tick) {
		next_tick += tick_period; /* the one-shot's interrupt counted this tick */
		while (next_tick <= now) {
			jiffies++; /* a tick that passed with no interrupt */
			next_tick += tick_period;
		}
	}
	vmi_ops.set_alarm(VMI_TICK_COUNTER | VMI_ALARM_IS_PERIODIC | VMI_ALARM_WIRED_IRQ0, next_tick,
			  tick_period);
}
#endif

static void vmi_time_init(void)
{
	cycles_per_sec = (u32)vmi_ops.get_cycle_frequency();
	paravirt_ops.sched_clock = vmi_sched_clock;
	paravirt_ops.get_wallclock = vmi_get_wallclock;
	paravirt_ops.set_periodic = vmi_set_periodic;
	paravirt_ops.set_next_event = vmi_set_next_event;
	paravirt_ops.clockevent_shutdown = vmi_clockevent_shutdown;
	outb(0x3a, 0x43); /* park the PIT: ch0, lobyte/hibyte, mode 5 (vmiclock.c) */
#if CONFIG_NO_IDLE_HZ
	/* 2.6.21: the 100 Hz alarm runs from boot (vmi_time_init), whether asked for or not. */
	vmi_set_periodic(CONFIG_VMI_ALARM_HZ);
	paravirt_ops.safe_halt = vmi_safe_halt_noidle;
	paravirt_ops.halt = vmi_safe_halt_noidle;
#endif
	printk("VMI: timer: %u cycles/s, alarm wired to IRQ0%s\n", cycles_per_sec,
	       CONFIG_NO_IDLE_HZ ? ", NO_IDLE_HZ safe_halt" : "");
}

/* ---- probe and activation ---- */

static const u8 *probe_vmi_rom(void)
{
	for (u32 base = 0xc0000; base < 0xe0000; base += 0x800) {
		const u8 *rom = (const u8 *)base;
		if (*(const u16 *)rom != VMI_ROM_SIGNATURE || *(const u32 *)(rom + 8) != VMI_SIGNATURE)
			continue;
		if (rom[13] != VMI_API_REV_MAJOR)
			continue; /* detect.c already said "mismatched rom version" */
		u16 lic = *(const u16 *)(rom + 22);
		if (!lic || (strncmp((const char *)rom + lic, "GPL", 4) &&
			     strncmp((const char *)rom + lic, "GPL v2", 7)))
			continue;
		return rom;
	}
	return 0;
}

int vmi_init(void)
{
	vmi_rom = probe_vmi_rom();
	if (!vmi_rom)
		return 0;
	int rc;
	__asm__ volatile("call *%1" : "=a"(rc) : "r"(vmi_rom + 128) : "ecx", "edx", "memory");
	if (rc) {
		printk("VMI: vmi_init failed (%d), running native\n", rc);
		return 0;
	}
	u32 top = *(const u32 *)(vmi_rom + 16);
	paravirt_ops.reserve_top_address(-top);

	paravirt_ops.name = "vmi";
	paravirt_ops.backend = BACKEND_VMI;
	paravirt_ops.paravirt_enabled = 1;
	u16 cs;
	__asm__ volatile("movw %%cs,%0" : "=r"(cs));
	paravirt_ops.kernel_rpl = cs & 3;

	int nop;
	vmi_ops.cpuid = vmi_get_function(VMI_CALL_CPUID, &nop);
	if (vmi_ops.cpuid)
		paravirt_ops.cpuid = vmi_cpuid;
	para_fill(save_fl, GetInterruptMask);
	para_wrap(restore_fl, vmi_restore_fl, vmi_ops.restore_fl, SetInterruptMask);
	para_fill(irq_disable, DisableInterrupts);
	para_fill(irq_enable, EnableInterrupts);
	para_fill(safe_halt, Halt);
	para_fill(halt, Halt); /* "all VMI halts are safe" */
	vmi_ops.halt = (void(REGPARM *)(void))paravirt_ops.safe_halt;
	para_fill(read_cr0, GetCR0);
	para_fill(read_cr2, GetCR2);
	para_fill(read_cr3, GetCR3);
	para_fill(read_cr4, GetCR4);
	para_wrap(write_cr0, vmi_write_cr0, vmi_ops.write_cr0, SetCR0);
	para_wrap(write_cr2, vmi_write_cr2, vmi_ops.write_cr2, SetCR2);
	para_wrap(write_cr3, vmi_write_cr3, vmi_ops.write_cr3, SetCR3);
	para_wrap(write_cr4, vmi_write_cr4, vmi_ops.write_cr4, SetCR4);
	para_wrap(load_gdt, vmi_load_gdt, vmi_ops.set_gdt, SetGDT);
	para_wrap(load_idt, vmi_load_idt, vmi_ops.set_idt, SetIDT);
	para_wrap(load_tr_desc, vmi_load_tr_desc, vmi_ops.set_tr, SetTR);
	para_wrap(write_gdt_entry, vmi_write_gdt_entry, vmi_ops.write_gdt_entry, WriteGDTEntry);
	para_wrap(write_idt_entry, vmi_write_idt_entry, vmi_ops.write_idt_entry, WriteIDTEntry);
	para_wrap(set_ldt, vmi_set_ldt, vmi_ops.set_ldt, SetLDT);
	paravirt_ops.load_tls = vmi_load_tls;
	para_wrap(load_esp0, vmi_load_esp0, vmi_ops.set_kernel_stack, UpdateKernelStack);
	para_fill(wbinvd, WBINVD);
	para_fill(read_tsc, RDTSC);
	para_fill(clts, CLTS);
	para_wrap(set_iopl_mask, vmi_set_iopl_mask, vmi_ops.set_iopl_mask, SetIOPLMask);
	para_fill(io_delay, IODelay);
	para_wrap(flush_tlb_user, vmi_flush_tlb_user, vmi_ops.flush_tlb, FlushTLB);
	if (vmi_ops.flush_tlb)
		paravirt_ops.flush_tlb_kernel = vmi_flush_tlb_kernel;
	para_wrap(flush_tlb_single, vmi_flush_tlb_single, vmi_ops.inval_page, InvalPage);
	para_wrap(alloc_pt, vmi_allocate_pt, vmi_ops.allocate_page, AllocatePage);
	para_wrap(release_pt, vmi_release_pt, vmi_ops.release_page, ReleasePage);
	para_wrap(set_pte, vmi_set_pte, vmi_ops.set_pte, SetPxE);
	if (vmi_ops.set_pte) {
		paravirt_ops.set_pte_at = vmi_set_pte_at;
		paravirt_ops.set_pmd = vmi_set_pmd;
	}
	para_wrap(pte_update, vmi_pte_update, vmi_ops.update_pte, UpdatePxE);
	para_wrap(set_lazy_mode, vmi_set_lazy_mode, vmi_ops.set_lazy_mode, SetLazyMode);
	para_wrap(apic_write, vmi_apic_write, vmi_ops.apic_write, APICWrite);
	para_wrap(apic_read, vmi_apic_read, vmi_ops.apic_read, APICRead);

	/* IRET and SYSEXIT must be patched: the ROM answers JUMP_REL (or CALL_REL). */
	u32 type, eip = vmi_reloc(VMI_CALL_IRET, &type);
	if (type == VMI_RELOCATION_JUMP_REL || type == VMI_RELOCATION_CALL_REL)
		paravirt_ops.iret = (void *)eip;
	eip = vmi_reloc(VMI_CALL_SYSEXIT, &type);
	if (type == VMI_RELOCATION_JUMP_REL || type == VMI_RELOCATION_CALL_REL)
		paravirt_ops.irq_enable_sysexit = (void *)eip;

	/* The timer block is keyed on GetCycleFrequency: NONE keeps the native timers. */
	vmi_ops.get_cycle_frequency = vmi_get_function(VMI_CALL_GetCycleFrequency, &nop);
	vmi_ops.get_cycle_counter = vmi_get_function(VMI_CALL_GetCycleCounter, &nop);
	vmi_ops.set_alarm = vmi_get_function(VMI_CALL_SetAlarm, &nop);
	vmi_ops.cancel_alarm = vmi_get_function(VMI_CALL_CancelAlarm, &nop);
	vmi_ops.get_wallclock = vmi_get_function(VMI_CALL_GetWallclockTime, &nop);
	if (vmi_ops.get_cycle_frequency && vmi_ops.get_cycle_counter && vmi_ops.set_alarm &&
	    vmi_ops.cancel_alarm && vmi_ops.get_wallclock)
		vmi_time_init();
	else
		printk("VMI: no timer calls in the ROM, native timers\n");
	printk("VMI: activated, ROM at 0x%05x API %u.%u virtual_top 0x%08x\n", (u32)vmi_rom, vmi_rom[13],
	       vmi_rom[12], top);
	return 1;
}
#endif
