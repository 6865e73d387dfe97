/*
 * Which hypervisor are we on?  The discovery mechanisms of abi.md §1, tried in the
 * order a 2007 kernel meets them: entry conventions first (Xen PV start_info,
 * lguest boot_params), then CPUID 0x40000000 signatures (KVM, Xen HVM), then the
 * VMI option-ROM scan.  Only native and KVM are implemented; the others are
 * detected and reported, and the kernel continues natively where that is possible.
 */
#include "paravirt.h"
#include "boot.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002

/* Xen PV (abi.md §1): ring-1 CS (FLAT_KERNEL_CS 0xe019), ESI -> start_info whose
 * magic starts "xen-3" (2.6.24 check; 2.6.23 checks 7 chars "xen-3.0"). */
static int xen_pv_entry(const struct boot_state *b)
{
	return (b->cs & 3) == 1 && b->esi && !memcmp((const void *)b->esi, "xen-3", 5);
}

/* lguest (abi.md §1): boot_params at ESI (= guest-physical 0), setup header
 * version >= 0x207 at 0x206, hardware_subarch (u32) at 0x23c == 1. */
static int lguest_entry(const struct boot_state *b)
{
	if (b->eax == MULTIBOOT_BOOTLOADER_MAGIC)
		return 0; /* Multiboot boot: physical 0 is the real-mode IVT, not boot_params */
	const u8 *bp = (const u8 *)b->esi;
	u16 version = *(const u16 *)(bp + 0x206);
	u32 subarch = *(const u32 *)(bp + 0x23c);
	return version >= 0x207 && subarch == 1;
}

static int cpuid_signature(const char *sig12, u32 *max_leaf)
{
	u32 a, r[3];
	cpuid(0x40000000, &a, &r[0], &r[1], &r[2]);
	*max_leaf = a;
	return !memcmp(r, sig12, 12);
}

/* VMI (abi.md §1, §4.5; L2.6.22 arch/i386/kernel/vmi.c probe_vmi_rom/check_vmi_rom). */
static u32 vmi_probe_rom(u32 *api)
{
	for (u32 base = 0xc0000; base < 0xe0000; base += 0x800) {
		const u8 *rom = (const u8 *)base;
		if (*(const u16 *)rom != 0xaa55)
			continue;
		if (*(const u32 *)(rom + 8) != 0x696d5663) /* "cVmi" */
			continue;
		u8 min = rom[12], maj = rom[13];
		if (maj != 3) {
			printk("VMI: Found mismatched rom version %u.%u at 0x%05x\n", maj, min, base);
			continue;
		}
		u16 lic = *(const u16 *)(rom + 22), pci = *(const u16 *)(rom + 24);
		const char *license = (const char *)(rom + lic);
		if (!lic || (strncmp(license, "GPL", 4) && strncmp(license, "GPL v2", 7))) {
			printk("VMI: ROM at 0x%05x has no GPL license string, refused\n", base);
			continue;
		}
		if (pci) {
			const u8 *p = rom + pci; /* PCI data structure: "PCIR", vendor @4, device @6 */
			u16 vendor = *(const u16 *)(p + 4), device = *(const u16 *)(p + 6);
			if (memcmp(p, "PCIR", 4) || vendor != 0x15ad || device != 0x0801)
				printk("VMI: ROM at 0x%05x: unexpected PCI id %04x:%04x (warning only)\n",
				       base, vendor, device);
		}
		*api = ((u32)maj << 8) | min;
		return base;
	}
	return 0;
}

static void say(char *why, size_t n, const char *s)
{
	size_t i = 0;
	for (; s[i] && i + 1 < n; i++)
		why[i] = s[i];
	why[i] = 0;
}

enum paravirt_backend detect_hypervisor(const struct boot_state *b, char *why, size_t n)
{
	u32 max_leaf;
	if (xen_pv_entry(b)) {
		say(why, n, "Xen PV entry (ring-1 CS, start_info magic xen-3)");
		return BACKEND_XEN;
	}
	if (lguest_entry(b)) {
		say(why, n, "lguest boot_params hardware_subarch=1");
		return BACKEND_LGUEST;
	}
	if (cpuid_signature("KVMKVMKVM\0\0\0", &max_leaf)) {
		say(why, n, "CPUID 0x40000000 KVMKVMKVM");
		return BACKEND_KVM;
	}
	if (cpuid_signature("XenVMMXenVMM", &max_leaf)) {
		say(why, n, "CPUID 0x40000000 XenVMMXenVMM (HVM)");
		return BACKEND_XEN;
	}
	u32 api;
	u32 rom = vmi_probe_rom(&api);
	if (rom) {
		printk("VMI: ROM at 0x%05x, API %u.%u\n", rom, api >> 8, api & 0xff);
		say(why, n, "VMI option ROM (cVmi, API 3.x)");
		return BACKEND_VMI;
	}
	say(why, n, "no hypervisor signature");
	return BACKEND_NATIVE;
}
