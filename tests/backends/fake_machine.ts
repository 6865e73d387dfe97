/**
 * Test harness: a fake CPU (no paging, flat segments) over real memory, bus and clock, with a
 * backend attached and its events collected.
 *
 * @module
 */

import { type AccessSize, IoBus } from "../../core/bus.ts";
import { ExitKind } from "../../core/cpu/hooks.ts";
import { VirtualClock } from "../../core/clock.ts";
import { PhysicalMemory } from "../../core/memory.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";
import type { Backend, BackendContext, CpuLike } from "../../backends/backend.ts";
import { createBackend } from "../../backends/registry.ts";

/** A CPU stand-in: registers only; linear = physical. */
export class FakeCpu implements CpuLike {
  regs = new Int32Array(8);
  eip = 0x1000;
  eflags = 0x2;
  cr0 = 0x11;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  cpl = 0;
  segBase = new Int32Array(8);
  gdtrBase = 0;
  getEflags(): number {
    return this.eflags;
  }
  translate(lin: number): number {
    return lin >>> 0;
  }
  requestStop(): void {
    // Stopping is a Machine outcome (tests/machine/run_control_test.ts); a fake CPU never runs.
  }
}

/**
 * The port bus as the guest reaches it: each access also reports the CPU's ioIn/ioOut exit,
 * which is where backends record port I/O (the real CPU does this in IN/OUT).
 */
class GuestIoBus extends IoBus {
  backend: Backend | null = null;
  override read(port: number, size: AccessSize): number {
    const v = super.read(port, size);
    this.backend?.onExit(ExitKind.ioIn, port & 0xffff, size, v);
    return v;
  }
  override write(port: number, size: AccessSize, value: number): void {
    super.write(port, size, value);
    this.backend?.onExit(ExitKind.ioOut, port & 0xffff, size, value);
  }
}

/** A machine with `backend` attached. */
export interface Rig {
  backend: Backend;
  cpu: FakeCpu;
  memory: PhysicalMemory;
  io: IoBus;
  clock: VirtualClock;
  events: Array<Omit<TraceEvent, "seq">>;
  ctx: BackendContext;
  /** Advances the clock and EIP as if `n` instructions retired. */
  step(n?: number, bytes?: number): void;
}

/** Builds a rig for `spec` (e.g. "kvm@2.6.25"). */
export function rig(spec: string, extra: Partial<BackendContext> = {}, tscHz?: number): Rig {
  const backend = createBackend(spec);
  const cpu = new FakeCpu();
  const memory = new PhysicalMemory({ size: 1 << 20 });
  const io = new GuestIoBus();
  io.backend = backend;
  const clock = new VirtualClock(tscHz ? { tscHz } : {});
  const events: Array<Omit<TraceEvent, "seq">> = [];
  const ctx: BackendContext = {
    cpu,
    memory,
    io,
    clock,
    sink: { emit: (e) => events.push(e) },
    ...extra,
  };
  backend.attach(ctx);
  return {
    backend,
    cpu,
    memory,
    io,
    clock,
    events,
    ctx,
    step(n = 1, bytes = 1) {
      clock.icount += n;
      cpu.eip += bytes;
    },
  };
}

/** Canonical ops of the collected events, in order (nulls dropped). */
export function ops(events: ReadonlyArray<Omit<TraceEvent, "seq">>): string[] {
  return events.map((e) => e.op).filter((o): o is string => o !== null);
}
