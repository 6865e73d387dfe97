/* Protected-mode exceptions: each is provoked once and its vector and error code printed. */
#include "pm.h"

/* QEMU TCG does not enforce data-segment limits, null-selector use, writes to code segments or
 * CR0 NW/CD consistency, so those checks are not here (see docs/verification.md). */
u32 zero = 0;
u32 bounds[2] = { 10, 20 };

int main(void) {
  pm_init();
  puts("pm_exceptions\n");

  TRY("divl zero", ::: "eax", "edx");
  report("#DE div");
  TRY("movl $0x80000000, %%eax; cdq; movl $-1, %%ecx; idivl %%ecx", ::: "eax", "ecx", "edx");
  report("#DE idiv overflow");
  TRY("int3");
  report("#BP int3");
  TRY("movl $0x7fffffff, %%eax; addl $1, %%eax; into", ::: "eax");
  report("#OF into");
  TRY("movl $5, %%eax; bound %%eax, bounds", ::: "eax");
  report("#BR bound");
  TRY("movl $15, %%eax; bound %%eax, bounds", ::: "eax");
  report("bound in range");
  TRY("ud2");
  report("#UD ud2");
  TRY(".byte 0xf0, 0x90");
  report("#UD lock nop");
  TRY(".byte 0x0f, 0xff");
  report("#UD 0f ff");

  /* Segment loads: not-present data segment, not-present stack segment, bad selectors. */
  gdt[6] = seg_desc(0, 0xfffff, 0x12, 0xc);          /* 0x30: data, P=0 */
  gdt[9] = seg_desc(0, 0xfffff, 0xd2, 0xc);          /* 0x48: DPL2 data */
  gdt[10] = seg_desc(0, 0xfffff, 0x98, 0xc);         /* 0x50: execute-only code */
  TRY("movw $0x30, %%ax; movw %%ax, %%fs", ::: "eax");
  report("#NP mov fs");
  TRY("movw $0x30, %%ax; movw %%ax, %%ss", ::: "eax");
  report("#SS mov ss not present");
  TRY("movw $0x48, %%ax; movw %%ax, %%ss", ::: "eax");
  report("#GP mov ss dpl");
  TRY("movw $0x50, %%ax; movw %%ax, %%ds", ::: "eax");
  report("#GP mov ds code-no-read");
  TRY("movw $0x1000, %%ax; movw %%ax, %%gs", ::: "eax");
  report("#GP selector beyond gdt");
  TRY("xorl %%eax, %%eax; lldt %%ax; movw $0x4, %%ax; movw %%ax, %%gs", ::: "eax");
  report("#GP ldt selector with null ldt");
  TRY("ljmp $0, $0");
  report("#GP jmp null");
  TRY(".byte 0x0f, 0x20, 0xe8", ::: "eax"); /* mov eax, cr5 */
  report("#UD mov from cr5");
  /* IDT limit: an INT beyond it raises #GP(vector*8+2). */
  {
    struct dtr small = { 0x40 * 8 - 1, (u32)idt }, full = { sizeof(idt) - 1, (u32)idt };
    __asm__ volatile("lidt %0" ::"m"(small));
    TRY("int $0x50");
    __asm__ volatile("lidt %0" ::"m"(full));
    report("#GP int beyond idt limit");
  }
  /* A not-present gate: #NP(vector*8+2). */
  idt[0x51] &= ~(1ull << 47);
  TRY("int $0x51");
  report("#NP int not-present gate");
  reset_gate(0x51);
  /* Software INT to a DPL-0 gate from CPL 0 works and reports the vector. */
  TRY("int $0x52");
  report("int 0x52");
  putkv("exceptions", g_count);
  return 0;
}

