/* lguest launcher entry: ring 1, paging on, ESI = boot_params (guest-physical 0). */
	.text
	.globl _start
_start:
	movl $stack_top, %esp
	pushl %esi
	call lguestabi_main
1:	jmp 1b

	.bss
	.balign 16
	.space 8192
stack_top:

/* Virtual IRQ 0 (vector 0x20) through an interrupt gate: count it, note the virtual IF seen
 * inside the handler, then re-enable as lguest_iret does (irq_enabled = 0x200) and iret. */
	.text
	.globl irq0_stub
irq0_stub:
	pushl %eax
	incl timer_ticks
	movl lguest_data, %eax
	movl %eax, irq_enabled_in_handler
	movl 12(%esp), %eax
	movl %eax, frame_eflags
	popl %eax
	movl $0x200, lguest_data
	iret
