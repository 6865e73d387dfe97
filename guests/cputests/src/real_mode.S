/* Real mode from Multiboot protected mode and back. The blob between rm_blob and rm_blob_end is
 * copied to 0x8000 and runs with CS=0x0800, so every code label is used as (label - rm_blob).
 * Results are stored in rm_results (also inside the blob). */
	.set RMBASE, 0x8000
	.set RMSEG, 0x0800
#define OFF(x) ((x) - rm_blob)

	.text
	.globl run_real_mode
run_real_mode:                 /* void run_real_mode(void): called with the blob at 0x8000 */
	pushal
	movl %esp, saved_esp
	sidt saved_idtr
	cli
	ljmp $0x30, $OFF(rm_pm16)  /* 16-bit code, base 0x8000 */
pm_back:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl saved_esp, %esp
	lidt saved_idtr
	popal
	ret

	.data
saved_esp: .long 0
saved_idtr: .word 0
	.long 0

	.section .rodata
	.globl rm_blob, rm_blob_end, rm_results
	.code16
rm_blob:
rm_pm16:
	movw $0x38, %ax            /* 16-bit data, base 0, limit 0xffff */
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movl %cr0, %eax
	andl $~1, %eax
	movl %eax, %cr0
	ljmp $RMSEG, $OFF(rm_real)
rm_real:
	xorw %ax, %ax
	movw %ax, %ss
	movw $0x7000, %sp
	movw $RMSEG, %ax
	movw %ax, %ds
	lidt OFF(rm_idtr)
	xorw %ax, %ax
	movw %ax, %es
	/* IVT: 0x30 -> int30, 0x00 -> de, 0x03 -> bp */
	movw $OFF(int30), %es:0x30*4
	movw $RMSEG, %es:0x30*4+2
	movw $OFF(de_handler), %es:0
	movw $RMSEG, %es:2
	movw $OFF(bp_handler), %es:3*4
	movw $RMSEG, %es:3*4+2

	movw $0x1111, %ax
	int $0x30
	movw %ax, OFF(rm_results)+0
	pushfw
	popw OFF(rm_results)+2

	movb $0, %bl
	movw $100, %ax
de_insn:
	divb %bl                    /* #DE: the handler records IP/CS and skips the 2 bytes */
	int3
	movl $0x12345678, %eax
	shrl $4, %eax
	movl %eax, OFF(rm_results)+8
	movw $0x0900, %ax
	movw %ax, %es
	movw $0xbeef, %es:0x10
	xorw %ax, %ax
	movw %ax, %es
	movw %es:0x9010, %ax
	movw %ax, OFF(rm_results)+12
	/* 16-bit addressing and a string copy */
	movw $OFF(rm_src), %si
	movw $OFF(rm_dst), %di
	movw %ds, %ax
	movw %ax, %es
	movw $4, %cx
	cld
	rep movsw
	movw $OFF(rm_dst), %bx
	movw $2, %si
	movw 4(%bx,%si), %ax
	movw %ax, OFF(rm_results)+14
	movw %cx, OFF(rm_results)+16
	/* IRET in real mode */
	pushfw
	pushw %cs
	pushw $OFF(after_iret)
	iret
	movw $0xdead, OFF(rm_results)+18
after_iret:
	movw $0x600d, OFF(rm_results)+20
	/* Arithmetic with 16-bit flags */
	movw $0x7fff, %ax
	incw %ax
	pushfw
	popw OFF(rm_results)+22
	movw %ax, OFF(rm_results)+24
	/* Back to protected mode */
	cli
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $pm_back

int30:
	addw $0x2222, %ax
	iret
de_handler:
	pushw %bp
	movw %sp, %bp
	movw 2(%bp), %ax
	movw %ax, OFF(rm_results)+4
	movw 4(%bp), %ax
	movw %ax, OFF(rm_results)+6
	addw $2, 2(%bp)
	popw %bp
	iret
bp_handler:
	pushw %bp
	movw %sp, %bp
	movw 2(%bp), %ax
	movw %ax, OFF(rm_results)+26
	popw %bp
	iret

	.align 4
rm_idtr: .word 0x3ff
	.long 0
rm_src: .word 0x1111, 0x2222, 0x3333, 0x4444
rm_dst: .word 0, 0, 0, 0
rm_results: .space 32
rm_blob_end:
	.code32
