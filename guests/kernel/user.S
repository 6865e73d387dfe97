/*
 * Ring-3 test programs.  Position-independent text (relative branches only, strings
 * located with call/pop), mapped by the kernel at USER_CODE; results go to the
 * fixed USER_DATA page.  Each entry sees an ELF-style initial stack:
 * argc, argv[] NULL, envp[] NULL, auxv pairs ending in AT_NULL.
 */
#include "user.h"

	.section .user, "ax"
	.balign 4096
	.globl user_text_start
user_text_start:

/* Find auxv entry of type %eax on the initial stack %esi; returns value in %eax, 0 if absent. */
find_auxv:
	movl (%esi), %ecx          /* argc */
	leal 8(%esi,%ecx,4), %edx  /* skip argc, argv[], NULL */
1:	cmpl $0, (%edx)            /* envp[] up to NULL */
	leal 4(%edx), %edx
	jne 1b
2:	movl (%edx), %ecx
	testl %ecx, %ecx
	jz 3f
	cmpl %eax, %ecx
	je 4f
	addl $8, %edx
	jmp 2b
3:	xorl %eax, %eax
	ret
4:	movl 4(%edx), %eax
	ret

/* "int80" program: the classic int $0x80 path (glibc without vDSO support). */
	.globl user_prog_int80
user_prog_int80:
	movl $USER_DATA, %edi
	movl $USER_MAGIC, UD_MAGIC(%edi)
	movl $PATH_INT80, UD_PATH(%edi)
	movl $20, %eax             /* __NR_getpid */
	int $0x80
	movl %eax, UD_GETPID(%edi)
	call 1f
	.ascii "user[int80]: write() via int $0x80\n"
1:	popl %ecx
	movl $4, %eax              /* __NR_write */
	movl $1, %ebx
	movl $35, %edx
	int $0x80
	movl %eax, UD_WRITE(%edi)
	movl $1, %eax              /* __NR_exit */
	xorl %ebx, %ebx
	int $0x80
	ud2

/* "new glibc": call *AT_SYSINFO when the kernel passed one, else int $0x80. */
	.globl user_prog_newglibc
user_prog_newglibc:
	movl %esp, %esi
	movl $USER_DATA, %edi
	movl $USER_MAGIC, UD_MAGIC(%edi)
	movl $AT_SYSINFO_EHDR, %eax
	call find_auxv
	movl %eax, UD_EHDR(%edi)
	testl %eax, %eax
	jz 1f
	cmpl $0x464c457f, (%eax)   /* "\177ELF" at AT_SYSINFO_EHDR */
	jne 1f
	movl $1, UD_EHDR_OK(%edi)
1:	movl $AT_SYSINFO, %eax
	call find_auxv
	movl %eax, UD_SYSINFO(%edi)
	testl %eax, %eax
	jz .Lnew_int80
	movl $PATH_SYSINFO, UD_PATH(%edi)
	movl $20, %eax
	call *UD_SYSINFO(%edi)
	movl %eax, UD_GETPID(%edi)
	call 2f
	.ascii "user[newglibc]: write() via AT_SYSINFO\n"
2:	popl %ecx
	movl $4, %eax
	movl $1, %ebx
	movl $39, %edx
	call *UD_SYSINFO(%edi)
	movl %eax, UD_WRITE(%edi)
	movl $1, %eax
	xorl %ebx, %ebx
	call *UD_SYSINFO(%edi)
	ud2
.Lnew_int80:
	movl $PATH_INT80, UD_PATH(%edi)
	movl $20, %eax
	int $0x80
	movl %eax, UD_GETPID(%edi)
	call 3f
	.ascii "user[newglibc]: no AT_SYSINFO, write() via int $0x80\n"
3:	popl %ecx
	movl $4, %eax
	movl $1, %ebx
	movl $53, %edx
	int $0x80
	movl %eax, UD_WRITE(%edi)
	movl $1, %eax
	xorl %ebx, %ebx
	int $0x80
	ud2

/* "old glibc": assumes the vDSO at 0xffffe000 and calls 0xffffe400 directly. */
	.globl user_prog_oldglibc
user_prog_oldglibc:
	movl $USER_DATA, %edi
	movl $USER_MAGIC, UD_MAGIC(%edi)
	movl $PATH_FIXED, UD_PATH(%edi)
	movl $OLD_GLIBC_VSYSCALL, %esi
	movl $20, %eax
	call *%esi
	movl %eax, UD_GETPID(%edi)
	call 1f
	.ascii "user[oldglibc]: write() via 0xffffe400\n"
1:	popl %ecx
	movl $4, %eax
	movl $1, %ebx
	movl $39, %edx
	call *%esi
	movl %eax, UD_WRITE(%edi)
	movl $1, %eax
	xorl %ebx, %ebx
	call *%esi
	ud2

/*
 * "bench": RDTSC deltas over BENCH_CALLS getpid() calls through int $0x80 and,
 * if AT_SYSINFO is present, through the vDSO; plus the empty loop.
 */
	.globl user_prog_bench
user_prog_bench:
	movl %esp, %esi
	movl $USER_DATA, %edi
	movl $USER_MAGIC, UD_MAGIC(%edi)
	movl $AT_SYSINFO, %eax
	call find_auxv
	movl %eax, UD_SYSINFO(%edi)
	/* empty loop */
	rdtsc
	movl %eax, %esi
	movl $BENCH_CALLS, %ebp
1:	movl $20, %eax
	decl %ebp
	jnz 1b
	rdtsc
	subl %esi, %eax
	movl %eax, UD_TSC_EMPTY(%edi)
	/* int $0x80 */
	rdtsc
	movl %eax, %esi
	movl $BENCH_CALLS, %ebp
2:	movl $20, %eax
	int $0x80
	decl %ebp
	jnz 2b
	rdtsc
	subl %esi, %eax
	movl %eax, UD_TSC_INT80(%edi)
	/* vDSO __kernel_vsyscall (sysenter when the CPU has SEP) */
	cmpl $0, UD_SYSINFO(%edi)
	je 4f
	movl $PATH_SYSINFO, UD_PATH(%edi)
	rdtsc
	movl %eax, %esi
	movl $BENCH_CALLS, %ebp
3:	movl $20, %eax
	call *UD_SYSINFO(%edi)
	decl %ebp
	jnz 3b
	rdtsc
	subl %esi, %eax
	movl %eax, UD_TSC_VSYS(%edi)
4:	movl $1, %eax
	xorl %ebx, %ebx
	int $0x80
	ud2

	.balign 4096
	.globl user_text_end
user_text_end:
