/*
 * scenario=syscall: four ring-3 processes (user.S) against this variant's vDSO
 * policy (vdso.c, abi.md §5.9): int $0x80; "new glibc" using AT_SYSINFO (sysenter
 * through __kernel_vsyscall when the CPU has SEP); "old glibc" calling 0xffffe400
 * blindly; and a benchmark of RDTSC deltas per call (on pvreplay the TSC counts
 * instructions).  A broken combination ends in a ring-3 trap that the kernel
 * reports and survives.
 */
#include "desc.h"
#include "mm.h"
#include "paravirt.h"
#include "process.h"
#include "scenario.h"
#include "time.h"
#include "user.h"
#include "vdso.h"

extern char user_prog_int80[], user_prog_newglibc[], user_prog_oldglibc[], user_prog_bench[];

static const char *path_name(u32 p)
{
	return p == PATH_INT80 ? "int80" : p == PATH_SYSINFO ? "sysinfo" : "fixed";
}

/* "ok", or the trap as "#PF@0xffffe400", or "exit<N>" / "bad-getpid". */
static void describe(const struct process_result *r, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const char *s;
	if (r->status & RUN_KILLED) {
		const char *t = trap_name(last_kill.vector);
		u32 addr = last_kill.vector == 14 ? last_kill.cr2 : last_kill.eip;
		int n = 0;
		while (*t)
			out[n++] = *t++;
		out[n++] = '@';
		out[n++] = '0';
		out[n++] = 'x';
		for (int i = 7; i >= 0; i--)
			out[n++] = hex[(addr >> (4 * i)) & 0xf];
		out[n] = 0;
		return;
	}
	if (r->status != 0)
		s = "bad-exit";
	else if (r->data[UD_MAGIC / 4] != USER_MAGIC || r->data[UD_GETPID / 4] != 1)
		s = "bad-getpid";
	else
		s = "ok";
	size_t i = 0;
	for (; s[i]; i++)
		out[i] = s[i];
	out[i] = 0;
}

int scenario_syscall(void)
{
	struct process_result r_int80, r_new, r_old, r_bench;
	char d_int80[24], d_new[24], d_old[24];
	u32 vbase = vdso_base_for_process();
	printk("syscall: vdso_enabled=%u compat_vdso=%d vdso_base=0x%08x AT_SYSINFO=0x%08x sep=%d "
	       "vsyscall=%s\n",
	       vdso_enabled, CONFIG_COMPAT_VDSO, vbase, vbase ? vdso_sysinfo(vbase) : 0,
	       vdso_uses_sysenter, vdso_uses_sysenter ? "sysenter" : "int80");

	run_process("int80", user_prog_int80, &r_int80);
	describe(&r_int80, d_int80);
	run_process("newglibc", user_prog_newglibc, &r_new);
	describe(&r_new, d_new);
	run_process("oldglibc", user_prog_oldglibc, &r_old);
	describe(&r_old, d_old);
	run_process("bench", user_prog_bench, &r_bench);

	const char *new_path = !strncmp(d_new, "ok", 3) ?
				       (r_new.data[UD_PATH / 4] == PATH_INT80 ? "int80-fallback" :
					vdso_uses_sysenter ? "vdso-sysenter" : "vdso-int80") :
				       d_new;
	printk("syscall: int80=%s newglibc=%s (path %s, AT_SYSINFO=0x%08x, ehdr_ok=%u) oldglibc=%s\n",
	       d_int80, d_new, path_name(r_new.data[UD_PATH / 4]), r_new.data[UD_SYSINFO / 4],
	       r_new.data[UD_EHDR_OK / 4], d_old);

	u32 empty = r_bench.data[UD_TSC_EMPTY / 4];
	u32 int80 = r_bench.data[UD_TSC_INT80 / 4], vsys = r_bench.data[UD_TSC_VSYS / 4];
	int bench_ok = r_bench.status == 0 && r_bench.data[UD_MAGIC / 4] == USER_MAGIC;
	printk("INFO syscall-cost: tsc per call (%u calls, empty loop subtracted): int80=%u vsyscall=%s",
	       BENCH_CALLS, (int80 - empty) / BENCH_CALLS,
	       r_bench.data[UD_SYSINFO / 4] ? "" : "n/a");
	if (r_bench.data[UD_SYSINFO / 4])
		printk("%u (%s)", (vsys - empty) / BENCH_CALLS, vdso_uses_sysenter ? "sysenter" : "int80");
	printk("\n");

	/* The kernel must serve int $0x80 and whatever path new glibc picked, and survive
	 * old glibc whether or not 0xffffe400 is there. */
	int old_survived = !strncmp(d_old, "ok", 3) || (r_old.status & RUN_KILLED);
	int pass = !strncmp(d_int80, "ok", 3) && !strncmp(d_new, "ok", 3) && old_survived && bench_ok;
	result_begin("syscall", pass);
	printk(" vdso=%u sysinfo=0x%08x int80=%s newglibc=%s oldglibc=%s\n", vdso_enabled,
	       vbase ? vdso_sysinfo(vbase) : 0, d_int80, new_path, d_old);
	return pass;
}
