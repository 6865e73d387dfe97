/**
 * Xen's page-table and descriptor-frame rules (backends/xen/mmu.ts, docs/abi/xen.md §3, §4.1)
 * on a bare memory: which entries are refused, how a frame gains and loses its table type,
 * that the hypervisor's slots cannot be touched and set_gdt wants frames nobody can write.
 */

import assert from "node:assert/strict";
import { PhysicalMemory } from "../../../core/memory.ts";
import type { Platform } from "../../../core/platform.ts";
import type { DomainLayout } from "../../../backends/xen/domain_builder.ts";
import { type GuestAccess, XenMmu } from "../../../backends/xen/mmu.ts";

const PAGE = 4096;
const PGD = 0x200, L1 = 0x201, DATA = 0x202, NEW_L1 = 0x203, GDT = 0x204, FOREIGN = 0x50;

function setup() {
  const memory = new PhysicalMemory({ size: 8 << 20 });
  const cpu = { cr3: PGD * PAGE };
  const platform = {
    memory,
    cpu,
    flushTlb() {},
    invlpg() {},
    setCr3(v: number) {
      cpu.cr3 = v;
    },
    linearReservation: (lin: number) => (lin >>> 0) >= 0xfc000000 ? { owner: "hole" } : null,
  } as unknown as Platform;
  // The builder's tables: the directory maps 0..4 MiB through L1, which maps itself read-only.
  memory.write32(PGD * PAGE, (L1 * PAGE) | 0x67);
  memory.write32(L1 * PAGE + L1 * 4, (L1 * PAGE) | 0x61);
  memory.write32(L1 * PAGE + PGD * 4, (PGD * PAGE) | 0x61);
  memory.write32(L1 * PAGE + GDT * 4, (GDT * PAGE) | 0x63);
  const layout = {
    pgdMfn: PGD,
    sharedInfoMa: 0x20 * PAGE,
    hypervisorPdes: [[0x3f0, 0x21063]],
    perdomainL1Ma: 0x22 * PAGE,
  } as unknown as DomainLayout;
  const mmu = new XenMmu(platform, layout, (mfn) => mfn >= 0x100 && mfn < 0x800);
  const g: GuestAccess = { r32: (a) => memory.read32(a), w32: (a, v) => memory.write32(a, v) };
  return { memory, mmu, g };
}

Deno.test("xen mmu: PTEs must map the domain's frames, tables only read-only", () => {
  const { mmu } = setup();
  const pte = L1 * PAGE + 0x10 * 4;
  assert.ok(mmu.writeEntry(pte, (DATA * PAGE) | 0x63));
  assert.ok(!mmu.writeEntry(pte, (FOREIGN * PAGE) | 0x61), "a frame not the domain's");
  assert.ok(!mmu.writeEntry(pte, (PGD * PAGE) | 0x63), "the directory writable");
  assert.ok(mmu.writeEntry(pte, (PGD * PAGE) | 0x61), "the directory read-only");
  assert.ok(mmu.writeEntry(pte, 0x20063), "shared_info");
  assert.ok(!mmu.writeEntry(DATA * PAGE, 0), "not a page table");
});

Deno.test("xen mmu: an L2 entry types its L1; releasing it untypes it; hole slots are Xen's", () => {
  const { memory, mmu } = setup();
  memory.write32(NEW_L1 * PAGE, (FOREIGN * PAGE) | 0x61);
  const pde = PGD * PAGE + 4;
  assert.ok(!mmu.writeEntry(pde, (NEW_L1 * PAGE) | 0x67), "an L1 with a foreign entry");
  memory.write32(NEW_L1 * PAGE, (DATA * PAGE) | 0x63);
  assert.ok(mmu.writeEntry(pde, (NEW_L1 * PAGE) | 0x67));
  assert.equal(mmu.tables.get(NEW_L1), 1);
  const pte = L1 * PAGE + 0x20 * 4;
  assert.ok(!mmu.writeEntry(pte, (NEW_L1 * PAGE) | 0x63), "a live L1 mapped writable");
  assert.ok(mmu.writeEntry(pde, 0));
  assert.equal(mmu.tables.has(NEW_L1), false);
  assert.ok(mmu.writeEntry(pte, (NEW_L1 * PAGE) | 0x63), "an ordinary page again");
  assert.ok(!mmu.writeEntry(PGD * PAGE + 0x3f0 * 4, 0), "the M2P slot");
  assert.ok(!mmu.writeEntry(pde, (NEW_L1 * PAGE) | 0xe7), "a 4 MiB page");
});

Deno.test("xen mmu: NEW_BASEPTR installs Xen's slots; set_gdt refuses writable frames", () => {
  const { memory, mmu, g } = setup();
  const newPgd = 0x205, ops = DATA * PAGE;
  memory.write32(ops, 5); // MMUEXT_NEW_BASEPTR
  memory.write32(ops + 4, newPgd);
  assert.equal(mmu.mmuextOp(g, ops, 1, 0), 0);
  assert.equal(memory.read32(newPgd * PAGE + 0x3f0 * 4), 0x21063);
  assert.equal(mmu.tables.get(newPgd), 2);
  // The GDT frame is mapped writable through L1 (the builder's directory): refused.
  const list = DATA * PAGE + 64;
  memory.write32(list, GDT);
  memory.write32(ops + 4, PGD); // back to the builder's tables
  assert.equal(mmu.mmuextOp(g, ops, 1, 0), 0);
  assert.equal(mmu.tables.has(newPgd), false, "the old base lost its last reference");
  assert.equal(mmu.setGdt(g, list, 16), -22);
  memory.write32(L1 * PAGE + GDT * 4, (GDT * PAGE) | 0x61);
  memory.write32(GDT * PAGE + 8, 0x0000ffff);
  memory.write32(GDT * PAGE + 12, 0x00cf9a00);
  assert.equal(mmu.setGdt(g, list, 16), 0);
  assert.equal((memory.read32(GDT * PAGE + 12) >>> 13) & 3, 1, "DPL raised to 1");
  assert.equal(memory.read32(0x22 * PAGE), (GDT * PAGE) | 0x61, "GDT page 0 in the area");
  assert.equal(mmu.setGdt(g, list, 7169), -22, "entries reaching Xen's");
});
