/*
 * VMI guest support (CONFIG_VMI): the published VMI API 3.0 ROM interface
 * (docs/abi/vmi.md; Linux 2.6.21/2.6.22 include/asm-i386/vmi.h, vmi_time.h).
 */
#ifndef VMI_H
#define VMI_H

#include "../lib.h"

#define VMI_ROM_SIGNATURE 0xaa55
#define VMI_SIGNATURE 0x696d5663 /* "cVmi" */
#define VMI_API_REV_MAJOR 3

#define VMI_RELOCATION_NONE 0
#define VMI_RELOCATION_CALL_REL 1
#define VMI_RELOCATION_JUMP_REL 2
#define VMI_RELOCATION_NOP 3

#define VMI_CALL_CPUID 0
#define VMI_CALL_SetGDT 3
#define VMI_CALL_SetLDT 4
#define VMI_CALL_SetIDT 5
#define VMI_CALL_SetTR 6
#define VMI_CALL_WriteGDTEntry 11
#define VMI_CALL_WriteIDTEntry 13
#define VMI_CALL_UpdateKernelStack 14
#define VMI_CALL_SetCR0 15
#define VMI_CALL_SetCR2 16
#define VMI_CALL_SetCR3 17
#define VMI_CALL_SetCR4 18
#define VMI_CALL_GetCR0 19
#define VMI_CALL_GetCR2 20
#define VMI_CALL_GetCR3 21
#define VMI_CALL_GetCR4 22
#define VMI_CALL_WBINVD 23
#define VMI_CALL_RDTSC 27
#define VMI_CALL_CLTS 28
#define VMI_CALL_EnableInterrupts 29
#define VMI_CALL_DisableInterrupts 30
#define VMI_CALL_GetInterruptMask 31
#define VMI_CALL_SetInterruptMask 32
#define VMI_CALL_IRET 33
#define VMI_CALL_SYSEXIT 34
#define VMI_CALL_Halt 35
#define VMI_CALL_SetPxE 38
#define VMI_CALL_UpdatePxE 40
#define VMI_CALL_AllocatePage 44
#define VMI_CALL_ReleasePage 45
#define VMI_CALL_InvalPage 46
#define VMI_CALL_FlushTLB 47
#define VMI_CALL_SetIOPLMask 61
#define VMI_CALL_APICWrite 63
#define VMI_CALL_APICRead 64
#define VMI_CALL_IODelay 65
#define VMI_CALL_GetCycleFrequency 66
#define VMI_CALL_GetCycleCounter 67
#define VMI_CALL_SetAlarm 68
#define VMI_CALL_CancelAlarm 69
#define VMI_CALL_GetWallclockTime 70
#define VMI_CALL_WallclockUpdated 71
#define VMI_CALL_SetLazyMode 73

#define VMI_PAGE_PT 0x01
#define VMI_PAGE_PD 0x02
#define VMI_PAGE_ZEROED 0x40
#define VMI_PAGE_CURRENT_AS 0x10
#define VMI_PAGE_VA_MASK 0xfffff000
#define VMI_PAGE_L1 (VMI_PAGE_PT | VMI_PAGE_ZEROED)
#define VMI_FLUSH_TLB 0x01
#define VMI_FLUSH_GLOBAL 0x02

#define VMI_CYCLES_REAL 0
#define VMI_CYCLES_AVAILABLE 1
#define VMI_ALARM_IS_ONESHOT 0x000
#define VMI_ALARM_IS_PERIODIC 0x100
#define VMI_ALARM_WIRED_IRQ0 0x00000
#define CONFIG_VMI_ALARM_HZ 100

/* Probes the option-ROM area and activates VMI; 0 if there is no usable ROM. */
int vmi_init(void);

#endif
