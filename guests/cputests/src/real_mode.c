/* Real mode: leave protected mode, run real-mode code with IVT interrupts (INT n, #DE, INT3),
 * segment arithmetic, 16-bit addressing, 32-bit operands and IRET, then return. */
#include "pm.h"

extern u8 rm_blob[], rm_blob_end[], rm_results[];
void run_real_mode(void);

int main(void) {
  pm_init();
  puts("real_mode\n");
  gdt[6] = seg_desc(0x8000, 0xffff, 0x9a, 0);  /* 0x30: 16-bit code at the blob */
  gdt[7] = seg_desc(0, 0xffff, 0x92, 0);       /* 0x38: 16-bit data */
  reload_gdt();
  memcpy((void *)0x8000, rm_blob, (u32)(rm_blob_end - rm_blob));
  run_real_mode();
  const u16 *r = (const u16 *)(0x8000 + (rm_results - rm_blob));
  putkv("int 0x30 ax", r[0]);
  putkv("flags after int", r[1] & 0x8d5);
  putkv("#DE ip", r[2]);
  putkv("#DE cs", r[3]);
  putkv("32-bit shr", r[4] | (u32)r[5] << 16);
  putkv("es:0x10 via 0:0x9010", r[6]);
  putkv("[bx+si+4]", r[7]);
  putkv("cx after rep", r[8]);
  putkv("skipped by iret", r[9]);
  putkv("after iret", r[10]);
  putkv("inc 7fff flags", r[11] & 0x8d5);
  putkv("inc 7fff", r[12]);
  putkv("int3 ip", r[13]);
  putkv("back in pm, cr0", read_cr0() & 0x8000001f);
  return 0;
}
