/**
 * The CPU's outward interface: the points where a hypervisor model (backend) and the recorder see
 * or take over guest behaviour. The CPU calls these; it never knows which backend is attached.
 *
 * Every method is called with `clock.icount` exact and `cpu.eip` at the start of the instruction
 * concerned (for traps: the EIP that will be pushed).
 *
 * @module
 */

/** Why the CPU is about to vector through the IDT/IVT. */
export const TrapKind = {
  /** CPU exception (#DE .. #XM), including double fault. */
  exception: 0,
  /** External interrupt from the PIC or local APIC. */
  interrupt: 1,
  /** INT n / INT3 / INTO / INT1 executed by software. */
  software: 2,
  /** Non-maskable interrupt (vector 2) from the NMI input (docs/smp.md §5). */
  nmi: 3,
} as const;
export type TrapKind = typeof TrapKind[keyof typeof TrapKind];

/**
 * Privileged operations reported as exits. Numbering is this project's own; each backend maps
 * them to its ABI's exit reasons (e.g. KVM's `KVM_EXIT_*` / VMX basic exit reasons).
 */
export const ExitKind = {
  cli: 0,
  sti: 1,
  /** POPF/IRET/task switch that changed EFLAGS.IF: a = new IF (0/1). */
  ifChange: 2,
  hlt: 3,
  /** MOV to CRn: a = n, b = value. */
  crWrite: 4,
  /** MOV from CRn: a = n, b = value read. */
  crRead: 5,
  /** a = index, b = lo, c = hi (value read). */
  rdmsr: 6,
  /** a = index, b = lo, c = hi. */
  wrmsr: 7,
  /** a = leaf, b = subleaf; result in the CPU's EAX..EDX after the call. */
  cpuid: 8,
  /** a = linear address. */
  invlpg: 9,
  /** a = base, b = limit. */
  lgdt: 10,
  lidt: 11,
  /** a = selector. */
  lldt: 12,
  ltr: 13,
  clts: 14,
  wbinvd: 15,
  invd: 16,
  /** a = low 32 bits of the TSC returned. */
  rdtsc: 17,
  /** a = port, b = size, c = value. */
  ioIn: 18,
  ioOut: 19,
  /** MOV to DRn: a = n, b = value. */
  drWrite: 20,
  sysenter: 21,
  sysexit: 22,
  /** LMSW: a = value. */
  lmsw: 23,
  /** Shutdown (triple fault): a = vector of the fault that could not be delivered. */
  shutdown: 24,
} as const;
export type ExitKind = typeof ExitKind[keyof typeof ExitKind];

/** Names of {@link ExitKind} values, indexed by value. */
export const EXIT_NAMES: readonly string[] = Object.keys(ExitKind);

/**
 * Implemented by backends (and composed with the recorder). The CPU owns no policy: it asks.
 * Default behaviour (bare hardware) is {@link NATIVE_HOOKS}.
 */
export interface CpuHooks {
  /** Called before delivering a trap (after a fault's EIP has been rolled back). */
  onTrap(kind: TrapKind, vector: number, errorCode: number, eip: number, cr2: number): void;
  /** Called after a privileged operation completed (or, for hlt, when the CPU halts). */
  onExit(kind: ExitKind, a: number, b: number, c: number): void;
  /**
   * CPUID: the CPU has written the native answer to `out` (EAX, EBX, ECX, EDX); the hook may
   * overwrite it (hypervisor leaves, masked features).
   */
  cpuid(leaf: number, subleaf: number, out: Int32Array): void;
  /** RDMSR: return true and fill `out` = [lo, hi] to take over the access; false = native. */
  rdmsr(index: number, out: Int32Array): boolean;
  /** WRMSR: return true to take over the access; false = native. */
  wrmsr(index: number, lo: number, hi: number): boolean;
  /**
   * VMCALL (0F 01 C1) / VMMCALL (0F 01 D9): return true if the hypervisor handled it (it reads
   * and writes the CPU's registers itself); false raises #UD as on bare hardware.
   */
  hypercall(kind: "vmcall" | "vmmcall"): boolean;
  /**
   * Software `INT n` from the guest: return true if the hypervisor intercepts it (Xen's int
   * 0x82, lguest's int 0x1F); the CPU then continues after the instruction.
   */
  softwareInterrupt(vector: number): boolean;
  /**
   * Called after {@link onTrap}, before the CPU vectors through its IDT: return true if the
   * hypervisor consumed the trap — it emulated the faulting instruction (advancing EIP), bounced
   * it through a guest-registered trap table or callback (`core/platform.ts` `bounce`), or
   * stopped the guest. False delivers it as hardware does. See docs/backends.md.
   */
  takeTrap(kind: TrapKind, vector: number, errorCode: number): boolean;
}

/** Bare-hardware behaviour: observe nothing, take over nothing. */
export const NATIVE_HOOKS: CpuHooks = {
  onTrap() {},
  onExit() {},
  cpuid() {},
  rdmsr: () => false,
  wrmsr: () => false,
  hypercall: () => false,
  softwareInterrupt: () => false,
  takeTrap: () => false,
};
