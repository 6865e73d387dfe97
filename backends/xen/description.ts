/**
 * The static description of a Xen profile: its hypercall table with argument locations and
 * sources (docs/abi/xen.md).
 *
 * @module
 */

import type { BackendDescription, CallDescription } from "../backend.ts";
import { HC } from "./hypercalls.ts";
import type { XenProfile } from "./profiles.ts";

const OPS: Readonly<Record<string, string | null>> = {
  set_gdt: "load_gdt",
  set_timer_op: "set_timer",
  iret: "iret",
  sched_op: "shutdown / safe_halt",
  sched_op_compat: "shutdown / safe_halt",
  mmuext_op: "flush_tlb_single / flush_tlb_user / set_ldt",
  update_va_mapping: "flush_tlb_single",
};

/** Which hypercalls a profile answers (others are -ENOSYS). */
export function xenHas(p: XenProfile, name: string): boolean {
  if (name === "sched_op") return p.schedOpNew;
  if (name === "event_channel_op" || name === "physdev_op") return p.eventChannelOpNew;
  return true;
}

/** Describes a Xen profile. */
export function describeXen(p: XenProfile): BackendDescription {
  const regs = ["EBX", "ECX", "EDX", "ESI", "EDI"];
  const calls: CallDescription[] = Object.entries(HC).filter(([n]) => xenHas(p, n)).map((
    [name, nr],
  ) => ({
    kind: "hypercall",
    nr,
    name,
    args: regs.map((loc, i) => ({ loc, name: `arg${i + 1}`, unit: "raw" })),
    ret: "EAX (negative errno on failure)",
    op: OPS[name] ?? null,
    source: "docs/abi/xen.md §2 (xen.h __HYPERVISOR_*)",
  }));
  return {
    name: "xen",
    version: p.version,
    summary: `Xen ${p.major}.${p.minor} 32-bit non-PAE PV domU: ring-1 kernel, machine frames, ` +
      "event channels, trap table",
    discovery: "Xen ELF notes + start_info magic " + p.magic + " (docs/abi/xen.md §1)",
    convention: p.hypercallPage
      ? "call hypercall_page + 32*nr (int $0x82 inside); EAX nr, EBX..EDI args, EAX result"
      : "int $0x82; EAX nr, EBX..EDI args, EAX result (no hypercall page filled)",
    calls,
  };
}
