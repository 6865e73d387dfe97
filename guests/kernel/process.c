/*
 * A minimal exec(): map the program text at USER_CODE, a data page at USER_DATA,
 * a stack below USER_STACK_TOP with the ELF auxiliary vector, the vDSO where the
 * variant puts it; enter ring 3; tear everything down when it exits or dies.
 * System calls arrive by int $0x80 (do_trap) or sysenter (do_sysenter) and use
 * the Linux i386 numbers (exit 1, write 4, getpid 20).
 */
#include "process.h"
#include "desc.h"
#include "mm.h"
#include "paravirt.h"
#include "user.h"
#include "vdso.h"

#define ENOSYS 38
#define EFAULT 14

u32 current_sysenter_return;
static const char *current_name;
extern char user_text_start[], user_text_end[];

u32 do_syscall(struct pt_regs *regs)
{
	switch (regs->eax) {
	case 1: /* exit(status) */
		user_exit((int)(regs->ebx & 0xff));
	case 4: { /* write(fd, buf, count): fd 1 and 2 go to the console */
		u32 buf = regs->ecx, count = regs->edx;
		if (regs->ebx != 1 && regs->ebx != 2)
			return (u32)-9; /* EBADF */
		if (count > 4096 || buf >= USER_STACK_TOP || buf + count > USER_STACK_TOP)
			return (u32)-EFAULT;
		for (u32 i = 0; i < count; i++) {
			u32 w;
			if (probe_read32((buf + i) & ~3u, &w))
				return (u32)-EFAULT;
			char c = (char)(w >> (8 * ((buf + i) & 3)));
			console_write(&c, 1);
		}
		return count;
	}
	case 20: /* getpid */
		return 1;
	default:
		return (u32)-ENOSYS;
	}
}

void do_sysenter(struct pt_regs *regs) { regs->eax = do_syscall(regs); }

static void map_user_range(u32 va, u32 pa, u32 len, u32 flags)
{
	for (u32 off = 0; off < len; off += PAGE_SIZE)
		map_page(va + off, pa + off, flags);
}

void run_process(const char *name, const void *entry, struct process_result *res)
{
	u32 text_len = (u32)(user_text_end - user_text_start);
	u8 *data = alloc_page();
	u8 *stack = alloc_page();
	current_name = name;
	map_user_range(USER_CODE, (u32)user_text_start, text_len, PAGE_READONLY_FLAGS);
	map_page(USER_DATA, (u32)data, PAGE_SHARED_FLAGS);
	map_page(USER_STACK_TOP - PAGE_SIZE, (u32)stack, PAGE_SHARED_FLAGS);

	u32 vbase = vdso_base_for_process();
#if !CONFIG_COMPAT_VDSO
	if (vbase)
		map_page(vbase, vdso_page_pa, PAGE_READONLY_FLAGS);
#endif
	current_sysenter_return = vbase ? vdso_sysenter_return(vbase) : 0;
	res->vdso_base = vbase;
	res->sysinfo = vbase ? vdso_sysinfo(vbase) : 0;

	/* Initial stack (create_elf_tables): argc, argv NULL, envp NULL, auxv. */
	u32 sp_off = PAGE_SIZE - 64;
	u32 *sp = (u32 *)(stack + sp_off);
	int i = 0;
	sp[i++] = 0;
	sp[i++] = 0;
	sp[i++] = 0;
	if (vbase) { /* ARCH_DLINFO: only when vdso_enabled */
		sp[i++] = AT_SYSINFO;
		sp[i++] = vdso_sysinfo(vbase);
		sp[i++] = AT_SYSINFO_EHDR;
		sp[i++] = vbase;
	}
	sp[i++] = AT_PAGESZ;
	sp[i++] = PAGE_SIZE;
	sp[i++] = AT_NULL;
	sp[i++] = 0;
	paravirt_ops.flush_tlb_user();

	u32 eip = USER_CODE + (u32)((const char *)entry - user_text_start);
	res->status = run_user(eip, USER_STACK_TOP - PAGE_SIZE + sp_off);
	local_irq_enable();
	memcpy(res->data, data, sizeof(res->data));

	if (res->status & RUN_KILLED) {
		u32 v = last_kill.vector;
		printk("%s: trap %s (vector %u) in ring 3 at eip=0x%08x", name, trap_name(v), v,
		       last_kill.eip);
		if (v == 14)
			printk(" cr2=0x%08x err=0x%x (%s, %s)", last_kill.cr2, last_kill.error,
			       (last_kill.error & 1) ? "protection" : "not-present",
			       (last_kill.error & 4) ? "user" : "supervisor");
		printk(": process killed (SIGSEGV), kernel continues\n");
	}

	/* exit_mmap */
	for (u32 off = 0; off < text_len; off += PAGE_SIZE)
		unmap_page(USER_CODE + off);
	unmap_page(USER_DATA);
	unmap_page(USER_STACK_TOP - PAGE_SIZE);
#if !CONFIG_COMPAT_VDSO
	if (vbase)
		unmap_page(vbase);
#endif
	free_user_tables(USER_CODE, USER_DATA + PAGE_SIZE);
	free_user_tables(USER_STACK_TOP - PAGE_SIZE, USER_STACK_TOP);
#if !CONFIG_COMPAT_VDSO
	if (vbase)
		free_user_tables(vbase, vbase + PAGE_SIZE);
#endif
	free_page(data);
	free_page(stack);
	current_sysenter_return = 0;
}
