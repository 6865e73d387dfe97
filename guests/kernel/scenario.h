/*
 * Boot scenarios (scenario=NAME on the command line).  Each prints progress lines
 * and exactly one summary line
 *   RESULT scenario=NAME backend=BACKEND pass=0|1 key=value...
 * and returns 1 for pass.  Values on the RESULT line are deterministic for a given
 * machine model; host-speed-dependent numbers go on INFO lines.
 */
#ifndef SCENARIO_H
#define SCENARIO_H

#include "lib.h"

int scenario_boot(void);
int scenario_irq(void);
int scenario_timer(void);
int scenario_clock(void);
int scenario_mmu(void);
int scenario_syscall(void);
int scenario_halt(void);
int scenario_shutdown(void);

/* Prints "RESULT scenario=<name> backend=<backend> pass=<pass>" without newline. */
void result_begin(const char *name, int pass);

#endif
