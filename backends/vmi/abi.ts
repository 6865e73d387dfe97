/**
 * VMI API 3.0 constants (docs/abi/vmi.md §1–§5): the ROM header, relocation types, call
 * numbers and flags.
 *
 * @module
 */

/** PC option-ROM signature (docs/abi/vmi.md §1). */
export const ROM_SIGNATURE = 0xaa55;
/** `vrom_signature`, the bytes "cVmi" (docs/abi/vmi.md §1). */
export const VMI_SIGNATURE = 0x696d5663;
/** Option-ROM window the kernel scans in 2 KiB steps (docs/abi/vmi.md §1). */
export const ROM_WINDOW_START = 0xc0000;
export const ROM_WINDOW_END = 0xe0000;
/** VMware's PCI ids (docs/abi/vmi.md §1). */
export const PCI_VENDOR_VMWARE = 0x15ad;
export const PCI_DEVICE_VMI = 0x0801;

/** `vrom_header` offsets (docs/abi/vmi.md §4). */
export const Hdr = {
  romSignature: 0,
  romLength: 2,
  romEntry: 3,
  vromSignature: 8,
  apiMinor: 12,
  apiMajor: 13,
  jumpSlots: 14,
  virtualTop: 16,
  licenseOffs: 22,
  pciHeaderOffs: 24,
  pnpHeaderOffs: 26,
  vmiInit: 128,
  getReloc: 136,
  size: 144,
} as const;

/** Relocation types `get_reloc` returns in DL (docs/abi/vmi.md §2). */
export const Reloc = { NONE: 0, CALL_REL: 1, JUMP_REL: 2, NOP: 3 } as const;

/** VMI call numbers, API 3.0 (docs/abi/vmi.md §3). */
export const VmiCall = {
  CPUID: 0,
  WRMSR: 1,
  RDMSR: 2,
  SetGDT: 3,
  SetLDT: 4,
  SetIDT: 5,
  SetTR: 6,
  GetGDT: 7,
  GetLDT: 8,
  GetIDT: 9,
  GetTR: 10,
  WriteGDTEntry: 11,
  WriteLDTEntry: 12,
  WriteIDTEntry: 13,
  UpdateKernelStack: 14,
  SetCR0: 15,
  SetCR2: 16,
  SetCR3: 17,
  SetCR4: 18,
  GetCR0: 19,
  GetCR2: 20,
  GetCR3: 21,
  GetCR4: 22,
  WBINVD: 23,
  SetDR: 24,
  GetDR: 25,
  RDPMC: 26,
  RDTSC: 27,
  CLTS: 28,
  EnableInterrupts: 29,
  DisableInterrupts: 30,
  GetInterruptMask: 31,
  SetInterruptMask: 32,
  IRET: 33,
  SYSEXIT: 34,
  Halt: 35,
  Reboot: 36,
  Shutdown: 37,
  SetPxE: 38,
  SetPxELong: 39,
  UpdatePxE: 40,
  UpdatePxELong: 41,
  MachineToPhysical: 42,
  PhysicalToMachine: 43,
  AllocatePage: 44,
  ReleasePage: 45,
  InvalPage: 46,
  FlushTLB: 47,
  SetLinearMapping: 48,
  SetIOPLMask: 61,
  SetInitialAPState: 62,
  APICWrite: 63,
  APICRead: 64,
  IODelay: 65,
  GetCycleFrequency: 66,
  GetCycleCounter: 67,
  SetAlarm: 68,
  CancelAlarm: 69,
  GetWallclockTime: 70,
  WallclockUpdated: 71,
  SetLazyMode: 73,
} as const;

/** One past the highest call number (the relocation table's length). */
export const NUM_VMI_CALLS = 74;

/** `VMI_CALL_<name>` by number. */
export const VMI_CALL_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(VmiCall).map(([k, v]) => [v, `VMI_CALL_${k}`]),
);

/** Page-type flags (docs/abi/vmi.md §3 Flags). */
export const VmiPage = {
  PT: 0x01,
  PD: 0x02,
  PDP: 0x04,
  PML4: 0x08,
  PAE: 0x10,
  CLONE: 0x20,
  ZEROED: 0x40,
  CURRENT_AS: 0x10,
  DEFER: 0x20,
  VA_MASK: 0xfffff000,
} as const;

/** FlushTLB flags (docs/abi/vmi.md §3 Flags). */
export const VMI_FLUSH_TLB = 0x01;
export const VMI_FLUSH_GLOBAL = 0x02;

/** Cycle counters and alarm flags (docs/abi/vmi.md §5 Timer). */
export const VmiCycles = { REAL: 0, AVAILABLE: 1, STOLEN: 2 } as const;
export const VMI_ALARM_COUNTER_MASK = 0xff;
export const VMI_ALARM_IS_PERIODIC = 0x100;
export const VMI_ALARM_WIRED_LVTT = 0x10000;
