/* Privilege transitions: IRET to ring 3, INT through DPL-3 gates, call gate with stack switch and
 * parameter copy, and the faults ring 3 gets for privileged operations. (Not here, because QEMU
 * TCG gets them wrong: #AC alignment checks, and call gates to conforming code, where QEMU sets
 * CPL to the code segment's DPL.) */
#include "pm.h"

void enter_user(void (*fn)(void), u32 esp, u32 eflags);
void user_exit(void);
void callgate_target(void);
volatile u32 g_gate_cs, g_gate_ss, g_gate_caller_cs, g_gate_param, g_gate_caller_ss;
static u8 ustack[4096] __attribute__((aligned(16)));
volatile u32 u_cs, u_ss, u_int_cs;
volatile u32 u_syscall_cpl;

static void syscall_handler(struct frame *f) {
  /* From ring 3: the frame carries the user ESP/SS; report CPL of the caller. */
  u_syscall_cpl = f->cs & 3;
  f->eax = 0x5a5a0000 | f->ss;
}

#define UTRY(insn, label) do { g_vec = 0xffffffff; \
  __asm__ volatile("movl $1f, g_recover\n\t" insn "\n1:" ::: "eax", "memory"); \
  u_rec[u_n].vec = g_vec; u_rec[u_n].err = g_err; u_rec[u_n].name = label; u_n++; } while (0)
struct rec { u32 vec, err; const char *name; };
static struct rec u_rec[16];
static int u_n;
volatile u32 u_eax_after;

static void user_main(void) {
  __asm__ volatile("movl %%cs, %0; movl %%ss, %1" : "=r"(u_cs), "=r"(u_ss));
  __asm__ volatile("int $0x80; movl %%eax, u_eax_after" ::: "eax", "memory");
  __asm__ volatile("pushl $0x12345678; lcall $0x33, $0; movl %%cs, %%eax; movl %%eax, u_int_cs" ::: "eax", "memory");
  UTRY("cli", "cli at cpl3");
  UTRY("hlt", "hlt at cpl3");
  UTRY("inb $0x80, %%al", "in at cpl3 iopl0");
  UTRY("int $0x81", "int to dpl0 gate");
  UTRY("movl %%cr0, %%eax", "mov from cr0");
  UTRY("movw $0x10, %%ax; movw %%ax, %%ds", "load dpl0 data");
  UTRY("lcall $0x08, $0", "call dpl0 code");
  UTRY("movl $0, %%eax; lgdt (%%eax)", "lgdt at cpl3");
  __asm__ volatile("int $0x82");
}

int main(void) {
  pm_init();
  puts("rings\n");
  set_gate(0x80, KCODE, isr_stubs[0x80], 0xee); /* interrupt gate, DPL 3 */
  g_handler[0x80] = syscall_handler;
  set_gate(0x82, KCODE, (u32)user_exit, 0xee);
  /* 0x30 ring-0 code for the gate, 0x33 = call gate DPL 3 -> 0x08:callgate_target, 1 param */
  gdt[6] = ((u64)gate_desc(KCODE, (u32)callgate_target, 0xec)) | (1ull << 32);
  enter_user(user_main, (u32)ustack + sizeof ustack, 0x202);
  putkv("user cs", u_cs);
  putkv("user ss", u_ss);
  putkv("syscall caller cpl", u_syscall_cpl);
  putkv("syscall eax", u_eax_after);
  putkv("gate cs", g_gate_cs);
  putkv("gate ss", g_gate_ss);
  putkv("gate caller cs", g_gate_caller_cs);
  putkv("gate caller ss", g_gate_caller_ss);
  putkv("gate param", g_gate_param);
  putkv("cs after gate", u_int_cs);
  for (int i = 0; i < u_n; i++) {
    puts(u_rec[i].name);
    puts(": vec=0x"); puthex(u_rec[i].vec);
    puts(" err=0x"); puthex(u_rec[i].err); putc('\n');
  }
  putkv("tss esp0", ktss.esp0);
  return 0;
}
