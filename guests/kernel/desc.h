/* Descriptor tables, TSS, trap frames and interrupt dispatch. */
#ifndef DESC_H
#define DESC_H

#include "lib.h"
#include "asm_offsets.h"

/* Trap frame built by head.S (SAVE_ALL after the vector/error pushes). */
struct pt_regs {
	u32 ebx, ecx, edx, esi, edi, ebp, eax;
	u32 ds, es, fs, gs;
	u32 vector, error;
	u32 eip, cs, eflags;
	u32 esp, ss; /* only when coming from ring 3 */
};
_Static_assert(__builtin_offsetof(struct pt_regs, eip) == PT_EIP, "PT_EIP");
_Static_assert(__builtin_offsetof(struct pt_regs, esp) == PT_ESP, "PT_ESP");
_Static_assert(sizeof(struct pt_regs) == PT_SIZE, "PT_SIZE");

/* 32-bit TSS (SDM Vol.3 7.2.1). */
struct tss_struct {
	u16 back_link, __blh;
	u32 esp0;
	u16 ss0, __ss0h;
	u32 esp1;
	u16 ss1, __ss1h;
	u32 esp2;
	u16 ss2, __ss2h;
	u32 cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
	u16 es, __esh, cs, __csh, ss, __ssh, ds, __dsh, fs, __fsh, gs, __gsh, ldt, __ldth;
	u16 trace, io_bitmap_base;
} __attribute__((packed));

extern u64 gdt_table[GDT_ENTRIES];
extern struct tss_struct init_tss;

#define X86_EFLAGS_IF 0x200
#define X86_CR0_PE 0x1
#define X86_CR0_WP 0x10000
#define X86_CR0_PG 0x80000000
#define X86_CR4_PSE 0x10
#define X86_CR4_PGE 0x80

/* Fault recorded when an exception-table fixup ran (Linux __ex_table). */
struct fault_info {
	u32 vector, error, cr2, eip;
	u32 count;
};
extern struct fault_info last_fault;

/* Process that took an exception in ring 3: killed, kernel continues. */
struct user_kill {
	u32 vector, error, cr2, eip, esp;
};
extern struct user_kill last_kill;
#define RUN_KILLED 0x100 /* run_user() result: RUN_KILLED | vector */

void trap_init(void);
void reload_segments(void);

/* 8259A PIC, remapped to FIRST_EXTERNAL_VECTOR. */
void pic_init(void);
void pic_unmask(u32 irq);
void pic_mask(u32 irq);
u32 pic_read_irr(void);
extern volatile u32 irq_count[16];
extern volatile u32 apic_timer_count;
extern volatile u32 spurious_count;

/* head.S */
extern char trap_stubs[], system_call_entry[], apic_timer_entry[], spurious_entry[];
extern char native_iret[], native_irq_enable_sysexit[], sysenter_entry[];
extern u32 boot_regs[4];
int run_user(u32 eip, u32 esp);
void user_exit(int code) __attribute__((noreturn));

/* Kernel-mode probes that may fault: return 0 or -1 (fault info in last_fault). */
int probe_read32(u32 addr, u32 *out);
int probe_write32(u32 addr, u32 v);

const char *trap_name(u32 vec);

/* process.c */
u32 do_syscall(struct pt_regs *regs);

#endif
