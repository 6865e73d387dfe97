/*
 * lguest guest support (CONFIG_LGUEST_GUEST: 2.6.23, 2.6.24): the host ABI of one kernel
 * release (docs/abi/lguest.md).  lguest has no versioning, so the variant picks the layout:
 * 2.6.23 `struct lguest_data` (§5.1) or 2.6.24 (§5.2), 2.6.23 GET_WALLCLOCK and the SEND_DMA
 * console or 2.6.24 `lguest_data.time` and the NOTIFY early console (§4, §7).
 */
#ifndef LGUEST_H
#define LGUEST_H

#define LGUEST_TRAP_ENTRY 0x1f
#define LHCALL_FLUSH_ASYNC 0
#define LHCALL_LGUEST_INIT 1
#define LHCALL_CRASH 2
#define LHCALL_LOAD_GDT 3
#define LHCALL_NEW_PGTABLE 4
#define LHCALL_FLUSH_TLB 5
#define LHCALL_LOAD_IDT_ENTRY 6
#define LHCALL_SET_STACK 7
#define LHCALL_TS 8
#define LHCALL_SET_CLOCKEVENT 9
#define LHCALL_HALT 10
#define LHCALL_GET_WALLCLOCK 11 /* 2.6.23 only */
#define LHCALL_SEND_DMA 13      /* 2.6.23 only */
#define LHCALL_SET_PTE 14
#define LHCALL_SET_PMD 15
#define LHCALL_LOAD_TLS 16
#define LHCALL_NOTIFY 17        /* 2.6.24 only */

#define LHCALL_RING_SIZE 64
#define LGUEST_IRQS 32
#define LG_CLOCK_MIN_DELTA 100u /* ns: shorter deltas are refused */
#define LGUEST_CONSOLE_DMA_KEY 0
#define LGUEST_MAX_DMA_SECTIONS 16

#ifndef __ASSEMBLER__
#include "../lib.h"

/* One ring entry: 2.6.23 {eax, edx, ebx, ecx}; 2.6.24 `hcall_args` {arg0, arg2, arg3, arg1}. */
struct hcall_ring_entry {
#if defined(VARIANT_2_6_24)
	u32 eax, ebx, ecx, edx;
#else
	u32 eax, edx, ebx, ecx;
#endif
};

struct lguest_data {
	u32 irq_enabled;                      /* 0 or X86_EFLAGS_IF */
	u32 blocked_interrupts[LGUEST_IRQS / 32];
	u32 cr2;                              /* written by the host on a page fault */
#if defined(VARIANT_2_6_24)
	struct { u32 tv_sec, tv_nsec; } time; /* host-maintained wall clock */
#endif
	u8 hcall_status[LHCALL_RING_SIZE];    /* 0xff done/free, 0 pending */
	struct hcall_ring_entry hcalls[LHCALL_RING_SIZE];
	u32 reserve_mem;                      /* host: bytes reserved at the top */
#if !defined(VARIANT_2_6_24)
	u16 guestid;
#endif
	u32 tsc_khz;                          /* host: TSC kHz if usable, else 0 */
	u32 noirq_start, noirq_end;           /* guest: EIP window with no interrupts */
#if defined(VARIANT_2_6_24)
	u32 kernel_address;
	u32 syscall_vec;
#endif
};

#if defined(VARIANT_2_6_24)
_Static_assert(__builtin_offsetof(struct lguest_data, hcall_status) == 20, "2.6.24 hcall_status");
_Static_assert(__builtin_offsetof(struct lguest_data, reserve_mem) == 1108, "2.6.24 reserve_mem");
_Static_assert(__builtin_offsetof(struct lguest_data, noirq_start) == 1116, "2.6.24 noirq_start");
_Static_assert(sizeof(struct lguest_data) == 1132, "2.6.24 lguest_data");
#else
_Static_assert(__builtin_offsetof(struct lguest_data, hcalls) == 76, "2.6.23 hcalls");
_Static_assert(__builtin_offsetof(struct lguest_data, tsc_khz) == 1108, "2.6.23 tsc_khz");
_Static_assert(__builtin_offsetof(struct lguest_data, noirq_end) == 1116, "2.6.23 noirq_end");
_Static_assert(sizeof(struct lguest_data) == 1120, "2.6.23 lguest_data");
#endif

extern struct lguest_data lguest_data;
/* Set by lguest_init() on the lguest entry path, before anything prints. */
extern int lguest_pv;

/* Hooks for the common kernel (lib.c console, desc.c interrupts, main.c selection). */
void lguest_console_write(const char *s, size_t n);
void lguest_do_irq(u32 irq);
void lguest_irq_mask(u32 irq);
void lguest_irq_unmask(u32 irq);
u32 lguest_irq_pending(void);
void lguest_init_paravirt_ops(void);
/* scenario=boot: the TLS descriptors load_tls passed reached the host's GDT. */
int lguest_tls_installed(void);
#endif

#endif
