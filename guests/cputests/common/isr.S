/* IDT entry stubs: push a zero error code where the CPU pushes none, push the vector, save
 * registers and call isr_dispatch(frame). */
	.text
	.globl isr_common
isr_common:
	pusha
	pushl %ds
	pushl %es
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	cld
	pushl %esp
	call isr_dispatch
	addl $4, %esp
	popl %es
	popl %ds
	popa
	addl $8, %esp
	iret

	.macro stub n
	.align 16
isr_\n:
	.if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17)
	.else
	pushl $0
	.endif
	pushl $\n
	jmp isr_common
	.endm

	.altmacro
	.set i, 0
	.rept 256
	stub %i
	.set i, i + 1
	.endr

	.data
	.globl isr_stubs
isr_stubs:
	.set i, 0
	.macro addr n
	.long isr_\n
	.endm
	.rept 256
	addr %i
	.set i, i + 1
	.endr
