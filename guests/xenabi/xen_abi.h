/*
 * The Xen 3.x public guest interface (x86_32, non-PAE), declared here from the layouts of
 * Xen 3.1's public headers: xen/include/public/xen.h (start_info, shared_info, vcpu_info,
 * mmu_update, mmuext_op, hypercall numbers, VIRQs), arch-x86_32.h / arch-x86/xen-x86_32.h
 * (trap_info, flat selectors, vcpu_time_info arch part), event_channel.h, sched.h, vcpu.h,
 * version.h, io/console.h. Numbers: guests/README.md "The Xen-ABI guest" (numbers with their public sources).
 * Nothing here is copied from another guest: every offset is checked by the static
 * assertions at the bottom (i386 layout, 4-byte alignment of 64-bit members).
 */
#ifndef XEN_ABI_H
#define XEN_ABI_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;

/* xen.h __HYPERVISOR_* (x86_32). */
#define HYPERVISOR_set_trap_table 0
#define HYPERVISOR_mmu_update 1
#define HYPERVISOR_set_callbacks 4
#define HYPERVISOR_sched_op_compat 6
#define HYPERVISOR_set_fast_trap_removed 11 /* Xen 2.0 only: -ENOSYS from 3.0 */
#define HYPERVISOR_multicall 13
#define HYPERVISOR_update_va_mapping 14
#define HYPERVISOR_set_timer_op 15
#define HYPERVISOR_event_channel_op_compat 16
#define HYPERVISOR_xen_version 17
#define HYPERVISOR_console_io 18
#define HYPERVISOR_iret 23
#define HYPERVISOR_vcpu_op 24
#define HYPERVISOR_set_segment_base 25 /* x86_64 only: -ENOSYS on x86_32 */
#define HYPERVISOR_mmuext_op 26
#define HYPERVISOR_sched_op 29
#define HYPERVISOR_event_channel_op 32
#define NR_hypercalls 64

/* Xen errno values (xen/include/xen/errno.h); results are their negatives. */
#define XEN_EPERM 1
#define XEN_EFAULT 14
#define XEN_EINVAL 22
#define XEN_ENOSYS 38
#define XEN_ETIME 62

/* Flat ring-1 selectors (arch-x86/xen-x86_32.h). */
#define FLAT_KERNEL_CS 0xe019
#define FLAT_KERNEL_DS 0xe021
/* Start of the hypervisor hole, non-PAE (xen-x86_32.h HYPERVISOR_VIRT_START). */
#define HYPERVISOR_VIRT_START_NONPAE 0xfc000000u

/* start_info (xen.h). */
struct start_info {
	char magic[32];
	u32 nr_pages;
	u32 shared_info; /* machine address */
	u32 flags;
	u32 store_mfn;
	u32 store_evtchn;
	union {
		struct {
			u32 mfn;
			u32 evtchn;
		} domU;
		struct {
			u32 info_off;
			u32 info_size;
		} dom0;
	} console;
	u32 pt_base; /* virtual */
	u32 nr_pt_frames;
	u32 mfn_list; /* virtual */
	u32 mod_start;
	u32 mod_len;
	s8 cmd_line[1024];
};

struct vcpu_time_info {
	u32 version;
	u32 pad0;
	u64 tsc_timestamp;
	u64 system_time;
	u32 tsc_to_system_mul;
	s8 tsc_shift;
	s8 pad1[3];
} __attribute__((packed, aligned(4)));

struct vcpu_info {
	u8 evtchn_upcall_pending;
	u8 evtchn_upcall_mask;
	u16 pad;
	u32 evtchn_pending_sel;
	u32 cr2; /* arch_vcpu_info */
	u32 arch_pad[5];
	struct vcpu_time_info time;
};

struct shared_info {
	struct vcpu_info vcpu_info[32];
	u32 evtchn_pending[32];
	u32 evtchn_mask[32];
	u32 wc_version;
	u32 wc_sec;
	u32 wc_nsec;
	u32 max_pfn;
	u32 pfn_to_mfn_frame_list_list;
	u32 nmi_reason;
	u64 arch_pad[32];
} __attribute__((packed, aligned(4)));

/* trap_info (arch-x86_32.h): flags bits 0-1 DPL, bit 2 = mask events on entry. */
struct trap_info {
	u8 vector;
	u8 flags;
	u16 cs;
	u32 address;
};

struct mmu_update {
	u64 ptr; /* machine address of the PTE | command */
	u64 val;
} __attribute__((packed, aligned(4)));
#define MMU_NORMAL_PT_UPDATE 0

struct mmuext_op {
	u32 cmd;
	u32 arg1; /* mfn or linear_addr */
	u32 arg2; /* nr_ents or vcpumask */
};
#define MMUEXT_TLB_FLUSH_LOCAL 6
#define MMUEXT_INVLPG_LOCAL 7

#define UVMF_NONE 0
#define UVMF_INVLPG 2
#define DOMID_SELF 0x7ff0

/* sched.h */
#define SCHEDOP_yield 0
#define SCHEDOP_block 1
#define SCHEDOP_shutdown 2
#define SHUTDOWN_poweroff 0
#define SHUTDOWN_crash 3
struct sched_shutdown {
	u32 reason;
};

/* vcpu.h */
#define VCPUOP_stop_periodic_timer 7
#define VCPUOP_set_singleshot_timer 8
#define VCPU_SSHOTTMR_future 1
struct vcpu_set_singleshot_timer {
	u64 timeout_abs_ns;
	u32 flags;
} __attribute__((packed, aligned(4)));

/* event_channel.h */
#define EVTCHNOP_bind_virq 1
#define EVTCHNOP_send 4
#define EVTCHNOP_status 5
#define EVTCHNOP_unmask 9
#define EVTCHNSTAT_virq 4
#define VIRQ_TIMER 0
#define NR_EVENT_CHANNELS 1024
struct evtchn_bind_virq {
	u32 virq;
	u32 vcpu;
	u32 port; /* OUT */
};
struct evtchn_send {
	u32 port;
};
struct evtchn_unmask {
	u32 port;
};
struct evtchn_status {
	u16 dom;
	u16 pad;
	u32 port;
	u32 status; /* OUT */
	u32 vcpu;   /* OUT */
	union {
		u32 virq;
		u32 pad[2];
	} u;
};
/* The compat call (16) takes { u32 cmd; union u } by pointer. */
struct evtchn_op {
	u32 cmd;
	union {
		struct evtchn_bind_virq bind_virq;
		struct evtchn_send send;
		struct evtchn_status status;
		struct evtchn_unmask unmask;
	} u;
};

/* version.h */
#define XENVER_version 0
#define XENVER_extraversion 1
#define XENVER_compile_info 2
#define XENVER_capabilities 3
#define XENVER_changeset 4
#define XENVER_platform_parameters 5
#define XENVER_get_features 6
#define XENVER_pagesize 7
#define XENVER_guest_handle 8
struct xen_compile_info {
	char compiler[64];
	char compile_by[16];
	char compile_domain[32];
	char compile_date[32];
};
struct xen_feature_info {
	u32 submap_idx;
	u32 submap; /* OUT */
};

#define CONSOLEIO_write 0

/* io/console.h */
struct xencons_interface {
	char in[1024];
	char out[2048];
	u32 in_cons, in_prod;
	u32 out_cons, out_prod;
};
#define XENCONS_OUT_MASK(i) ((i) & (2048 - 1))

/* ELF note types (elfnote.h), used by head.S. */
#define XEN_ELFNOTE_ENTRY 1
#define XEN_ELFNOTE_HYPERCALL_PAGE 2
#define XEN_ELFNOTE_VIRT_BASE 3
#define XEN_ELFNOTE_PADDR_OFFSET 4
#define XEN_ELFNOTE_XEN_VERSION 5
#define XEN_ELFNOTE_GUEST_OS 6
#define XEN_ELFNOTE_GUEST_VERSION 7
#define XEN_ELFNOTE_LOADER 8
#define XEN_ELFNOTE_FEATURES 10

#define OFFSET_CHECK(t, f, o) _Static_assert(__builtin_offsetof(struct t, f) == (o), #t "." #f)
OFFSET_CHECK(start_info, nr_pages, 32);
OFFSET_CHECK(start_info, shared_info, 36);
OFFSET_CHECK(start_info, console, 52);
OFFSET_CHECK(start_info, pt_base, 60);
OFFSET_CHECK(start_info, mfn_list, 68);
OFFSET_CHECK(start_info, cmd_line, 80);
_Static_assert(sizeof(struct start_info) == 1104, "start_info size");
OFFSET_CHECK(vcpu_info, evtchn_pending_sel, 4);
OFFSET_CHECK(vcpu_info, cr2, 8);
OFFSET_CHECK(vcpu_info, time, 32);
_Static_assert(sizeof(struct vcpu_info) == 64, "vcpu_info size");
OFFSET_CHECK(vcpu_time_info, system_time, 16);
OFFSET_CHECK(vcpu_time_info, tsc_shift, 28);
OFFSET_CHECK(shared_info, evtchn_pending, 2048);
OFFSET_CHECK(shared_info, evtchn_mask, 2176);
OFFSET_CHECK(shared_info, wc_version, 2304);
OFFSET_CHECK(shared_info, max_pfn, 2316);
_Static_assert(sizeof(struct shared_info) == 2584, "shared_info size");
_Static_assert(sizeof(struct trap_info) == 8, "trap_info size");
_Static_assert(sizeof(struct mmu_update) == 16, "mmu_update size");
_Static_assert(sizeof(struct mmuext_op) == 12, "mmuext_op size");
_Static_assert(sizeof(struct vcpu_set_singleshot_timer) == 12, "singleshot size");
OFFSET_CHECK(xencons_interface, out, 1024);
OFFSET_CHECK(xencons_interface, out_prod, 3084);
OFFSET_CHECK(evtchn_status, u, 16);

#endif
