/* Registers and Multiboot information captured at entry (head.S boot_regs). */
#ifndef BOOT_H
#define BOOT_H

#include "lib.h"

struct boot_state {
	u32 eax, ebx, esi, cs;
};

/* Multiboot v1 information structure (fields used here). */
struct multiboot_info {
	u32 flags, mem_lower, mem_upper, boot_device, cmdline;
};
#define MULTIBOOT_INFO_CMDLINE 0x4

#endif
