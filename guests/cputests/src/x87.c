/* x87 availability rules: CR0.EM/MP/TS decide #NM for ESC and WAIT instructions, and CR0.NE=1
 * turns a pending unmasked x87 exception into #MF at the next WAIT/ESC.
 * The pending exception is loaded with FLDENV (SDM Vol.1 8.1.3: status word ZE|ES with ZE
 * unmasked in the control word), so the rules are tested without x87 arithmetic. */
#include "pm.h"

u16 sw;
/* 32-bit protected-mode FPU environment (SDM Vol.1 Figure 8-9): CW with ZE unmasked, SW with
 * ES|ZE (a zero-divide already flagged), all registers empty. */
u32 env[7] = {0xffff037b, 0xffff0084, 0xffffffff, 0, 0, 0, 0};

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
  TRY("fninit; fldenv env; fnstsw sw", ::: "memory");
  report("unmasked #Z pending");
  putkv("fsw after fldenv", sw);
  TRY("fwait");
  report("#MF at fwait");
  TRY("fnstsw sw; fnclex; fnstsw sw+0", ::: "memory");
  report("fnclex");
  putkv("fsw after fnclex", sw);
  return 0;
}
