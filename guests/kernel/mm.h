/* Two-level (non-PAE) i386 paging through paravirt_ops, fixmap, page allocator. */
#ifndef MM_H
#define MM_H

#include "lib.h"

#define PAGE_SIZE 4096u
#define PAGE_MASK 0xfffff000u
#define _PAGE_PRESENT 0x001
#define _PAGE_RW 0x002
#define _PAGE_USER 0x004
#define _PAGE_PWT 0x008
#define _PAGE_PCD 0x010
#define _PAGE_ACCESSED 0x020
#define _PAGE_DIRTY 0x040
#define _PAGE_GLOBAL 0x100
/* Linux include/asm-i386/pgtable.h: page-directory entries carry USER, PTEs decide. */
#define _PAGE_TABLE (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY)
#define PAGE_KERNEL_FLAGS (_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY)
#define PAGE_KERNEL_RO_FLAGS (_PAGE_PRESENT | _PAGE_ACCESSED)
#define PAGE_READONLY_FLAGS (_PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED)
#define PAGE_SHARED_FLAGS (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED)

/* Identity-mapped low memory (kernel image, page pool, option ROMs). */
#define LOWMEM_SIZE (16u << 20)

/* Fixmap (L2.6.22 include/asm-i386/fixmap.h): slot 0 hole, FIX_VDSO = 1. */
enum fixed_addresses { FIX_HOLE = 0, FIX_VDSO = 1, __end_of_fixed_addresses };
extern u32 __FIXADDR_TOP;
static inline u32 fix_to_virt(u32 idx) { return __FIXADDR_TOP - (idx << 12); }

/* Frame address held in a PDE/PTE, and the PTE a direct store writes: under Xen the
 * tables hold machine frames (xen.c), elsewhere pseudo-physical = physical. */
#if CONFIG_XEN
#include "xen.h"
#define pde_frame(v) xen_pte_phys(v)
#define pte_val_ma(v) xen_pte_ma(v)
#else
#define pde_frame(v) ((v) & PAGE_MASK)
#define pte_val_ma(v) (v)
#endif

extern u32 *swapper_pg_dir;
extern u32 kernel_page_global; /* _PAGE_GLOBAL when CR4.PGE is on, else 0 */

void reserve_top_address(u32 reserve);
void paging_init(void);
void *alloc_page(void);
void free_page(void *p);
u32 *lookup_pte(u32 va, int create);
void map_page(u32 va, u32 pa, u32 flags);
void unmap_page(u32 va);
void set_fixmap(u32 idx, u32 pa, u32 flags);
/* Release page tables that cover [start, end) and are now empty. */
void free_user_tables(u32 start, u32 end);

#endif
