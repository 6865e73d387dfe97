/**
 * Intel 8254 programmable interval timer (ports 0x40-0x43) and the PC/AT system control port B
 * (0x61: channel 2 gate, speaker enable, refresh toggle, channel 2 output).
 *
 * Behaviour follows the Intel 8254 datasheet (order no. 231164): six counting modes, binary and
 * BCD counting, LSB/MSB/LSB-then-MSB access, the counter-latch command and the read-back
 * command with status byte. Counters are not stepped: each channel's count and OUT level are a
 * pure function of the PIT clock (1 193 182 Hz) derived from the virtual clock, and channel 0's
 * OUT transitions are scheduled as clock events that drive IRQ0.
 *
 * Modelling choices (the datasheet's timing at the resolution of one PIT clock):
 * - a count written is loaded into the counting element on the next CLK pulse (datasheet:
 *   "the count is loaded on the next CLK pulse"), so mode 0's OUT rises N+1 clocks after the
 *   write, as specified;
 * - in modes 2 and 3 a new count written while counting takes effect at the end of the current
 *   period (datasheet mode 2/3 descriptions; QEMU reloads immediately);
 * - a count of 1 in modes 2 and 3 (illegal per datasheet) behaves as 2.
 *
 * @module
 */

import type { AccessSize, IrqLine, PortDevice } from "../bus.ts";
import type { VirtualClock } from "../clock.ts";
import type { Stateful } from "./stateful.ts";

/** PIT input clock: 14.31818 MHz / 12 (IBM PC/AT technical reference). */
export const PIT_HZ = 1_193_182;

/** Serialised state of one counter. */
export interface PitChannelState {
  mode: number;
  access: number;
  bcd: boolean;
  /** Count register as loaded (0 means 65536 / 10000). */
  count: number;
  /** PIT tick at which the counting element was (or will be) loaded; -1 = not counting. */
  loadTick: number;
  /** Value held while the gate stops counting (modes 0 and 4), else -1. */
  frozen: number;
  gate: boolean;
  /** Write flip-flop for LSB-then-MSB: true after the LSB. */
  writeHigh: boolean;
  writeLow: number;
  /** Read flip-flop for LSB-then-MSB. */
  readHigh: boolean;
  latched: number;
  latchedBytes: number;
  status: number;
  statusLatched: boolean;
  /** Count written during counting in modes 2/3, loaded at the end of the period; -1 none. */
  pendingCount: number;
}

/** Serialised PIT + port 0x61 state. */
export interface PitState {
  channels: PitChannelState[];
  speakerData: boolean;
  /** Absolute instruction count of the scheduled channel-0 OUT transition, or -1. */
  deadline: number;
  out0: boolean;
}

/**
 * Power-on state of a counter. The datasheet leaves mode, count and OUT undefined; this model
 * starts in mode 3, not counting, OUT high (so the first control word makes no spurious edge).
 */
function newChannel(gate: boolean): PitChannelState {
  return {
    mode: 3,
    access: 3,
    bcd: false,
    count: 0,
    loadTick: -1,
    frozen: -1,
    gate,
    writeHigh: false,
    writeLow: 0,
    readHigh: false,
    latched: 0,
    latchedBytes: 0,
    status: 0,
    statusLatched: false,
    pendingCount: -1,
  };
}

function toBcd(v: number): number {
  return (v % 10) | (Math.floor(v / 10) % 10) << 4 | (Math.floor(v / 100) % 10) << 8 |
    (Math.floor(v / 1000) % 10) << 12;
}

function fromBcd(v: number): number {
  return (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 + ((v >> 12) & 0xf) * 1000;
}

/** Modes 6 and 7 are aliases of 2 and 3 (datasheet control word format). */
function normMode(m: number): number {
  return m > 5 ? m - 4 : m;
}

/**
 * The 8254 with channel 0 wired to IRQ0, channel 2 to the speaker/port 0x61.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Pit } from "./pit.ts";
 * import { VirtualClock } from "../clock.ts";
 * const clock = new VirtualClock();
 * const irqs: boolean[] = [];
 * const pit = new Pit(clock, { setIrq: (_n, level) => irqs.push(level) });
 * pit.portWrite(0x43, 1, 0x34); // channel 0, lobyte/hibyte, mode 2
 * pit.portWrite(0x40, 1, 0x9c);
 * pit.portWrite(0x40, 1, 0x2e); // 11932: 100 Hz
 * clock.icount = clock.nextDeadline;
 * clock.fireDue();
 * assert.ok(irqs.length > 0);
 * ```
 */
export class Pit implements PortDevice, Stateful<PitState> {
  #ch: PitChannelState[] = [newChannel(true), newChannel(true), newChannel(false)];
  #speakerData = false;
  #deadline = -1;
  #timer = 0;
  /** Channel 0 OUT as last driven onto IRQ0. */
  #out0 = true;

  constructor(readonly clock: VirtualClock, readonly irq: IrqLine, readonly irqNumber = 0) {}

  #now(): number {
    return this.clock.ticksAt(PIT_HZ);
  }

  /** Effective divisor of a count register value. */
  #modulus(c: PitChannelState): number {
    const n = c.count === 0 ? (c.bcd ? 10000 : 0x10000) : c.count;
    return (c.mode === 2 || c.mode === 3) && n === 1 ? 2 : n;
  }

  /** Loads a pending modes-2/3 count if its period boundary has passed. */
  #settle(c: PitChannelState, now: number): void {
    if (c.pendingCount < 0 || c.loadTick < 0 || now < c.loadTick) return;
    const n = this.#modulus(c);
    const boundary = c.loadTick + Math.max(1, Math.ceil((now - c.loadTick) / n)) * n;
    if (boundary > now) return;
    c.loadTick = boundary;
    c.count = c.pendingCount;
    c.pendingCount = -1;
  }

  /** Counting-element value and OUT level at PIT tick `now`. */
  #sample(c: PitChannelState, now: number): { value: number; out: boolean } {
    const n = this.#modulus(c);
    const wrap = c.bcd ? 10000 : 0x10000;
    if (c.frozen >= 0) return { value: c.frozen, out: c.mode !== 0 };
    if (c.loadTick < 0 || now < c.loadTick) {
      // Control word written, count not loaded yet: OUT at its initial level (low only in mode 0).
      return { value: c.count, out: c.mode !== 0 };
    }
    const d = now - c.loadTick;
    switch (c.mode) {
      case 0: // interrupt on terminal count: OUT rises when the count reaches 0, counting goes on
        return { value: ((n - d) % wrap + wrap) % wrap, out: d >= n };
      case 1: // hardware one-shot: OUT low from trigger until terminal count
        return { value: ((n - d) % wrap + wrap) % wrap, out: d >= n };
      case 2: { // rate generator: OUT low for the clock where the count is 1
        const v = n - (d % n);
        return { value: v % wrap, out: v !== 1 };
      }
      case 3: { // square wave: high for ceil(N/2), low for floor(N/2); decrements by 2
        const phase = d % n;
        const high = Math.ceil(n / 2);
        const v = phase < high ? n - 2 * phase : n - 2 * (phase - high);
        return { value: (v > 0 ? v : v + n) % wrap, out: phase < high };
      }
      default: { // 4, 5: strobe: OUT low for one clock at terminal count
        return { value: ((n - d) % wrap + wrap) % wrap, out: d !== n };
      }
    }
  }

  /** Ticks (absolute) of the next OUT transition strictly after `now`, or -1. */
  #nextTransition(c: PitChannelState, now: number): number {
    if (c.frozen >= 0 || c.loadTick < 0) return -1;
    if (now < c.loadTick) {
      return c.mode === 0 ? c.loadTick + this.#modulus(c) : this.#nextTransition(c, c.loadTick);
    }
    const n = this.#modulus(c);
    const d = now - c.loadTick;
    const base = c.loadTick;
    switch (c.mode) {
      case 0:
      case 1:
        return d < n ? base + n : -1;
      case 2: {
        const k = Math.floor(d / n) * n;
        return base + (d < k + n - 1 ? k + n - 1 : k + n);
      }
      case 3: {
        const k = Math.floor(d / n) * n;
        const high = Math.ceil(n / 2);
        return base + (d < k + high ? k + high : k + n);
      }
      default:
        return d < n ? base + n : d < n + 1 ? base + n + 1 : -1;
    }
  }

  /** Re-evaluates channel 0's OUT and schedules its next transition. */
  #update0(): void {
    const c = this.#ch[0];
    const now = this.#now();
    this.#settle(c, now);
    const out = this.#sample(c, now).out;
    if (out !== this.#out0) {
      this.#out0 = out;
      this.irq.setIrq(this.irqNumber, out);
    }
    if (this.#deadline >= 0) this.clock.cancel(this.#timer);
    this.#deadline = -1;
    const next = this.#nextTransition(c, now);
    if (next >= 0) this.#arm(this.clock.icountAtTicks(next, PIT_HZ));
  }

  #arm(at: number): void {
    this.#deadline = Math.max(at, this.clock.icount + 1);
    this.#timer = this.clock.schedule(this.#deadline, () => {
      this.#deadline = -1;
      this.#update0();
    });
  }

  #changed(i: number): void {
    if (i === 0) this.#update0();
  }

  #readCounter(c: PitChannelState): number {
    const now = this.#now();
    this.#settle(c, now);
    const v = this.#sample(c, now).value;
    return c.bcd ? toBcd(v) : v;
  }

  #latch(c: PitChannelState): void {
    if (c.latchedBytes > 0) return; // datasheet: further latches ignored until read
    c.latched = this.#readCounter(c);
    c.latchedBytes = c.access === 3 ? 2 : 1;
    c.readHigh = c.access === 2;
  }

  #controlWord(v: number): void {
    const sel = v >> 6;
    if (sel === 3) { // read-back command
      for (let i = 0; i < 3; i++) {
        if (!(v & (2 << i))) continue;
        const c = this.#ch[i];
        if (!(v & 0x10) && !c.statusLatched) {
          const now = this.#now();
          this.#settle(c, now);
          const out = this.#sample(c, now).out;
          const nullCount = c.loadTick < 0 || now < c.loadTick || c.pendingCount >= 0;
          c.status = (out ? 0x80 : 0) | (nullCount ? 0x40 : 0) | (c.access << 4) |
            (c.mode << 1) | (c.bcd ? 1 : 0);
          c.statusLatched = true;
        }
        if (!(v & 0x20)) this.#latch(c);
      }
      return;
    }
    const c = this.#ch[sel];
    const access = (v >> 4) & 3;
    if (access === 0) {
      this.#latch(c);
      return;
    }
    // New control word: the counter stops until a count is written; OUT to its initial level.
    c.access = access;
    c.mode = normMode((v >> 1) & 7);
    c.bcd = (v & 1) !== 0;
    c.loadTick = -1;
    c.frozen = -1;
    c.pendingCount = -1;
    c.writeHigh = false;
    c.readHigh = access === 2;
    c.latchedBytes = 0;
    c.statusLatched = false;
    this.#changed(sel);
  }

  #writeCount(i: number, v: number): void {
    const c = this.#ch[i];
    let count: number;
    if (c.access === 1) count = v;
    else if (c.access === 2) count = v << 8;
    else if (!c.writeHigh) {
      c.writeLow = v;
      c.writeHigh = true;
      if (c.mode === 0) { // datasheet mode 0: writing the first byte stops the count, OUT low
        c.frozen = this.#sample(c, this.#now()).value;
        this.#changed(i);
      }
      return;
    } else {
      count = c.writeLow | (v << 8);
      c.writeHigh = false;
    }
    if (c.bcd) count = fromBcd(count);
    const now = this.#now();
    this.#settle(c, now);
    const running = c.loadTick >= 0 && now >= c.loadTick && c.frozen < 0;
    if ((c.mode === 2 || c.mode === 3) && running) {
      c.pendingCount = count;
    } else {
      c.count = count;
      c.frozen = -1;
      // Modes 1 and 5 wait for a gate trigger; the others start on the next CLK (if gated on).
      c.loadTick = c.mode === 1 || c.mode === 5 ? -1 : now + 1;
      if (!c.gate && c.mode !== 1 && c.mode !== 5) c.frozen = c.count;
    }
    this.#changed(i);
  }

  /** Gate input (only channel 2's is wired, to port 0x61 bit 0). */
  #setGate(i: number, gate: boolean): void {
    const c = this.#ch[i];
    if (gate === c.gate) return;
    const now = this.#now();
    this.#settle(c, now);
    c.gate = gate;
    if (gate) {
      // Rising edge: modes 1, 2, 3, 5 (re)trigger; modes 0, 4 resume counting.
      if (c.mode === 0 || c.mode === 4) {
        if (c.frozen >= 0 && c.loadTick >= 0) {
          c.loadTick = now + 1 - (this.#modulus(c) - c.frozen);
          c.frozen = -1;
        } else if (c.frozen >= 0) c.frozen = -1;
      } else {
        c.frozen = -1;
        c.loadTick = now + 1;
      }
    } else if (c.mode === 0 || c.mode === 4 || c.mode === 2 || c.mode === 3) {
      // Gate low suspends counting (modes 2/3 also force OUT high: sampled as frozen).
      if (c.loadTick >= 0) c.frozen = this.#sample(c, now).value;
    }
    this.#changed(i);
  }

  portRead(port: number, _size: AccessSize): number {
    if (port === 0x61) {
      const c2 = this.#ch[2];
      const out2 = this.#sample(c2, this.#now()).out;
      // Bit 4 toggles with each DRAM refresh request (every 15.085 us, channel 1's usual
      // period on the AT); derived from virtual time.
      const refresh = Math.floor(this.clock.nanos() / 15085) & 1;
      return (c2.gate ? 1 : 0) | (this.#speakerData ? 2 : 0) | (refresh << 4) |
        (out2 ? 0x20 : 0);
    }
    if (port === 0x43) return 0xff; // control word register is write-only
    const c = this.#ch[port - 0x40];
    if (c.statusLatched) {
      c.statusLatched = false;
      return c.status;
    }
    const value = c.latchedBytes > 0 ? c.latched : this.#readCounter(c);
    let byte: number;
    if (c.access === 1) byte = value & 0xff;
    else if (c.access === 2) byte = (value >> 8) & 0xff;
    else {
      byte = c.readHigh ? (value >> 8) & 0xff : value & 0xff;
      c.readHigh = !c.readHigh;
      if (c.latchedBytes > 0 && !c.readHigh) c.latchedBytes = 0;
      return byte;
    }
    c.latchedBytes = 0;
    return byte;
  }

  portWrite(port: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (port === 0x61) {
      this.#speakerData = (value & 2) !== 0;
      this.#setGate(2, (value & 1) !== 0);
    } else if (port === 0x43) this.#controlWord(value);
    else this.#writeCount(port - 0x40, value);
  }

  saveState(): PitState {
    return {
      channels: this.#ch.map((c) => ({ ...c })),
      speakerData: this.#speakerData,
      deadline: this.#deadline,
      out0: this.#out0,
    };
  }

  loadState(s: PitState): void {
    this.#ch = s.channels.map((c) => ({ ...c }));
    this.#speakerData = s.speakerData;
    this.#out0 = s.out0;
    this.#deadline = -1;
    if (s.deadline >= 0) this.#arm(s.deadline);
  }
}
