/**
 * The cross-replay model of a KVM profile: the rows where it differs from bare hardware
 * (CPUID leaves, kvmclock MSRs, VMCALL), on top of the hardware rows.
 *
 * @module
 */

import { ExitKind } from "../../core/cpu/hooks.ts";
import { cpuidEax } from "../common/cross_model.ts";

import type { KvmProfile } from "./profiles.ts";
import { msrRows } from "../common/cross_model.ts";
import {
  clockMsrOf,
  isPvEoiMsr,
  isStealMsr,
  kvmCpuid,
  kvmMsrFault,
  kvmVmcall,
} from "./profiles.ts";
import type { ModelRow } from "../model.ts";

/** Rows where a KVM profile differs from bare hardware. */
export function kvmRows(p: KvmProfile): ModelRow[] {
  const rows: ModelRow[] = [
    {
      op: "cpuid",
      translate: (a) => ({
        steps: [{ source: "exit", kind: ExitKind.cpuid, a: a[0], b: a[1], c: 0 }],
      }),
      apply: (a) => {
        const out = Int32Array.of(cpuidEax(a[0], a[1]), 0, 0, 0);
        kvmCpuid(p, a[0], out);
        return { ret: out[0] >>> 0, writes: [] };
      },
    },
    // kvmclock, steal-time and PV EOI MSRs read back what was last written, 0 before
    // (kvm_get_msr_common).
    ...msrRows(
      kvmMsrFault(p),
      (i) => (clockMsrOf(p, i) || isStealMsr(p, i) || isPvEoiMsr(p, i) ? 0 : null),
    ),
    {
      op: "vmcall",
      translate: (a) => {
        const o = kvmVmcall(p, a);
        return {
          steps: [{ nr: o.nr, name: o.name, args: o.args }],
          notes: o.stops
            ? [{
              class: "fatal",
              reason: `kvm@${p.version} has no VMCALL exit handler: KVM_EXIT_UNKNOWN reaches ` +
                "userspace and the VM stops (docs/abi/kvm.md §7: no PV interface before 2.6.21)",
            }]
            : [],
        };
      },
      apply: (a) => ({ ret: kvmVmcall(p, a).ret, writes: [] }),
    },
  ];
  const clock = p.clockMsrs[p.clockMsrs.length - 1];
  if (clock) {
    rows.push({
      op: "get_wallclock",
      translate: () => ({
        steps: [{ source: "exit", kind: ExitKind.wrmsr, a: clock.wall, b: 0, c: 0 }],
      }),
      apply: (_a, _st, nowNs, env) => ({ ret: env.epoch + Math.floor(nowNs / 1e9), writes: [] }),
    }, {
      // kvmclock is read from memory: no exit at all.
      op: "sched_clock",
      translate: () => ({ steps: [{ nr: -1, name: "pvclock_read", args: [] }] }),
      apply: (_a, _st, nowNs) => ({ ret: nowNs, writes: [] }),
    }, {
      // The host rewrites the structure the guest registered through a system-time MSR.
      op: "clock_update",
      translate: (_a, st) => {
        const reg = p.clockMsrs.map((m) => st.msrs.get(m.system)).find((v) => v && v[0] & 1);
        return {
          steps: [{ nr: reg ? (reg[0] & ~1) >>> 0 : -1, name: "pvclock_vcpu_time_info", args: [] }],
        };
      },
      apply: () => ({ ret: null, writes: [] }),
    });
  }
  return rows;
}
