/* String-instruction benchmark: REP MOVSD/MOVSB copies, REP STOSD fills, REPE CMPSB compares and
 * REPNE SCASB searches over 64 KiB buffers (forwards and, for MOVSB, backwards with DF=1), 300
 * rounds. Prints a checksum so that a wrong result cannot pass as fast. */
#include "pm.h"

#define N 65536
static u8 a[N], b[N];

static void movsd(void *d, const void *s, u32 n) {
  asm volatile("rep movsl" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

static void movsb_back(u8 *d, const u8 *s, u32 n) {
  d += n - 1;
  s += n - 1;
  asm volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

static void stosd(void *d, u32 v, u32 n) {
  asm volatile("rep stosl" : "+D"(d), "+c"(n) : "a"(v) : "memory");
}

/* Bytes left when REPE CMPSB stopped (0: equal). */
static u32 cmpsb(const u8 *p, const u8 *q, u32 n) {
  asm volatile("repe cmpsb" : "+S"(p), "+D"(q), "+c"(n) : : "memory", "cc");
  return n;
}

/* Bytes left when REPNE SCASB found `c` (0: not found, or found last). */
static u32 scasb(const u8 *p, u8 c, u32 n) {
  asm volatile("repne scasb" : "+D"(p), "+c"(n) : "a"(c) : "memory", "cc");
  return n;
}

int main(void) {
  u32 sum = 0;
  for (u32 i = 0; i < N; i++) a[i] = (u8)(i * 2654435761u >> 24);
  for (u32 round = 0; round < 300; round++) {
    movsd(b, a, N / 4);
    b[(round * 977) & (N - 1)] ^= 1;
    sum = sum * 31 + cmpsb(a, b, N);
    sum = sum * 31 + scasb(a, (u8)round, N);
    movsb_back(a, b, N);
    b[(round * 977) & (N - 1)] ^= 1;
    stosd(b + (round & 1023), round * 0x01010101u, N / 8);
    sum = sum * 31 + a[round & (N - 1)] + b[(round * 31) & (N - 1)];
  }
  puts("bench_str checksum=0x");
  puthex(sum);
  putc('\n');
  return 0;
}
