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
