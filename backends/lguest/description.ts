/**
 * The lguest call table for `describe()` (docs/abi/lguest.md §4).
 *
 * @module
 */

import type { BackendDescription, CallDescription } from "../backend.ts";
import { Lhcall, LHCALL_NAMES } from "./abi.ts";
import type { LguestProfile } from "./profiles.ts";

const ARGS: Readonly<Record<number, [string, string, string][]>> = {
  [Lhcall.LGUEST_INIT]: [["EDX", "lguest_data", "gpa"]],
  [Lhcall.CRASH]: [["EDX", "message", "gpa"]],
  [Lhcall.LOAD_GDT]: [["EDX", "gdt", "gpa"], ["EBX", "entries", "count"]],
  [Lhcall.NEW_PGTABLE]: [["EDX", "pgdir", "gpa"]],
  [Lhcall.FLUSH_TLB]: [["EDX", "kernel too", "bool"]],
  [Lhcall.LOAD_IDT_ENTRY]: [["EDX", "vector", "index"], ["EBX", "lo", "u32"], ["ECX", "hi", "u32"]],
  [Lhcall.SET_STACK]: [["EDX", "ss", "selector"], ["EBX", "esp0", "linear"], [
    "ECX",
    "pages",
    "count",
  ]],
  [Lhcall.TS]: [["EDX", "cr0.TS", "bits"]],
  [Lhcall.SET_CLOCKEVENT]: [["EDX", "delta", "ns relative (0 = cancel)"]],
  [Lhcall.BIND_DMA]: [["EDX", "key", "u32"], ["EBX", "dmas", "gpa"], ["ECX", "num<<8|irq", "u32"]],
  [Lhcall.SEND_DMA]: [["EDX", "key", "u32"], ["EBX", "lguest_dma", "gpa"]],
  [Lhcall.SET_PTE]: [["EDX", "pgdir", "gpa"], ["EBX", "vaddr", "linear"], ["ECX", "pte", "u32"]],
  [Lhcall.SET_PMD]: [["EDX", "pgdir", "gpa"], ["EBX", "index", "index"]],
  [Lhcall.LOAD_TLS]: [["EDX", "tls_array", "gpa"], ["EBX", "cpu", "index"]],
  [Lhcall.NOTIFY]: [["EDX", "address", "gpa"]],
};

const OPS: Readonly<Record<number, string>> = {
  [Lhcall.CRASH]: "shutdown",
  [Lhcall.LOAD_GDT]: "load_gdt",
  [Lhcall.NEW_PGTABLE]: "write_cr3",
  [Lhcall.FLUSH_TLB]: "flush_tlb_user / flush_tlb_kernel",
  [Lhcall.TS]: "clts / write_cr0",
  [Lhcall.SET_CLOCKEVENT]: "set_timer",
  [Lhcall.HALT]: "safe_halt",
  [Lhcall.GET_WALLCLOCK]: "get_wallclock",
};

/** The description of one lguest profile. */
export function describeLguest(p: LguestProfile): BackendDescription {
  const calls: CallDescription[] = p.calls.map((nr) => ({
    kind: "hypercall",
    nr,
    name: LHCALL_NAMES[nr],
    args: (ARGS[nr] ?? []).map(([loc, name, unit]) => ({ loc, name, unit })),
    ret: nr === Lhcall.GET_WALLCLOCK
      ? "EAX seconds since 1970"
      : nr === Lhcall.BIND_DMA
      ? "EAX bool"
      : null,
    op: OPS[nr] ?? null,
    source: "docs/abi/lguest.md §4",
  }));
  return {
    name: "lguest",
    version: p.version,
    summary: `lguest as in Linux ${p.version}: ring-1 guest, int $0x1f hypercalls, lguest_data`,
    discovery: "boot_params.hdr.hardware_subarch = 1 (docs/abi/lguest.md §2)",
    convention: "int $0x1f; EAX = call, EDX/EBX/ECX = args, EAX = result; unknown call kills",
    calls,
  };
}
