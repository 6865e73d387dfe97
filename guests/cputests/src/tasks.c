/* Hardware task switching: JMP and CALL to a TSS, a task gate in the IDT, IRET with NT,
 * back-links and busy bits, and the faults for bad targets (#TS limit, #GP busy). */
#include "pm.h"

#define TSS_B 0x30
#define TSS_C 0x38
#define TSS_D 0x40
#define TSS_SMALL 0x48
static struct tss tb, tc, td, tsmall;
static u8 sb[4096] __attribute__((aligned(16))), sc[4096] __attribute__((aligned(16))),
    sd[4096] __attribute__((aligned(16)));
volatile u32 b_link, c_link, c_flags, d_link, d_flags, c_runs;

static u32 busy(int sel) { return (u32)(gdt[sel >> 3] >> 41) & 1; }

static void task_b(void) {
  for (;;) {
    b_link = tb.link;
    __asm__ volatile("ljmp $0x28, $0");  /* back to the kernel task */
  }
}
static void task_c(void) {
  for (;;) {
    c_runs++;
    c_link = tc.link;
    c_flags = read_eflags();
    __asm__ volatile("iret");            /* NT=1: return to the caller through the back-link */
  }
}
static void task_d(void) {
  for (;;) {
    d_link = td.link;
    d_flags = read_eflags();
    __asm__ volatile("iret");
  }
}

static void init_task(struct tss *t, void (*fn)(void), u8 *stack, u32 size) {
  memset(t, 0, sizeof *t);
  t->eip = (u32)fn;
  t->esp = (u32)stack + size;
  t->eflags = 0x2;
  t->cs = KCODE;
  t->ss = t->ds = t->es = t->fs = t->gs = KDATA;
  t->iomap = sizeof *t;
}

int main(void) {
  pm_init();
  puts("tasks\n");
  init_task(&tb, task_b, sb, sizeof sb);
  init_task(&tc, task_c, sc, sizeof sc);
  init_task(&td, task_d, sd, sizeof sd);
  init_task(&tsmall, task_b, sb, sizeof sb);
  gdt[TSS_B >> 3] = seg_desc((u32)&tb, sizeof tb - 1, 0x89, 0);
  gdt[TSS_C >> 3] = seg_desc((u32)&tc, sizeof tc - 1, 0x89, 0);
  gdt[TSS_D >> 3] = seg_desc((u32)&td, sizeof td - 1, 0x89, 0);
  gdt[TSS_SMALL >> 3] = seg_desc((u32)&tsmall, 0x50, 0x89, 0); /* limit < 0x67 */
  putkv("busy kernel", busy(TSS_SEL));

  __asm__ volatile("ljmp $0x30, $0" ::: "memory");
  putkv("jmp: b link", b_link);
  putkv("jmp: busy b", busy(TSS_B));
  putkv("jmp: busy kernel", busy(TSS_SEL));
  putkv("jmp: kernel tss eip saved", ktss.eip != 0);

  __asm__ volatile("lcall $0x38, $0" ::: "memory");
  putkv("call: c link", c_link);
  putkv("call: c eflags NT", (c_flags >> 14) & 1);
  putkv("call: busy c after iret", busy(TSS_C));
  putkv("call: kernel NT after", (read_eflags() >> 14) & 1);
  putkv("call: tc.link", tc.link);

  set_gate(0x40, TSS_D, 0, 0x85); /* task gate */
  __asm__ volatile("int $0x40" ::: "memory");
  putkv("gate: d link", d_link);
  putkv("gate: d eflags NT", (d_flags >> 14) & 1);
  putkv("gate: busy d", busy(TSS_D));

  /* Calling C again re-enters it where it IRETed (its saved EIP is after the iret). */
  __asm__ volatile("lcall $0x38, $0" ::: "memory");
  putkv("call again: c runs", c_runs);

  TRY("ljmp $0x48, $0");
  report("#TS tss limit");
  TRY("ljmp $0x28, $0");
  report("#GP jmp to busy tss");
  /* Mark C busy by hand: CALL to a busy TSS is #GP(sel). */
  gdt[TSS_C >> 3] |= 1ull << 41;
  TRY("lcall $0x38, $0");
  report("#GP call busy tss");
  gdt[TSS_C >> 3] &= ~(1ull << 41);
  /* IRET with NT=1 and an invalid back-link: #TS(link). */
  ktss.link = 0x50;
  TRY("pushf; orl $0x4000, (%%esp); popf; iret", ::: "memory");
  report("#TS iret bad back-link");
  __asm__ volatile("pushf; andl $~0x4000, (%%esp); popf" ::: "memory");
  putkv("tr", ({ u32 v; __asm__ volatile("str %0" : "=r"(v)); v; }));
  return 0;
}
