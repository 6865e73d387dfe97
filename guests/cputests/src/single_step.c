/* Debug traps: EFLAGS.TF single-stepping (including the deferral after MOV SS), INT3 and INTO
 * under TF, DR6.BS, a DR0 execution breakpoint resumed with RF, and the STI interrupt shadow
 * observed with a pending PIT interrupt. */
#include "pm.h"

static u32 n, eips[32], dr6s[32];
static u32 bp_hits, bp_eip, bp_dr6;
static volatile u32 irq_eip, irq_count;
extern u8 ss_start[], ss_end[], shadow_sti[], bp_target[];

static void db(struct frame *f) {
  u32 dr6;
  __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
  __asm__ volatile("mov %0, %%dr6" ::"r"(0));
  if (dr6 & 1) { bp_hits++; bp_eip = f->eip; bp_dr6 = dr6 & 0xf00f; f->eflags |= 0x10000; return; }
  if (n < 32) { eips[n] = f->eip; dr6s[n] = dr6 & 0xf00f; }
  n++;
  if (f->eip >= (u32)ss_end) f->eflags &= ~0x100u;
}

static void irq0(struct frame *f) {
  irq_eip = f->eip;
  irq_count++;
  outb(0x20, 0x20);
}

int main(void) {
  pm_init();
  puts("single_step\n");
  g_handler[1] = db;
  __asm__ volatile(
      "pushf; orl $0x100, (%%esp); popf\n"
      ".globl ss_start\nss_start:\n\t"
      "nop\n\tmovl $1, %%eax\n\t"
      "movw %%ss, %%ax\n\tmovw %%ax, %%ss\n\t"   /* the trap after MOV SS is deferred */
      "incl %%eax\n\t"
      "pushl %%ss\n\tpopl %%ss\n\t"
      "nop\n\t"
      "movl $1f, g_recover\n\tint3\n1:\n\t"
      ".globl ss_end\nss_end:\n\tnop\n\tnop"
      ::: "eax", "memory");
  putkv("steps", n);
  for (u32 i = 0; i < n && i < 32; i++) {
    puts("  eip=+"); puthex(eips[i] - (u32)ss_start); puts(" dr6="); puthex(dr6s[i]); putc('\n');
  }

  /* DR0 execution breakpoint. */
  __asm__ volatile("mov %0, %%dr0; mov %1, %%dr7" ::"r"(bp_target), "r"(0x1u) : "memory");
  __asm__ volatile(".globl bp_target\nbp_target:\n\tnop" ::: "memory");
  __asm__ volatile("mov %0, %%dr7" ::"r"(0u));
  putkv("dr0 hits", bp_hits);
  putkv("dr0 eip=bp_target", bp_eip == (u32)bp_target);
  putkv("dr0 dr6", bp_dr6);

  /* STI shadow: PIT channel 0 one-shot, wait for IRR bit 0 with IF=0, then STI; NOP; NOP. */
  g_handler[0x20] = irq0;
  outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01); /* PIC base 0x20 */
  outb(0xa0, 0x11); outb(0xa1, 0x28); outb(0xa1, 0x02); outb(0xa1, 0x01);
  outb(0x21, 0xfe); outb(0xa1, 0xff);
  outb(0x43, 0x30); outb(0x40, 0x10); outb(0x40, 0x00);                  /* mode 0, count 16 */
  outb(0x20, 0x0a);                                                        /* OCW3: read IRR */
  u32 spins = 0;
  while (!(inb(0x20) & 1)) spins++;
  __asm__ volatile("sti\n.globl shadow_sti\nshadow_sti:\n\tnop\n\tnop\n\tcli" ::: "memory");
  putkv("irq count", irq_count);
  putkv("irq eip - after sti", irq_eip - (u32)shadow_sti);
  return 0;
}
