/**
 * The canonical paravirt_ops-level operations: the vocabulary in which traces from different
 * backends are aligned. Each entry fixes the argument layout and units; `docs/canonical-ops.md`
 * explains the derivation per backend.
 *
 * @module
 */

/** One canonical argument: its name and unit. */
export interface CanonicalArg {
  name: string;
  /** `ns`, `s`, `cycles`, `gpa` (guest-physical address), `linear`, `flags`, `selector`, ... */
  unit: string;
}

/** A canonical operation. */
export interface CanonicalOp {
  name: string;
  args: readonly CanonicalArg[];
  /** What the operation does, in one sentence. */
  summary: string;
}

const a = (name: string, unit: string): CanonicalArg => ({ name, unit });

/** Canonical `set_timer` modes (argument 0). */
export const TimerMode = { oneshot: 0, periodic: 1 } as const;

/**
 * Canonical `shutdown` reasons (argument 0); the values mirror Xen's `SHUTDOWN_*` (Xen `xen/include/public/sched.h`)
 * so that the Xen rows translate without a table.
 */
export const ShutdownReason = { poweroff: 0, reboot: 1, crash: 3 } as const;

/** Every canonical operation, in documentation order. */
export const CANONICAL_OPS: readonly CanonicalOp[] = [
  { name: "irq_disable", args: [], summary: "mask maskable interrupts" },
  { name: "irq_enable", args: [], summary: "unmask maskable interrupts" },
  { name: "save_fl", args: [a("flags", "flags(IF=0x200)")], summary: "read the IRQ flag" },
  { name: "restore_fl", args: [a("flags", "flags(IF=0x200)")], summary: "set the IRQ flag" },
  { name: "safe_halt", args: [], summary: "enable interrupts and wait for one, atomically" },
  { name: "halt", args: [], summary: "wait for an interrupt without touching the IRQ flag" },
  { name: "write_cr0", args: [a("value", "bits")], summary: "load CR0" },
  { name: "write_cr3", args: [a("pgd", "gpa")], summary: "switch page directory" },
  { name: "write_cr4", args: [a("value", "bits")], summary: "load CR4" },
  { name: "read_cr0", args: [a("value", "bits")], summary: "read CR0" },
  { name: "read_cr2", args: [a("address", "linear")], summary: "read the page-fault address" },
  { name: "read_cr3", args: [a("pgd", "gpa")], summary: "read the page-directory base" },
  { name: "read_cr4", args: [a("value", "bits")], summary: "read CR4" },
  { name: "clts", args: [], summary: "clear CR0.TS" },
  { name: "load_gdt", args: [a("base", "linear"), a("limit", "bytes-1")], summary: "load GDTR" },
  { name: "load_idt", args: [a("base", "linear"), a("limit", "bytes-1")], summary: "load IDTR" },
  { name: "load_tr_desc", args: [a("selector", "selector")], summary: "load the task register" },
  {
    name: "set_ldt",
    args: [a("base", "linear"), a("entries", "count")],
    summary: "install an LDT (0 entries = none)",
  },
  {
    name: "write_msr",
    args: [a("index", "msr"), a("lo", "u32"), a("hi", "u32")],
    summary: "write a model-specific register",
  },
  {
    name: "read_msr",
    args: [a("index", "msr"), a("lo", "u32"), a("hi", "u32")],
    summary: "read a model-specific register (value read)",
  },
  {
    name: "cpuid",
    args: [
      a("leaf", "u32"),
      a("subleaf", "u32"),
      a("eax", "u32"),
      a("ebx", "u32"),
      a("ecx", "u32"),
      a("edx", "u32"),
    ],
    summary: "identify the processor (result registers)",
  },
  { name: "read_tsc", args: [a("lo", "cycles"), a("hi", "cycles")], summary: "read the TSC" },
  { name: "wbinvd", args: [], summary: "write back and invalidate caches" },
  { name: "flush_tlb_single", args: [a("address", "linear")], summary: "invalidate one page" },
  { name: "flush_tlb_user", args: [], summary: "flush non-global TLB entries" },
  { name: "flush_tlb_kernel", args: [], summary: "flush all TLB entries including global" },
  { name: "io_delay", args: [], summary: "wait about a microsecond for a slow ISA device" },
  {
    name: "set_timer",
    args: [a("mode", "0=oneshot,1=periodic"), a("delta", "ns(0=cancel)")],
    summary: "program the clock-event device relative to now",
  },
  {
    name: "get_wallclock",
    args: [a("sec", "s since 1970"), a("nsec", "ns")],
    summary: "read the current wall-clock time",
  },
  { name: "sched_clock", args: [a("now", "ns")], summary: "read monotonic time since boot" },
  {
    name: "apic_write",
    args: [a("reg", "offset"), a("value", "u32")],
    summary: "write a local-APIC register",
  },
  {
    name: "apic_read",
    args: [a("reg", "offset"), a("value", "u32")],
    summary: "read a local-APIC register (value read)",
  },
  {
    name: "set_debugreg",
    args: [a("reg", "index"), a("value", "u32")],
    summary: "load a debug register",
  },
  { name: "shutdown", args: [a("reason", "0=poweroff,1=reboot,3=crash")], summary: "stop" },
  { name: "iret", args: [a("flags", "flags(IF=0x200)")], summary: "return from interrupt" },
  { name: "irq_enable_sysexit", args: [], summary: "enable interrupts and return to user" },
  {
    // Like cpuid, an instruction rather than a paravirt_ops hook: the meaning of the registers
    // is the hypervisor's (docs/abi/kvm.md §2), so they are passed as the guest set them.
    name: "vmcall",
    args: [
      a("eax", "u32"),
      a("ebx", "u32"),
      a("ecx", "u32"),
      a("edx", "u32"),
      a("esi", "u32"),
      a("edi", "u32"),
      a("ebp", "u32"),
      a("cpl", "ring"),
    ],
    summary: "execute VMCALL (the KVM hypercall instruction) with these registers",
  },
  {
    name: "clock_update",
    args: [a("tsc_lo", "cycles"), a("tsc_hi", "cycles"), a("system_time", "ns since power-on")],
    summary: "the hypervisor publishes a (TSC, system time) pair in the guest's clock record",
  },
];

const BY_NAME = new Map(CANONICAL_OPS.map((op) => [op.name, op]));

/** Looks up a canonical operation; throws with the list of valid names if unknown. */
export function canonicalOp(name: string): CanonicalOp {
  const op = BY_NAME.get(name);
  if (!op) {
    throw new Error(
      `unknown canonical operation "${name}"; valid: ${
        CANONICAL_OPS.map((o) => o.name).join(", ")
      }`,
    );
  }
  return op;
}

/** Checks `args` against the operation's arity; throws naming the op and the expected layout. */
export function checkCanonicalArgs(name: string, args: readonly number[]): CanonicalOp {
  const op = canonicalOp(name);
  if (args.length !== op.args.length) {
    throw new Error(
      `canonical operation ${name} takes ${op.args.length} argument(s) (${
        op.args.map((x) => `${x.name}:${x.unit}`).join(", ")
      }), got ${args.length}`,
    );
  }
  return op;
}
