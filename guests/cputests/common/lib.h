/* Tiny freestanding support for the CPU test kernels: polled COM1 + port 0xE9 output, hex
 * printing and exit through QEMU's isa-debug-exit (port 0xF4). */
#ifndef CPUTESTS_LIB_H
#define CPUTESTS_LIB_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }

void putc(char c);
void puts(const char *s);
void puthex(u32 v);
void putdec(u32 v);
/* Prints "name=0x........\n". */
void putkv(const char *name, u32 v);
/* Exits QEMU with status (code << 1) | 1 via isa-debug-exit. */
void qexit(u32 code) __attribute__((noreturn));
void *memset(void *d, int c, u32 n);
void *memcpy(void *d, const void *s, u32 n);

struct __attribute__((packed)) dtr { u16 limit; u32 base; };

/* x86 segment descriptor helpers. */
u64 seg_desc(u32 base, u32 limit, u32 access, u32 flags);
u64 gate_desc(u16 sel, u32 off, u32 type_attr);

#endif
