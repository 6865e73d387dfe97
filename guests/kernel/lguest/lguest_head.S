/*
 * lguest entry and iret (docs/abi/lguest.md §1, §2, §6), the assembly half of Linux 2.6.23
 * drivers/lguest/lguest_asm.S as this kernel models it.  #included at the end of head.S for
 * CONFIG_LGUEST_GUEST variants, so the others keep their exact images.
 *
 * _start jumps here when boot_params (ESI) says hardware_subarch 1: the launcher entered us
 * in ring 1 with paging on, where cli, port I/O and every privileged instruction fault.
 */
#include "lguest.h"

	.text
	.globl lguest_entry
lguest_entry:
	/* The same capture as _start: detect.c sees boot_params at ESI and the ring-1 CS. */
	movl %eax, boot_regs
	movl %ebx, boot_regs + 4
	movl %esi, boot_regs + 8
	movl %cs, %eax
	movl %eax, boot_regs + 12
	/* The first hypercall must be LGUEST_INIT with the physical address of lguest_data
	 * (identity mapped here); the host reads noirq_start/end and fills in reserve_mem and
	 * tsc_khz.  Any other first call kills the guest. */
	movl $LHCALL_LGUEST_INIT, %eax
	movl $lguest_data, %edx
	int $LGUEST_TRAP_ENTRY
	movl $boot_stack_top, %esp
	cld
	pushl boot_regs + 8
	call lguest_init
	addl $4, %esp
	call start_kernel
1:	jmp 1b

/*
 * INTERRUPT_RETURN under lguest: the frame's EFLAGS.IF is the virtual flag, so copy the saved
 * EFLAGS into irq_enabled, then iret.  Between that store and the iret an interrupt would be
 * taken on this frame, so lguest_data.noirq_start/end tell the host not to inject there.
 * %ss: the data segments already belong to whatever we return to.
 */
	.globl lguest_iret, lguest_noirq_start, lguest_noirq_end
lguest_iret:
	pushl %eax
	movl 12(%esp), %eax
lguest_noirq_start:
	movl %eax, %ss:lguest_data
	popl %eax
	iret
lguest_noirq_end:
