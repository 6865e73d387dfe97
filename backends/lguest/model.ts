/**
 * The cross-replay model of an lguest profile (docs/abi/lguest.md §4-§6): how an lguest guest
 * performs the canonical operations a trace from another backend carries, with the divergences
 * named — relative ns one-shot timers only, `irq_enabled` stores instead of EFLAGS.IF (and no
 * pending check on enable in 2.6.23), HALT re-enabling interrupts, no local APIC.
 *
 * @module
 */

import type { AbiRecord, DivergenceNote, ModelRow } from "../model.ts";
import { IRQ_ENABLED, LG_CLOCK_MIN_DELTA, Lhcall, LHCALL_NAMES } from "./abi.ts";
import type { LguestProfile } from "./profiles.ts";

const call = (nr: number, a1 = 0, a2 = 0, a3 = 0): AbiRecord => ({
  nr,
  name: LHCALL_NAMES[nr],
  args: [a1 >>> 0, a2 >>> 0, a3 >>> 0],
});
const none = () => ({ ret: null, writes: [] });
const store = (v: number): AbiRecord => ({ nr: -1, name: "lguest_data.irq_enabled", args: [v] });

/** Rows where lguest differs from bare hardware. */
export function lguestRows(p: LguestProfile): ModelRow[] {
  const rows: ModelRow[] = [
    {
      op: "set_timer",
      translate: (a): { steps: AbiRecord[]; notes: DivergenceNote[] } | DivergenceNote => {
        if (a[0] === 1) {
          return {
            class: "unsupported",
            reason: "lguest's clock event is one-shot only (periodic mode BUG()s in the guest)",
          };
        }
        const notes: DivergenceNote[] = [];
        if (a[1] !== 0 && a[1] < LG_CLOCK_MIN_DELTA) {
          notes.push({
            class: "different-result",
            reason: `delta ${a[1]} ns < LG_CLOCK_MIN_DELTA (100 ns): the guest's clockevent ` +
              "refuses it with -ETIME",
          });
        }
        return { steps: [call(Lhcall.SET_CLOCKEVENT, a[1])], notes };
      },
      apply: none,
    },
    {
      op: "safe_halt",
      translate: () => ({
        steps: [call(Lhcall.HALT)],
        notes: [{
          class: "implicit-side-effect",
          reason:
            "the host sets irq_enabled = 0x200 when it wakes the guest (docs/abi/lguest.md §6)",
        }],
      }),
      apply: none,
    },
    { op: "irq_disable", translate: () => ({ steps: [store(0)] }), apply: none },
    {
      op: "irq_enable",
      translate: () => ({
        steps: [store(IRQ_ENABLED)],
        notes: [{
          class: "different-state",
          reason: "a store to lguest_data.irq_enabled: a pending interrupt waits for the next " +
            "hypercall (no pending check in 2.6.23)",
        }],
      }),
      apply: none,
    },
    {
      op: "write_cr3",
      translate: (a) => ({ steps: [call(Lhcall.NEW_PGTABLE, a[0])] }),
      apply: none,
    },
    {
      op: "flush_tlb_user",
      translate: () => ({ steps: [call(Lhcall.FLUSH_TLB, 0)] }),
      apply: none,
    },
    {
      op: "flush_tlb_kernel",
      translate: () => ({ steps: [call(Lhcall.FLUSH_TLB, 1)] }),
      apply: none,
    },
    {
      op: "flush_tlb_single",
      translate: (a) => ({
        steps: [call(Lhcall.SET_PTE, 0, a[0], 0)],
        notes: [{
          class: "different-state",
          reason: "SET_PTE(cr3, addr, 0): zeroes the shadow PTE",
        }],
      }),
      apply: none,
    },
    {
      op: "get_wallclock",
      translate: (a) =>
        p.calls.includes(Lhcall.GET_WALLCLOCK)
          ? {
            steps: [call(Lhcall.GET_WALLCLOCK)],
            notes: a[1] !== 0
              ? [{ class: "different-units", reason: "GET_WALLCLOCK returns whole seconds" }]
              : [],
          }
          : { steps: [{ nr: -1, name: "lguest_data.time", args: [] }] },
      apply: (_a, _st, nowNs, env) => ({ ret: env.epoch + Math.floor(nowNs / 1e9), writes: [] }),
    },
    ...["apic_write", "apic_read"].map((op): ModelRow => ({
      op,
      translate: () => ({ class: "unsupported", reason: "lguest guests have no local APIC" }),
      apply: none,
    })),
  ];
  return rows;
}
