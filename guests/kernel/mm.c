/*
 * Paging: swapper_pg_dir identity-maps LOWMEM_SIZE with 4 KiB global pages; every
 * page-table write goes through paravirt_ops (alloc_pt, set_pmd, set_pte_at,
 * release_pt) as in Linux 2.6.20 arch/i386/mm/init.c, pgtable.c (abi.md §5.3, §5.4).
 */
#include "mm.h"
#include "desc.h"
#include "paravirt.h"
#include "time.h"

u32 *swapper_pg_dir;
u32 kernel_page_global;
u32 __FIXADDR_TOP = 0xfffff000;
static u32 fixmaps_set;

extern char _end[];
static u32 next_free_page;
static void *free_list;

void *alloc_page(void)
{
	void *p;
	if (free_list) {
		p = free_list;
		free_list = *(void **)p;
	} else {
		if (next_free_page + PAGE_SIZE > LOWMEM_SIZE)
			panic("out of pages");
		p = (void *)next_free_page;
		next_free_page += PAGE_SIZE;
	}
	memset(p, 0, PAGE_SIZE);
	return p;
}

void free_page(void *p)
{
	*(void **)p = free_list;
	free_list = p;
}

/*
 * reserve_top_address (L2.6.20/L2.6.22 arch/i386/mm/pgtable.c, abi.md §5.9): a
 * hypervisor hole of `reserve` bytes at the top moves __FIXADDR_TOP down to
 * -reserve - PAGE_SIZE.  Must run before any fixmap is set.  With a fixed compat
 * vDSO (2.6.20/2.6.21 COMPAT_VDSO) the only legal reserve is 0.
 */
void reserve_top_address(u32 reserve)
{
	if (fixmaps_set > 0)
		panic("BUG: reserve_top_address after %u fixmaps were set", fixmaps_set);
	printk("Reserving virtual address space above 0x%08x\n", -reserve);
#if CONFIG_COMPAT_VDSO && !CONFIG_RELOCATE_COMPAT_VDSO
	if (reserve != 0)
		panic("BUG: reserve_top_address(0x%x) with COMPAT_VDSO: the vDSO must stay at 0xffffe000",
		      reserve);
#else
	__FIXADDR_TOP = -reserve - PAGE_SIZE;
#endif
}

u32 *lookup_pte(u32 va, int create)
{
	u32 *pde = &swapper_pg_dir[va >> 22];
	if (!(*pde & _PAGE_PRESENT)) {
		if (!create)
			return NULL;
		u32 *pt = alloc_page();
		paravirt_ops.alloc_pt((u32)pt >> 12);
		paravirt_ops.set_pmd(pde, (u32)pt | _PAGE_TABLE);
	}
	u32 *pt = (u32 *)pde_frame(*pde);
	return &pt[(va >> 12) & 0x3ff];
}

void map_page(u32 va, u32 pa, u32 flags)
{
	u32 *pte = lookup_pte(va, 1);
	paravirt_ops.set_pte_at(NULL, va, pte, (pa & PAGE_MASK) | flags);
}

void unmap_page(u32 va)
{
	u32 *pte = lookup_pte(va, 0);
	if (pte)
		paravirt_ops.set_pte_at(NULL, va, pte, 0);
}

void set_fixmap(u32 idx, u32 pa, u32 flags)
{
	u32 va = fix_to_virt(idx);
	fixmaps_set++;
	map_page(va, pa, flags);
	paravirt_ops.flush_tlb_single(va);
}

void free_user_tables(u32 start, u32 end)
{
	for (u32 pdi = start >> 22; pdi <= (end - 1) >> 22; pdi++) {
		u32 *pde = &swapper_pg_dir[pdi];
		if (!(*pde & _PAGE_PRESENT))
			continue;
		u32 *pt = (u32 *)pde_frame(*pde);
		int used = 0;
		for (int i = 0; i < 1024; i++)
			used |= pt[i] != 0;
		if (used)
			continue;
		paravirt_ops.set_pmd(pde, 0);
		paravirt_ops.release_pt((u32)pt >> 12);
		free_page(pt);
	}
	paravirt_ops.flush_tlb_user();
}

void paging_init(void)
{
	next_free_page = ((u32)_end + PAGE_SIZE - 1) & PAGE_MASK;
#if CONFIG_XEN
	if (xen_pv) /* after the builder's start_info, P2M, page tables and stack */
		next_free_page = xen_first_free_page(next_free_page);
#endif
	swapper_pg_dir = alloc_page();
	if (cpu_has_pge) {
		paravirt_ops.write_cr4(paravirt_ops.read_cr4() | X86_CR4_PGE);
		kernel_page_global = _PAGE_GLOBAL;
	}
	/* Page 0 stays unmapped so NULL dereferences fault. */
#if CONFIG_XEN
	u32 lowmem = xen_pv ? xen_lowmem_limit(LOWMEM_SIZE) : LOWMEM_SIZE; /* only frames the domain has */
	for (u32 pa = PAGE_SIZE; pa < lowmem; pa += PAGE_SIZE)
		map_page(pa, pa, PAGE_KERNEL_FLAGS | kernel_page_global);
#else
	for (u32 pa = PAGE_SIZE; pa < LOWMEM_SIZE; pa += PAGE_SIZE)
		map_page(pa, pa, PAGE_KERNEL_FLAGS | kernel_page_global);
#endif
	if (cpu_has_apic)
		map_page(APIC_DEFAULT_PHYS_BASE, APIC_DEFAULT_PHYS_BASE,
			 PAGE_KERNEL_FLAGS | _PAGE_PCD | _PAGE_PWT);
	paravirt_ops.write_cr3((u32)swapper_pg_dir);
	paravirt_ops.write_cr0(paravirt_ops.read_cr0() | X86_CR0_PG | X86_CR0_WP);
}
