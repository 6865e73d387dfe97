/*
 * scenario=mmu: page tables through paravirt_ops (alloc_pt, set_pmd, set_pte_at,
 * pte_update, release_pt), and every TLB-flush form checked by remapping a
 * virtual page between two frames with different contents (abi.md §5.3, §5.4,
 * §5.11).  After each flush the new translation MUST be seen; without a flush a
 * stale one MAY be seen (the SDM allows either), which is reported as INFO.
 */
#include "desc.h"
#include "mm.h"
#include "paravirt.h"
#include "scenario.h"
#include "time.h"

#define TEST_VA 0x40000000u
#define MAGIC_A 0xaaaa0001u
#define MAGIC_B 0xbbbb0002u
#define BATCH 8

static u32 checks, failures;

static void expect(const char *what, u32 va, u32 want)
{
	u32 v = 0;
	int f = probe_read32(va, &v);
	checks++;
	if (f || v != want) {
		failures++;
		printk("mmu: FAIL %s: va 0x%08x read %s0x%08x, want 0x%08x\n", what, va, f ? "fault " : "", v,
		       want);
	}
}

static u32 observe(u32 va)
{
	u32 v = 0;
	probe_read32(va, &v);
	return v;
}

int scenario_mmu(void)
{
	u32 *frame_a = alloc_page(), *frame_b = alloc_page();
	frame_a[0] = MAGIC_A;
	frame_b[0] = MAGIC_B;
	const u32 flags = PAGE_KERNEL_FLAGS;
	u32 va0 = TEST_VA, va1 = TEST_VA + PAGE_SIZE, batch = TEST_VA + 16 * PAGE_SIZE;

	/* New page table: alloc_pt + set_pmd (lookup_pte with create). */
	map_page(va0, (u32)frame_a, flags);
	u32 *pte0 = lookup_pte(va0, 0);
	expect("first mapping", va0, MAGIC_A);

	/* flush_tlb_single (invlpg) */
	paravirt_ops.set_pte_at(NULL, va0, pte0, (u32)frame_b | flags);
	u32 stale_single = observe(va0) == MAGIC_A;
	paravirt_ops.flush_tlb_single(va0);
	expect("after flush_tlb_single", va0, MAGIC_B);

	/* flush_tlb_user (CR3 reload) for a non-global entry */
	paravirt_ops.set_pte_at(NULL, va0, pte0, (u32)frame_a | flags);
	u32 stale_user = observe(va0) == MAGIC_B;
	paravirt_ops.flush_tlb_user();
	expect("after flush_tlb_user", va0, MAGIC_A);

	/* flush_tlb_kernel (CR4.PGE toggle) for a global entry: a CR3 reload may keep it */
	u32 g = kernel_page_global;
	map_page(va1, (u32)frame_a, flags | g);
	u32 *pte1 = lookup_pte(va1, 0);
	expect("global mapping", va1, MAGIC_A);
	paravirt_ops.set_pte_at(NULL, va1, pte1, (u32)frame_b | flags | g);
	paravirt_ops.flush_tlb_user();
	u32 stale_global = observe(va1) == MAGIC_A;
	paravirt_ops.flush_tlb_kernel();
	expect("after flush_tlb_kernel", va1, MAGIC_B);

	/* Writes go through the new mapping to the frame */
	probe_write32(va1 + 4, 0x12345678);
	checks++;
	if (frame_b[1] != 0x12345678) {
		failures++;
		printk("mmu: FAIL write through va 0x%08x did not reach the frame\n", va1);
	}

	/* Unmap: the next access is a not-present #PF at exactly that address */
	paravirt_ops.set_pte_at(NULL, va0, pte0, 0);
	paravirt_ops.flush_tlb_single(va0);
	u32 before = last_fault.count, dummy;
	int faulted = probe_read32(va0, &dummy) != 0;
	checks++;
	if (!faulted || last_fault.count != before + 1 || last_fault.vector != 14 || last_fault.cr2 != va0 ||
	    (last_fault.error & 1)) {
		failures++;
		printk("mmu: FAIL unmapped read: faulted=%d vector=%u cr2=0x%08x err=0x%x\n", faulted,
		       last_fault.vector, last_fault.cr2, last_fault.error);
	} else {
		printk("mmu: unmapped read -> #PF cr2=0x%08x err=0x%x\n", last_fault.cr2, last_fault.error);
	}

	/* Lazy MMU batch: updates queued between set_lazy_mode(MMU) and NONE */
	paravirt_ops.set_lazy_mode(PARAVIRT_LAZY_MMU);
	for (u32 i = 0; i < BATCH; i++) {
		u32 va = batch + i * PAGE_SIZE;
		u32 *pte = lookup_pte(va, 1);
		*pte = pte_val_ma(((i & 1) ? (u32)frame_b : (u32)frame_a) | flags);
		paravirt_ops.pte_update(NULL, va, pte); /* the guest wrote the entry itself */
	}
	paravirt_ops.set_lazy_mode(PARAVIRT_LAZY_NONE);
	paravirt_ops.flush_tlb_user();
	for (u32 i = 0; i < BATCH; i++)
		expect("lazy batch", batch + i * PAGE_SIZE, (i & 1) ? MAGIC_B : MAGIC_A);

	/* Tear down: clear PTEs, release the page table (set_pmd 0 + release_pt) */
	unmap_page(va1);
	for (u32 i = 0; i < BATCH; i++)
		unmap_page(batch + i * PAGE_SIZE);
	free_user_tables(TEST_VA, TEST_VA + (1u << 22));
	checks++;
	if (swapper_pg_dir[TEST_VA >> 22] != 0) {
		failures++;
		printk("mmu: FAIL page table not released\n");
	}
	free_page(frame_a);
	free_page(frame_b);

	printk("INFO mmu: stale translations seen without flush: single=%u user=%u global-after-cr3=%u "
	       "(pge=%d)\n",
	       stale_single, stale_user, stale_global, cpu_has_pge);
	int pass = failures == 0;
	result_begin("mmu", pass);
	printk(" checks=%u failures=%u faults=%d lazy_batch=%u pge=%d\n", checks, failures, faulted, BATCH,
	       cpu_has_pge);
	return pass;
}
