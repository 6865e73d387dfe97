/*
 * Compile-time variant configuration.  build.ts passes exactly one of
 * -DVARIANT_2_6_20, -DVARIANT_2_6_21, -DVARIANT_2_6_21_VDSO, -DVARIANT_2_6_22,
 * -DVARIANT_NOPV, -DVARIANT_2_6_23, -DVARIANT_2_6_24, -DVARIANT_2_6_21_VMI.  The switches model the Linux i386 Kconfig/sysenter.c state of
 * each release (abi.md §5.9; L2.6.20/L2.6.22 arch/i386/Kconfig,
 * arch/i386/kernel/sysenter.c, arch/i386/mm/pgtable.c).
 */
#ifndef CONFIG_H
#define CONFIG_H

#if defined(VARIANT_2_6_20)
#define VARIANT_NAME "2.6.20"
#define CONFIG_PARAVIRT 1
#define CONFIG_COMPAT_VDSO 0        /* depends on !PARAVIRT */
#define VDSO_ENABLED_DEFAULT 0      /* #ifdef CONFIG_PARAVIRT vdso_enabled = 0 */
#define CONFIG_RELOCATE_COMPAT_VDSO 0
#elif defined(VARIANT_2_6_21)
#define VARIANT_NAME "2.6.21"
#define CONFIG_PARAVIRT 1
#define CONFIG_COMPAT_VDSO 0
#define VDSO_ENABLED_DEFAULT 0
#define CONFIG_RELOCATE_COMPAT_VDSO 0
#elif defined(VARIANT_2_6_21_VMI)
/* 2.6.21 with its VMI guest (vmi.c, vmitime.c): the VMI alarm ticks at 100 Hz from boot and,
 * with NO_IDLE_HZ (default y under PARAVIRT, Dec 2006 patch), safe_halt is the wrapper that
 * stops it around Halt (docs/abi/vmi.md §5); 2.6.22 removed the wrapper. */
#define VARIANT_NAME "2.6.21-vmi"
#define CONFIG_PARAVIRT 1
#define CONFIG_COMPAT_VDSO 0
#define VDSO_ENABLED_DEFAULT 0
#define CONFIG_RELOCATE_COMPAT_VDSO 0
#define CONFIG_VMI 1
#define CONFIG_NO_IDLE_HZ 1
#elif defined(VARIANT_2_6_21_VDSO)
/* 2.6.21 plus Ingo Molnar's "paravirt: VDSO page is essential" and
 * "paravirt: re-enable COMPAT_VDSO" (LKML 2007-03-05, seeds/004). */
#define VARIANT_NAME "2.6.21-vdso"
#define CONFIG_PARAVIRT 1
#define CONFIG_COMPAT_VDSO 1        /* selectable again, Kconfig default y */
#define VDSO_ENABLED_DEFAULT 1
#define CONFIG_RELOCATE_COMPAT_VDSO 0
#elif defined(VARIANT_2_6_22)
#define VARIANT_NAME "2.6.22"
#define CONFIG_PARAVIRT 1
#define CONFIG_COMPAT_VDSO 1
#define VDSO_ENABLED_DEFAULT 1
#define CONFIG_RELOCATE_COMPAT_VDSO 1 /* relocated to __fix_to_virt(FIX_VDSO) */
#elif defined(VARIANT_2_6_23) || defined(VARIANT_2_6_24)
/* 2.6.23 merged lguest and Xen paravirt_ops next to VMI (2.6.21): one image probes for
 * each hypervisor at boot (Xen's domain builder, lguest's boot_params subarch, the VMI ROM)
 * and falls back to native.  2.6.24 is the last i386 tree before the x86 merge. */
#if defined(VARIANT_2_6_23)
#define VARIANT_NAME "2.6.23"
#else
#define VARIANT_NAME "2.6.24"
#endif
#define CONFIG_PARAVIRT 1
#define CONFIG_COMPAT_VDSO 1
#define VDSO_ENABLED_DEFAULT 1
#define CONFIG_RELOCATE_COMPAT_VDSO 1
#define CONFIG_XEN 1
#define CONFIG_VMI 1
#define CONFIG_LGUEST_GUEST 1
#elif defined(VARIANT_NOPV)
#define VARIANT_NAME "nopv"
#define CONFIG_PARAVIRT 0
#define CONFIG_COMPAT_VDSO 1
#define VDSO_ENABLED_DEFAULT 1
#define CONFIG_RELOCATE_COMPAT_VDSO 0
#else
#error "no VARIANT_* defined"
#endif

/* Hypervisor guest support; only the 2.6.23+ variants (and variants that say so) have it. */
#ifndef CONFIG_XEN
#define CONFIG_XEN 0
#endif
#ifndef CONFIG_VMI
#define CONFIG_VMI 0
#endif
#ifndef CONFIG_NO_IDLE_HZ
#define CONFIG_NO_IDLE_HZ 0
#endif
#ifndef CONFIG_LGUEST_GUEST
#define CONFIG_LGUEST_GUEST 0
#endif

#define HZ 100

#endif
