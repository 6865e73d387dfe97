/*
 * lguest-ABI conformance guest, written from the 2.6.23 layouts (lguest_abi.h): checks the
 * launcher's boot_params, LGUEST_INIT's answers in lguest_data, GET_WALLCLOCK, the async ring,
 * and prints through the console DMA. Exits by LHCALL_CRASH("Power down") when every check
 * passes, by CRASH("lguestabi: FAIL") otherwise. Command line "early" makes the first hypercall
 * something other than LGUEST_INIT, "bad" issues an unknown hypercall: both must kill the guest.
 */
#include "lguest_abi.h"

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

struct lguest_data lguest_data __attribute__((aligned(16)));
volatile u32 timer_ticks, irq_enabled_in_handler, frame_eflags;
extern char irq0_stub[];
static struct lguest_dma dma;
static char line[128];

static u32 hcall(u32 call, u32 a1, u32 a2, u32 a3)
{
	__asm__ volatile("int $0x1f" : "+a"(call) : "d"(a1), "b"(a2), "c"(a3) : "memory");
	return call;
}

static void puts_(const char *s)
{
	u32 n = 0;
	while (s[n] && n < sizeof(line))
		n++;
	dma.used_len = 0;
	dma.addr[0] = (unsigned long)s;
	dma.len[0] = (u16)n;
	dma.len[1] = 0;
	hcall(LHCALL_SEND_DMA, LGUEST_CONSOLE_DMA_KEY, (u32)&dma, 0);
}

static void putu(u32 v, u32 base)
{
	char b[12];
	int n = 0, i = 0;
	do {
		b[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		line[i++] = b[--n];
	line[i] = 0;
	puts_(line);
}

static int has(const char *s, const char *w)
{
	for (; *s; s++) {
		const char *p = s, *q = w;
		while (*q && *p == *q)
			p++, q++;
		if (!*q)
			return 1;
	}
	return 0;
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

void lguestabi_main(u32 esi)
{
	/* Passed as a number: boot_params at address 0 is a valid object here, not NULL. */
	const u8 *bp;
	__asm__("" : "=r"(bp) : "0"(esi));
	const char *cmdline = (const char *)*(const u32 *)(bp + BP_CMD_LINE_PTR);
	for (u32 i = 0; i < LHCALL_RING_SIZE; i++)
		lguest_data.hcall_status[i] = 0xff;
	lguest_data.blocked_interrupts[0] = 1;
	if (has(cmdline, "early"))
		hcall(LHCALL_FLUSH_TLB, 1, 0, 0); /* must be fatal: no LGUEST_INIT yet */
	hcall(LHCALL_LGUEST_INIT, (u32)&lguest_data, 0, 0);
	puts_("lguestabi: lguest 2.6.23 ABI conformance guest\n");
	u16 cs, ds;
	__asm__ volatile("movw %%cs,%0; movw %%ds,%1" : "=r"(cs), "=r"(ds));
	u32 fl;
	__asm__ volatile("pushfl; popl %0" : "=r"(fl));
	check("boot_params at guest-physical 0 (ESI = 0)", esi == 0);
	check("hdr.version = 0x207", *(const u16 *)(bp + BP_VERSION) == 0x207);
	check("hdr.hardware_subarch = 1 (lguest)", *(const u32 *)(bp + BP_HARDWARE_SUBARCH) == 1);
	check("loadflags has KEEP_SEGMENTS", (bp[BP_LOADFLAGS] & KEEP_SEGMENTS) != 0);
	check("one e820 entry of RAM from 0", bp[BP_E820_ENTRIES] == 1 &&
	      *(const u32 *)(bp + BP_E820_MAP) == 0 && *(const u32 *)(bp + BP_E820_MAP + 16) == 1);
	check("command line right after boot_params", (u32)cmdline == 4096);
	check("CS = 0x61, DS = 0x69 (ring 1)", cs == 0x61 && ds == 0x69);
	check("EFLAGS.IF set", (fl & 0x200) != 0);
	check("reserve_mem = 4 MiB (the Switcher)", lguest_data.reserve_mem == 0x400000);
	check("tsc_khz published", lguest_data.tsc_khz != 0);
	u32 now = hcall(LHCALL_GET_WALLCLOCK, 0, 0, 0);
	check("GET_WALLCLOCK seconds in 2000..2099", now >= 946684800u && now < 4102444800u);
	/* Async ring: two pending entries, drained by the next synchronous call. */
	lguest_data.hcalls[0] = (struct hcall_req){ LHCALL_FLUSH_TLB, 0, 0, 0 };
	lguest_data.hcalls[1] = (struct hcall_req){ LHCALL_FLUSH_TLB, 1, 0, 0 };
	lguest_data.hcall_status[0] = 0;
	lguest_data.hcall_status[1] = 0;
	hcall(LHCALL_FLUSH_ASYNC, 0, 0, 0);
	check("async ring drained before FLUSH_ASYNC (status 0xff)",
	      lguest_data.hcall_status[0] == 0xff && lguest_data.hcall_status[1] == 0xff);
	/* Clock event: relative ns on virtual IRQ 0, delivered through the registered gate. */
	u32 off = (u32)irq0_stub;
	hcall(LHCALL_LOAD_IDT_ENTRY, 0x20, (0x61u << 16) | (off & 0xffff), (off & 0xffff0000u) | 0x8e00u);
	lguest_data.blocked_interrupts[0] = 0;
	lguest_data.irq_enabled = 0x200;
	hcall(LHCALL_SET_CLOCKEVENT, 1000000, 0, 0);
	hcall(LHCALL_HALT, 0, 0, 0);
	check("SET_CLOCKEVENT(1 ms) + HALT: one timer interrupt", timer_ticks == 1);
	check("interrupt gate cleared irq_enabled inside the handler", irq_enabled_in_handler == 0);
	check("frame EFLAGS.IF is the virtual flag (set)", (frame_eflags & 0x200) != 0);
	/* Masked by irq_enabled = 0, then enabled by a plain store: not delivered until the next
	 * hypercall (2.6.23 has no pending check on enable). */
	lguest_data.irq_enabled = 0;
	hcall(LHCALL_SET_CLOCKEVENT, 1000, 0, 0);
	for (volatile u32 i = 0; i < 20000; i++)
		;
	u32 masked = timer_ticks;
	lguest_data.irq_enabled = 0x200;
	for (volatile u32 i = 0; i < 20000; i++)
		;
	u32 enabled = timer_ticks;
	hcall(LHCALL_FLUSH_ASYNC, 0, 0, 0);
	u32 after = timer_ticks;
	check("no delivery while irq_enabled = 0", masked == 1);
	check("enabling by a store delivers only at the next hypercall", enabled == 1 && after == 2);
	if (has(cmdline, "bad"))
		hcall(99, 0, 0, 0); /* must be fatal */
	puts_("RESULT guest=lguestabi pass=");
	putu((u32)pass, 10);
	puts_(" tsc_khz=");
	putu(lguest_data.tsc_khz, 10);
	puts_(" reserve_mem=0x");
	putu(lguest_data.reserve_mem, 16);
	puts_("\n");
	hcall(LHCALL_CRASH, (u32)(pass ? "Power down" : "lguestabi: FAIL"), 0, 0);
	for (;;)
		;
}
