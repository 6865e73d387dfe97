/* lguest ABI as published in Linux 2.6.23 (include/linux/lguest.h, include/asm-i386/lguest_hcall.h)
 * and the launcher's boot conventions (Documentation/lguest/lguest.c); see docs/abi/lguest.md. */
#define LGUEST_TRAP_ENTRY 0x1f
#define LHCALL_FLUSH_ASYNC 0
#define LHCALL_LGUEST_INIT 1
#define LHCALL_CRASH 2
#define LHCALL_FLUSH_TLB 5
#define LHCALL_LOAD_IDT_ENTRY 6
#define LHCALL_SET_CLOCKEVENT 9
#define LHCALL_HALT 10
#define LHCALL_GET_WALLCLOCK 11
#define LHCALL_SEND_DMA 13
#define LHCALL_RING_SIZE 64
#define LGUEST_CONSOLE_DMA_KEY 0
#define LGUEST_MAX_DMA_SECTIONS 16

/* boot_params offsets (Documentation/i386/zero-page.txt, boot protocol 2.07) */
#define BP_E820_ENTRIES 0x1e8
#define BP_VERSION 0x206
#define BP_LOADFLAGS 0x211
#define BP_CMD_LINE_PTR 0x228
#define BP_HARDWARE_SUBARCH 0x23c
#define BP_E820_MAP 0x2d0
#define KEEP_SEGMENTS 0x40

struct hcall_req {
	unsigned int eax, edx, ebx, ecx;
};

struct lguest_data {
	unsigned int irq_enabled;
	unsigned long blocked_interrupts[1];
	unsigned long cr2;
	unsigned char hcall_status[LHCALL_RING_SIZE];
	struct hcall_req hcalls[LHCALL_RING_SIZE];
	unsigned long reserve_mem;
	unsigned short guestid;
	unsigned int tsc_khz;
	unsigned long noirq_start, noirq_end;
};

struct lguest_dma {
	unsigned int used_len;
	unsigned long addr[LGUEST_MAX_DMA_SECTIONS];
	unsigned short len[LGUEST_MAX_DMA_SECTIONS];
};
