/**
 * Seeded synthetic event streams shaped like a booting paravirtualised guest (serial polling
 * loops, timer interrupts with PIC EOI, page faults, CR3 writes, IF toggles, timer hypercalls),
 * for tests and benchmarks of the trace format. Test-only: uses a seeded PRNG.
 *
 * @module
 */

import type { TraceEvent } from "../../vocabulary/event.ts";
import type { TraceHeader } from "../../traces/format/header.ts";

/** mulberry32: small seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A valid header for tests. */
export function testHeader(overrides: Partial<TraceHeader> = {}): TraceHeader {
  return {
    toolVersion: "0.1.0",
    guest: { name: "hello", sha256: "ab".repeat(32), cmdline: "console=ttyS0" },
    backend: { name: "xen", profile: "3.1" },
    machine: {
      memMiB: 64,
      ips: 100_000_000,
      tscHz: 100_000_000,
      apicHz: 100_000_000,
      epoch: 1_180_000_000,
      serialInput: "",
    },
    cpu: {
      cpuid: [
        { leaf: 0, subleaf: 0, eax: 2, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 },
        { leaf: 1, subleaf: 0, eax: 0x6f6, ebx: 0, ecx: 0, edx: 0x0781abfd },
      ],
    },
    seed: 1,
    quirks: [],
    ...overrides,
  };
}

function base(seq: number, icount: number): TraceEvent {
  return {
    seq,
    icount,
    vcpu: 0,
    kind: "io",
    nr: -1,
    name: "",
    args: [],
    ret: null,
    vector: null,
    errorCode: null,
    cr2: null,
    eip: 0,
    op: null,
    opArgs: [],
    state: [],
  };
}

/** `n` events of a synthetic guest run, deterministic for a given seed. */
export function* syntheticEvents(n: number, seed = 1): Generator<TraceEvent> {
  const rnd = mulberry32(seed);
  const int = (k: number) => Math.floor(rnd() * k);
  let icount = 1000;
  let seq = 0;
  let nextTimer = 50_000;
  const text = "Linux version 2.6.22 (gcc 4.1) #1 SMP\nConsole: colour dummy device 80x25\n";
  let tp = 0;
  while (seq < n) {
    if (icount >= nextTimer) {
      // Timer interrupt, handler re-arms the timer by hypercall, EOI to the PIC, IF back on.
      const e = base(seq++, icount);
      e.kind = "interrupt";
      e.nr = 0x20;
      e.name = "irq0";
      e.vector = 0x20;
      e.eip = 0xc0101000 + int(64) * 4;
      e.state = [["IF", 0]];
      yield e;
      if (seq >= n) return;
      icount += 40 + int(20);
      const ns = nextTimer * 10 + 10_000_000;
      const h = base(seq++, icount);
      h.kind = "hypercall";
      h.nr = 15;
      h.name = "set_timer_op";
      h.args = [ns % 0x100000000, Math.floor(ns / 0x100000000)];
      h.ret = 0;
      h.eip = 0xc0102345;
      h.op = "set_timer";
      h.opArgs = [ns];
      h.state = [["TIMER", ns]];
      yield h;
      if (seq >= n) return;
      icount += 30 + int(10);
      const o = base(seq++, icount);
      o.nr = 0x20;
      o.name = "out";
      o.args = [0x20, 1, 0x20];
      o.eip = 0xc0105010;
      yield o;
      if (seq >= n) return;
      icount += 12;
      const s = base(seq++, icount);
      s.kind = "exit";
      s.nr = 1;
      s.name = "sti";
      s.eip = 0xc0101180;
      s.op = "irq_enable";
      s.state = [["IF", 1]];
      yield s;
      nextTimer += 1_000_000;
      continue;
    }
    const r = rnd();
    if (r < 0.7) {
      // Serial polling: in LSR until THRE, then out the character.
      const polls = 1 + int(3);
      for (let i = 0; i < polls && seq < n; i++) {
        icount += 8 + int(4);
        const e = base(seq++, icount);
        e.nr = 0x3fd;
        e.name = "in";
        e.args = [0x3fd, 1];
        e.ret = i === polls - 1 ? 0x60 : 0x00;
        e.eip = 0xc01f0a12;
        yield e;
      }
      if (seq >= n) return;
      icount += 6;
      const ch = text.charCodeAt(tp++ % text.length);
      const o = base(seq++, icount);
      o.nr = 0x3f8;
      o.name = "out";
      o.args = [0x3f8, 1, ch];
      o.eip = 0xc01f0a30;
      yield o;
    } else if (r < 0.8) {
      icount += 100 + int(2000);
      const e = base(seq++, icount);
      e.kind = "exception";
      e.nr = 14;
      e.name = "page_fault";
      e.vector = 14;
      e.errorCode = int(8);
      e.cr2 = (0xc0400000 + int(4096) * 4096) >>> 0;
      e.eip = 0xc0110000 + int(256) * 16;
      yield e;
    } else if (r < 0.9) {
      icount += 20 + int(200);
      const on = rnd() < 0.5;
      const e = base(seq++, icount);
      e.kind = "exit";
      e.nr = on ? 1 : 0;
      e.name = on ? "sti" : "cli";
      e.eip = 0xc0101170 + (on ? 16 : 0);
      e.op = on ? "irq_enable" : "irq_disable";
      e.state = [["IF", on ? 1 : 0]];
      yield e;
    } else {
      icount += 500 + int(5000);
      const frame = 0x1000 + int(64);
      const e = base(seq++, icount);
      e.kind = "exit";
      e.nr = 4;
      e.name = "CR_WRITE";
      e.args = [3, frame * 4096];
      e.eip = 0xc0113456;
      e.op = "write_cr3";
      e.opArgs = [frame];
      e.state = [["CR3", frame * 4096]];
      yield e;
    }
  }
}

/**
 * `n` port polls like Linux's PIT calibration loop (`in` from port 0x61): one shape, only
 * icount and the data byte change. The bulk of the `clock` scenario's events.
 */
export function* portPolls(n: number): Generator<TraceEvent> {
  for (let seq = 0; seq < n; seq++) {
    yield {
      seq,
      icount: 1000 + 41 * seq + (seq % 3),
      vcpu: 0,
      kind: "io",
      nr: 0x61,
      name: "in",
      args: [0x61, 1],
      ret: seq % 97 < 50 ? 0x20 : 0x00,
      vector: null,
      errorCode: null,
      cr2: null,
      eip: 0xc0105a2b,
      op: null,
      opArgs: [],
      state: [],
    };
  }
}

/**
 * `events` with runs of exact repetitions spliced in after random events (a guest polling a
 * port whose value does not change), renumbered: runs of 2..`maxRun`, a constant icount step
 * within a run, sometimes a second run of the same event at another step. Deterministic for a
 * seed.
 */
export function withPollingRuns(
  events: Iterable<TraceEvent>,
  seed = 1,
  maxRun = 300,
): TraceEvent[] {
  const rnd = mulberry32(seed);
  const int = (k: number) => Math.floor(rnd() * k);
  const out: TraceEvent[] = [];
  let shift = 0;
  const push = (e: TraceEvent, icount: number) => out.push({ ...e, seq: out.length, icount });
  for (const e of events) {
    push(e, e.icount + shift);
    if (rnd() < 0.85) continue;
    for (let runs = 1 + int(2); runs > 0; runs--) {
      const step = 1 + int(12);
      for (let k = 2 + int(maxRun - 1); k > 0; k--) {
        shift += step;
        push(e, e.icount + shift);
      }
    }
  }
  return out;
}
