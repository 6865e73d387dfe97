/*
 * VMI conformance guest: finds a VMI option ROM by the published scan (vmi_abi.h), checks its
 * header, calls vmi_init and get_reloc through the header's entry stubs, then calls ROM
 * routines with the kernel's regparm(3) convention and checks what API 3.0 specifies.
 * Reports on COM1, exits through isa-debug-exit (port 0xf4): status 0 (QEMU exit 1) = conforms,
 * 1 (exit 3) = violates, 3 (exit 7) = no acceptable VMI ROM (none, or another API major),
 * 2 (exit 5) = unexpected exception.
 */
#include "vmi_abi.h"

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define REGPARM __attribute__((regparm(3)))

static inline void outb(u8 v, u16 p) { __asm__ volatile("outb %0,%1" : : "a"(v), "Nd"(p)); }
static inline u8 inb(u16 p)
{
	u8 v;
	__asm__ volatile("inb %1,%0" : "=a"(v) : "Nd"(p));
	return v;
}

static void putc_(char c)
{
	for (u32 i = 0; i < 100000 && !(inb(0x3f8 + 5) & 0x20); i++)
		;
	outb((u8)c, 0x3f8);
}

static void puts_(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			putc_('\r');
		putc_(*s);
	}
}

static void putu(u32 v, u32 base)
{
	char b[12];
	int n = 0;
	do {
		b[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (base == 16)
		puts_("0x");
	while (n)
		putc_(b[--n]);
}

static void __attribute__((noreturn)) finish(u8 status)
{
	outb(status, 0xf4);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void __attribute__((noreturn, used)) exception(u32 vector, u32 ret_eip)
{
	puts_("vmiabi: unexpected exception, vector ");
	putu(vector, 10);
	puts_(" after eip ");
	putu(ret_eip, 16);
	puts_("\nRESULT guest=vmiabi pass=0 error=exception\n");
	finish(2);
}

extern char exc_stubs[], irq0_stub[];
volatile u32 irq0_count;
static u64 idt[0x21];

static u64 gate(u32 off, u16 cs)
{
	return ((u64)((off & 0xffff0000u) | 0x8e00u) << 32) | ((u32)cs << 16) | (off & 0xffff);
}

static void idt_init(void)
{
	u16 cs;
	__asm__ volatile("movw %%cs,%0" : "=r"(cs));
	for (u32 v = 0; v < 32; v++)
		idt[v] = gate((u32)exc_stubs + 16 * v, cs);
	idt[0x20] = gate((u32)irq0_stub, cs);
	struct {
		u16 limit;
		u32 base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (u32)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

/* 8259A pair: master at vector 0x20, only IRQ0 unmasked. */
static void pic_init(void)
{
	outb(0x11, 0x20);
	outb(0x11, 0xa0);
	outb(0x20, 0x21);
	outb(0x28, 0xa1);
	outb(0x04, 0x21);
	outb(0x02, 0xa1);
	outb(0x01, 0x21);
	outb(0x01, 0xa1);
	outb(0xfe, 0x21);
	outb(0xff, 0xa1);
}

static int pass = 1;

static void check(const char *what, int ok)
{
	puts_(ok ? "  ok   " : "  FAIL ");
	puts_(what);
	puts_("\n");
	if (!ok)
		pass = 0;
}

static const u8 *rom;

/* get_reloc (ROM+136): EAX = call -> EDX:EAX = { eip, type } (vmi.h vmi_relocation_info). */
static u32 get_reloc(u32 call, u32 *type)
{
	u32 eip, t;
	__asm__ volatile("call *%2" : "=a"(eip), "=d"(t) : "r"(rom + VROM_GET_RELOC), "0"(call)
			 : "ecx", "memory");
	*type = t & 0xff;
	return eip;
}

static u32 must_call(u32 call)
{
	u32 type, eip = get_reloc(call, &type);
	return type == VMI_RELOCATION_CALL_REL ? eip : 0;
}

static int in_rom(u32 eip) { return eip >= (u32)rom && eip < (u32)rom + rom[2] * 512u; }

static const char *license_of(const u8 *r)
{
	u16 off = *(const u16 *)(r + VROM_LICENSE_OFFS);
	return off ? (const char *)(r + off) : "";
}

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static const u8 *find_rom(u32 *major)
{
	for (u32 base = VMI_ROM_START; base < VMI_ROM_END; base += VMI_ROM_STEP) {
		const u8 *r = (const u8 *)base;
		if (*(const u16 *)r != VMI_ROM_SIGNATURE ||
		    *(const u32 *)(r + VROM_VROM_SIGNATURE) != VMI_SIGNATURE)
			continue;
		*major = r[VROM_API_MAJ];
		return r;
	}
	return 0;
}

void vmiabi_main(void)
{
	idt_init();
	pic_init();
	puts_("vmiabi: VMI API 3.0 conformance guest\n");
	u32 major = 0;
	rom = find_rom(&major);
	if (!rom) {
		puts_("vmiabi: no VMI option ROM in 0xc0000-0xdffff\n");
		puts_("RESULT guest=vmiabi pass=0 skip=1 rom=absent\n");
		finish(3);
	}
	puts_("vmiabi: ROM at ");
	putu((u32)rom, 16);
	puts_(" API ");
	putu(major, 10);
	puts_(".");
	putu(rom[VROM_API_MIN], 10);
	puts_("\n");
	if (major != VMI_API_REV_MAJOR) {
		puts_("vmiabi: mismatched API major (a 2.6.21+ kernel refuses it)\n");
		puts_("RESULT guest=vmiabi pass=0 skip=1 rom=mismatched major=");
		putu(major, 10);
		puts_("\n");
		finish(3);
	}
	u8 sum = 0;
	for (u32 i = 0; i < rom[2] * 512u; i++)
		sum += rom[i];
	check("option-ROM checksum is 0", sum == 0);
	const char *lic = license_of(rom);
	check("license string is \"GPL\" or \"GPL v2\"", streq(lic, "GPL") || streq(lic, "GPL v2"));
	u16 pcio = *(const u16 *)(rom + VROM_PCI_HEADER_OFFS);
	const u8 *pci = rom + pcio;
	int pci_ok = pcio && pci[0] == 'P' && pci[1] == 'C' && pci[2] == 'I' && pci[3] == 'R' &&
		     *(const u16 *)(pci + 4) == PCI_VENDOR_ID_VMWARE &&
		     *(const u16 *)(pci + 6) == PCI_DEVICE_ID_VMWARE_VMI;
	check("PCI data structure PCIR 15ad:0801", pci_ok);
	u32 top = *(const u32 *)(rom + VROM_VIRTUAL_TOP);
	puts_("vmiabi: virtual_top ");
	putu(top, 16);
	puts_("\n");
	check("virtual_top is above 3 GiB and page aligned", top >= 0xc0000000u && !(top & 0xfff));

	int init;
	__asm__ volatile("call *%1" : "=a"(init) : "r"(rom + VROM_VMI_INIT) : "ecx", "edx", "memory");
	check("vmi_init returns 0", init == 0);

	/* Relocations: C calls CALL_REL into the ROM, IRET/SYSEXIT JUMP_REL, undefined NONE. */
	u32 type, eip;
	eip = get_reloc(VMI_CALL_GetCR0, &type);
	check("get_reloc(GetCR0) = CALL_REL into the ROM", type == VMI_RELOCATION_CALL_REL && in_rom(eip));
	eip = get_reloc(VMI_CALL_IRET, &type);
	check("get_reloc(IRET) = JUMP_REL into the ROM", type == VMI_RELOCATION_JUMP_REL && in_rom(eip));
	eip = get_reloc(VMI_CALL_SYSEXIT, &type);
	check("get_reloc(SYSEXIT) = JUMP_REL", type == VMI_RELOCATION_JUMP_REL && in_rom(eip));
	get_reloc(50, &type);
	u32 undefined = type;
	check("get_reloc(50, undefined) = NONE", type == VMI_RELOCATION_NONE);

	/* Control registers and the interrupt mask. */
	u32 (*REGPARM get_cr0)(void) = (void *)must_call(VMI_CALL_GetCR0);
	u32 cr0_native;
	__asm__ volatile("mov %%cr0,%0" : "=r"(cr0_native));
	check("GetCR0 returns CR0", get_cr0 && get_cr0() == cr0_native);
	u32 (*REGPARM get_mask)(void) = (void *)must_call(VMI_CALL_GetInterruptMask);
	void (*REGPARM set_mask)(u32) = (void *)must_call(VMI_CALL_SetInterruptMask);
	void (*REGPARM irq_on)(void) = (void *)must_call(VMI_CALL_EnableInterrupts);
	void (*REGPARM irq_off)(void) = (void *)must_call(VMI_CALL_DisableInterrupts);
	int mask_ok = get_mask && set_mask && irq_on && irq_off;
	if (mask_ok) {
		irq_off();
		u32 m0 = get_mask();
		irq_on();
		u32 m1 = get_mask();
		set_mask(m0);
		u32 m2 = get_mask();
		mask_ok = !(m0 & 0x200) && (m1 & 0x200) && !(m2 & 0x200);
	}
	check("Disable/Enable/Get/SetInterruptMask round trip (bit 0x200)", mask_ok);

	/* Timer block (absent on a ROM without it: the kernel keeps native timers). */
	u32 timer = must_call(VMI_CALL_GetCycleFrequency) != 0;
	u32 hz = 0, alarms = 0, halted = 0, wall_s = 0;
	if (timer) {
		u64 (*REGPARM freq)(void) = (void *)must_call(VMI_CALL_GetCycleFrequency);
		u64 (*REGPARM counter)(u32) = (void *)must_call(VMI_CALL_GetCycleCounter);
		void (*REGPARM set_alarm)(u32, u64, u64) = (void *)must_call(VMI_CALL_SetAlarm);
		void (*REGPARM cancel_alarm)(u32) = (void *)must_call(VMI_CALL_CancelAlarm);
		u64 (*REGPARM wallclock)(void) = (void *)must_call(VMI_CALL_GetWallclockTime);
		void (*REGPARM halt)(void) = (void *)must_call(VMI_CALL_Halt);
		check("timer calls present (GetCycleCounter, SetAlarm, CancelAlarm, GetWallclockTime, Halt)",
		      counter && set_alarm && cancel_alarm && wallclock && halt);
		if (!(counter && set_alarm && cancel_alarm && wallclock && halt))
			finish(1);
		u64 f = freq();
		hz = (u32)f;
		check("GetCycleFrequency is non-zero and below 2^32", f && !(f >> 32));
		u64 c1 = counter(VMI_CYCLES_REAL);
		for (volatile u32 i = 0; i < 1000; i++)
			;
		u64 c2 = counter(VMI_CYCLES_REAL);
		check("REAL counter advances", c2 > c1);
		check("STOLEN counter does not exceed REAL", counter(VMI_CYCLES_STOLEN) <= c2);
		/* ns since 1970: 2000-01-01 .. 2100-01-01 */
		u64 ns = wallclock();
		u32 hi = (u32)(ns >> 32), lo = (u32)ns, q, r;
		__asm__("divl %4" : "=a"(q), "=d"(r) : "a"(hi), "d"(0), "rm"(1000000000u));
		__asm__("divl %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(r), "rm"(1000000000u));
		wall_s = q;
		check("GetWallclockTime is ns since 1970 (date in 2000..2099)",
		      wall_s >= 946684800u && wall_s < 4102444800u);

		/* One-shot alarm 1 ms ahead (absolute expiry), wired to IRQ0; Halt waits for it with
		 * interrupts disabled on entry: every VMI halt is safe. */
		u32 before = irq0_count;
		irq_off();
		set_alarm(VMI_CYCLES_REAL | VMI_ALARM_IS_ONESHOT | VMI_ALARM_WIRED_IRQ0,
			  counter(VMI_CYCLES_REAL) + hz / 1000u, 0);
		halt();
		halted = irq0_count - before;
		check("one-shot alarm woke Halt through IRQ0 (Halt enabled interrupts)", halted == 1);
		check("interrupts enabled after Halt", (get_mask() & 0x200) != 0);
		for (volatile u32 i = 0; i < 20000; i++)
			;
		check("one-shot alarm fired once", irq0_count - before == 1);
		/* Periodic alarm at 1 kHz: 5 ticks, then cancelled. */
		before = irq0_count;
		set_alarm(VMI_CYCLES_REAL | VMI_ALARM_IS_PERIODIC, counter(VMI_CYCLES_REAL) + hz / 1000u,
			  hz / 1000u);
		while (irq0_count - before < 5)
			halt();
		cancel_alarm(VMI_CYCLES_REAL);
		u32 got = irq0_count - before;
		for (volatile u32 i = 0; i < 100000; i++)
			;
		alarms = irq0_count - before;
		check("periodic alarm: 5 ticks, none after CancelAlarm", got == 5 && alarms == 5);
	}
	puts_("RESULT guest=vmiabi pass=");
	putu((u32)pass, 10);
	puts_(" api=");
	putu(major, 10);
	puts_(".");
	putu(rom[VROM_API_MIN], 10);
	puts_(" virtual_top=");
	putu(top, 16);
	puts_(" undefined_reloc=");
	putu(undefined, 10);
	puts_(timer ? " timer=vmi" : " timer=absent");
	puts_(" cycle_hz=");
	putu(hz, 10);
	puts_(" halt_wakeups=");
	putu(halted, 10);
	puts_(" periodic_ticks=");
	putu(alarms, 10);
	puts_("\n");
	finish(pass ? 0 : 1);
}
