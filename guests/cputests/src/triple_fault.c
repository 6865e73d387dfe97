/* Triple fault: with an empty IDT, INT3 raises #GP, whose delivery raises #DF, whose delivery
 * shuts the machine down (QEMU with -no-reboot exits with status 0). */
#include "pm.h"

int main(void) {
  pm_init();
  puts("triple_fault\n");
  struct dtr empty = { 0, 0 };
  puts("about to triple fault\n");
  __asm__ volatile("lidt %0; int3" ::"m"(empty));
  puts("NOT REACHED\n");
  return 1;
}
