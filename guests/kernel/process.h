/* Ring-3 processes: exec of a built-in program, system calls, exit/kill. */
#ifndef PROCESS_H
#define PROCESS_H

#include "lib.h"

struct process_result {
	int status;   /* exit status, or RUN_KILLED | vector */
	u32 data[16]; /* copy of the program's USER_DATA words */
	u32 vdso_base, sysinfo;
};

/* Run one of the programs of user.S (entry = its symbol) to completion. */
void run_process(const char *name, const void *entry, struct process_result *res);

extern u32 current_sysenter_return;

#endif
