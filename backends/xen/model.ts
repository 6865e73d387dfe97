/**
 * The cross-replay model of a Xen profile (docs/abi/xen.md §9): how a Xen PV guest performs
 * the canonical operations a trace from another backend carries, with the divergences of
 * docs/abi/xen.md §9 named — absolute-ns timers and the 100 Hz VIRQ_TIMER nobody asked for,
 * the inverted upcall mask and its explicit pending check, SCHEDOP_block unmasking events,
 * machine frames in the base pointer, one flush for user and global, CPUID answered on the
 * forced-emulation path, no local APIC, no VMCALL.
 *
 * @module
 */

import { HARDWARE_ROWS } from "../common/cross_model.ts";
import type { AbiRecord, DivergenceNote, ModelRow } from "../model.ts";
import { HC, HC_NAMES } from "./hypercalls.ts";
import type { XenProfile } from "./profiles.ts";
import { xenCpuid } from "./emulate.ts";

const call = (nr: number, ...args: number[]): AbiRecord => ({
  nr,
  name: HC_NAMES[nr],
  args: args.map((x) => x >>> 0),
});
const mask = (v: number): AbiRecord => ({
  nr: -1,
  name: "vcpu_info.evtchn_upcall_mask",
  args: [v],
});
const hwApply = (op: string): ModelRow["apply"] => HARDWARE_ROWS.find((r) => r.op === op)!.apply;
const none: ModelRow["apply"] = () => ({ ret: null, writes: [] });

/** VCPUOP_* and MMUEXT_* numbers the rows name (docs/abi/xen.md §3, §5). */
const VCPUOP_set_periodic_timer = 6, VCPUOP_set_singleshot_timer = 8;
const VCPUOP_stop_singleshot_timer = 9;
const MMUEXT_NEW_BASEPTR = 5, MMUEXT_TLB_FLUSH_LOCAL = 6, MMUEXT_INVLPG_LOCAL = 7;
const SCHEDOP_block = 1, SCHEDOP_shutdown = 2;

/** The 100 Hz tick note (docs/abi/xen.md §9 row "default tick"). */
function tickNote(p: XenProfile): DivergenceNote {
  return {
    class: "implicit-side-effect",
    reason: p.vcpuTimers
      ? "Xen also delivers VIRQ_TIMER at 100 Hz until the guest stops it " +
        "(VCPUOP_stop_periodic_timer): ticks the guest never asked for"
      : "Xen delivers VIRQ_TIMER at 100 Hz whatever the guest programs (no way to stop it " +
        "before Xen 3.1): ticks the guest never asked for",
  };
}

/** Rows where a Xen PV guest differs from bare hardware. */
export function xenRows(p: XenProfile): ModelRow[] {
  return [
    {
      op: "set_timer",
      translate: (a, _st, _env) => {
        const absolute: DivergenceNote = {
          class: "different-units",
          reason: "Xen takes an absolute deadline in ns of its system time " +
            "(vcpu_time_info), not a relative count",
        };
        if (a[0] === 1) {
          if (!p.vcpuTimers) {
            return {
              class: "unsupported",
              reason: `xen@${p.version} has no periodic timer call (VCPUOP_set_periodic_timer ` +
                "came with Xen 3.1); only its fixed 100 Hz VIRQ_TIMER",
            };
          }
          return {
            steps: [call(HC.vcpu_op, VCPUOP_set_periodic_timer, 0, a[1])],
            notes: [tickNote(p)],
          };
        }
        if (a[1] === 0) {
          const stop = p.vcpuTimers
            ? call(HC.vcpu_op, VCPUOP_stop_singleshot_timer, 0, 0)
            : call(HC.set_timer_op, 0, 0);
          return { steps: [stop], notes: [tickNote(p)] };
        }
        const step = p.vcpuTimers
          ? call(HC.vcpu_op, VCPUOP_set_singleshot_timer, 0, a[1])
          : call(HC.set_timer_op, a[1], 0);
        return { steps: [step], notes: [absolute, tickNote(p)] };
      },
      apply: hwApply("set_timer"),
    },
    {
      op: "safe_halt",
      translate: () => ({
        steps: [call(HC.sched_op, SCHEDOP_block, 0)],
        notes: [{
          class: "implicit-side-effect",
          reason: "SCHEDOP_block clears evtchn_upcall_mask itself before blocking " +
            "(events are enabled afterwards)",
        }],
      }),
      apply: (_a, st) => {
        st.regs.IF = 1;
        st.regs.HALTED = 1;
        return { ret: 0, writes: ["IF", "HALTED"] };
      },
    },
    {
      op: "irq_disable",
      translate: () => ({
        steps: [mask(1)],
        notes: [{
          class: "different-state",
          reason: "a store of 1 to vcpu_info.evtchn_upcall_mask (inverted sense); " +
            "EFLAGS.IF stays set",
        }],
      }),
      apply: hwApply("irq_disable"),
    },
    {
      op: "irq_enable",
      translate: () => ({
        steps: [mask(0), call(HC.xen_version, 0, 0)],
        notes: [{
          class: "needs-batch",
          reason: "a store of 0 to evtchn_upcall_mask, then a hypercall (xen_version) to have " +
            "pending events delivered: unmasking alone delivers nothing",
        }],
      }),
      apply: hwApply("irq_enable"),
    },
    {
      op: "write_cr3",
      translate: (a) => ({
        steps: [call(HC.mmuext_op, MMUEXT_NEW_BASEPTR, a[0] >>> 12)],
        notes: [{
          class: "different-units",
          reason: "MMUEXT_NEW_BASEPTR takes the machine frame (MFN) of a pinned, read-only " +
            "page directory, not the guest-physical address",
        }],
      }),
      apply: hwApply("write_cr3"),
    },
    {
      op: "flush_tlb_user",
      translate: () => ({ steps: [call(HC.mmuext_op, MMUEXT_TLB_FLUSH_LOCAL)] }),
      apply: none,
    },
    {
      op: "flush_tlb_kernel",
      translate: () => ({
        steps: [call(HC.mmuext_op, MMUEXT_TLB_FLUSH_LOCAL)],
        notes: [{
          class: "different-state",
          reason: "the same MMUEXT_TLB_FLUSH_LOCAL as a user flush: Xen hides PGE, so there " +
            "are no global entries to keep",
        }],
      }),
      apply: none,
    },
    {
      op: "flush_tlb_single",
      translate: (a) => ({ steps: [call(HC.mmuext_op, MMUEXT_INVLPG_LOCAL, a[0] & ~0xfff)] }),
      apply: none,
    },
    {
      // A PV kernel asks through the forced-emulation prefix; the answer (EAX) is Xen's, so
      // the hypervisor leaves show up as a different result (docs/abi/xen.md §8).
      op: "cpuid",
      translate: () => ({ steps: [{ nr: -1, name: "forced_cpuid", args: [] }] }),
      apply: (a) => {
        const out = new Int32Array(4);
        xenCpuid(p, a[0] >>> 0, a[1] >>> 0, out);
        return { ret: out[0] >>> 0, writes: [] };
      },
    },
    {
      op: "shutdown",
      translate: (a) => ({ steps: [call(HC.sched_op, SCHEDOP_shutdown, a[0])] }),
      apply: none,
    },
    {
      op: "iret",
      translate: (a) => ({
        steps: [call(HC.iret)],
        notes: [{
          class: "implicit-side-effect",
          reason: "the iret hypercall sets evtchn_upcall_mask from the frame's IF and strips " +
            `IOPL (IF ${a[0] & 0x200 ? "set" : "clear"})`,
        }],
      }),
      apply: (a, st) => {
        st.regs.IF = a[0] & 0x200 ? 1 : 0;
        return { ret: null, writes: ["IF"] };
      },
    },
    {
      op: "io_delay",
      // Xen's io_delay is empty: nothing crosses to the hypervisor.
      translate: () => ({ steps: [{ nr: -1, name: "nop", args: [] }] }),
      apply: none,
    },
    ...["apic_write", "apic_read"].map((op): ModelRow => ({
      op,
      translate: () => ({ class: "unsupported", reason: "a Xen PV domU has no local APIC" }),
      apply: none,
    })),
    {
      op: "vmcall",
      translate: () => ({
        class: "trap",
        reason: "VMCALL in a Xen PV guest is #UD, reflected to the guest's trap table",
      }),
      apply: none,
    },
  ];
}
