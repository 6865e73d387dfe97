/* Virtual-8086 mode: enter with IRET (VM=1), INT n through the IDT at IOPL 3, #GP to the
 * monitor for IOPL-sensitive instructions at IOPL 0, port I/O through the TSS bitmap, HLT. */
#include "pm.h"

extern u8 v86_blob[], v86_blob_end[];
void enter_v86(u32 eflags);
void v86_exit(void);
static u32 ngp, gp_ops[16], gp_errs[16], int_vm, int_cs, int_ip, int_segs;

static void int31(struct frame *f) {
  u32 *x = (u32 *)f;
  int_vm = (f->eflags >> 17) & 1;
  int_cs = f->cs;
  int_ip = f->eip;
  int_segs = x[17] ^ x[18] ^ x[19] ^ x[20]; /* es ds fs gs from the v86 frame */
  f->eax = (f->eax & 0xffff0000) | 0x3131;
}

static void gp(struct frame *f) {
  if (!(f->eflags & (1u << 17))) { puts("unexpected #GP outside v86\n"); qexit(0x7e); }
  u8 *ip = (u8 *)(f->cs * 16 + (f->eip & 0xffff));
  if (ngp < 16) { gp_ops[ngp] = ip[0]; gp_errs[ngp] = f->err; }
  ngp++;
  switch (ip[0]) {
  case 0xf4: v86_exit(); break;
  case 0x9c: /* pushf: emulate by pushing a marker */
    f->esp -= 2;
    *(u16 *)(f->ss * 16 + (f->esp & 0xffff)) = 0x5555;
    f->eip += 1; break;
  case 0xcd: case 0xe4: f->eip += 2; break;
  default: f->eip += 1;
  }
}

static void run(const char *name, u32 eflags) {
  ngp = 0; int_vm = int_cs = int_ip = int_segs = 0;
  memcpy((void *)0x20000, v86_blob, (u32)(v86_blob_end - v86_blob));
  memset((void *)0x20100, 0, 16);
  enter_v86(eflags);
  puts(name); putc('\n');
  const u16 *m = (const u16 *)0x20100;
  for (int i = 0; i < 5; i++) { puts("  word "); putdec(i); putkv("", m[i]); }
  putkv("  int31 vm", int_vm);
  putkv("  int31 cs", int_cs);
  putkv("  int31 ip", int_ip);
  putkv("  int31 segs", int_segs);
  putkv("  #GP count", ngp);
  for (u32 i = 0; i < ngp && i < 16; i++) {
    puts("  #GP op="); puthex(gp_ops[i]); puts(" err="); puthex(gp_errs[i]); putc('\n');
  }
}

int main(void) {
  pm_init();
  puts("v86\n");
  set_gate(0x31, KCODE, isr_stubs[0x31], 0xee);
  g_handler[0x31] = int31;
  g_handler[13] = gp;
  run("iopl3", 0x20202 | 0x3000);
  run("iopl0", 0x20202);
  return 0;
}
