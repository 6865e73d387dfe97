/* Freestanding basics: fixed-width types, port I/O, console, strings. */
#ifndef LIB_H
#define LIB_H

#include "config.h"

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef int s32;
typedef long long s64;
typedef unsigned int size_t;

#define NULL ((void *)0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void outb(u8 v, u16 port) { __asm__ volatile("outb %0,%1" : : "a"(v), "Nd"(port)); }
static inline void outl(u32 v, u16 port) { __asm__ volatile("outl %0,%1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1,%0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void barrier(void) { __asm__ volatile("" : : : "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("rep; nop" : : : "memory"); }

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

/* do_div-style 64/32 division: returns the quotient, stores the remainder. */
u64 div64_u32(u64 n, u32 base, u32 *rem);

void serial_init(void);
void console_write(const char *s, size_t n);
/* printk: %s %c %d %u %x %08x %lld %llu %llx %p (no floating point). */
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Command line (Multiboot) options: key=value, space separated. */
void cmdline_set(const char *s);
const char *cmdline_get(void);
int cmdline_str(const char *key, char *out, size_t n);
int cmdline_u32(const char *key, u32 *out);

/* Exit status written to isa-debug-exit: QEMU exits with (v << 1) | 1. */
#define EXIT_PASS 0
#define EXIT_FAIL 1
#define EXIT_PANIC 2
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
