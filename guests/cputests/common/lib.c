#include "lib.h"

/* COM1 is used polled: wait for THR empty (LSR bit 5) before each byte. */
void putc(char c) {
  if (c == '\n') putc('\r');
  while (!(inb(0x3fd) & 0x20)) {}
  outb(0x3f8, (u8)c);
  outb(0xe9, (u8)c);
}

void puts(const char *s) { while (*s) putc(*s++); }

void puthex(u32 v) {
  for (int i = 28; i >= 0; i -= 4) putc("0123456789abcdef"[(v >> i) & 15]);
}

void putdec(u32 v) {
  char b[12]; int n = 0;
  do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (n) putc(b[--n]);
}

void putkv(const char *name, u32 v) { puts(name); puts("=0x"); puthex(v); putc('\n'); }

void qexit(u32 code) {
  outl(0xf4, code);
  for (;;) __asm__ volatile("cli; hlt");
}

void *memset(void *d, int c, u32 n) { u8 *p = d; while (n--) *p++ = (u8)c; return d; }
void *memcpy(void *d, const void *s, u32 n) { u8 *p = d; const u8 *q = s; while (n--) *p++ = *q++; return d; }

u64 seg_desc(u32 base, u32 limit, u32 access, u32 flags) {
  u64 d = limit & 0xffff;
  d |= (u64)(base & 0xffffff) << 16;
  d |= (u64)(access & 0xff) << 40;
  d |= (u64)((limit >> 16) & 0xf) << 48;
  d |= (u64)(flags & 0xf) << 52;
  d |= (u64)((base >> 24) & 0xff) << 56;
  return d;
}

u64 gate_desc(u16 sel, u32 off, u32 type_attr) {
  u64 d = off & 0xffff;
  d |= (u64)sel << 16;
  d |= (u64)(type_attr & 0xff) << 40;
  d |= (u64)(off >> 16) << 48;
  return d;
}
