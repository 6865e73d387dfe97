/*
 * Lockstep harness for seeded random instruction streams (tests/lockstep/random_code.ts).
 * Sets up its own flat GDT and an IDT whose every vector parks the CPU in a distinct `jmp .`
 * loop, then falls into a NOP-filled code area. The lockstep runner patches generated code into
 * that area (in QEMU through the gdb stub, in pvreplay directly) and points EIP at it.
 * Fixed addresses (tests/lockstep/harness.ts mirrors them):
 *   code area 0x110000..0x120000, scratch data 0x130000..0x140000, stack 0x140000..0x150000,
 *   vector stubs at 0x108000 + 4*vector.
 */
	.section .multiboot, "a"
	.align 4
	.long 0x1BADB002
	.long 0x00000003
	.long -(0x1BADB002 + 0x00000003)

	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	lgdt gdtr
	ljmp $0x08, $1f
1:	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl $0x148000, %esp
	/* Build the IDT: interrupt gates (type 0x8E) to stub 0x108000 + 4*n. */
	movl $idt, %edi
	xorl %ecx, %ecx
2:	leal 0x108000(,%ecx,4), %eax
	movw %ax, (%edi)
	movw $0x08, 2(%edi)
	movw $0x8E00, 4(%edi)
	shrl $16, %eax
	movw %ax, 6(%edi)
	addl $8, %edi
	incl %ecx
	cmpl $256, %ecx
	jne 2b
	lidt idtr
	.globl harness_ready
harness_ready:
	jmp code_area

	.align 8
gdt:
	.quad 0
	.quad 0x00cf9b000000ffff     /* 0x08 code32 flat */
	.quad 0x00cf93000000ffff     /* 0x10 data32 flat */
gdt_end:
gdtr:
	.word gdt_end - gdt - 1
	.long gdt
idtr:
	.word 256 * 8 - 1
	.long idt

	.section .vectors, "ax"
	/* 256 stubs of 4 bytes each: `jmp .` padded with NOPs. */
	.rept 256
	jmp .
	nop
	nop
	.endr

	.section .codearea, "ax"
	.globl code_area
code_area:
	.fill 0x10000 - 2, 1, 0x90
	jmp .

	.section .scratch, "aw"
	.fill 0x20000, 1, 0

	.bss
	.align 8
idt:
	.space 256 * 8
