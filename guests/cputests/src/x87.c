/* x87 availability rules: CR0.EM/MP/TS decide #NM for ESC and WAIT instructions, and CR0.NE=1
 * turns a pending unmasked x87 exception into #MF at the next WAIT/ESC. */
#include "pm.h"

u16 sw, cw = 0x37b; /* ZE unmasked */

int main(void) {
  pm_init();
  puts("x87\n");
  u32 cr0 = read_cr0() & ~0x2eu;            /* clear MP EM TS NE */
  write_cr0(cr0 | 0x4);                     /* EM */
  TRY("fnop");
  report("EM=1 fnop");
  TRY("fwait");
  report("EM=1 MP=0 fwait");
  write_cr0(cr0 | 0x8);                     /* TS */
  TRY("fnop");
  report("TS=1 fnop");
  TRY("fwait");
  report("TS=1 MP=0 fwait");
  write_cr0(cr0 | 0xa);                     /* TS MP */
  TRY("fwait");
  report("TS=1 MP=1 fwait");
  __asm__ volatile("clts");
  putkv("cr0 after clts", read_cr0() & 0x2e);
  TRY("fwait");
  report("TS=0 MP=1 fwait");
  write_cr0(cr0 | 0x22);                    /* NE MP */
  TRY("fninit; fldcw cw; fld1; fldz; fdivrp; fnstsw sw", ::: "memory");
  report("unmasked #Z pending");
  putkv("fsw after fdiv", sw);
  TRY("fwait");
  report("#MF at fwait");
  TRY("fnstsw sw; fnclex; fnstsw sw+0", ::: "memory");
  report("fnclex");
  putkv("fsw after fnclex", sw);
  return 0;
}
