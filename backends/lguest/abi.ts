/**
 * lguest ABI constants (docs/abi/lguest.md): the `int $0x1f` hypercall numbers, the
 * `lguest_data` layouts of 2.6.23 and 2.6.24, selectors, the Switcher address and the launcher's
 * boot conventions. Numbers only; behaviour is in `backend.ts`.
 *
 * @module
 */

/** `LGUEST_TRAP_ENTRY`: the hypercall software interrupt (docs/abi/lguest.md §3). */
export const LGUEST_TRAP_ENTRY = 0x1f;

/** `LHCALL_*` numbers (docs/abi/lguest.md §4; 2.6.23 `include/asm-i386/lguest_hcall.h`). */
export const Lhcall = {
  FLUSH_ASYNC: 0,
  LGUEST_INIT: 1,
  CRASH: 2,
  LOAD_GDT: 3,
  NEW_PGTABLE: 4,
  FLUSH_TLB: 5,
  LOAD_IDT_ENTRY: 6,
  SET_STACK: 7,
  TS: 8,
  SET_CLOCKEVENT: 9,
  HALT: 10,
  GET_WALLCLOCK: 11,
  BIND_DMA: 12,
  SEND_DMA: 13,
  SET_PTE: 14,
  SET_PMD: 15,
  LOAD_TLS: 16,
  NOTIFY: 17,
} as const;

/** Names by number. */
export const LHCALL_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(Lhcall).map(([k, v]) => [v, `LHCALL_${k}`]),
);

/** Entries of the asynchronous hypercall ring (`LHCALL_RING_SIZE`, docs/abi/lguest.md §5). */
export const LHCALL_RING_SIZE = 64;
/** `hcall_status` values: the host sets 0xFF when done (free), the guest 0 when pending. */
export const HCALL_DONE = 0xff;
export const HCALL_PENDING = 0;

/** Virtual IRQs (`LGUEST_IRQS` = 32) at vectors 0x20 + irq (docs/abi/lguest.md §6). */
export const LGUEST_IRQS = 32;
export const FIRST_EXTERNAL_VECTOR = 0x20;
/** The clock event's interrupt. */
export const CLOCK_IRQ = 0;
/** `LG_CLOCK_MIN_DELTA` in ns: the guest's clockevent refuses shorter deltas (-ETIME). */
export const LG_CLOCK_MIN_DELTA = 100;

/** X86_EFLAGS_IF: `irq_enabled` is 0 or this (docs/abi/lguest.md §5). */
export const IRQ_ENABLED = 0x200;

/** Ring the guest kernel runs in (`GUEST_PL`). */
export const GUEST_PL = 1;
/** GDT entries the host keeps (i386 `GDT_ENTRIES`; docs/abi/lguest.md §7). */
export const GDT_ENTRIES = 32;
/** i386 GDT indices: TLS 6..8, host CS/DS 10/11, kernel CS/DS 12/13, TSS 16, DF TSS 31. */
export const GDT_ENTRY_TLS_MIN = 6;
export const GDT_ENTRY_LGUEST_CS = 10;
export const GDT_ENTRY_LGUEST_DS = 11;
export const GDT_ENTRY_KERNEL_CS = 12;
export const GDT_ENTRY_KERNEL_DS = 13;
export const GDT_ENTRY_TSS = 16;
export const GDT_ENTRY_DOUBLEFAULT_TSS = 31;
/** `__KERNEL_CS | GUEST_PL` = 0x61 and `__KERNEL_DS | GUEST_PL` = 0x69. */
export const GUEST_CS = (GDT_ENTRY_KERNEL_CS << 3) | GUEST_PL;
export const GUEST_DS = (GDT_ENTRY_KERNEL_DS << 3) | GUEST_PL;
/** Initial EFLAGS (IF set, bit 1). */
export const INITIAL_EFLAGS = 0x202;

/** The Switcher's linear address: the top 4 MiB (docs/abi/lguest.md §7). */
export const SWITCHER_ADDR = 0xffc00000;
/** Page-directory index of the Switcher (non-PAE). */
export const SWITCHER_PGD_INDEX = SWITCHER_ADDR >>> 22;
/** What the host writes into `lguest_data.reserve_mem`: the Switcher's 4 MiB. */
export const RESERVE_MEM = 0x1_0000_0000 - SWITCHER_ADDR;

/** Boot protocol values the launcher writes (docs/abi/lguest.md §2). */
export const LGUEST_BOOT_VERSION = 0x207;

/** 2.6.23 console DMA key (`LGUEST_CONSOLE_DMA_KEY`) and `struct lguest_dma` layout. */
export const LGUEST_CONSOLE_DMA_KEY = 0;
export const LGUEST_MAX_DMA_SECTIONS = 16;
/** Offsets in `struct lguest_dma`: used_len, addr[16], len[16] (u16). */
export const DMA_USED_LEN = 0;
export const DMA_ADDR = 4;
export const DMA_LEN = 4 + 4 * LGUEST_MAX_DMA_SECTIONS;
/** Bytes of a CRASH message the host reads (the last is forced to NUL). */
export const CRASH_MSG_MAX = 128;

/** The offsets of one release's `struct lguest_data` (docs/abi/lguest.md §5). */
export interface LguestDataLayout {
  irqEnabled: number;
  blockedInterrupts: number;
  cr2: number;
  /** `struct timespec time` (2.6.24 only), or -1. */
  time: number;
  hcallStatus: number;
  hcalls: number;
  /** Offsets inside one 16-byte ring entry of the EAX, EDX, EBX, ECX values. */
  hcallEax: number;
  hcallEdx: number;
  hcallEbx: number;
  hcallEcx: number;
  reserveMem: number;
  /** `guestid` (2.6.23 only), or -1. */
  guestid: number;
  tscKhz: number;
  noirqStart: number;
  noirqEnd: number;
  /** `kernel_address` and `syscall_vec` (2.6.24 only), or -1. */
  kernelAddress: number;
  syscallVec: number;
  size: number;
}

/** 2.6.23 `struct lguest_data` (docs/abi/lguest.md §5.1). */
export const LGUEST_DATA_2_6_23: LguestDataLayout = {
  irqEnabled: 0,
  blockedInterrupts: 4,
  cr2: 8,
  time: -1,
  hcallStatus: 12,
  hcalls: 76,
  hcallEax: 0,
  hcallEdx: 4,
  hcallEbx: 8,
  hcallEcx: 12,
  reserveMem: 1100,
  guestid: 1104,
  tscKhz: 1108,
  noirqStart: 1112,
  noirqEnd: 1116,
  kernelAddress: -1,
  syscallVec: -1,
  size: 1120,
};

/**
 * 2.6.24 `struct lguest_data` (docs/abi/lguest.md §5.2): `time` after cr2, ring entries
 * {arg0, arg2, arg3, arg1} = {eax, ebx, ecx, edx}, no guestid, kernel_address and syscall_vec
 * at the end.
 */
export const LGUEST_DATA_2_6_24: LguestDataLayout = {
  irqEnabled: 0,
  blockedInterrupts: 4,
  cr2: 8,
  time: 12,
  hcallStatus: 20,
  hcalls: 84,
  hcallEax: 0,
  hcallEdx: 12,
  hcallEbx: 4,
  hcallEcx: 8,
  reserveMem: 1108,
  guestid: -1,
  tscKhz: 1112,
  noirqStart: 1116,
  noirqEnd: 1120,
  kernelAddress: 1124,
  syscallVec: 1128,
  size: 1132,
};
