/**
 * `native`: a bare PC. Privileged operations execute as on hardware and are recorded as exits
 * named by the CPU's own exit kinds; there are no hypercalls (VMCALL raises #UD) and no
 * hypervisor CPUID leaves (docs/abi/native.md §1, §2).
 *
 * @module
 */

import { EXIT_NAMES, ExitKind } from "../../core/cpu/hooks.ts";
import type { Backend, BackendDescription, CallDescription } from "../backend.ts";
import { BaseBackend } from "../common/base_backend.ts";
import { HARDWARE_ROWS, TableModel } from "../common/cross_model.ts";
import { EXIT_RULES } from "../common/hardware_ops.ts";
import type { CallModel, ModelEnv } from "../model.ts";

/** Native profiles: `p6` is a P6-family PC (the CPU model's default). */
export const NATIVE_VERSIONS = { versions: ["p6"] as const, defaultVersion: "p6" };

const OP_OF_EXIT: Readonly<Record<number, string | null>> = {
  [ExitKind.cli]: "irq_disable",
  [ExitKind.sti]: "irq_enable (safe_halt/irq_enable_sysexit before hlt/sysexit)",
  [ExitKind.ifChange]: "restore_fl (popf) / iret",
  [ExitKind.hlt]: "halt (safe_halt after sti)",
  [ExitKind.crWrite]: "write_cr0/3/4, flush_tlb_user, flush_tlb_kernel",
  [ExitKind.crRead]: "read_cr0/2/3/4",
  [ExitKind.rdmsr]: "read_msr",
  [ExitKind.wrmsr]: "write_msr",
  [ExitKind.cpuid]: "cpuid",
  [ExitKind.invlpg]: "flush_tlb_single",
  [ExitKind.lgdt]: "load_gdt",
  [ExitKind.lidt]: "load_idt",
  [ExitKind.lldt]: "set_ldt",
  [ExitKind.ltr]: "load_tr_desc",
  [ExitKind.clts]: "clts",
  [ExitKind.wbinvd]: "wbinvd",
  [ExitKind.rdtsc]: "read_tsc",
  [ExitKind.drWrite]: "set_debugreg",
  [ExitKind.sysexit]: "irq_enable_sysexit (after sti)",
  [ExitKind.shutdown]: "shutdown",
};

/**
 * The bare-PC backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createNativeBackend } from "./backend.ts";
 * const native = createNativeBackend("p6");
 * assert.equal(native.hypercall("vmcall"), false);
 * ```
 */
export class NativeBackend extends BaseBackend {
  readonly name = "native";
  readonly version: string;

  constructor(version: string) {
    super();
    this.version = version;
  }

  describe(): BackendDescription {
    const calls: CallDescription[] = EXIT_NAMES.filter((_, k) => k in EXIT_RULES).map((
      name,
      kind,
    ) => ({
      kind: "exit",
      nr: kind,
      name,
      args: [],
      ret: null,
      op: OP_OF_EXIT[kind] ?? null,
      source: "docs/abi/native.md §2 (privileged instructions); core/cpu/hooks.ts ExitKind",
    }));
    calls.push(
      {
        kind: "io",
        nr: 0x80,
        name: "out",
        args: [],
        ret: null,
        op: "io_delay",
        source: "docs/abi/native.md §2",
      },
      {
        kind: "io",
        nr: 0x40,
        name: "out",
        args: [{ loc: "ports 0x43, 0x40", name: "count", unit: "1193182 Hz ticks" }],
        ret: null,
        op: "set_timer",
        source: "docs/abi/native.md §3.5",
      },
      {
        kind: "io",
        nr: 0x71,
        name: "in",
        args: [{ loc: "ports 0x70, 0x71", name: "RTC registers", unit: "BCD" }],
        ret: "AL",
        op: "get_wallclock",
        source: "docs/abi/native.md §3.6",
      },
    );
    return {
      name: this.name,
      version: this.version,
      summary: "bare PC: privileged instructions run on the hardware and are recorded as exits",
      discovery: "none: paravirt_ops stays on its native defaults (docs/abi/native.md §1)",
      convention: "none (VMCALL raises #UD)",
      calls,
    };
  }

  model(env?: Partial<ModelEnv>): CallModel {
    return new TableModel(
      this.name,
      this.version,
      HARDWARE_ROWS,
      (s) => this.nameStep(s),
      this.modelEnv(env),
    );
  }
}

/** Creates the native backend for a profile listed in {@link NATIVE_VERSIONS}. */
export function createNativeBackend(version: string, tweak?: object): Backend {
  // Bare hardware has no version profile fields to override.
  if (tweak && Object.keys(tweak).length) throw new Error("native has no profile fields to tweak");
  return new NativeBackend(version);
}
