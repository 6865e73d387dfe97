/* The vDSO page and the variant-dependent policy of where (and whether) it is mapped. */
#ifndef VDSO_H
#define VDSO_H

#include "lib.h"

extern u32 vdso_enabled;     /* vdso= boot option, default per variant */
extern u32 vdso_page_pa;     /* the page sysenter_setup() filled */
extern u32 vdso_uses_sysenter;

/* Non-compat vDSO address in a process: deterministic stand-in for Linux's
 * get_unmapped_area() placement below the stack. */
#define VDSO_MMAP_BASE 0xb7fff000

void sysenter_setup(void);
void enable_sep_cpu(void);
/* Where exec() puts the vDSO for a new process (0 = none), and AT_SYSINFO. */
u32 vdso_base_for_process(void);
u32 vdso_sysinfo(u32 base);
u32 vdso_sysenter_return(u32 base);

#endif
