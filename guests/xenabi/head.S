/*
 * Xen PV entry for the xenabi guest: the ELF notes the domain builder reads
 * (elfnote.h numbers; guests/README.md "The Xen-ABI guest"), the hypercall transfer page Xen fills,
 * the entry (ESI = start_info, ring 1), the event and failsafe callbacks and the
 * trap stubs, all returning through the iret hypercall (slot 23, jumped to).
 */
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
	xennote_str 6, "pvreplay-xenabi"	/* GUEST_OS */
	xennote_str 7, "1"			/* GUEST_VERSION */
	xennote_str 5, "xen-3.0"		/* XEN_VERSION: what 3.x loaders demand */
	xennote_long 3, 0xc0000000		/* VIRT_BASE */
	xennote_long 4, 0			/* PADDR_OFFSET: virt = paddr + base - offset */
	xennote_long 1, startup_xen		/* ENTRY */
	xennote_long 2, hypercall_page	/* HYPERCALL_PAGE */
	xennote_str 8, "generic"		/* LOADER: not a Linux image */
	xennote_str 10, ""			/* FEATURES: none required */

	.text
	.globl startup_xen
startup_xen:
	cld
	movl %esi, start_info_ptr
	movl $stack_top, %esp
	call xenabi_main
1:	jmp 1b

/* Return to the interrupted context: Xen pops EAX, EIP, CS, EFLAGS (same ring). */
	.globl xen_iret
xen_iret:
	jmp hypercall_page + 23 * 32

/* Event upcall: Xen's bounce frame is EIP, CS, EFLAGS (ring 1 to ring 1). */
	.globl hypervisor_callback
hypervisor_callback:
	pushl %eax
	pushl %ecx
	pushl %edx
	call evtchn_upcall
	popl %edx
	popl %ecx
	popl %eax
	jmp xen_iret

/* Failsafe: Xen could not load the saved segments; report and crash. */
	.globl failsafe_callback
failsafe_callback:
	call failsafe
1:	jmp 1b

/* Trap stubs: a uniform frame (error code or 0), then pushal; C may edit the EIP. */
	.macro trapstub vec, has_err
	.globl trap_\vec
trap_\vec:
	.if \has_err == 0
	pushl $0
	.endif
	pushal
	pushl %esp
	pushl $\vec
	call trap_c
	addl $8, %esp
	popal
	addl $4, %esp
	jmp xen_iret
	.endm
	trapstub 3, 0
	trapstub 6, 0
	trapstub 13, 1
	trapstub 14, 1

/* A read that may fault: trap_c moves a #PF at probe_insn to probe_fixup. */
	.globl probe_read, probe_insn, probe_fixup
probe_read:
	movl 4(%esp), %edx
probe_insn:
	movl (%edx), %eax
	ret
probe_fixup:
	movl $0xdeadbeef, %eax
	ret

/* The transfer page: zeros until the domain builder writes 128 32-byte slots. */
	.section .text.hypercall, "ax"
	.balign 4096
	.globl hypercall_page
hypercall_page:
	.fill 4096, 1, 0

	.bss
	.balign 4096
	.space 16384
stack_top:
