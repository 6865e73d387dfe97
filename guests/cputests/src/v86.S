/* Virtual-8086 mode entry (IRET with VM=1) and the monitor's way back (v86_exit). The v86 code
 * between v86_blob and v86_blob_end is copied to 0x20000 and runs with CS=DS=SS=0x2000. */
#define OFF(x) ((x) - v86_blob)
	.text
	.globl enter_v86
enter_v86:                      /* void enter_v86(u32 eflags) */
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl %esp, v86_kesp
	movl 20(%esp), %eax
	pushl $0x2000               /* gs */
	pushl $0x2000               /* fs */
	pushl $0x2000               /* ds */
	pushl $0x2000               /* es */
	pushl $0x2000               /* ss */
	pushl $0xff00               /* sp */
	pushl %eax                  /* eflags (VM set by the caller) */
	pushl $0x2000               /* cs */
	pushl $0                    /* ip */
	iret

	.globl v86_exit
v86_exit:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movl v86_kesp, %esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

	.data
v86_kesp: .long 0

	.section .rodata
	.globl v86_blob, v86_blob_end
	.code16
v86_blob:
	movw $0xabcd, 0x100
	movw %ss, %ax
	movw %ax, 0x102
	pushfw
	popw 0x104                  /* IOPL 0: #GP, emulated by the monitor (stores 0x5555) */
	movw $0x1111, %ax
	int $0x31                   /* IOPL 3: through the IDT; IOPL 0: #GP */
	movw %ax, 0x106
	cli                         /* IOPL 0: #GP */
	inb $0x80, %al              /* I/O bitmap beyond the TSS limit: #GP */
	movw %sp, 0x108
	hlt                         /* always #GP at CPL 3: the monitor ends the test */
v86_blob_end:
	.code32
