/**
 * Trace-driven cross-backend model: for a canonical operation recorded on one backend, what
 * would another backend's guest have done (`translate`), and what would that backend have
 * answered and changed (`apply`)? The lead's `replay --backend OTHER` compares these with the
 * recording and classifies each divergence.
 *
 * A backend contributes rows only: one {@link ModelRow} per canonical operation it supports.
 * Rows for guests that run unmodified privileged code (native, KVM) are in
 * {@link HARDWARE_ROWS}; a backend may replace individual rows.
 *
 * State semantics match recorded events: `state` lists the keys the operation writes, with
 * their value afterwards.
 *
 * @module
 */

import { ExitKind } from "../../core/cpu/hooks.ts";
import { nativeCpuid } from "../../core/cpu/system.ts";
import { STATE_KEY_NAMES, type StateKeyName } from "../../vocabulary/event.ts";
import { checkCanonicalArgs, ShutdownReason, TimerMode } from "../../vocabulary/canonical_ops.ts";
import { APIC_BASE, PIT_HZ } from "./hardware_ops.ts";
import { exceptionName } from "../../vocabulary/trap_names.ts";
import type {
  AbiCall,
  AbiRecord,
  ApplyResult,
  CallModel,
  DivergenceNote,
  HwStep,
  ModelEnv,
  ModelRow,
  ModelState,
  Unsupported,
} from "../model.ts";

/**
 * A {@link CallModel} from rows. `name` turns a hardware step into the backend's ABI record
 * (the same function that names recorded events).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createBackend } from "../registry.ts";
 * const m = createBackend("native").model();
 * const call = m.translate("irq_disable", []);
 * assert.ok(!("unsupported" in call));
 * assert.equal(m.apply(call, 0).state[0][0], "IF");
 * ```
 */
export class TableModel implements CallModel {
  readonly backend: string;
  readonly version: string;
  readonly state: ModelState;
  #rows: Map<string, ModelRow>;
  #name: (s: HwStep) => AbiRecord;
  #env: ModelEnv;

  constructor(
    backend: string,
    version: string,
    rows: readonly ModelRow[],
    name: (s: HwStep) => AbiRecord,
    env: ModelEnv,
    initial: Partial<Record<StateKeyName, number>> = {},
  ) {
    this.backend = backend;
    this.version = version;
    this.#rows = new Map(rows.map((r) => [r.op, r]));
    this.#name = name;
    this.#env = env;
    const regs = Object.fromEntries(STATE_KEY_NAMES.map((k) => [k, 0])) as Record<
      StateKeyName,
      number
    >;
    this.state = { regs: { ...regs, ...initial }, msrs: new Map() };
  }

  translate(op: string, opArgs: readonly number[]): AbiCall | Unsupported {
    checkCanonicalArgs(op, opArgs);
    const row = this.#rows.get(op);
    if (!row) {
      return {
        op,
        unsupported: true,
        class: "unsupported",
        reason: `${this.backend}@${this.version} has no equivalent of ${op}`,
      };
    }
    const t = row.translate(opArgs, this.state, this.#env);
    if ("reason" in t) return { op, unsupported: true, ...t };
    const steps = t.steps.map((s) => ("source" in s ? this.#name(s) : s));
    const last = steps[steps.length - 1];
    return { op, opArgs: [...opArgs], ...last, steps, notes: t.notes ?? [] };
  }

  apply(call: AbiCall, nowNs: number): ApplyResult {
    const row = this.#rows.get(call.op);
    if (!row) throw new Error(`${this.backend}@${this.version}: no model row for ${call.op}`);
    const { ret, writes } = row.apply(call.opArgs, this.state, nowNs, this.#env);
    return { ret, state: writes.map((k) => [k, this.state.regs[k]]) };
  }
}

// ---- rows shared by native and KVM (unmodified privileged code, docs/abi/native.md §2, §3) ----------

const exit = (kind: number, a = 0, b = 0, c = 0): HwStep => ({ source: "exit", kind, a, b, c });
const out = (port: number, size: number, value: number): HwStep => ({
  source: "out",
  kind: 0,
  a: port,
  b: size,
  c: value,
});
const none = () => ({ ret: null, writes: [] as StateKeyName[] });

/** Builds a row whose translation never fails. */
function row(
  op: string,
  steps: (args: readonly number[], st: ModelState) => Array<HwStep | AbiRecord>,
  apply: ModelRow["apply"] = none,
  notes?: (args: readonly number[]) => DivergenceNote[],
): ModelRow {
  return {
    op,
    translate: (args, st) => ({ steps: steps(args, st), notes: notes?.(args) ?? [] }),
    apply,
  };
}

function set(st: ModelState, writes: Array<[StateKeyName, number]>) {
  for (const [k, v] of writes) st.regs[k] = v >>> 0;
  return { ret: null, writes: writes.map(([k]) => k) };
}

const CR4_PGE = 0x80;

/** PIT programming for a relative timer (docs/abi/native.md §3.5): control word 0x34 / 0x30 + count. */
function pitSteps(args: readonly number[]): { steps: HwStep[]; notes: DivergenceNote[] } {
  const [mode, ns] = args;
  const control = mode === TimerMode.periodic ? 0x34 : 0x30;
  if (ns === 0) return { steps: [out(0x43, 1, control)], notes: [] };
  const ticks = Math.min(0x10000, Math.max(1, Math.round(ns * PIT_HZ / 1e9)));
  const notes: DivergenceNote[] = [];
  const actual = Math.round(ticks * 1e9 / PIT_HZ);
  if (actual !== ns) {
    notes.push({
      class: ticks === 0x10000 ? "different-result" : "different-units",
      reason: `PIT counts 1193182 Hz ticks: ${ns} ns becomes ${ticks} ticks = ${actual} ns`,
    });
  }
  return {
    steps: [out(0x43, 1, control), out(0x40, 1, ticks & 0xff), out(0x40, 1, (ticks >> 8) & 0xff)],
    notes,
  };
}

function pitApply(args: readonly number[], st: ModelState, nowNs: number) {
  const [, ns] = args;
  if (ns === 0) return set(st, [["TIMER", 0]]);
  const ticks = Math.min(0x10000, Math.max(1, Math.round(ns * PIT_HZ / 1e9)));
  st.regs.TIMER = nowNs + Math.round(ticks * 1e9 / PIT_HZ);
  return { ret: null, writes: ["TIMER"] as StateKeyName[] };
}

const GP = 13, UD = 6;
/** An exception step, named as recorded exception events are. */
const trapStep = (vector: number): AbiRecord => ({
  nr: vector,
  name: exceptionName(vector),
  args: [],
});
const VMCALL_UD: DivergenceNote = {
  class: "trap",
  reason: "VMCALL outside VMX operation raises #UD (SDM Vol.3 VMCALL)",
};

/**
 * MSRs the emulated P6 implements (core/cpu/system.ts `rdmsr`/`wrmsr`): TSC, APIC base and the
 * SYSENTER triple. Any other index raises #GP(0) (SDM Vol.2B RDMSR/WRMSR). 0x11/0x12, which
 * KVM's first kvmclock took over, were the Pentium's CESR/CTR0 and do not exist on P6 parts
 * (SDM Vol.4 P5 vs P6 MSR tables).
 */
export const CPU_MSRS: ReadonlySet<number> = new Set([0x10, 0x1b, 0x174, 0x175, 0x176]);

/**
 * Why an MSR access faults on a machine, or null if it completes. `write` = WRMSR (with the
 * value `lo`, `hi`), else RDMSR.
 */
export type MsrFault = (write: boolean, index: number, lo: number, hi: number) => string | null;

/** The reason every backend gives for an MSR it does not implement (identical text on purpose:
 * two backends that both fault do not diverge). */
export function unknownMsr(write: boolean, index: number): string {
  const insn = write ? "WRMSR" : "RDMSR";
  return `${insn} of MSR 0x${(index >>> 0).toString(16)} raises #GP(0): not implemented here ` +
    `(SDM Vol.2B ${insn})`;
}

/** MSR faults on bare hardware: only {@link CPU_MSRS} exist. */
export const cpuMsrFault: MsrFault = (write, index) =>
  CPU_MSRS.has(index >>> 0) ? null : unknownMsr(write, index);

/**
 * `write_msr` / `read_msr` rows for a machine whose MSR set is described by `fault`. A read of
 * an MSR never written answers `fresh(index)` if given (a hypervisor MSR's reset value), else
 * what was recorded (the CPU's own MSRs are not modelled value by value).
 */
export function msrRows(fault: MsrFault, fresh: (index: number) => number | null = () => null) {
  const rows: ModelRow[] = [
    {
      op: "write_msr",
      translate: (a) => {
        const why = fault(true, a[0], a[1], a[2]);
        return why
          ? { steps: [trapStep(GP)], notes: [{ class: "trap", reason: why }] }
          : { steps: [exit(ExitKind.wrmsr, a[0], a[1], a[2])] };
      },
      apply: (a, st) => {
        if (!fault(true, a[0], a[1], a[2])) st.msrs.set(a[0] >>> 0, [a[1] >>> 0, a[2] >>> 0]);
        return { ret: null, writes: [] };
      },
    },
    {
      op: "read_msr",
      translate: (a) => {
        const why = fault(false, a[0], 0, 0);
        return why
          ? { steps: [trapStep(GP)], notes: [{ class: "trap", reason: why }] }
          : { steps: [exit(ExitKind.rdmsr, a[0], a[1], a[2])] };
      },
      apply: (a, st) => ({
        ret: fault(false, a[0], 0, 0)
          ? null
          : (st.msrs.get(a[0] >>> 0)?.[0] ?? fresh(a[0] >>> 0) ?? a[1]) >>> 0,
        writes: [],
      }),
    },
  ];
  return rows;
}

/** CPUID EAX of the emulated CPU (the trace's CPU model) for `leaf`. */
export function cpuidEax(leaf: number, subleaf: number): number {
  const out = new Int32Array(4);
  nativeCpuid(leaf >>> 0, subleaf >>> 0, out);
  return out[0] >>> 0;
}

const tscAt = (nowNs: number, env: ModelEnv) =>
  BigInt(Math.floor(nowNs * env.tscHz / 1e9)) & 0xffff_ffff_ffff_ffffn;

/** Rows for guests executing privileged instructions themselves (native; KVM 2007). */
export const HARDWARE_ROWS: readonly ModelRow[] = [
  row("irq_disable", () => [exit(ExitKind.cli)], (_a, st) => set(st, [["IF", 0]])),
  row("irq_enable", () => [exit(ExitKind.sti)], (_a, st) => set(st, [["IF", 1]])),
  // pushf/popf do not exit (docs/abi/native.md §2 templates); recorded only when popf flips IF.
  row(
    "save_fl",
    () => [{ nr: -1, name: "pushf", args: [] }],
    (_a, st) => ({ ret: st.regs.IF ? 0x200 : 0, writes: [] }),
  ),
  row(
    "restore_fl",
    (a) => [exit(ExitKind.ifChange, a[0] & 0x200 ? 1 : 0)],
    (a, st) => set(st, [["IF", a[0] & 0x200 ? 1 : 0]]),
  ),
  row(
    "safe_halt",
    () => [exit(ExitKind.sti), exit(ExitKind.hlt)],
    (_a, st) => set(st, [["IF", 1], ["HALTED", 1]]),
  ),
  row("halt", () => [exit(ExitKind.hlt)], (_a, st) => set(st, [["HALTED", 1]])),
  row(
    "write_cr0",
    (a) => [exit(ExitKind.crWrite, 0, a[0])],
    (a, st) => set(st, [["CR0", a[0]], ["TS", a[0] & 8 ? 1 : 0]]),
  ),
  row("write_cr3", (a) => [exit(ExitKind.crWrite, 3, a[0])], (a, st) => set(st, [["CR3", a[0]]])),
  row("write_cr4", (a) => [exit(ExitKind.crWrite, 4, a[0])], (a, st) => set(st, [["CR4", a[0]]])),
  ...([["read_cr0", 0, "CR0"], ["read_cr2", 2, "CR2"], ["read_cr3", 3, "CR3"], [
    "read_cr4",
    4,
    "CR4",
  ]] as const).map(([op, n, key]) =>
    row(
      op,
      (a) => [exit(ExitKind.crRead, n, a[0])],
      (_a, st) => ({ ret: st.regs[key], writes: [] }),
    )
  ),
  row("clts", () => [exit(ExitKind.clts)], (_a, st) => set(st, [["TS", 0]])),
  row("load_gdt", (a) => [exit(ExitKind.lgdt, a[0], a[1])]),
  row("load_idt", (a) => [exit(ExitKind.lidt, a[0], a[1])]),
  row("load_tr_desc", (a) => [exit(ExitKind.ltr, a[0])]),
  row(
    "set_ldt",
    () => [exit(ExitKind.lldt)],
    none,
    () => [{
      class: "different-units",
      reason: "lldt takes a GDT selector; base and size come from the descriptor",
    }],
  ),
  ...msrRows(cpuMsrFault),
  {
    // Basic and extended leaves as the CPU model answers them; hypervisor leaves
    // (0x40000000+) do not exist on hardware, so EAX is the highest basic leaf's (SDM CPUID).
    op: "cpuid",
    translate: (a) => ({ steps: [exit(ExitKind.cpuid, a[0], a[1])] }),
    apply: (a) => ({ ret: cpuidEax(a[0], a[1]), writes: [] }),
  },
  row(
    "read_tsc",
    () => [exit(ExitKind.rdtsc)],
    (_a, _st, nowNs, env) => ({ ret: Number(tscAt(nowNs, env) & 0xffff_ffffn), writes: [] }),
  ),
  row("wbinvd", () => [exit(ExitKind.wbinvd)]),
  row("flush_tlb_single", (a) => [exit(ExitKind.invlpg, a[0])]),
  row("flush_tlb_user", (_a, st) => [exit(ExitKind.crWrite, 3, st.regs.CR3)]),
  row("flush_tlb_kernel", (_a, st) => [
    exit(ExitKind.crWrite, 4, st.regs.CR4 & ~CR4_PGE),
    exit(ExitKind.crWrite, 3, st.regs.CR3),
    exit(ExitKind.crWrite, 4, st.regs.CR4 | CR4_PGE),
  ]),
  row("io_delay", () => [out(0x80, 1, 0)]),
  { op: "set_timer", translate: (a) => pitSteps(a), apply: pitApply },
  row(
    "get_wallclock",
    () => [out(0x70, 1, 0), { nr: 0x71, name: "in", args: [1] }],
    (_a, _st, nowNs, env) => ({ ret: env.epoch + Math.floor(nowNs / 1e9), writes: [] }),
    (a) =>
      a[1] !== 0 ? [{ class: "different-units", reason: "the CMOS RTC counts whole seconds" }] : [],
  ),
  row(
    "sched_clock",
    () => [exit(ExitKind.rdtsc)],
    (_a, _st, nowNs, env) => ({ ret: Number(tscAt(nowNs, env) & 0xffff_ffffn), writes: [] }),
    () => [{ class: "different-units", reason: "sched_clock reads TSC cycles, not ns" }],
  ),
  row(
    "apic_write",
    (a) => [{ source: "mmio_write", kind: 0, a: APIC_BASE + a[0], b: 4, c: a[1] }],
  ),
  row(
    "apic_read",
    (a) => [{ source: "mmio_read", kind: 0, a: APIC_BASE + a[0], b: 4, c: a[1] }],
    (a) => ({ ret: a[1] >>> 0, writes: [] }),
  ),
  row("set_debugreg", (a) => [exit(ExitKind.drWrite, a[0], a[1])]),
  {
    op: "shutdown",
    translate: (a) =>
      a[0] === ShutdownReason.reboot
        ? { steps: [out(0x64, 1, 0xfe)] }
        : a[0] === ShutdownReason.crash
        ? { steps: [exit(ExitKind.shutdown)] }
        : { class: "unsupported", reason: "power-off needs ACPI, which is not modelled" },
    apply: (_a, st) => set(st, [["HALTED", 1]]),
  },
  row(
    "iret",
    (a) => [exit(ExitKind.ifChange, a[0] & 0x200 ? 1 : 0)],
    (a, st) => set(st, [["IF", a[0] & 0x200 ? 1 : 0]]),
  ),
  row(
    "irq_enable_sysexit",
    () => [exit(ExitKind.sti), exit(ExitKind.sysexit)],
    (_a, st) => set(st, [["IF", 1]]),
  ),
  {
    // VMCALL outside VMX non-root operation raises #UD (SDM Vol.3 30.3 VMCALL; docs/native-vs-kvm.md
    // row 23 "native: #UD").
    op: "vmcall",
    translate: () => ({ steps: [trapStep(UD)], notes: [VMCALL_UD] }),
    apply: () => ({ ret: null, writes: [] }),
  },
  {
    // No hypervisor writes a clock record into a bare PC's memory: time comes from the
    // PIT/TSC/RTC the guest reads itself (docs/abi/native.md §3.6 native row).
    op: "clock_update",
    translate: () => ({
      class: "unsupported",
      reason: "no kvmclock/pvclock: nothing publishes a clock record into guest memory",
    }),
    apply: none,
  },
];

/** `rows` with some replaced by op name (a backend's own rows win). */
export function withRows(base: readonly ModelRow[], own: readonly ModelRow[]): ModelRow[] {
  const ownOps = new Set(own.map((r) => r.op));
  return [...base.filter((r) => !ownOps.has(r.op)), ...own];
}
