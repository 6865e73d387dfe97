/*
 * Xen-ABI conformance guest: boots as a Xen 3.x PV domU (head.S), checks the start-of-day
 * state and the hypercall results against the public interface (xen_abi.h; guests/README.md "The Xen-ABI guest"),
 * prints PASS/FAIL lines through the console ring, and shuts down with
 * SCHEDOP_shutdown(poweroff) when every check passed, SHUTDOWN_crash otherwise.
 * Without a filled hypercall page (Xen 3.0.0) it says so on the console (reached with
 * legacy int $0x82) and crashes: the page is what 2.6.23-era guests require.
 */
#include "xen_abi.h"

#define VIRT_BASE 0xc0000000u
#define PTE_KERNEL_RW 0x63u /* present, rw, accessed, dirty (ring 1 is supervisor) */

extern char hypercall_page[];
extern char startup_xen[], hypervisor_callback[], failsafe_callback[], probe_insn[], probe_fixup[];
extern char trap_3[], trap_6[], trap_13[], trap_14[];
extern u32 probe_read(u32 va);

struct start_info *start_info_ptr;
static int use_page;
static struct shared_info *shinfo;
static volatile struct xencons_interface *cons;
static u32 cons_port, timer_port = NR_EVENT_CHANNELS;
static volatile u32 timer_events, other_events, int3_hits, pf_hits, pf_cr2, pf_err;
static u32 checks, failures;

static char shinfo_page[4096] __attribute__((aligned(4096)));
static char cons_page[4096] __attribute__((aligned(4096)));
static u32 scratch_a[1024] __attribute__((aligned(4096)));
static u32 scratch_b[1024] __attribute__((aligned(4096)));

/* EAX = nr, EBX..EDI = arg1..arg5, result in EAX (xen.h / x86_32 entry.S calling convention). */
#define HC(nr, a1, a2, a3, a4, a5)                                                          \
	({                                                                                  \
		long r_;                                                                    \
		u32 b_ = (u32)(a1), c_ = (u32)(a2), d_ = (u32)(a3), S_ = (u32)(a4),         \
		    D_ = (u32)(a5);                                                         \
		if (use_page)                                                               \
			__asm__ volatile("call hypercall_page+%c[off]"                      \
					 : "=a"(r_), "+b"(b_), "+c"(c_), "+d"(d_), "+S"(S_), \
					   "+D"(D_)                                         \
					 : [off] "i"((nr) * 32), "0"(nr)                    \
					 : "memory");                                       \
		else                                                                        \
			__asm__ volatile("int $0x82"                                        \
					 : "=a"(r_), "+b"(b_), "+c"(c_), "+d"(d_), "+S"(S_), \
					   "+D"(D_)                                         \
					 : "0"(nr)                                          \
					 : "memory");                                       \
		r_;                                                                         \
	})
#define HC1(nr, a) HC(nr, a, 0, 0, 0, 0)
#define HC2(nr, a, b) HC(nr, a, b, 0, 0, 0)
#define HC3(nr, a, b, c) HC(nr, a, b, c, 0, 0)
#define HC4(nr, a, b, c, d) HC(nr, a, b, c, d, 0)

/* Legacy entry (TRAP_INSTR), whatever use_page says; Xen may clobber EBX..EDI. */
static long legacy_hc(u32 nr, u32 a1, u32 a2)
{
	long r;
	__asm__ volatile("int $0x82"
			 : "=a"(r), "+b"(a1), "+c"(a2)
			 : "0"(nr)
			 : "edx", "esi", "edi", "memory");
	return r;
}

static void *memcpy_(void *d, const void *s, u32 n)
{
	for (u32 i = 0; i < n; i++)
		((char *)d)[i] = ((const char *)s)[i];
	return d;
}

static int prefix(const char *s, const char *p)
{
	for (; *p; p++, s++)
		if (*s != *p)
			return 0;
	return 1;
}

static int terminated(const char *s, u32 n)
{
	for (u32 i = 0; i < n; i++)
		if (!s[i])
			return 1;
	return 0;
}

static int contains(const char *s, u32 n, const char *w)
{
	for (u32 i = 0; i < n && s[i]; i++)
		if (prefix(s + i, w))
			return 1;
	return 0;
}

/* Event-channel ops: the new call (32, Xen >= 3.0.3), else the compat one (16). */
static long evtchn_op(u32 cmd, void *arg, u32 size)
{
	long r = HC2(HYPERVISOR_event_channel_op, cmd, arg);
	if (r == -XEN_ENOSYS) {
		struct evtchn_op op;
		op.cmd = cmd;
		memcpy_(&op.u, arg, size);
		r = HC1(HYPERVISOR_event_channel_op_compat, &op);
		memcpy_(arg, &op.u, size);
	}
	return r;
}

static long sched_op(u32 cmd, void *arg, u32 compat_value)
{
	long r = HC2(HYPERVISOR_sched_op, cmd, arg);
	if (r == -XEN_ENOSYS) /* Xen < 3.0.2: sched_op_compat takes values */
		r = HC2(HYPERVISOR_sched_op_compat, cmd, compat_value);
	return r;
}

/* Console ring (io/console.h): produce into out[], then notify the console channel. */
static void cons_flush(void)
{
	struct evtchn_send s = {cons_port};
	evtchn_op(EVTCHNOP_send, &s, sizeof s);
}

static void putc_(char c)
{
	if (!cons)
		return;
	for (int i = 0; i < 1000 && cons->out_prod - cons->out_cons >= sizeof cons->out; i++) {
		cons_flush();
		sched_op(SCHEDOP_yield, 0, 0);
	}
	if (cons->out_prod - cons->out_cons >= sizeof cons->out)
		return; /* the backend never consumed: drop rather than hang */
	u32 prod = cons->out_prod;
	cons->out[XENCONS_OUT_MASK(prod)] = c;
	__asm__ volatile("" ::: "memory"); /* data before index (x86 stores are ordered) */
	cons->out_prod = prod + 1;
}

static void puts_(const char *s)
{
	for (; *s; s++)
		putc_(*s);
}

static void putx(u32 v)
{
	puts_("0x");
	for (int i = 28; i >= 0; i -= 4)
		putc_("0123456789abcdef"[(v >> i) & 15]);
}

static void puti(long v)
{
	char b[12];
	int n = 0;
	u32 u = v < 0 ? (u32)-v : (u32)v;
	if (v < 0)
		putc_('-');
	do {
		b[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n)
		putc_(b[--n]);
}

static void line_end(void)
{
	putc_('\n');
	cons_flush();
}

static void check(const char *name, int ok, long got)
{
	checks++;
	if (!ok)
		failures++;
	puts_(ok ? "PASS " : "FAIL ");
	puts_(name);
	puts_(" got=");
	puti(got);
	line_end();
}

static void __attribute__((noreturn)) shutdown(u32 reason)
{
	struct sched_shutdown s = {reason};
	sched_op(SCHEDOP_shutdown, &s, reason);
	for (;;)
		sched_op(SCHEDOP_yield, 0, 0);
}

static void __attribute__((noreturn)) crash(const char *why)
{
	puts_("xenabi: crash: ");
	puts_(why);
	line_end();
	shutdown(SHUTDOWN_crash);
}

void __attribute__((used)) failsafe(void) { crash("failsafe callback"); }

/* Trap bounce target: frame = pushal (8 words), error code, EIP, CS, EFLAGS. */
void __attribute__((used)) trap_c(u32 vec, u32 *regs)
{
	u32 *eip = &regs[9];
	if (vec == 3) {
		int3_hits++;
		return;
	}
	if (vec == 14 && *eip == (u32)probe_insn) {
		pf_hits++;
		pf_cr2 = shinfo->vcpu_info[0].cr2; /* Xen puts CR2 in vcpu_info.arch */
		pf_err = regs[8];
		*eip = (u32)probe_fixup;
		return;
	}
	puts_("xenabi: unexpected trap ");
	puti((long)vec);
	puts_(" at eip=");
	putx(*eip);
	puts_(" err=");
	putx(regs[8]);
	line_end();
	shutdown(SHUTDOWN_crash);
}

/* Upcall: pending_sel, then pending & ~mask per word, as event_channel.h describes. */
void __attribute__((used)) evtchn_upcall(void)
{
	struct vcpu_info *v = &shinfo->vcpu_info[0];
	v->evtchn_upcall_pending = 0;
	u32 sel;
	__asm__ volatile("xchgl %0,%1" : "=r"(sel), "+m"(v->evtchn_pending_sel) : "0"(0u));
	while (sel) {
		u32 w = (u32)__builtin_ctz(sel);
		sel &= sel - 1;
		u32 bits = shinfo->evtchn_pending[w] & ~shinfo->evtchn_mask[w];
		while (bits) {
			u32 b = (u32)__builtin_ctz(bits);
			bits &= bits - 1;
			__asm__ volatile("lock btrl %1,%0" : "+m"(shinfo->evtchn_pending[w]) : "r"(b));
			if (w * 32 + b == timer_port)
				timer_events++;
			else
				other_events++;
		}
	}
}

/* Xen system time in ns from vcpu_time_info (version seqlock, scaled TSC delta). */
static u64 now_ns(void)
{
	volatile struct vcpu_time_info *t = &shinfo->vcpu_info[0].time;
	u32 ver;
	u64 ns;
	do {
		ver = t->version;
		__asm__ volatile("" ::: "memory");
		u32 lo, hi;
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		u64 delta = (((u64)hi << 32) | lo) - t->tsc_timestamp;
		s8 shift = t->tsc_shift;
		delta = shift < 0 ? delta >> -shift : delta << shift;
		u32 mul = t->tsc_to_system_mul;
		ns = t->system_time + ((((u64)(u32)delta * mul) >> 32) + (delta >> 32) * mul);
		__asm__ volatile("" ::: "memory");
	} while ((ver & 1) || ver != t->version);
	return ns;
}

static u32 *pte_of(u32 va, u32 *ma)
{
	u32 *pgd = (u32 *)start_info_ptr->pt_base;
	u32 l1_mfn = pgd[va >> 22] >> 12;
	u32 *mfns = (u32 *)start_info_ptr->mfn_list;
	for (u32 pfn = 0; pfn < start_info_ptr->nr_pages; pfn++) {
		if (mfns[pfn] == l1_mfn) {
			*ma = (l1_mfn << 12) + ((va >> 12) & 1023) * 4;
			return (u32 *)(VIRT_BASE + (pfn << 12)) + ((va >> 12) & 1023);
		}
	}
	return 0;
}

static u32 mfn_of(const void *p) { return ((u32 *)start_info_ptr->mfn_list)[((u32)p - VIRT_BASE) >> 12]; }

static void check_start_info(void)
{
	struct start_info *si = start_info_ptr;
	puts_("xenabi: magic=");
	for (int i = 0; i < 32 && si->magic[i]; i++)
		putc_(si->magic[i]);
	puts_(" nr_pages=");
	puti((long)si->nr_pages);
	puts_(" pt_base=");
	putx(si->pt_base);
	puts_(" mfn_list=");
	putx(si->mfn_list);
	line_end();
	check("start_info.nr_pages", si->nr_pages > 0, (long)si->nr_pages);
	check("start_info.shared_info page-aligned machine address",
	      si->shared_info && !(si->shared_info & 4095), (long)si->shared_info);
	check("start_info.pt_base virtual, page-aligned",
	      si->pt_base >= VIRT_BASE && !(si->pt_base & 4095), (long)si->pt_base);
	check("start_info.nr_pt_frames", si->nr_pt_frames >= 1, (long)si->nr_pt_frames);
	check("start_info.mfn_list inside the domain",
	      si->mfn_list >= VIRT_BASE && si->mfn_list < VIRT_BASE + si->nr_pages * 4096,
	      (long)si->mfn_list);
	u32 ma;
	u32 *pte = pte_of((u32)startup_xen, &ma);
	check("bootstrap PTE of the entry holds mfn_list[pfn]",
	      pte && (*pte >> 12) == mfn_of((void *)startup_xen), pte ? (long)*pte : 0);
	check("bootstrap page directory mapped read-only", pte_of(si->pt_base, &ma) &&
	      !(*pte_of(si->pt_base, &ma) & 2), 0);
}

static u32 xen_minor, xen_major;

static void check_version(void)
{
	long v = HC2(HYPERVISOR_xen_version, XENVER_version, 0);
	xen_major = (u32)v >> 16;
	xen_minor = (u32)v & 0xffff;
	check("xen_version(version) major 3", xen_major == 3, v);
	check("xen_version(version) same through int $0x82",
	      legacy_hc(HYPERVISOR_xen_version, XENVER_version, 0) == v, v);
	static char extra[16], caps[1024], chg[64], handle[16];
	static struct xen_compile_info ci;
	long r = HC2(HYPERVISOR_xen_version, XENVER_extraversion, extra);
	check("xen_version(extraversion) 0, terminated", r == 0 && terminated(extra, sizeof extra), r);
	r = HC2(HYPERVISOR_xen_version, XENVER_compile_info, &ci);
	check("xen_version(compile_info) 0", r == 0, r);
	r = HC2(HYPERVISOR_xen_version, XENVER_capabilities, caps);
	check("xen_version(capabilities) lists xen-3.0-x86_32", r == 0 && contains(caps, 1024, "xen-3.0-x86_32"), r);
	r = HC2(HYPERVISOR_xen_version, XENVER_changeset, chg);
	check("xen_version(changeset) 0", r == 0, r);
	u32 virt_start = 0;
	r = HC2(HYPERVISOR_xen_version, XENVER_platform_parameters, &virt_start);
	check("xen_version(platform_parameters) 0", r == 0, r);
	check("platform_parameters.virt_start = non-PAE hole 0xfc000000",
	      virt_start == HYPERVISOR_VIRT_START_NONPAE, (long)virt_start);
	struct xen_feature_info fi = {0, 0xffffffffu};
	r = HC2(HYPERVISOR_xen_version, XENVER_get_features, &fi);
	check("xen_version(get_features) 0, submap written", r == 0 && fi.submap != 0xffffffffu, r);
	r = HC2(HYPERVISOR_xen_version, XENVER_pagesize, 0);
	check("xen_version(pagesize) 4096", r == 4096, r);
	r = HC2(HYPERVISOR_xen_version, XENVER_guest_handle, handle);
	check("xen_version(guest_handle) 0", r == 0, r);
	r = HC2(HYPERVISOR_xen_version, 99, 0);
	check("xen_version(unknown 99) -ENOSYS", r == -XEN_ENOSYS, r);
}

static void check_missing(void)
{
	long r = HC1(HYPERVISOR_set_fast_trap_removed, 0);
	check("hypercall 11 (set_fast_trap, gone since 3.0) -ENOSYS", r == -XEN_ENOSYS, r);
	r = HC2(HYPERVISOR_set_segment_base, 0, 0);
	check("hypercall 25 (set_segment_base, x86_64 only) -ENOSYS", r == -XEN_ENOSYS, r);
	r = HC1(NR_hypercalls, 0);
	check("page slot 64 (>= NR_hypercalls) -ENOSYS", r == -XEN_ENOSYS, r);
	r = legacy_hc(1000, 0, 0);
	check("int $0x82 with EAX=1000 -ENOSYS", r == -XEN_ENOSYS, r);
	static const char msg[] = "xenabi console_io\n";
	r = HC3(HYPERVISOR_console_io, CONSOLEIO_write, sizeof msg - 1, msg);
	check("console_io(write) from a domU -EPERM", r == -XEN_EPERM, r);
	r = sched_op(SCHEDOP_yield, 0, 0);
	check("sched_op(yield) 0", r == 0, r);
	/* multicall: each entry's result lands in its own slot (xen.h multicall_entry). */
	static u32 mc[2][8] = {{HYPERVISOR_xen_version, 0xffffffffu, XENVER_version, 0},
			       {NR_hypercalls, 0xffffffffu, 0}};
	r = HC2(HYPERVISOR_multicall, mc, 2);
	check("multicall 0", r == 0, r);
	check("multicall entry 0 result = xen_version", mc[0][1] == ((xen_major << 16) | xen_minor), (long)mc[0][1]);
	check("multicall entry 1 result = -ENOSYS", (long)mc[1][1] == -XEN_ENOSYS, (long)mc[1][1]);
}

static void check_traps(void)
{
	static struct trap_info traps[] = {
		{3, 3, FLAT_KERNEL_CS, 0}, /* int3 usable from every ring */
		{6, 0, FLAT_KERNEL_CS, 0},
		{13, 0, FLAT_KERNEL_CS, 0},
		{14, 4, FLAT_KERNEL_CS, 0}, /* events masked on entry: CR2 lives in vcpu_info */
		{0, 0, 0, 0},
	};
	traps[0].address = (u32)trap_3;
	traps[1].address = (u32)trap_6;
	traps[2].address = (u32)trap_13;
	traps[3].address = (u32)trap_14;
	long r = HC1(HYPERVISOR_set_trap_table, traps);
	check("set_trap_table 0", r == 0, r);
	__asm__ volatile("int3" ::: "memory");
	check("int3 bounced to the registered handler", int3_hits == 1, (long)int3_hits);
	u32 v = probe_read(0x1000);
	check("#PF bounced, fixup taken", pf_hits == 1 && v == 0xdeadbeef, (long)pf_hits);
	check("#PF CR2 in vcpu_info.arch.cr2", pf_cr2 == 0x1000, (long)pf_cr2);
	check("#PF error code: not present, read, supervisor", (pf_err & 7) == 0, (long)pf_err);
}

static void check_mmu(void)
{
	scratch_a[0] = 0xaaaa5555u;
	scratch_b[0] = 0x5555aaaau;
	u32 va = (u32)scratch_a, ma = 0;
	u32 mfn_a = mfn_of(scratch_a), mfn_b = mfn_of(scratch_b);
	long r = HC4(HYPERVISOR_update_va_mapping, va, (mfn_b << 12) | PTE_KERNEL_RW, 0, UVMF_INVLPG);
	check("update_va_mapping(scratch -> mfn_list[b]) 0", r == 0, r);
	check("scratch reads frame b", scratch_a[0] == 0x5555aaaau, (long)scratch_a[0]);
	u32 *pte = pte_of(va, &ma);
	check("L1 entry holds mfn b", pte && (*pte >> 12) == mfn_b, pte ? (long)*pte : 0);
	struct mmu_update req = {(u64)(ma | MMU_NORMAL_PT_UPDATE), (u64)((mfn_a << 12) | PTE_KERNEL_RW)};
	u32 done = 0;
	r = HC4(HYPERVISOR_mmu_update, &req, 1, &done, DOMID_SELF);
	check("mmu_update(MA of the PTE) 0, success_count 1", r == 0 && done == 1, r);
	struct mmuext_op op = {MMUEXT_INVLPG_LOCAL, va, 0};
	r = HC4(HYPERVISOR_mmuext_op, &op, 1, &done, DOMID_SELF);
	check("mmuext_op(INVLPG_LOCAL) 0", r == 0, r);
	check("scratch reads frame a again", scratch_a[0] == 0xaaaa5555u, (long)scratch_a[0]);
	op.cmd = MMUEXT_TLB_FLUSH_LOCAL;
	r = HC4(HYPERVISOR_mmuext_op, &op, 1, &done, DOMID_SELF);
	check("mmuext_op(TLB_FLUSH_LOCAL) 0", r == 0, r);
	r = HC4(HYPERVISOR_update_va_mapping, HYPERVISOR_VIRT_START_NONPAE, PTE_KERNEL_RW, 0, UVMF_INVLPG);
	check("update_va_mapping inside the hypervisor hole -EINVAL", r == -XEN_EINVAL, r);
	req.ptr = (u64)(0xfffffu << 12);
	r = HC4(HYPERVISOR_mmu_update, &req, 1, &done, DOMID_SELF);
	check("mmu_update on a frame the domain does not own -EINVAL", r == -XEN_EINVAL, r);
}

static void check_events(void)
{
	struct vcpu_info *v = &shinfo->vcpu_info[0];
	long r = HC4(HYPERVISOR_set_callbacks, FLAT_KERNEL_CS, hypervisor_callback, FLAT_KERNEL_CS,
		     failsafe_callback);
	check("set_callbacks 0", r == 0, r);
	struct evtchn_bind_virq bv = {VIRQ_TIMER, 0, 0xffffffffu};
	r = evtchn_op(EVTCHNOP_bind_virq, &bv, sizeof bv);
	check("EVTCHNOP_bind_virq(VIRQ_TIMER) 0, port valid", r == 0 && bv.port < NR_EVENT_CHANNELS, r);
	timer_port = bv.port;
	struct evtchn_status st = {DOMID_SELF, 0, bv.port, 0, 0, {0}};
	r = evtchn_op(EVTCHNOP_status, &st, sizeof st);
	check("EVTCHNOP_status: virq channel bound to VIRQ_TIMER",
	      r == 0 && st.status == EVTCHNSTAT_virq && st.u.virq == VIRQ_TIMER, (long)st.status);
	struct evtchn_send bad = {NR_EVENT_CHANNELS - 1};
	r = evtchn_op(EVTCHNOP_send, &bad, sizeof bad);
	check("EVTCHNOP_send to an unallocated port -EINVAL", r == -XEN_EINVAL, r);
	shinfo->evtchn_mask[timer_port / 32] &= ~(1u << (timer_port % 32));
	struct evtchn_unmask um = {timer_port};
	r = evtchn_op(EVTCHNOP_unmask, &um, sizeof um);
	check("EVTCHNOP_unmask 0", r == 0, r);

	r = HC3(HYPERVISOR_vcpu_op, VCPUOP_stop_periodic_timer, 0, 0);
	int have_vcpu_timers = xen_minor >= 1;
	check(have_vcpu_timers ? "VCPUOP_stop_periodic_timer 0 (Xen >= 3.1)"
			       : "VCPUOP_stop_periodic_timer -ENOSYS (Xen < 3.1)",
	      r == (have_vcpu_timers ? 0 : -XEN_ENOSYS), r);
	struct vcpu_set_singleshot_timer ss = {1, VCPU_SSHOTTMR_future};
	r = HC3(HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, &ss);
	check(have_vcpu_timers ? "VCPUOP_set_singleshot_timer(past, future) -ETIME"
			       : "VCPUOP_set_singleshot_timer -ENOSYS (Xen < 3.1)",
	      r == (have_vcpu_timers ? -XEN_ETIME : -XEN_ENOSYS), r);

	/* Absolute-ns one-shot 1 ms ahead, then block with events enabled until it fires. */
	u64 t0 = now_ns(), deadline = t0 + 1000000;
	r = HC2(HYPERVISOR_set_timer_op, (u32)deadline, (u32)(deadline >> 32));
	check("set_timer_op(now + 1 ms) 0", r == 0, r);
	v->evtchn_upcall_mask = 0;
	__asm__ volatile("" ::: "memory");
	if (v->evtchn_upcall_pending) /* as Linux: a hypercall gets the upcall delivered */
		HC2(HYPERVISOR_xen_version, XENVER_version, 0);
	u64 t1 = t0;
	int blocks = 0;
	long br = 0;
	while ((timer_events == 0 || t1 + 100000 < deadline) && blocks < 1000) {
		br = sched_op(SCHEDOP_block, 0, 0);
		blocks++;
		t1 = now_ns();
	}
	v->evtchn_upcall_mask = 1;
	check("SCHEDOP_block 0", br == 0, br);
	check("VIRQ_TIMER delivered through the callback", timer_events > 0, (long)timer_events);
	check("woke no earlier than deadline - 100 us", t1 + 100000 >= deadline, (long)(u32)(t1 - t0));
	check("system time advances", t1 > t0, (long)(u32)(t1 - t0));
}

void __attribute__((noreturn, used)) xenabi_main(void)
{
	struct start_info *si = start_info_ptr;
	if (!prefix(si->magic, "xen-3."))
		shutdown(SHUTDOWN_crash); /* nothing to print through: not a Xen 3 start_info */
	/* The builder writes mov $i,%eax (B8) at the start of each slot. */
	use_page = (u8)hypercall_page[HYPERVISOR_xen_version * 32] == 0xb8;
	if (HC4(HYPERVISOR_update_va_mapping, cons_page, (si->console.domU.mfn << 12) | PTE_KERNEL_RW,
		0, UVMF_INVLPG) != 0)
		shutdown(SHUTDOWN_crash);
	cons = (volatile struct xencons_interface *)cons_page;
	cons_port = si->console.domU.evtchn;
	puts_("xenabi: Xen public-ABI conformance guest");
	line_end();
	if (!use_page)
		crash("hypercall page not filled by the domain builder (needs Xen >= 3.0.2)");
	long r = HC4(HYPERVISOR_update_va_mapping, shinfo_page, si->shared_info | PTE_KERNEL_RW, 0,
		     UVMF_INVLPG);
	check("update_va_mapping(shared_info MA) 0", r == 0, r);
	if (r != 0)
		crash("shared_info not mappable");
	shinfo = (struct shared_info *)shinfo_page;
	check("evtchn_upcall_mask set at entry", shinfo->vcpu_info[0].evtchn_upcall_mask == 1,
	      shinfo->vcpu_info[0].evtchn_upcall_mask);
	check_start_info();
	check_version();
	check_missing();
	check_traps();
	check_mmu();
	check_events();
	puts_("RESULT guest=xenabi pass=");
	puti(failures == 0);
	puts_(" checks=");
	puti((long)checks);
	puts_(" failures=");
	puti((long)failures);
	puts_(" xen=");
	puti((long)xen_major);
	putc_('.');
	puti((long)xen_minor);
	line_end();
	shutdown(failures ? SHUTDOWN_crash : SHUTDOWN_poweroff);
}
