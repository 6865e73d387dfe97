/*
 * Xen PV paravirt_ops of the 2.6.23/2.6.24 model (CONFIG_XEN): declarations shared by
 * xen.c, xen_head.S and the few #if CONFIG_XEN hooks in the common kernel.  Structure
 * layouts come from guests/xenabi/xen_abi.h (Xen 3.1 public headers, offsets checked);
 * the numbers added here are from the same headers (xen.h, vcpu.h, physdev.h, sched.h)
 * and docs/abi/xen.md.
 */
#ifndef XEN_H
#define XEN_H

#include "lib.h"

#if CONFIG_XEN
#include "../xenabi/xen_abi.h"

/* xen.h __HYPERVISOR_* not declared in xen_abi.h. */
#define HYPERVISOR_set_gdt 2
#define HYPERVISOR_stack_switch 3
#define HYPERVISOR_fpu_taskswitch 5
#define HYPERVISOR_update_descriptor 10
#define HYPERVISOR_physdev_op_compat 19
#define HYPERVISOR_vm_assist 21
#define HYPERVISOR_physdev_op 33

/* xen.h MMUEXT_* and UVMF_*, VMASST_*. */
#define MMUEXT_PIN_L1_TABLE 0
#define MMUEXT_PIN_L2_TABLE 1
#define MMUEXT_UNPIN_TABLE 4
#define MMUEXT_NEW_BASEPTR 5
#define MMUEXT_SET_LDT 13
#define UVMF_TLB_FLUSH 1
#define VMASST_CMD_enable 0
#define VMASST_TYPE_writable_pagetables 2

/* sched.h shutdown reasons not in xen_abi.h. */
#define SHUTDOWN_reboot 1

/* vcpu.h */
#define VCPUOP_down 2
#define VCPUOP_stop_singleshot_timer 9

/* physdev.h */
#define PHYSDEVOP_set_iopl 6

/* Vector number head.S's common_trap carries for an event-channel upcall (not an IDT
 * vector: Xen enters through the callback registered with set_callbacks). */
#define XEN_UPCALL_VECTOR 0x1ff

/* Non-zero when this boot came through startup_xen (ring 1, ESI = start_info). */
extern int xen_pv;
extern struct start_info *xen_start_info;
extern u32 xen_nr_pages;

/* Console hook for lib.c console_write; early setup and pv ops installation. */
void xen_console_write(const char *s, size_t n);
void xen_early_init(u32 start_info_va);
void xen_init_paravirt_ops(void);

/* Machine-frame helpers: the P2M is start_info.mfn_list, the M2P Xen's read-only table. */
u32 xen_pte_phys(u32 pte); /* machine PTE/PDE -> pseudo-physical address of the frame */
u32 xen_pte_ma(u32 pte);   /* pseudo-physical PTE -> machine PTE (identity off Xen) */
u32 xen_first_free_page(u32 after_image);
u32 xen_lowmem_limit(u32 lowmem);

/* Event channels seen as "IRQ 0" by the scenarios (the VIRQ_TIMER channel). */
void xen_irq_unmask(u32 irq);
void xen_irq_mask(u32 irq);
u32 xen_irq_pending(void);
extern u32 xen_iopl_mask; /* last set_iopl_mask (Xen keeps IOPL out of EFLAGS) */
u32 xen_stray_timer_events(void);
int xen_timer_uses_vcpuop(void);
struct pt_regs;
void xen_evtchn_do_upcall(struct pt_regs *regs);
#endif

#endif
