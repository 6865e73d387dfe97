/**
 * The cross-replay model of a VMI profile: how a VMI kernel performs each canonical operation
 * (a call into the ROM, docs/abi/vmi.md §3, §5) and the systematic differences from the other
 * backends: alarms in cycles with an absolute expiry, the wall clock in ns, "every halt is
 * safe", flags instead of distinct flush instructions. State effects are the hardware rows'
 * (the ROM performs the same architectural change). A profile without the timer block keeps
 * the native PIT/RTC rows; a profile the kernel refuses (major ≠ 3) is bare hardware.
 *
 * @module
 */

import { HARDWARE_ROWS } from "../common/cross_model.ts";
import type { AbiRecord, DivergenceNote, ModelRow } from "../model.ts";
import { TimerMode } from "../../vocabulary/canonical_ops.ts";
import {
  VMI_ALARM_IS_PERIODIC,
  VMI_CALL_NAMES,
  VMI_FLUSH_GLOBAL,
  VMI_FLUSH_TLB,
  VmiCall as C,
  VmiCycles,
} from "./abi.ts";
import { TIMER_CALLS } from "./calls.ts";
import type { VmiProfile } from "./profiles.ts";

const HW = new Map(HARDWARE_ROWS.map((r) => [r.op, r]));
const U32 = 0x1_0000_0000;

const rec = (nr: number, args: number[]): AbiRecord => ({
  nr,
  name: VMI_CALL_NAMES[nr],
  args: args.map((x) => x >>> 0),
});

/** A row whose steps are one ROM call and whose effect is the hardware row's. */
function vrow(
  op: string,
  nr: number | ((a: readonly number[]) => number),
  args: (a: readonly number[]) => number[] = () => [],
  notes: (a: readonly number[]) => DivergenceNote[] = () => [],
  apply?: ModelRow["apply"],
): ModelRow {
  const hw = HW.get(op);
  return {
    op,
    translate: (a) => ({
      steps: [rec(typeof nr === "number" ? nr : nr(a), args(a))],
      notes: notes(a),
    }),
    apply: apply ?? hw?.apply ?? (() => ({ ret: null, writes: [] })),
  };
}

/** Kernel paravirt major the guest accepts (docs/abi/vmi.md §1). */
const ACCEPTED_MAJOR = 3;

/** Rows where a VMI profile differs from bare hardware. */
export function vmiRows(p: VmiProfile): ModelRow[] {
  if (p.apiMajor !== ACCEPTED_MAJOR) return []; // refused: the kernel runs native
  const has = (nr: number) => p.calls.includes(nr);
  const rows: ModelRow[] = [
    vrow("irq_disable", C.DisableInterrupts),
    vrow("irq_enable", C.EnableInterrupts),
    vrow("save_fl", C.GetInterruptMask),
    vrow("restore_fl", C.SetInterruptMask, (a) => [a[0]]),
    vrow("safe_halt", C.Halt),
    // No plain halt in VMI: Halt enables interrupts (docs/abi/vmi.md §5).
    vrow(
      "halt",
      C.Halt,
      () => [],
      () => [{
        class: "implicit-side-effect",
        reason: 'VMI has no plain halt: Halt (35) enables interrupts while it waits ("all VMI ' +
          'halts are safe", docs/abi/vmi.md §5)',
      }],
      (_a, st) => {
        st.regs.IF = 1;
        st.regs.HALTED = 1;
        return { ret: null, writes: ["IF", "HALTED"] };
      },
    ),
    vrow("write_cr0", C.SetCR0, (a) => [a[0]]),
    vrow("write_cr3", C.SetCR3, (a) => [a[0]]),
    vrow("write_cr4", C.SetCR4, (a) => [a[0]]),
    vrow("read_cr0", C.GetCR0),
    vrow("read_cr2", C.GetCR2),
    vrow("read_cr3", C.GetCR3),
    vrow("read_cr4", C.GetCR4),
    vrow("clts", C.CLTS),
    vrow("wbinvd", C.WBINVD),
    vrow("load_gdt", C.SetGDT, (a) => [a[0]]),
    vrow("load_idt", C.SetIDT, (a) => [a[0]]),
    vrow("load_tr_desc", C.SetTR, (a) => [a[0]]),
    vrow("set_ldt", C.SetLDT, () => [], () => [{
      class: "different-units",
      reason: "SetLDT takes the GDT selector of the LDT descriptor, not base and size",
    }]),
    vrow("cpuid", C.CPUID, (a) => [a[0], a[1]]),
    vrow("read_tsc", C.RDTSC),
    vrow("set_debugreg", C.SetDR, (a) => [a[0], a[1]]),
    vrow("flush_tlb_single", C.InvalPage, (a) => [a[0]]),
    vrow("flush_tlb_user", C.FlushTLB, () => [VMI_FLUSH_TLB], () => [{
      class: "different-units",
      reason: "one FlushTLB call with flags 1 (no CR3 reload)",
    }]),
    vrow("flush_tlb_kernel", C.FlushTLB, () => [VMI_FLUSH_TLB | VMI_FLUSH_GLOBAL], () => [{
      class: "different-units",
      reason: "one FlushTLB call with flags 3 (no CR4.PGE toggle)",
    }]),
    vrow("io_delay", C.IODelay),
    vrow("apic_write", C.APICWrite, (a) => [a[0], a[1]]),
    vrow("apic_read", C.APICRead, (a) => [a[0]], () => [], (a) => ({ ret: a[1], writes: [] })),
    vrow("iret", C.IRET, (a) => [a[0]]),
    vrow("irq_enable_sysexit", C.SYSEXIT),
  ];
  if (TIMER_CALLS.every(has)) rows.push(...timerRows(p));
  return rows;
}

/** The VMI timer block (docs/abi/vmi.md §5). */
function timerRows(p: VmiProfile): ModelRow[] {
  const hzOf = (tscHz: number) => p.cycleHz || tscHz;
  return [
    {
      op: "set_timer",
      translate: (a, _st, env) => {
        const hz = hzOf(env.tscHz);
        if (a[1] === 0) return { steps: [rec(C.CancelAlarm, [VmiCycles.REAL])] };
        const cycles = Math.ceil(a[1] * hz / 1e9);
        const periodic = a[0] === TimerMode.periodic;
        const flags = VmiCycles.REAL | (periodic ? VMI_ALARM_IS_PERIODIC : 0);
        return {
          // The expiry is absolute (REAL counter now + delta): recorded as the delta here.
          steps: [rec(C.SetAlarm, [
            flags,
            cycles % U32,
            Math.floor(cycles / U32),
            periodic ? cycles % U32 : 0,
            periodic ? Math.floor(cycles / U32) : 0,
          ])],
          notes: [{
            class: "different-units",
            reason: `SetAlarm takes an absolute expiry on the REAL cycle counter at ${hz} Hz ` +
              `(now + ${cycles} cycles for ${a[1]} ns) and a period in cycles, not a relative ` +
              "ns delta (docs/abi/vmi.md §5)",
          }],
        };
      },
      // The alarm fires at the first whole cycle at or after the deadline (TIMER: deadline ns).
      apply: (a, st, nowNs, env) => {
        const hz = hzOf(env.tscHz);
        st.regs.TIMER = a[1] === 0 ? 0 : nowNs + Math.ceil(a[1] * hz / 1e9) * 1e9 / hz;
        return { ret: null, writes: ["TIMER"] };
      },
    },
    {
      op: "get_wallclock",
      translate: () => ({
        steps: [rec(C.GetWallclockTime, [])],
        notes: [{
          class: "different-units",
          reason: "GetWallclockTime returns u64 ns since 1970, not seconds (docs/abi/vmi.md §5)",
        }],
      }),
      apply: (_a, _st, nowNs, env) => ({ ret: env.epoch + Math.floor(nowNs / 1e9), writes: [] }),
    },
    {
      op: "sched_clock",
      translate: () => ({
        steps: [rec(C.GetCycleCounter, [VmiCycles.AVAILABLE])],
        notes: [{
          class: "different-units",
          reason: "sched_clock reads the AVAILABLE cycle counter (cycles, not ns)",
        }],
      }),
      apply: (_a, _st, nowNs) => ({ ret: nowNs, writes: [] }),
    },
  ];
}
