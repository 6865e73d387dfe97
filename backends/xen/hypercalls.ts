/**
 * Xen x86_32 hypercall numbers, errno values and names (xen.h; docs/abi/xen.md §2, §3).
 *
 * @module
 */

/** Hypercall numbers (xen.h __HYPERVISOR_*). */
export const HC = {
  set_trap_table: 0,
  mmu_update: 1,
  set_gdt: 2,
  stack_switch: 3,
  set_callbacks: 4,
  fpu_taskswitch: 5,
  sched_op_compat: 6,
  platform_op: 7,
  set_debugreg: 8,
  get_debugreg: 9,
  update_descriptor: 10,
  memory_op: 12,
  multicall: 13,
  update_va_mapping: 14,
  set_timer_op: 15,
  event_channel_op_compat: 16,
  xen_version: 17,
  console_io: 18,
  physdev_op_compat: 19,
  grant_table_op: 20,
  vm_assist: 21,
  update_va_mapping_otherdomain: 22,
  iret: 23,
  vcpu_op: 24,
  set_segment_base: 25,
  mmuext_op: 26,
  acm_op: 27,
  nmi_op: 28,
  sched_op: 29,
  callback_op: 30,
  xenoprof_op: 31,
  event_channel_op: 32,
  physdev_op: 33,
} as const;

/** Names by number. */
export const HC_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(HC).map(([k, v]) => [v, k]),
);

/** Xen errno values (Linux numbering, xen/include/public/errno.h; docs/abi/xen.md §2). */
export const XEN_EPERM = 1;
export const XEN_ESRCH = 3;
export const XEN_EFAULT = 14;
export const XEN_EINVAL = 22;
export const XEN_ENOSYS = 38;
export const XEN_ETIME = 62;
export const XEN_EBUSY = 16;
export const XEN_EEXIST = 17;
export const XEN_ENOSPC = 28;

/** NR_hypercalls: page slots beyond are -ENOSYS (docs/abi/xen.md §2). */
export const NR_HYPERCALLS = 64;
