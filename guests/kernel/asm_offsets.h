/* Constants shared between C and GNU as (the role of Linux's asm-offsets.c). */
#ifndef ASM_OFFSETS_H
#define ASM_OFFSETS_H

/* GDT layout of Linux 2.6.20-2.6.22 i386 (include/asm-i386/segment.h). */
#define GDT_ENTRIES 32
#define GDT_ENTRY_TLS_MIN 6
#define GDT_ENTRY_KERNEL_CS 12
#define GDT_ENTRY_KERNEL_DS 13
#define GDT_ENTRY_USER_CS 14
#define GDT_ENTRY_USER_DS 15
#define GDT_ENTRY_TSS 16
#define GDT_ENTRY_LDT 17
#define __KERNEL_CS (GDT_ENTRY_KERNEL_CS * 8)      /* 0x60 */
#define __KERNEL_DS (GDT_ENTRY_KERNEL_DS * 8)      /* 0x68 */
#define __USER_CS (GDT_ENTRY_USER_CS * 8 + 3)      /* 0x73 */
#define __USER_DS (GDT_ENTRY_USER_DS * 8 + 3)      /* 0x7b */
#define __TSS_SEL (GDT_ENTRY_TSS * 8)              /* 0x80 */

/* Offsets in struct paravirt_ops of the two non-C entry points that entry.S jumps
 * through (Linux: INTERRUPT_RETURN / ENABLE_INTERRUPTS_SYSEXIT). Checked by
 * _Static_assert in paravirt.h. */
#define PV_iret 12
#define PV_irq_enable_sysexit 16

/* struct pt_regs layout (see desc.h). */
#define PT_EIP 52
#define PT_ESP 64
#define PT_SIZE 72

/* Offset of esp0 in the hardware TSS (SDM Vol.3 7.2.1). */
#define TSS_esp0 4

#define SYSCALL_VECTOR 0x80
#define FIRST_EXTERNAL_VECTOR 0x20
#define LOCAL_TIMER_VECTOR 0xef
#define SPURIOUS_APIC_VECTOR 0xff

/* vDSO page layout: ELF header at 0, __kernel_vsyscall at 0x400 as in Linux
 * (vsyscall.lds: . = VDSO_PRELINK + 0x400). */
#define VDSO_PRELINK 0xffffe000
#define VDSO_ENTRY_OFFSET 0x400

#endif
