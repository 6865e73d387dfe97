/* Multiboot v1 entry, exception stubs and an IRQ0 stub (vector 0x20). */
	.section .multiboot, "a"
	.balign 4
	.long 0x1badb002, 0x00000003, -(0x1badb002 + 0x00000003)

	.text
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	cld
	call vmiabi_main
1:	hlt
	jmp 1b

/* 32 exception stubs, 16 bytes apart; each passes its vector to exception(). */
	.balign 16
	.globl exc_stubs
exc_stubs:
	.set v, 0
	.rept 32
	.balign 16
	pushl $v
	call exception
	.set v, v + 1
	.endr

/* IRQ0: count it, EOI the master 8259A. */
	.globl irq0_stub
irq0_stub:
	pushl %eax
	incl irq0_count
	movb $0x20, %al
	outb %al, $0x20
	popl %eax
	iret

	.bss
	.balign 16
	.space 8192
stack_top:
