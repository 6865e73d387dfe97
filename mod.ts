/**
 * pvreplay: a deterministic i386 PC emulator that records every hypercall and trap a guest
 * kernel makes under a hypervisor ABI (native, KVM, ...), replays the trace on the same backend
 * (determinism proof) and against other backends, and diffs traces operation by operation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openSession, Recorder, type TraceEvent } from "./mod.ts";
 * const image = await Deno.readFile("guests/images/pvkernel-2.6.22.elf");
 * const events: TraceEvent[] = [];
 * const session = openSession(
 *   { image, imageName: "pvkernel-2.6.22.elf", cmdline: "scenario=timer", backend: "kvm" },
 *   new Recorder({ append: (e) => events.push(e) }),
 * );
 * const result = session.run(400_000_000);
 * assert.equal(result.reason, "debug-exit");
 * assert.ok(events.some((e) => e.op === "set_timer"));
 * ```
 *
 * @module
 */

// The machine
export { VirtualClock } from "./core/clock.ts";
export { IoBus } from "./core/bus.ts";
export type {
  AccessSize,
  InterruptController,
  IrqLine,
  MmioDevice,
  PortDevice,
} from "./core/bus.ts";
export { PhysicalMemory } from "./core/memory.ts";
export { Cpu } from "./core/cpu/cpu.ts";
export type { CpuOptions, CpuSnapshot, StopReason } from "./core/cpu/cpu.ts";
export { ExitKind, NATIVE_HOOKS, TrapKind } from "./core/cpu/hooks.ts";
export type { CpuHooks } from "./core/cpu/hooks.ts";
export { Machine } from "./core/machine.ts";
export type { MachineConfig, RunReason, RunResult } from "./core/machine.ts";
export { encodeSnapshot, restoreSnapshot } from "./core/snapshot.ts";
export * from "./core/exit_status.ts";
export { ImageError } from "./core/loaders/image_error.ts";
export { loadElf, parseElf, SymbolTable } from "./core/loaders/elf.ts";
export { loadMultiboot } from "./core/loaders/multiboot.ts";

// Backends
export { createBackend, listBackends, parseBackendSpec } from "./backends/registry.ts";
export type { Backend, BackendContext, BackendSpec } from "./backends/backend.ts";

// Traces
export { EventKind, makeEvent, StateKey } from "./vocabulary/event.ts";
export type { EventSink, TraceEvent } from "./vocabulary/event.ts";
export type { TraceHeader } from "./traces/format/header.ts";
export { checkReplayable } from "./traces/format/header.ts";
export { TraceWriter } from "./traces/format/writer.ts";
export { readTrace, TraceReader } from "./traces/format/reader.ts";
export { TraceFormatError } from "./traces/format/format.ts";
export { isBundle, openBundle, readManifest, writeBundle } from "./traces/format/bundle.ts";
export type { Bundle, BundleFile, BundleManifest } from "./traces/format/bundle.ts";
export { Recorder, ReplayChecker } from "./traces/session/recorder.ts";
export { openSession } from "./traces/session/session.ts";
export type { Session, SessionConfig } from "./traces/session/session.ts";
export { replayCross, replaySame } from "./traces/session/replay.ts";
export { diffTraces } from "./traces/analysis/diff.ts";
export { recordCase, SCENARIOS, suiteCase, VARIANTS } from "./traces/session/suite.ts";
export { runCell, vdsoRow, vdsoRowAsync } from "./traces/session/matrix.ts";
export {
  EQUIVALENT_CLASSES,
  matrixRows,
  mergeDocuments,
  runRow,
} from "./traces/session/matrix_status.ts";
export type {
  CellStatus,
  MatrixDocument,
  MatrixRow,
  StatusCell,
} from "./traces/session/matrix_status.ts";
export { runRows } from "./traces/session/matrix_pool.ts";
