#include "pm.h"

u64 gdt[GDT_ENTRIES] __attribute__((aligned(8)));
u64 idt[256] __attribute__((aligned(8)));
struct tss ktss __attribute__((aligned(128)));
volatile u32 g_recover, g_vec, g_err, g_eip, g_cr2, g_count;
handler_t g_handler[256];
static u8 kstack0[8192] __attribute__((aligned(16)));

void set_gate(int vec, u16 sel, u32 off, u32 type_attr) { idt[vec] = gate_desc(sel, off, type_attr); }
void reset_gate(int vec) { set_gate(vec, KCODE, isr_stubs[vec], 0x8e); }

void reload_gdt(void) {
  struct dtr g = { sizeof(gdt) - 1, (u32)gdt };
  __asm__ volatile("lgdt %0" ::"m"(g));
}

void pm_init(void) {
  /* Mask every 8259A line: QEMU's firmware leaves the PIT running on IRQ0 (vector 8 until a
   * kernel remaps the PIC), and its PIT follows host time, so an unmasked IRQ0 would make the
   * oracle's output depend on host load. Kernels that test interrupts unmask what they use. */
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
  gdt[0] = 0;
  gdt[1] = seg_desc(0, 0xfffff, 0x9a, 0xc);
  gdt[2] = seg_desc(0, 0xfffff, 0x92, 0xc);
  gdt[3] = seg_desc(0, 0xfffff, 0xfa, 0xc);
  gdt[4] = seg_desc(0, 0xfffff, 0xf2, 0xc);
  memset(&ktss, 0, sizeof ktss);
  ktss.ss0 = KDATA;
  ktss.esp0 = (u32)kstack0 + sizeof kstack0;
  ktss.iomap = sizeof ktss;
  gdt[5] = seg_desc((u32)&ktss, sizeof ktss - 1, 0x89, 0);
  reload_gdt();
  __asm__ volatile("ljmp %0, $1f\n1:\n\t"
                   "mov %1, %%ax\n\tmov %%ax, %%ds\n\tmov %%ax, %%es\n\tmov %%ax, %%fs\n\t"
                   "mov %%ax, %%gs\n\tmov %%ax, %%ss\n\tltr %w2"
                   ::"i"(KCODE), "i"(KDATA), "r"(TSS_SEL) : "eax", "memory");
  for (int i = 0; i < 256; i++) reset_gate(i);
  struct dtr d = { sizeof(idt) - 1, (u32)idt };
  __asm__ volatile("lidt %0" ::"m"(d));
}

void isr_dispatch(struct frame *f) {
  g_vec = f->vec;
  g_err = f->err;
  g_eip = f->eip;
  g_cr2 = read_cr2();
  g_count++;
  if (g_handler[f->vec]) {
    g_handler[f->vec](f);
  } else if (g_recover) {
    f->eip = g_recover;
    g_recover = 0;
  } else {
    puts("UNEXPECTED exception vec=0x"); puthex(f->vec);
    puts(" err=0x"); puthex(f->err);
    puts(" eip=0x"); puthex(f->eip); putc('\n');
    qexit(0x7f);
  }
}

void report(const char *label) {
  puts(label);
  if (g_vec == 0xffffffff) { puts(": no exception\n"); return; }
  puts(": vec=0x"); puthex(g_vec);
  puts(" err=0x"); puthex(g_err); putc('\n');
}
