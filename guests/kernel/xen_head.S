/*
 * Xen PV entry of the 2.6.23/2.6.24 model (Linux arch/i386/xen/xen-head.S of 2.6.23 did
 * the same with its ELFNOTE macro): the ELF notes a Xen 3.x domain builder reads
 * (xen/include/public/elfnote.h numbers; docs/abi/xen.md), the hypercall transfer page,
 * startup_xen (ring 1, ESI = start_info), the event and failsafe callbacks and the iret
 * path through the iret hypercall (slot 23, jumped to with the frame on the stack).
 * The same image keeps head.S's Multiboot header and _start: one image boots both ways.
 * Only assembled into CONFIG_XEN variants (guests/build.ts features: "xen").
 */
#include "asm_offsets.h"

	.macro xennote_head type
	.balign 4
	.long 2f - 1f
	.long 4f - 3f
	.long \type
1:	.asciz "Xen"
2:	.balign 4
3:
	.endm
	.macro xennote_str type, value
	xennote_head \type
	.asciz "\value"
4:	.balign 4
	.endm
	.macro xennote_long type, value
	xennote_head \type
	.long \value
4:	.balign 4
	.endm

	.section .note.Xen, "a"
	xennote_str 6, "linux"			/* GUEST_OS */
	xennote_str 7, "2.6"			/* GUEST_VERSION */
	xennote_str 5, "xen-3.0"		/* XEN_VERSION */
	/* VIRT_BASE 0 / PADDR_OFFSET 0: this kernel runs identity mapped at 1 MiB (Linux
	 * used __PAGE_OFFSET 0xC0000000); virtual = paddr + VIRT_BASE - PADDR_OFFSET. */
	xennote_long 3, 0			/* VIRT_BASE */
	xennote_long 4, 0			/* PADDR_OFFSET */
	xennote_long 1, startup_xen		/* ENTRY */
	xennote_long 2, hypercall_page		/* HYPERCALL_PAGE */
	xennote_str 10, "!writable_page_tables|pae_pgdir_above_4gb" /* FEATURES ('!' = required) */
	xennote_str 9, "no"			/* PAE_MODE: a non-PAE kernel */
	xennote_str 8, "generic"		/* LOADER */

	.text
	.globl startup_xen
startup_xen:
	cld
	/* Same capture as _start (boot_regs: EAX, EBX, ESI, CS): detect.c sees ring 1. */
	movl %eax, boot_regs
	movl %ebx, boot_regs + 4
	movl %esi, boot_regs + 8
	movl %cs, %eax
	movl %eax, boot_regs + 12
	movl $xen_boot_stack_top, %esp
	call start_kernel
1:	jmp 1b

/* INTERRUPT_RETURN under Xen: the iret hypercall pops EAX, EIP, CS, EFLAGS [, ESP, SS]
 * and restores evtchn_upcall_mask from EFLAGS.IF (xen.h HYPERVISOR_iret). */
	.globl xen_iret
xen_iret:
	jmp hypercall_page + 23 * 32

/* sysexit cannot run in ring 1; SEP is masked from CPUID under Xen so it is never used. */
	.globl xen_irq_enable_sysexit
xen_irq_enable_sysexit:
	call xen_sysexit_unreachable
1:	jmp 1b

#define XSAVE_ALL \
	pushl %gs; pushl %fs; pushl %es; pushl %ds; \
	pushl %eax; pushl %ebp; pushl %edi; pushl %esi; pushl %edx; pushl %ecx; pushl %ebx

#define XRESTORE_REGS \
	popl %ebx; popl %ecx; popl %edx; popl %esi; popl %edi; popl %ebp; popl %eax; \
	popl %ds; popl %es; popl %fs; popl %gs

/* Event upcall (set_callbacks event address): Xen's bounce frame is EIP, CS, EFLAGS
 * (+ ESP, SS from ring 3) with events masked; build a pt_regs like common_trap's. */
	.globl xen_hypervisor_callback
xen_hypervisor_callback:
	pushl $0
	pushl $0x1ff			/* XEN_UPCALL_VECTOR */
	XSAVE_ALL
	cld
	pushl %esp
	call xen_evtchn_do_upcall
	addl $4, %esp
	XRESTORE_REGS
	addl $8, %esp
	jmp xen_iret

/* Failsafe callback: Xen could not reload saved segment registers for the guest. */
	.globl xen_failsafe_callback
xen_failsafe_callback:
	call xen_failsafe
1:	jmp 1b

/* The transfer page: zeros until the domain builder writes 32-byte hypercall stubs. */
	.balign 4096
	.globl hypercall_page
hypercall_page:
	.fill 4096, 1, 0

	.bss
	.balign 4096
	.space 16384
xen_boot_stack_top:
