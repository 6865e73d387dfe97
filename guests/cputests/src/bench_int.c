/* CPU-bound benchmark: sieve of Eratosthenes plus a CRC-32 and a multiply/divide mix, repeated.
 * Prints a checksum so that a wrong result cannot pass as fast. */
#include "pm.h"

#define N 8192
static u8 flags[N];

static u32 sieve(void) {
  u32 count = 0;
  for (u32 i = 0; i < N; i++) flags[i] = 1;
  for (u32 i = 2; i < N; i++) {
    if (!flags[i]) continue;
    count++;
    for (u32 k = i + i; k < N; k += i) flags[k] = 0;
  }
  return count;
}

static u32 crc32(const u8 *p, u32 n, u32 crc) {
  crc = ~crc;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
  }
  return ~crc;
}

int main(void) {
  u32 sum = 0;
  for (u32 round = 0; round < 400; round++) {
    sum += sieve();
    sum = crc32(flags, 1024, sum);
    for (u32 i = 1; i < 2000; i++) sum += (sum * 2654435761u) / i % 977;
  }
  puts("bench_int checksum=0x");
  puthex(sum);
  putc('\n');
  return 0;
}
