/*
 * vDSO policy per variant (abi.md §5.9, seeds/004; Linux 2.6.20 and 2.6.22
 * arch/i386/kernel/sysenter.c, include/asm-i386/elf.h):
 *  - sysenter_setup() copies the sysenter image when the CPU has SEP, else int $0x80.
 *  - CONFIG_COMPAT_VDSO: the page is mapped user-readable at fix_to_virt(FIX_VDSO)
 *    whatever vdso_enabled says; 2.6.20/21 fix that at 0xffffe000 (reserve must be
 *    0), 2.6.22 relocates it below a reserved top and patches the ELF entry.
 *  - otherwise: FIX_VDSO is a kernel-only mapping (for core dumps) and exec() maps
 *    the page into the process at a non-fixed address when vdso_enabled.
 *  - AT_SYSINFO/AT_SYSINFO_EHDR are passed only when vdso_enabled (ARCH_DLINFO).
 */
#include "vdso.h"
#include "asm_offsets.h"
#include "mm.h"
#include "paravirt.h"
#include "time.h"

u32 vdso_enabled = VDSO_ENABLED_DEFAULT;
u32 vdso_page_pa;
u32 vdso_uses_sysenter;

extern const char vsyscall_int80_start[], vsyscall_sysenter_start[];
extern const char vdso_sysenter_return_offset[];

void sysenter_setup(void)
{
	u8 *page = alloc_page();
	vdso_page_pa = (u32)page;
	vdso_uses_sysenter = cpu_has_sep;
	memcpy(page, vdso_uses_sysenter ? vsyscall_sysenter_start : vsyscall_int80_start, PAGE_SIZE);
#if CONFIG_COMPAT_VDSO
	set_fixmap(FIX_VDSO, vdso_page_pa, PAGE_READONLY_FLAGS);
	printk("Compat vDSO mapped to %08x.\n", fix_to_virt(FIX_VDSO));
#if CONFIG_RELOCATE_COMPAT_VDSO
	/* relocate_vdso(): move the prelinked image to where it now lives. */
	u32 *e_entry = (u32 *)(page + 24);
	*e_entry += fix_to_virt(FIX_VDSO) - VDSO_PRELINK;
#endif
#else
	set_fixmap(FIX_VDSO, vdso_page_pa, PAGE_KERNEL_RO_FLAGS | kernel_page_global);
#endif
	if (vdso_uses_sysenter)
		enable_sep_cpu();
}

u32 vdso_base_for_process(void)
{
	if (!vdso_enabled)
		return 0;
#if CONFIG_COMPAT_VDSO
	return fix_to_virt(FIX_VDSO);
#else
	return VDSO_MMAP_BASE;
#endif
}

u32 vdso_sysinfo(u32 base) { return base + VDSO_ENTRY_OFFSET; }

u32 vdso_sysenter_return(u32 base) { return base + (u32)vdso_sysenter_return_offset; }
