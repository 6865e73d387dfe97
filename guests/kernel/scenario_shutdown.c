/*
 * scenario=shutdown: a clean power-off through paravirt_ops.shutdown (native:
 * isa-debug-exit), or with reboot=1 (8042 first) / reboot=92 (port 0x92 first) a
 * reset; QEMU run with -no-reboot then exits with status 0 (abi.md §5.10).
 */
#include "paravirt.h"
#include "scenario.h"

int scenario_shutdown(void)
{
	char how[8] = "";
	int reboot = cmdline_str("reboot", how, sizeof(how)) && strncmp(how, "0", 2);
	result_begin("shutdown", 1);
	printk(" method=%s\n", reboot ? (strncmp(how, "92", 3) ? "reboot-kbc" : "reboot-port92") :
					 "poweroff");
	if (reboot)
		paravirt_ops.shutdown(SHUTDOWN_REBOOT, EXIT_FAIL);
	paravirt_ops.shutdown(SHUTDOWN_POWER_OFF, EXIT_PASS);
}
