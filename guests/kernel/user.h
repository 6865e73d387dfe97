/* Shared between user.S (ring-3 programs) and process.c (the kernel side). */
#ifndef USER_H
#define USER_H

#define USER_CODE 0x08048000  /* the ELF text address of i386 executables */
#define USER_DATA 0x0804c000  /* one RW page the programs report into */
#define USER_STACK_TOP 0xc0000000
#define USER_MAGIC 0x52455355 /* "USER" */
#define BENCH_CALLS 64

#define AT_NULL 0
#define AT_PAGESZ 6
#define AT_SYSINFO 32
#define AT_SYSINFO_EHDR 33

/* Word offsets in the USER_DATA page. */
#define UD_MAGIC 0
#define UD_PATH 4        /* 0 int $0x80, 1 AT_SYSINFO (vDSO), 2 hard-coded 0xffffe400 */
#define UD_GETPID 8
#define UD_WRITE 12
#define UD_TSC_INT80 16
#define UD_TSC_VSYS 20
#define UD_SYSINFO 24
#define UD_EHDR 28
#define UD_EHDR_OK 32
#define UD_TSC_EMPTY 36

#define PATH_INT80 0
#define PATH_SYSINFO 1
#define PATH_FIXED 2

#define OLD_GLIBC_VSYSCALL 0xffffe400

#endif
