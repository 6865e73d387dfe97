/* Multiboot v1 entry shared by the C test kernels: stack, then main(), then exit(main's code). */
	.section .multiboot, "a"
	.align 4
	.long 0x1BADB002            /* magic */
	.long 0x00000003            /* flags: page-align modules, want memory info */
	.long -(0x1BADB002 + 0x00000003)

	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	movl $boot_stack_top, %esp
	pushl %ebx                  /* multiboot info */
	pushl %eax                  /* magic */
	call main
	pushl %eax
	call qexit
1:	hlt
	jmp 1b

	.bss
	.align 16
	.space 16384
	.globl boot_stack_top
boot_stack_top:
