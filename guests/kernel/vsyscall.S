/*
 * The two vDSO page images, as Linux 2.6.20-2.6.22 arch/i386/kernel/
 * vsyscall-int80.S and vsyscall-sysenter.S: an ELF header prelinked at
 * VDSO_PRELINK (0xffffe000) and __kernel_vsyscall at +0x400.  sysenter_setup()
 * copies the sysenter image when the CPU has SEP, else the int $0x80 one.
 * The ELF image is reduced to its header (no program headers, dynamic section or
 * symbols): user programs here find the entry through AT_SYSINFO only.
 */
#include "asm_offsets.h"

.macro VDSO_EHDR
	.byte 0x7f, 'E', 'L', 'F', 1, 1, 1, 0
	.space 8
	.word 3                 /* e_type ET_DYN */
	.word 3                 /* e_machine EM_386 */
	.long 1                 /* e_version */
	.long VDSO_PRELINK + VDSO_ENTRY_OFFSET /* e_entry = __kernel_vsyscall */
	.long 0, 0, 0           /* e_phoff, e_shoff, e_flags */
	.word 52, 32, 0, 40, 0, 0
.endm

	.section .vdso, "a"
	.balign 4096
	.globl vsyscall_int80_start
vsyscall_int80_start:
	VDSO_EHDR
	.org vsyscall_int80_start + VDSO_ENTRY_OFFSET, 0
__kernel_vsyscall_int80:
	int $0x80
	ret
	.org vsyscall_int80_start + 4096, 0

	.globl vsyscall_sysenter_start
vsyscall_sysenter_start:
	VDSO_EHDR
	.org vsyscall_sysenter_start + VDSO_ENTRY_OFFSET, 0
__kernel_vsyscall_sysenter:
	push %ecx
	push %edx
	push %ebp
.Lenter_kernel:
	movl %esp, %ebp
	sysenter
	/* 7: align return point with nops (Linux vsyscall-sysenter.S) */
	.space 7, 0x90
	/* 14: system call restart point */
	jmp .Lenter_kernel
	/* 16: normal return point */
SYSENTER_RETURN:
	pop %ebp
	pop %edx
	pop %ecx
	ret
	.org vsyscall_sysenter_start + 4096, 0

	.globl vdso_sysenter_return_offset
	.set vdso_sysenter_return_offset, SYSENTER_RETURN - vsyscall_sysenter_start
