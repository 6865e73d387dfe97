/* Protected-mode scaffolding shared by the test kernels: GDT (kernel/user flat segments, a TSS
 * and free slots), an IDT whose stubs record every exception, and TRY() for expected faults. */
#ifndef CPUTESTS_PM_H
#define CPUTESTS_PM_H
#include "lib.h"

#define KCODE 0x08
#define KDATA 0x10
#define UCODE 0x1b
#define UDATA 0x23
#define TSS_SEL 0x28
/* GDT slots 6..15 (selectors 0x30..0x78) are free for tests. */
#define GDT_ENTRIES 16

struct frame {
  u32 es, ds, edi, esi, ebp, esp0, ebx, edx, ecx, eax;
  u32 vec, err, eip, cs, eflags, esp, ss;
};

struct tss {
  u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
  u32 eax, ecx, edx, ebx, esp, ebp, esi, edi;
  u32 es, cs, ss, ds, fs, gs, ldt;
  u16 trap, iomap;
};

extern u64 gdt[GDT_ENTRIES];
extern u64 idt[256];
extern struct tss ktss;
/* Set by TRY(): where the exception handler resumes. */
extern volatile u32 g_recover;
/* The last exception seen: vector, error code, EIP, CR2; and how many so far. */
extern volatile u32 g_vec, g_err, g_eip, g_cr2, g_count;
/* Optional per-vector handler; returns nothing, may edit the frame. */
typedef void (*handler_t)(struct frame *f);
extern handler_t g_handler[256];
extern u32 isr_stubs[256];

void pm_init(void);
void set_gate(int vec, u16 sel, u32 off, u32 type_attr);
void reset_gate(int vec);
void reload_gdt(void);
/* Prints "label: vec=XX err=XXXXXXXX" for the last exception, or "label: no exception". */
void report(const char *label);

/* Runs `insn` (asm text); a fault inside it resumes right after it. Clears the last record. */
#define TRY(insn, ...) do { g_vec = 0xffffffff; g_err = 0; \
  __asm__ volatile("movl $1f, g_recover\n\t" insn "\n1:\n\tmovl $0, g_recover" __VA_ARGS__); } while (0)

static inline u32 read_cr0(void) { u32 v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline void write_cr0(u32 v) { __asm__ volatile("mov %0, %%cr0" ::"r"(v) : "memory"); }
static inline u32 read_cr2(void) { u32 v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline u32 read_cr3(void) { u32 v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline void write_cr3(u32 v) { __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
static inline u32 read_cr4(void) { u32 v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr4(u32 v) { __asm__ volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }
static inline u32 read_eflags(void) { u32 v; __asm__ volatile("pushf; pop %0" : "=r"(v)); return v; }

#endif
