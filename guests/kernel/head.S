/*
 * Multiboot v1 entry, trap/interrupt entry stubs, int $0x80 and sysenter entry,
 * ring-3 process entry/exit.  Entry/exit paths follow Linux 2.6.20
 * arch/i386/kernel/entry.S: returns to the interrupted context go through
 * paravirt_ops.iret (INTERRUPT_RETURN) and sysenter returns through
 * paravirt_ops.irq_enable_sysexit (ENABLE_INTERRUPTS_SYSEXIT), abi.md §2.1, §5.8.
 */
#include "asm_offsets.h"
#include "config.h"

#define MULTIBOOT_MAGIC 0x1badb002
#define MULTIBOOT_FLAGS 0x00000003 /* page-align modules, want memory info */

	.section .multiboot, "a"
	.balign 4
	.long MULTIBOOT_MAGIC
	.long MULTIBOOT_FLAGS
	.long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

	.text
	.globl _start
_start:
#if CONFIG_LGUEST_GUEST
	/* Linux 2.6.23 startup_32: boot_params (ESI) of protocol >= 2.07 name the subarch
	 * (docs/abi/lguest.md §1); lguest's launcher enters in ring 1, where cli faults. */
	cmpl $0x2badb002, %eax
	je 1f
	cmpw $0x207, 0x206(%esi)
	jb 1f
	cmpl $1, 0x23c(%esi)
	je lguest_entry
1:
#endif
	cli
	/* Entry registers are the backend signal (abi.md §1): EAX = Multiboot magic on
	 * a Multiboot loader, ESI = start_info (Xen) or boot_params (lguest). */
	movl %eax, boot_regs
	movl %ebx, boot_regs + 4
	movl %esi, boot_regs + 8
	movl %cs, %eax
	movl %eax, boot_regs + 12
	movl $boot_stack_top, %esp
	cld
	pushl $0
	popfl
	call start_kernel
1:	hlt
	jmp 1b

/* void reload_segments(void): after lgdt, reload CS via a far jump and the data segments. */
	.globl reload_segments
reload_segments:
	ljmp $__KERNEL_CS, $1f
1:	movl $__KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	ret

/* Entry stubs for vectors 0..47, 16 bytes apart: trap_stubs + 16 * vector. */
.macro STUB vec
	.balign 16
	.if ((\vec) == 8) | (((\vec) >= 10) & ((\vec) <= 14)) | ((\vec) == 17)
	.else
	pushl $0
	.endif
	pushl $\vec
	jmp common_trap
.endm

	.balign 16
	.globl trap_stubs
trap_stubs:
	.set vec, 0
	.rept 48
	STUB vec
	.set vec, vec + 1
	.endr

	.globl system_call_entry, apic_timer_entry, spurious_entry
	.balign 16
system_call_entry:
	pushl $0
	pushl $SYSCALL_VECTOR
	jmp common_trap
	.balign 16
apic_timer_entry:
	pushl $0
	pushl $LOCAL_TIMER_VECTOR
	jmp common_trap
	.balign 16
spurious_entry:
	pushl $0
	pushl $SPURIOUS_APIC_VECTOR
	jmp common_trap

#define SAVE_ALL \
	pushl %gs; pushl %fs; pushl %es; pushl %ds; \
	pushl %eax; pushl %ebp; pushl %edi; pushl %esi; pushl %edx; pushl %ecx; pushl %ebx; \
	movl $__KERNEL_DS, %eax; movl %eax, %ds; movl %eax, %es

#define RESTORE_REGS \
	popl %ebx; popl %ecx; popl %edx; popl %esi; popl %edi; popl %ebp; popl %eax; \
	popl %ds; popl %es; popl %fs; popl %gs

common_trap:
	SAVE_ALL
	cld
	pushl %esp
	call do_trap
	addl $4, %esp
	RESTORE_REGS
	addl $8, %esp /* vector, error code */
	jmp *%cs:paravirt_ops + PV_iret

/*
 * sysenter entry (Linux 2.6.20 entry.S sysenter_entry): SYSENTER_ESP points at a
 * scratch stack; the real kernel stack is TSS.esp0.  The vDSO saved ECX, EDX, EBP
 * on the user stack and put the user ESP in EBP; the return address is the vDSO's
 * SYSENTER_RETURN.  A pt_regs frame like int $0x80's is built so the same
 * system-call code serves both.
 */
	.globl sysenter_entry
sysenter_entry:
	movl %ss:init_tss + TSS_esp0, %esp
	sti
	pushl $__USER_DS
	pushl %ebp
	pushfl
	pushl $__USER_CS
	pushl %ss:current_sysenter_return
	pushl $0
	pushl $SYSCALL_VECTOR
	SAVE_ALL
	cld
	pushl %esp
	call do_sysenter
	addl $4, %esp
	cli
	RESTORE_REGS
	addl $8, %esp
	movl (%esp), %edx       /* PT_EIP: SYSENTER_RETURN */
	movl 12(%esp), %ecx     /* PT_ESP: user stack */
	xorl %ebp, %ebp
	jmp *%cs:paravirt_ops + PV_irq_enable_sysexit

/* Native bodies of the two jump-only operations (abi.md §2.1 patch templates). */
	.globl native_iret, native_irq_enable_sysexit
native_iret:
	iret
native_irq_enable_sysexit:
	sti
	sysexit

/*
 * int run_user(u32 eip, u32 esp): enter ring 3 through paravirt_ops.iret; returns
 * the value passed to user_exit() when the process exits or is killed.
 */
	.globl run_user, user_exit
run_user:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl %esp, user_return_esp
	movl 20(%esp), %eax
	movl 24(%esp), %ecx
	pushl $__USER_DS
	pushl %ecx
	pushl $0x202
	pushl $__USER_CS
	pushl %eax
	movl $__USER_DS, %edx
	movl %edx, %ds
	movl %edx, %es
	movl %edx, %fs
	movl %edx, %gs
	xorl %eax, %eax
	xorl %ebx, %ebx
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %esi, %esi
	xorl %edi, %edi
	xorl %ebp, %ebp
	jmp *%cs:paravirt_ops + PV_iret

/* void user_exit(int code): abandon the process kernel stack, resume run_user's caller. */
user_exit:
	movl 4(%esp), %eax
	movl user_return_esp, %esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

	.bss
	.balign 16
	.globl boot_regs
boot_regs:
	.space 16
user_return_esp:
	.space 4
	.balign 4096
	.space 16384
boot_stack_top:

#if CONFIG_LGUEST_GUEST
#include "lguest/lguest_head.S"
#endif
