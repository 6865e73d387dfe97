/**
 * Replay of a recorded trace.
 *
 * - {@link replaySame}: re-executes the guest on the recording backend and checks the event
 *   stream event by event (rr's determinism check); the first mismatch stops the run.
 * - {@link replayCross}: trace-driven replay against another backend: each recorded canonical
 *   operation is translated into the target's ABI and applied to the target's hypervisor model;
 *   its response and state effect are compared with the recording and every difference is
 *   reported under a named class (IRIS-style replay of VM exits into another hypervisor).
 * - What-if: {@link replaySame} with `overrides` alters the result the guest sees for chosen
 *   events and lets it continue deterministically from there.
 *
 * @module
 */

import type { CpuHooks, ExitKind, TrapKind } from "../../core/cpu/hooks.ts";
import type { RunResult } from "../../core/machine.ts";
import { createBackend } from "../../backends/registry.ts";
import type { EventSink, StateKeyName, TraceEvent } from "../../vocabulary/event.ts";
import type { TraceHeader } from "../format/header.ts";
import { type Mismatch, ReplayChecker } from "./recorder.ts";
import { openSession, type Session } from "./session.ts";
import type { CrossDivergenceClass } from "../../vocabulary/divergence.ts";
import {
  type AbiCall,
  type CallModel,
  isUnsupported,
  type Unsupported,
} from "../../backends/model.ts";

/** A recorded event's result replaced in a what-if replay: `--set SEQ.ret=VALUE`. */
export interface Override {
  seq: number;
  ret: number;
}

/** Parses `SEQ.ret=VALUE` (VALUE decimal or 0x hex, may be negative). */
export function parseOverride(spec: string): Override {
  const m = /^(\d+)\.ret=(-?(?:0x[0-9a-fA-F]+|\d+))$/.exec(spec.trim());
  if (!m) throw new Error(`--set "${spec}": expected SEQ.ret=VALUE, e.g. 120.ret=0xffffffff`);
  const neg = m[2].startsWith("-");
  const mag = Number(neg ? m[2].slice(1) : m[2]);
  const value = neg ? -mag : mag;
  if (!Number.isSafeInteger(value) || value < -0x80000000 || value > 0xffffffff) {
    throw new Error(`--set "${spec}": value out of 32-bit range`);
  }
  return { seq: Number(m[1]), ret: value | 0 };
}

/** Options of {@link replaySame}. */
export interface SameReplayOptions {
  /** Events of context kept before a mismatch. */
  context?: number;
  /** What-if: results to alter. With overrides the run continues after the altered events. */
  overrides?: Override[];
  /** The initrd the header's `guest.initrd` names (a Linux boot), hash-checked by the caller. */
  initrd?: Uint8Array;
  /** Receives the re-executed events (e.g. a writer for `--out`). */
  tee?: EventSink;
  /** Instruction budget; default: the recording's (header `run.maxInsns`). */
  maxInsns?: number;
  onProgress?: (icount: number) => void;
  /** Polled between slices: true ends the replay early (reason "interrupted", no verdict). */
  interrupted?: () => boolean;
}

/** Outcome of {@link replaySame}. */
export interface SameReplayReport {
  /** Events compared equal before the first mismatch (or all of them). */
  checked: number;
  mismatch: Mismatch | null;
  result: RunResult;
  /** Events of the re-execution. */
  events: number;
  session: Session;
}

/** Instruction budget a replay uses when neither the caller nor the header gives one. */
export const DEFAULT_REPLAY_INSNS = 1_000_000_000;

/**
 * Re-executes `image` as recorded in `header` on the recording backend and compares the new
 * event stream with `recorded`. Stops at the first mismatch, unless `overrides` are given, in
 * which case the comparison is informative (the first difference is reported) and the guest runs
 * on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTrace } from "../format/reader.ts";
 * import { replaySame } from "./replay.ts";
 * const t = readTrace("traces/reference/pvkernel-2.6.22-boot-native_p6.pvt");
 * const image = await Deno.readFile("guests/images/pvkernel-2.6.22.elf");
 * const r = replaySame(t.header, t.events, image);
 * assert.equal(r.mismatch, null);
 * ```
 */
export function replaySame(
  header: TraceHeader,
  recorded: Iterable<TraceEvent>,
  image: Uint8Array,
  options: SameReplayOptions = {},
): SameReplayReport {
  const r = prepareSame(header, recorded, image, options);
  return r.finish(r.session.run(r.budget, r.runOptions));
}

/**
 * {@link replaySame} yielding to the host between slices (Ctrl-C; `options.interrupted`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTrace } from "../format/reader.ts";
 * import { replaySameAsync } from "./replay.ts";
 * const t = readTrace("traces/reference/pvkernel-2.6.22-halt-native_p6.pvt");
 * const image = await Deno.readFile("guests/images/pvkernel-2.6.22.elf");
 * const r = await replaySameAsync(t.header, t.events, image);
 * assert.equal(r.mismatch, null);
 * ```
 */
export async function replaySameAsync(
  header: TraceHeader,
  recorded: Iterable<TraceEvent>,
  image: Uint8Array,
  options: SameReplayOptions = {},
): Promise<SameReplayReport> {
  const r = prepareSame(header, recorded, image, options);
  return r.finish(await r.session.runAsync(r.budget, r.runOptions));
}

/** The session of a same-backend replay, its budget and how its report is made. */
function prepareSame(
  header: TraceHeader,
  recorded: Iterable<TraceEvent>,
  image: Uint8Array,
  options: SameReplayOptions,
) {
  const checker = new ReplayChecker(recorded, options.context ?? 5);
  const overrides = new Map((options.overrides ?? []).map((o) => [o.seq, o.ret]));
  const whatIf = overrides.size > 0;
  let pending: number | null = null;
  let count = 0;
  const sink: EventSink = {
    emit(ev) {
      const seq = count++;
      checker.emit(ev);
      options.tee?.emit(ev);
      const v = overrides.get(seq);
      if (v !== undefined) {
        if (ev.ret === null) {
          throw new Error(
            `--set ${seq}.ret: event ${seq} (${ev.kind} ${ev.name}) returns nothing to the guest`,
          );
        }
        pending = v;
      }
    },
  };
  // Polling runs pass through whole unless a what-if needs to see every event's seq.
  const tee = options.tee;
  if (!whatIf && (tee === undefined || tee.emitRepeat !== undefined)) {
    sink.emitRepeat = (n, step) => {
      count += n;
      checker.emitRepeat(n, step);
      tee?.emitRepeat?.(n, step);
    };
  }
  const session = openSession(sessionConfig(header, image, options.initrd), sink);
  if (whatIf) {
    session.machine.cpu.hooks = withOverride(session.backend, session, () => {
      const v = pending;
      pending = null;
      return v;
    });
  } else checker.onMismatch = () => session.machine.currentCpu.requestStop();
  return {
    session,
    budget: options.maxInsns ?? header.run?.maxInsns ?? DEFAULT_REPLAY_INSNS,
    runOptions: { onProgress: options.onProgress, interrupted: options.interrupted },
    finish(result: RunResult): SameReplayReport {
      if (!whatIf && result.reason !== "interrupted") checker.finish();
      return {
        checked: checker.checked,
        mismatch: checker.mismatch,
        result,
        events: count,
        session,
      };
    },
  };
}

/**
 * The session configuration that reproduces a recording; `initrd` is the ramdisk the header's
 * `guest.initrd` names (required when it names one).
 */
export function sessionConfig(header: TraceHeader, image: Uint8Array, initrd?: Uint8Array) {
  if (header.guest.initrd !== undefined && initrd === undefined) {
    throw new Error(`the trace was booted with initrd ${header.guest.initrd.name}; none given`);
  }
  return {
    image,
    imageName: header.guest.name,
    cmdline: header.guest.cmdline,
    ...(header.guest.initrd !== undefined ? { initrd, initrdName: header.guest.initrd.name } : {}),
    boot: header.boot ?? "multiboot",
    backend: `${header.backend.name}@${header.backend.profile}`,
    memMiB: header.machine.memMiB,
    serialInput: hexBytes(header.machine.serialInput),
    epoch: header.machine.epoch,
    ips: header.machine.ips,
    tscHz: header.machine.tscHz,
    apicHz: header.machine.apicHz,
    cpus: header.machine.cpus,
    ioapic: header.machine.ioapic,
    maxInsns: header.run?.maxInsns,
  };
}

/**
 * Wraps a backend's hooks so that, after the instruction whose event carried an override has
 * completed, EAX (the return register of every ABI modelled: IN data, RDMSR/RDTSC low word,
 * CPUID leaf EAX, hypercall result) holds the altered value.
 */
function withOverride(hooks: CpuHooks, session: Session, take: () => number | null): CpuHooks {
  const regs = session.machine.cpu.regs;
  const apply = () => {
    const v = take();
    if (v !== null) regs[0] = v;
  };
  return {
    onTrap(kind: TrapKind, vector: number, errorCode: number, eip: number, cr2: number) {
      hooks.onTrap(kind, vector, errorCode, eip, cr2);
    },
    onExit(kind: ExitKind, a: number, b: number, c: number) {
      hooks.onExit(kind, a, b, c);
      apply();
    },
    cpuid: (leaf, sub, out) => hooks.cpuid(leaf, sub, out),
    rdmsr: (index, out) => hooks.rdmsr(index, out),
    wrmsr: (index, lo, hi) => hooks.wrmsr(index, lo, hi),
    hypercall(kind) {
      const handled = hooks.hypercall(kind);
      apply();
      return handled;
    },
    softwareInterrupt(vector) {
      const handled = hooks.softwareInterrupt(vector);
      apply();
      return handled;
    },
    takeTrap: (kind, vector, errorCode) => hooks.takeTrap(kind, vector, errorCode),
  };
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cross-backend replay

/** One operation the target backend performs differently. */
export interface CrossDivergence {
  seq: number;
  icount: number;
  eip: number;
  op: string;
  opArgs: number[];
  class: CrossDivergenceClass;
  reason: string;
  /** The recorded ABI record. */
  recorded: { name: string; nr: number; args: number[]; ret: number | null };
  /** The target's ABI call, or null when it cannot express the operation. */
  target: { name: string; nr: number; args: number[]; ret: number | null } | null;
}

/** Per-operation counts of a cross replay. */
export interface CrossOpSummary {
  op: string;
  count: number;
  /** Divergences by class. */
  classes: Partial<Record<CrossDivergenceClass, number>>;
  /** Target ABI calls used (name -> count). */
  targetCalls: Record<string, number>;
}

/** Outcome of {@link replayCross}. */
export interface CrossReport {
  source: string;
  target: string;
  /** Canonical operations replayed. */
  operations: number;
  divergences: CrossDivergence[];
  summary: CrossOpSummary[];
}

/**
 * Replays the canonical operations of a recording against `targetSpec`'s hypervisor model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTrace } from "../format/reader.ts";
 * import { replayCross } from "./replay.ts";
 * const t = readTrace("traces/reference/pvkernel-2.6.22-timer-native_p6.pvt");
 * const r = replayCross(t.header, t.events, "kvm");
 * assert.ok(r.operations > 0);
 * ```
 */
export function replayCross(
  header: TraceHeader,
  recorded: Iterable<TraceEvent>,
  targetSpec: string,
  options: { maxDivergences?: number } = {},
): CrossReport {
  const env = { epoch: header.machine.epoch, tscHz: header.machine.tscHz };
  const source = createBackend(`${header.backend.name}@${header.backend.profile}`).model(env);
  const targetBackend = createBackend(targetSpec);
  const target = targetBackend.model(env);
  const limit = options.maxDivergences ?? Number.POSITIVE_INFINITY;
  const divergences: CrossDivergence[] = [];
  const byOp = new Map<string, CrossOpSummary>();
  let operations = 0;
  const nsPerInsn = 1e9 / header.machine.ips;
  for (const ev of recorded) {
    if (ev.op === null) continue;
    operations++;
    let s = byOp.get(ev.op);
    if (!s) byOp.set(ev.op, s = { op: ev.op, count: 0, classes: {}, targetCalls: {} });
    const summary = s;
    summary.count++;
    const recordedAbi = { name: ev.name, nr: ev.nr, args: ev.args, ret: ev.ret };
    const report = (cls: CrossDivergenceClass, reason: string, t: CrossDivergence["target"]) => {
      summary.classes[cls] = (summary.classes[cls] ?? 0) + 1;
      if (divergences.length < limit) {
        divergences.push({
          seq: ev.seq,
          icount: ev.icount,
          eip: ev.eip,
          op: ev.op!,
          opArgs: ev.opArgs,
          class: cls,
          reason,
          recorded: recordedAbi,
          target: t,
        });
      }
    };
    const nowNs = Math.floor(ev.icount * nsPerInsn);
    // Both models see the same operation from the same state: what differs is the ABI.
    const srcCall = translateSafely(source, ev.op, ev.opArgs);
    const tgtCall = translateSafely(target, ev.op, ev.opArgs);
    if (isUnsupported(tgtCall)) {
      if (!isUnsupported(srcCall)) report(tgtCall.class, tgtCall.reason, null);
    } else {
      summary.targetCalls[tgtCall.name] = (summary.targetCalls[tgtCall.name] ?? 0) + 1;
      const tgt = target.apply(tgtCall, nowNs);
      const t = { name: tgtCall.name, nr: tgtCall.nr, args: tgtCall.args, ret: tgt.ret };
      const srcNotes = isUnsupported(srcCall)
        ? new Set<string>()
        : new Set(srcCall.notes.map((n) => `${n.class}:${n.reason}`));
      for (const note of tgtCall.notes) {
        if (!srcNotes.has(`${note.class}:${note.reason}`)) report(note.class, note.reason, t);
      }
      // A trap or stop the source took that the target does not take is a divergence too.
      if (!isUnsupported(srcCall)) {
        const tgtNotes = new Set(tgtCall.notes.map((n) => `${n.class}:${n.reason}`));
        for (const note of srcCall.notes) {
          if (
            (note.class === "trap" || note.class === "fatal") &&
            !tgtNotes.has(`${note.class}:${note.reason}`)
          ) {
            report(
              note.class,
              `${source.backend}@${source.version}: ${note.reason}; not on the target`,
              t,
            );
          }
        }
      }
      if (!isUnsupported(srcCall)) {
        const src = source.apply(srcCall, nowNs);
        if (src.ret !== null && tgt.ret !== null && (src.ret | 0) !== (tgt.ret | 0)) {
          report(
            "different-result",
            `${source.backend}@${source.version} answers ${hex(src.ret)}, ` +
              `${target.backend}@${target.version} answers ${hex(tgt.ret)}`,
            t,
          );
        }
        const stateDiff = compareState(src.state, tgt.state);
        if (stateDiff) report("different-state", stateDiff, t);
      }
    }
    // Then both models follow what really happened, so one difference does not cascade.
    for (const [k, v] of ev.state) {
      source.state.regs[k] = v;
      target.state.regs[k] = v;
    }
  }
  return {
    source: `${source.backend}@${source.version}`,
    target: `${targetBackend.name}@${targetBackend.version}`,
    operations,
    divergences,
    summary: [...byOp.values()].sort((a, b) => a.op < b.op ? -1 : a.op > b.op ? 1 : 0),
  };
}

function translateSafely(model: CallModel, op: string, args: number[]): AbiCall | Unsupported {
  try {
    return model.translate(op, args);
  } catch (e) {
    return { op, unsupported: true, class: "unsupported", reason: (e as Error).message };
  }
}

/** Describes how two state-effect lists differ on the keys both record, or null. */
function compareState(
  recorded: Array<[StateKeyName, number]>,
  target: Array<[StateKeyName, number]>,
): string | null {
  const t = new Map(target);
  const r = new Map(recorded);
  const parts: string[] = [];
  for (const [k, v] of recorded) {
    if (!t.has(k)) parts.push(`${k} set to ${hex(v)} by the recording, untouched by the target`);
    else if ((t.get(k)! | 0) !== (v | 0)) {
      parts.push(`${k} ${hex(v)} recorded, ${hex(t.get(k)!)} on target`);
    }
  }
  for (const [k, v] of target) {
    if (!r.has(k)) parts.push(`target also sets ${k} to ${hex(v)}`);
  }
  return parts.length ? parts.join("; ") : null;
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}
