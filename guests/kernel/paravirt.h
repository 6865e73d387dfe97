/*
 * struct paravirt_ops, modelled on Linux 2.6.20-2.6.22 include/asm-i386/paravirt.h
 * (operation names kept; abi.md §2.1, §5).  One table, filled by the native
 * defaults (paravirt.c) and overridden by a detected backend (kvm.c; Xen, VMI and
 * lguest are detected in detect.c but not implemented yet).
 */
#ifndef PARAVIRT_H
#define PARAVIRT_H

#include "lib.h"
#include "asm_offsets.h"

struct desc_ptr {
	u16 size;
	u32 address;
} __attribute__((packed));

/* set_lazy_mode arguments (abi.md §2.1: NONE 0, MMU 1, CPU 2, FLUSH 3). */
enum paravirt_lazy_mode {
	PARAVIRT_LAZY_NONE = 0,
	PARAVIRT_LAZY_MMU = 1,
	PARAVIRT_LAZY_CPU = 2,
	PARAVIRT_LAZY_FLUSH = 3,
};

enum shutdown_how { SHUTDOWN_POWER_OFF = 0, SHUTDOWN_REBOOT = 1 };

enum paravirt_backend {
	BACKEND_NATIVE = 0,
	BACKEND_KVM,
	BACKEND_XEN,
	BACKEND_VMI,
	BACKEND_LGUEST,
};

struct paravirt_ops {
	const char *name;
	u32 paravirt_enabled;
	u32 kernel_rpl;
	/* Non-C entry points: jumped to, never called (PV_iret, PV_irq_enable_sysexit). */
	void *iret;
	void *irq_enable_sysexit;

	u32 backend; /* enum paravirt_backend */

	/* startup: backend-specific setup after detection; shutdown: power off / reboot. */
	void (*startup)(void);
	void (*shutdown)(int how, int code) __attribute__((noreturn));
	/* reserve_top_address(reserve): hole at the top of the VA space (abi.md §5.9). */
	void (*reserve_top_address)(u32 reserve);

	/* irq */
	u32 (*save_fl)(void);
	void (*restore_fl)(u32 flags);
	void (*irq_disable)(void);
	void (*irq_enable)(void);
	void (*safe_halt)(void);
	void (*halt)(void);

	/* cpu */
	void (*cpuid)(u32 *eax, u32 *ebx, u32 *ecx, u32 *edx);
	u32 (*read_cr0)(void);
	void (*write_cr0)(u32 v);
	u32 (*read_cr2)(void);
	void (*write_cr2)(u32 v);
	u32 (*read_cr3)(void);
	void (*write_cr3)(u32 v);
	u32 (*read_cr4)(void);
	void (*write_cr4)(u32 v);
	void (*load_gdt)(const struct desc_ptr *d);
	void (*load_idt)(const struct desc_ptr *d);
	void (*load_tr_desc)(void);
	void (*set_ldt)(const void *desc, u32 entries);
	void (*write_gdt_entry)(void *dt, int entry, u32 low, u32 high);
	void (*write_idt_entry)(void *dt, int entry, u32 low, u32 high);
	void (*load_tls)(const u64 *tls3, u32 cpu);
	void (*load_esp0)(void *tss, u32 esp0);
	void (*wbinvd)(void);
	u64 (*read_msr)(u32 msr, int *err);
	int (*write_msr)(u32 msr, u32 low, u32 high);
	u64 (*read_tsc)(void);
	void (*clts)(void);
	void (*set_iopl_mask)(u32 mask);
	void (*io_delay)(void);

	/* mmu */
	void (*flush_tlb_user)(void);
	void (*flush_tlb_kernel)(void);
	void (*flush_tlb_single)(u32 addr);
	void (*alloc_pt)(u32 pfn);
	void (*release_pt)(u32 pfn);
	void (*set_pte)(u32 *ptep, u32 pte);
	void (*set_pte_at)(void *mm, u32 addr, u32 *ptep, u32 pte);
	void (*set_pmd)(u32 *pmdp, u32 pmd);
	void (*pte_update)(void *mm, u32 addr, u32 *ptep);
	void (*set_lazy_mode)(int mode);

	/* time */
	u32 (*get_wallclock)(void); /* seconds since 1970 */
	u64 (*sched_clock)(void);   /* ns since boot */
	void (*set_periodic)(u32 hz);
	void (*set_next_event)(u32 delta_ns);
	void (*clockevent_shutdown)(void);

	/* apic */
	u32 (*apic_read)(u32 reg);
	void (*apic_write)(u32 reg, u32 v);
};

_Static_assert(__builtin_offsetof(struct paravirt_ops, iret) == PV_iret, "PV_iret");
_Static_assert(__builtin_offsetof(struct paravirt_ops, irq_enable_sysexit) == PV_irq_enable_sysexit,
	       "PV_irq_enable_sysexit");

extern struct paravirt_ops paravirt_ops;
extern const char *const paravirt_backend_names[];

/* Number of function-pointer slots and how many are NULL (boot self-check). */
u32 paravirt_count_ops(u32 *missing);

/* Generic wrappers used by the rest of the kernel. */
static inline void local_irq_disable(void) { paravirt_ops.irq_disable(); }
static inline void local_irq_enable(void) { paravirt_ops.irq_enable(); }
static inline u32 local_save_flags(void) { return paravirt_ops.save_fl(); }
static inline void local_irq_restore(u32 f) { paravirt_ops.restore_fl(f); }
static inline void safe_halt(void) { paravirt_ops.safe_halt(); }

/*
 * halt(): in every CONFIG_PARAVIRT kernel 2.6.20-2.6.24 the generic halt() is
 * paravirt_ops.safe_halt, i.e. sti;hlt even on bare hardware (abi.md §5.2,
 * L2.6.20 include/asm-i386/paravirt.h).  A non-PARAVIRT kernel executes hlt.
 */
void halt(void);

/* Native primitives, used by backends that keep the native behaviour. */
void native_cpuid(u32 *eax, u32 *ebx, u32 *ecx, u32 *edx);
u64 native_read_msr(u32 msr, int *err);
int native_write_msr(u32 msr, u32 low, u32 high);
u64 native_read_tsc(void);
static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
	*a = leaf;
	*c = 0;
	paravirt_ops.cpuid(a, b, c, d);
}

/* reboot=92: try port 0x92 before the 8042 in the native reboot path. */
void paravirt_set_reboot_port92_first(int v);

/* Backend selection (detect.c) and the KVM backend (kvm.c). */
void paravirt_init_native(void);
struct boot_state;
enum paravirt_backend detect_hypervisor(const struct boot_state *b, char *why, size_t n);
int kvm_detect(u32 *features);
void kvm_init(u32 features);
void kvm_report(void);
void kvm_vmcall_probe(int *pass);

#endif
