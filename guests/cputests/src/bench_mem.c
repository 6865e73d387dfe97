/* Paging/memory benchmark: paging on with 4 KiB pages over 32 MiB, copying 4 MiB between
 * buffers page by page, flushing the TLB (CR3 reload) between rounds. */
#include "pm.h"

#define PD ((u32 *)0x3000000)
#define PT ((u32 *)0x3001000)

int main(void) {
  for (u32 i = 0; i < 1024; i++) PD[i] = 0;
  for (u32 i = 0; i < 8 * 1024; i++) PT[i] = (i << 12) | 3;   /* 32 MiB identity */
  for (u32 i = 0; i < 8; i++) PD[i] = ((u32)PT + i * 4096) | 3;
  write_cr3((u32)PD);
  write_cr0(read_cr0() | 0x80000000);
  u32 *a = (u32 *)0x800000, *b = (u32 *)0xc00000;
  for (u32 i = 0; i < (4u << 20) / 4; i++) a[i] = i * 2654435761u;
  u32 sum = 0;
  for (u32 round = 0; round < 12; round++) {
    u32 *src = round & 1 ? b : a, *dst = round & 1 ? a : b;
    for (u32 page = 0; page < 1024; page++) {
      /* Stride through pages in a scattered order so the TLB keeps missing. */
      u32 p = (page * 397) & 1023;
      u32 *s = src + p * 1024, *d = dst + p * 1024;
      for (u32 i = 0; i < 1024; i++) d[i] = s[i] + round;
    }
    write_cr3(read_cr3());
    for (u32 i = 0; i < (4u << 20) / 4; i += 1024 + 1) sum = sum * 31 + dst[i];
  }
  write_cr0(read_cr0() & ~0x80000000);
  puts("bench_mem checksum=0x");
  puthex(sum);
  putc('\n');
  return 0;
}
