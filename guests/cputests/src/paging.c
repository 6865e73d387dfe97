/* Paging: 4 KiB and 4 MiB (PSE) pages, accessed/dirty bits, not-present and protection faults
 * with CR2 and error codes, CR0.WP, INVLPG after remapping, global pages with CR4.PGE. */
#include "pm.h"

#define PD ((volatile u32 *)0x300000)
#define PT ((volatile u32 *)0x301000)
#define P 1u
#define RW 2u
#define US 4u
#define A 0x20u
#define D 0x40u
#define PS 0x80u
#define G 0x100u

static void invlpg(u32 a) { __asm__ volatile("invlpg (%0)" ::"r"(a) : "memory"); }
static volatile u32 sink;

static void pf_report(const char *label) {
  report(label);
  if (g_vec == 14) putkv("  cr2", g_cr2);
}

int main(void) {
  pm_init();
  puts("paging\n");
  for (int i = 0; i < 1024; i++) { PD[i] = 0; PT[i] = (u32)i << 12 | P | RW; }
  PD[0] = 0x301000 | P | RW;
  PD[1] = 0x400000 | P | RW | PS;           /* 4 MiB page, identity */
  PD[2] = 0x800000 | P | PS;                /* 4 MiB page, read-only */
  *(volatile u32 *)0x370000 = 0x37373737;
  *(volatile u32 *)0x360000 = 0x36363636;
  *(volatile u32 *)0x400010 = 0x40404040;
  write_cr4(read_cr4() | 0x10);             /* PSE */
  write_cr3(0x300000);
  write_cr0(read_cr0() | 0x80000000);
  putkv("cr0", read_cr0());
  putkv("pde0 after enable", PD[0] & 0x1ff);

  PT[0x340] &= ~(A | D);
  invlpg(0x340000);
  sink = *(volatile u32 *)0x340000;
  putkv("pte A/D after read", PT[0x340] & (A | D));
  *(volatile u32 *)0x340004 = 1;
  putkv("pte A/D after write", PT[0x340] & (A | D));

  PD[1] &= ~(A | D);
  invlpg(0x400000);
  sink = *(volatile u32 *)0x400010;
  putkv("4M pde A/D after read", PD[1] & (A | D));
  *(volatile u32 *)0x400014 = 2;
  putkv("4M pde A/D after write", PD[1] & (A | D));
  putkv("4M read", *(volatile u32 *)0x400010);

  PT[0x350] = 0;
  invlpg(0x350000);
  TRY("movl 0x350010, %%eax", ::: "eax");
  pf_report("#PF read not-present");
  TRY("movl $1, 0x350020", ::: "memory");
  pf_report("#PF write not-present");
  TRY("movl 0x34fffe, %%eax", ::: "eax");
  pf_report("#PF read crossing into not-present");
  TRY("movl 0xc00000, %%eax", ::: "eax");
  pf_report("#PF pde not present");

  PT[0x351] = 0x351000 | P;                 /* read-only 4 KiB page */
  invlpg(0x351000);
  TRY("movl $5, 0x351000", ::: "memory");
  pf_report("write ro page WP=0");
  write_cr0(read_cr0() | 0x10000);          /* WP */
  TRY("movl $6, 0x351000", ::: "memory");
  pf_report("#PF write ro page WP=1");
  TRY("movl $7, 0x800000", ::: "memory");
  pf_report("#PF write ro 4M page WP=1");
  write_cr0(read_cr0() & ~0x10000);
  TRY("movl $8, 0x800000", ::: "memory");
  pf_report("write ro 4M page WP=0");
  putkv("ro 4M page value", *(volatile u32 *)0x800000);

  PT[0x360] = 0x370000 | P | RW;            /* remap */
  invlpg(0x360000);
  putkv("remapped read", *(volatile u32 *)0x360000);

  write_cr4(read_cr4() | 0x80);             /* PGE */
  PT[0x361] = 0x361000 | P | RW | G;
  write_cr3(read_cr3());
  *(volatile u32 *)0x361000 = 0x61;
  putkv("global page read", *(volatile u32 *)0x361000);
  putkv("cr4", read_cr4());

  write_cr0(read_cr0() & ~0x80000000);
  putkv("paging off, 0x350010 raw", *(volatile u32 *)0x350010);
  return 0;
}
