/* Double faults: a contributory fault while delivering a contributory fault (#NP for the #DE gate),
 * and #GP while delivering #PF; both arrive as #DF with error code 0. */
#include "pm.h"

u32 zero;

int main(void) {
  pm_init();
  puts("double_fault\n");
  idt[0] &= ~(1ull << 47);                  /* #DE gate not present -> #NP -> #DF */
  TRY("divl zero", ::: "eax", "edx");
  report("#DE with not-present gate");
  reset_gate(0);
  TRY("divl zero", ::: "eax", "edx");
  report("#DE restored");
  /* #PF handler gate pointing at a selector beyond the GDT: #GP during #PF delivery -> #DF. */
  set_gate(14, 0x1000, isr_stubs[14], 0x8e);
  volatile u32 *pd = (volatile u32 *)0x300000;
  for (int i = 0; i < 1024; i++) pd[i] = 0;
  pd[0] = 0x000083;                         /* 4 MiB identity page for the kernel */
  write_cr4(read_cr4() | 0x10);
  write_cr3(0x300000);
  write_cr0(read_cr0() | 0x80000000);
  TRY("movl 0x800000, %%eax", ::: "eax");
  write_cr0(read_cr0() & ~0x80000000);
  report("#PF with bad gate selector");
  putkv("exceptions", g_count);
  return 0;
}
