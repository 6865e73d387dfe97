/*
 * The published VMI API 3.0 layout this guest relies on (docs/abi/vmi.md §1-§5; Linux
 * 2.6.21/2.6.22 include/asm-i386/vmi.h and vmi_time.h).  Nothing here comes from the
 * emulator's own sources.
 */
#ifndef VMI_ABI_H
#define VMI_ABI_H

#define VMI_ROM_START 0xc0000
#define VMI_ROM_END 0xe0000
#define VMI_ROM_STEP 0x800
#define VMI_ROM_SIGNATURE 0xaa55
#define VMI_SIGNATURE 0x696d5663 /* "cVmi" */
#define VMI_API_REV_MAJOR 3

/* struct vrom_header offsets */
#define VROM_VROM_SIGNATURE 8
#define VROM_API_MIN 12
#define VROM_API_MAJ 13
#define VROM_VIRTUAL_TOP 16
#define VROM_LICENSE_OFFS 22
#define VROM_PCI_HEADER_OFFS 24
#define VROM_VMI_INIT 128
#define VROM_GET_RELOC 136

#define PCI_VENDOR_ID_VMWARE 0x15ad
#define PCI_DEVICE_ID_VMWARE_VMI 0x0801

#define VMI_RELOCATION_NONE 0
#define VMI_RELOCATION_CALL_REL 1
#define VMI_RELOCATION_JUMP_REL 2
#define VMI_RELOCATION_NOP 3

#define VMI_CALL_CPUID 0
#define VMI_CALL_GetCR0 19
#define VMI_CALL_RDTSC 27
#define VMI_CALL_EnableInterrupts 29
#define VMI_CALL_DisableInterrupts 30
#define VMI_CALL_GetInterruptMask 31
#define VMI_CALL_SetInterruptMask 32
#define VMI_CALL_IRET 33
#define VMI_CALL_SYSEXIT 34
#define VMI_CALL_Halt 35
#define VMI_CALL_GetCycleFrequency 66
#define VMI_CALL_GetCycleCounter 67
#define VMI_CALL_SetAlarm 68
#define VMI_CALL_CancelAlarm 69
#define VMI_CALL_GetWallclockTime 70
#define VMI_CALL_WallclockUpdated 71
#define VMI_CALL_SetLazyMode 73

#define VMI_CYCLES_REAL 0
#define VMI_CYCLES_AVAILABLE 1
#define VMI_CYCLES_STOLEN 2
#define VMI_ALARM_IS_ONESHOT 0x000
#define VMI_ALARM_IS_PERIODIC 0x100
#define VMI_ALARM_WIRED_IRQ0 0x00000
#define VMI_ALARM_WIRED_LVTT 0x10000

#endif
