/**
 * The VMI ROM's routines: for every defined call (docs/abi/vmi.md §3) the x86 code the ROM
 * holds, where its private trap (`vmcall`, docs/abi/vmi.md "How the backend models the ROM")
 * sits, how `get_reloc` relocates it, its arguments under the regparm(3) convention
 * (docs/abi/vmi.md §2) and the canonical operation it implements. The hypervisor side of each
 * trap is `backend.ts`.
 *
 * Encodings are the i386 ones GNU as produces for the mnemonic in each comment.
 *
 * @module
 */

import type { ArgDescription } from "../backend.ts";
import { Reloc, VmiCall as C } from "./abi.ts";

/** The emulator-private trap inside the ROM: VMCALL (0F 01 C1). Elsewhere it raises #UD. */
export const TRAP = [0x0f, 0x01, 0xc1] as const;

/** One ROM routine. */
export interface VmiRoutine {
  nr: number;
  /** Machine code; `"V"` marks a trap site (3 bytes). */
  code: ReadonlyArray<number | "V">;
  /** How `get_reloc` relocates the call site to it. */
  reloc: typeof Reloc.CALL_REL | typeof Reloc.JUMP_REL;
  args: readonly ArgDescription[];
  ret: string | null;
  /** Canonical operation (vocabulary/canonical_ops.ts), or null. */
  op: string | null;
}

const r = (loc: string, name: string, unit: string): ArgDescription => ({ loc, name, unit });
const EAX = (n: string, u: string) => r("EAX", n, u);
const EDX = (n: string, u: string) => r("EDX", n, u);
const ECX = (n: string, u: string) => r("ECX", n, u);
const STK = (off: number, n: string, u: string) => r(`[ESP+${off}]`, n, u);

const V = "V" as const;
const RET = 0xc3;

function call(
  nr: number,
  code: ReadonlyArray<number | "V">,
  args: readonly ArgDescription[],
  ret: string | null,
  op: string | null,
): VmiRoutine {
  return { nr, code, reloc: Reloc.CALL_REL, args, ret, op };
}

/** Trap, then return: the whole call is the hypervisor's work. */
const HV = [V, RET] as const;

/** Every routine of an API 3.0 ROM, by call number. */
export const VMI_ROUTINES: readonly VmiRoutine[] = [
  // trap (stash leaf), cpuid, trap (record), ret: CPUID is non-C (EAX/ECX in, EAX..EDX out)
  call(
    C.CPUID,
    [V, 0x0f, 0xa2, V, RET],
    [EAX("leaf", "u32"), ECX("subleaf", "u32")],
    "EAX..EDX",
    "cpuid",
  ),
  // trap; xchg %eax,%ecx; xchg %eax,%edx; wrmsr; ret  (argument order UNVERIFIED, §3)
  call(
    C.WRMSR,
    [V, 0x91, 0x92, 0x0f, 0x30, RET],
    [EAX("msr", "index"), EDX("lo", "u32"), ECX("hi", "u32")],
    null,
    "write_msr",
  ),
  // mov %eax,%ecx; rdmsr; trap; ret
  call(C.RDMSR, [0x89, 0xc1, 0x0f, 0x32, V, RET], [EAX("msr", "index")], "EDX:EAX", "read_msr"),
  // trap; lgdt (%eax); ret
  call(C.SetGDT, [V, 0x0f, 0x01, 0x10, RET], [EAX("desc_ptr", "linear")], null, "load_gdt"),
  // trap; lldt %ax; ret
  call(C.SetLDT, [V, 0x0f, 0x00, 0xd0, RET], [EAX("selector", "selector")], null, "set_ldt"),
  // trap; lidt (%eax); ret
  call(C.SetIDT, [V, 0x0f, 0x01, 0x18, RET], [EAX("desc_ptr", "linear")], null, "load_idt"),
  // trap; ltr %ax; ret
  call(C.SetTR, [V, 0x0f, 0x00, 0xd8, RET], [EAX("selector", "selector")], null, "load_tr_desc"),
  // sgdt (%eax); trap; ret
  call(C.GetGDT, [0x0f, 0x01, 0x00, V, RET], [EAX("desc_ptr", "linear")], null, null),
  // xor %eax,%eax; sldt %ax; trap; ret
  call(C.GetLDT, [0x31, 0xc0, 0x66, 0x0f, 0x00, 0xc0, V, RET], [], "EAX selector", null),
  // sidt (%eax); trap; ret
  call(C.GetIDT, [0x0f, 0x01, 0x08, V, RET], [EAX("desc_ptr", "linear")], null, null),
  // xor %eax,%eax; str %ax; trap; ret
  call(C.GetTR, [0x31, 0xc0, 0x66, 0x0f, 0x00, 0xc8, V, RET], [], "EAX selector", null),
  ...[C.WriteGDTEntry, C.WriteLDTEntry, C.WriteIDTEntry].map((nr) =>
    // trap; push %ebx; mov 8(%esp),%ebx; mov %ecx,(%eax,%edx,8); mov %ebx,4(%eax,%edx,8);
    // pop %ebx; ret
    call(
      nr,
      [V, 0x53, 0x8b, 0x5c, 0x24, 0x08, 0x89, 0x0c, 0xd0, 0x89, 0x5c, 0xd0, 0x04, 0x5b, RET],
      [EAX("table", "linear"), EDX("entry", "index"), ECX("low", "u32"), STK(4, "high", "u32")],
      null,
      null,
    )
  ),
  // the hypervisor writes ss0/esp0 into the current TSS
  call(C.UpdateKernelStack, HV, [EAX("ss", "selector"), EDX("esp0", "linear")], null, null),
  // trap; mov %eax,%crN; ret
  call(C.SetCR0, [V, 0x0f, 0x22, 0xc0, RET], [EAX("value", "bits")], null, "write_cr0"),
  call(C.SetCR2, [V, 0x0f, 0x22, 0xd0, RET], [EAX("value", "linear")], null, null),
  call(C.SetCR3, [V, 0x0f, 0x22, 0xd8, RET], [EAX("pgd", "gpa")], null, "write_cr3"),
  call(C.SetCR4, [V, 0x0f, 0x22, 0xe0, RET], [EAX("value", "bits")], null, "write_cr4"),
  // mov %crN,%eax; trap; ret
  call(C.GetCR0, [0x0f, 0x20, 0xc0, V, RET], [], "EAX", "read_cr0"),
  call(C.GetCR2, [0x0f, 0x20, 0xd0, V, RET], [], "EAX", "read_cr2"),
  call(C.GetCR3, [0x0f, 0x20, 0xd8, V, RET], [], "EAX", "read_cr3"),
  call(C.GetCR4, [0x0f, 0x20, 0xe0, V, RET], [], "EAX", "read_cr4"),
  // trap; wbinvd; ret
  call(C.WBINVD, [V, 0x0f, 0x09, RET], [], null, "wbinvd"),
  call(C.SetDR, HV, [EAX("reg", "index"), EDX("value", "u32")], null, "set_debugreg"),
  call(C.GetDR, HV, [EAX("reg", "index")], "EAX", null),
  // no performance counters are modelled: RDPMC answers 0 (UNVERIFIED what VMware returned)
  call(C.RDPMC, HV, [EAX("counter", "index")], "EDX:EAX", null),
  // rdtsc; trap; ret
  call(C.RDTSC, [0x0f, 0x31, V, RET], [], "EDX:EAX cycles", "read_tsc"),
  // trap; clts; ret
  call(C.CLTS, [V, 0x0f, 0x06, RET], [], null, "clts"),
  // trap; sti; ret  /  trap; cli; ret
  call(C.EnableInterrupts, [V, 0xfb, RET], [], null, "irq_enable"),
  call(C.DisableInterrupts, [V, 0xfa, RET], [], null, "irq_disable"),
  // pushf; pop %eax; trap; ret  (the mask is EFLAGS here; Linux tests only 0x200)
  call(C.GetInterruptMask, [0x9c, 0x58, V, RET], [], "EAX flags", "save_fl"),
  // trap; push %eax; popf; ret
  call(C.SetInterruptMask, [V, 0x50, 0x9d, RET], [EAX("flags", "flags")], null, "restore_fl"),
  // trap; iret  (jumped to)
  {
    nr: C.IRET,
    code: [V, 0xcf],
    reloc: Reloc.JUMP_REL,
    args: [STK(8, "eflags", "flags")],
    ret: null,
    op: "iret",
  },
  // trap; sti; sysexit  (jumped to)
  {
    nr: C.SYSEXIT,
    code: [V, 0xfb, 0x0f, 0x35],
    reloc: Reloc.JUMP_REL,
    args: [EDX("eip", "linear"), ECX("esp", "linear")],
    ret: null,
    op: "irq_enable_sysexit",
  },
  // trap; sti; hlt; ret: every VMI halt is safe (docs/abi/vmi.md §5)
  call(C.Halt, [V, 0xfb, 0xf4, RET], [], null, "safe_halt"),
  call(C.Reboot, HV, [EAX("how", "0 soft,1 hard")], null, "shutdown"),
  call(C.Shutdown, HV, [], null, "shutdown"),
  // trap; mov %eax,(%edx); ret
  call(
    C.SetPxE,
    [V, 0x89, 0x02, RET],
    [EAX("pte", "pte"), EDX("ptep", "linear"), ECX("flags", "flags|va")],
    null,
    null,
  ),
  // trap; mov %edx,4(%ecx); mov %eax,(%ecx); ret
  call(
    C.SetPxELong,
    [V, 0x89, 0x51, 0x04, 0x89, 0x01, RET],
    [
      EAX("pte_lo", "pte"),
      EDX("pte_hi", "pte"),
      ECX("ptep", "linear"),
      STK(4, "flags", "flags|va"),
    ],
    null,
    null,
  ),
  call(C.UpdatePxE, HV, [EAX("ptep", "linear"), EDX("flags", "flags|va")], null, null),
  call(C.UpdatePxELong, HV, [EAX("ptep", "linear"), EDX("flags", "flags|va")], null, null),
  call(C.MachineToPhysical, HV, [EAX("frame", "mfn")], "EAX pfn", null),
  call(C.PhysicalToMachine, HV, [EAX("frame", "pfn")], "EAX mfn", null),
  call(
    C.AllocatePage,
    HV,
    [
      EAX("pfn", "pfn"),
      EDX("flags", "flags"),
      ECX("clone_pfn", "pfn"),
      STK(4, "start", "index"),
      STK(8, "count", "entries"),
    ],
    null,
    null,
  ),
  call(C.ReleasePage, HV, [EAX("pfn", "pfn"), EDX("flags", "flags")], null, null),
  // trap; invlpg (%eax); ret
  call(C.InvalPage, [V, 0x0f, 0x01, 0x38, RET], [EAX("va", "linear")], null, "flush_tlb_single"),
  call(C.FlushTLB, HV, [EAX("flags", "1 user,3 global")], null, "flush_tlb_user"),
  call(
    C.SetLinearMapping,
    HV,
    [EAX("slot", "index"), EDX("va", "linear"), ECX("pages", "count"), STK(4, "pfn", "pfn")],
    null,
    null,
  ),
  // trap; pushf; andl $~0x3000,(%esp); or %eax,(%esp); popf; ret
  call(
    C.SetIOPLMask,
    [V, 0x9c, 0x81, 0x24, 0x24, 0xff, 0xcf, 0xff, 0xff, 0x09, 0x04, 0x24, 0x9d, RET],
    [EAX("mask", "eflags.iopl")],
    null,
    null,
  ),
  call(C.SetInitialAPState, HV, [EAX("ap_state", "linear"), EDX("apic_id", "id")], null, null),
  // trap; mov %edx,0xfee00000(%eax); ret
  call(
    C.APICWrite,
    [V, 0x89, 0x90, 0x00, 0x00, 0xe0, 0xfe, RET],
    [EAX("reg", "offset"), EDX("value", "u32")],
    null,
    "apic_write",
  ),
  // mov %eax,%edx; mov 0xfee00000(%edx),%eax; trap; ret
  call(
    C.APICRead,
    [0x89, 0xc2, 0x8b, 0x82, 0x00, 0x00, 0xe0, 0xfe, V, RET],
    [EAX("reg", "offset")],
    "EAX",
    "apic_read",
  ),
  call(C.IODelay, HV, [], null, "io_delay"),
  call(C.GetCycleFrequency, HV, [], "EDX:EAX Hz", null),
  call(
    C.GetCycleCounter,
    HV,
    [EAX("counter", "0 REAL,1 AVAILABLE,2 STOLEN")],
    "EDX:EAX cycles",
    "read_tsc",
  ),
  call(
    C.SetAlarm,
    HV,
    [
      EAX("flags", "counter|periodic|wiring"),
      EDX("expiry_lo", "cycles(absolute)"),
      ECX("expiry_hi", "cycles(absolute)"),
      STK(4, "period_lo", "cycles"),
      STK(8, "period_hi", "cycles"),
    ],
    null,
    "set_timer",
  ),
  call(C.CancelAlarm, HV, [EAX("flags", "counter")], null, "set_timer"),
  call(C.GetWallclockTime, HV, [], "EDX:EAX ns since 1970", "get_wallclock"),
  call(C.WallclockUpdated, HV, [], "EAX bool", null),
  call(C.SetLazyMode, HV, [EAX("mode", "0 none,1 MMU,2 CPU")], null, null),
];

/** The calls that make up the VMI timer (docs/abi/vmi.md §5: keyed on GetCycleFrequency). */
export const TIMER_CALLS: readonly number[] = [
  C.GetCycleFrequency,
  C.GetCycleCounter,
  C.SetAlarm,
  C.CancelAlarm,
  C.GetWallclockTime,
  C.WallclockUpdated,
];

/** `vmi_init`: trap; xor %eax,%eax; ret (0 = success, docs/abi/vmi.md §1). */
export const INIT_CODE: ReadonlyArray<number | "V"> = [V, 0x31, 0xc0, RET];
