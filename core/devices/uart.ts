/**
 * National Semiconductor PC16550D UART (COM1: ports 0x3F8-0x3FF, IRQ4 on the PC).
 *
 * Registers and interrupt priorities follow the PC16550D datasheet (RBR/THR, IER, IIR/FCR, LCR
 * with the DLAB divisor latch, MCR with loopback, LSR, MSR, SCR; 16-byte receive FIFO with
 * trigger levels 1/4/8/14 and the character-timeout indication).
 *
 * Deterministic line model (documented behaviour of this emulator):
 * - Transmission is instantaneous: a THR write reaches the output sink at once, THRE/TEMT stay
 *   set, and a THRE interrupt is re-signalled as a fresh edge (the line drops, then rises), as a
 *   real UART does one character time later.
 * - Scripted input arrives one character at a time at the line rate set by the divisor latch
 *   and LCR (start + data + parity + stop bits at 1 843 200 / 16 / divisor baud), converted to
 *   instructions by the virtual clock; the first character is on the line from power-on, and a
 *   change of divisor or frame format restarts the character in flight at the new rate. The sender obeys perfect flow control: while the receive
 *   FIFO (or RBR without FIFO) is full, or the UART is in loopback, the stream waits; nothing
 *   is ever lost, so a run's input is independent of how fast the guest reads.
 * - On the PC the INTRPT pin reaches the PIC through a buffer enabled by OUT2 (IBM PC/AT
 *   technical reference, asynchronous communications adapter); in loopback OUT2 is forced
 *   inactive (datasheet), so no IRQ is raised then. `gateIrqWithOut2: false` disables this
 *   gating (as QEMU's model does).
 *
 * @module
 */

import type { AccessSize, IrqLine, PortDevice } from "../bus.ts";
import type { VirtualClock } from "../clock.ts";
import type { ByteSink, Stateful } from "./stateful.ts";

/** Baud-rate generator input divided by 16 (datasheet: 1.8432 MHz crystal). */
const BAUD_BASE = 115_200;
const FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14];

const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_ERRORS = 0x1e;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

/** Options for {@link Uart}. */
export interface UartOptions {
  clock: VirtualClock;
  irq: IrqLine;
  /** IRQ number (COM1: 4). */
  irqNumber?: number;
  /** Receives every transmitted byte (not in loopback). */
  sink?: ByteSink;
  /** Scripted receive stream. */
  input?: Uint8Array;
  /** PC wiring: IRQ asserted only while MCR.OUT2 is set and loopback is off. Default true. */
  gateIrqWithOut2?: boolean;
}

/** Serialised UART state. */
export interface UartState {
  fifo: number[];
  rbr: number;
  ier: number;
  lcr: number;
  mcr: number;
  lsr: number;
  msrDelta: number;
  scr: number;
  divisor: number;
  fifoEnabled: boolean;
  trigger: number;
  thrPending: boolean;
  timeoutPending: boolean;
  /** Remaining scripted input (latin1 string). */
  input: string;
  /** Absolute deadline of the next arrival, -1 if none (waiting or done). */
  arrival: number;
  timeout: number;
  irqLevel: boolean;
}

/**
 * The 16550 model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Uart } from "./uart.ts";
 * import { VirtualClock } from "../clock.ts";
 * const out: number[] = [];
 * const uart = new Uart({ clock: new VirtualClock(), irq: { setIrq() {} }, sink: (b) => out.push(b) });
 * uart.portWrite(0x3f8, 1, 0x41);
 * assert.equal(out[0], 0x41);
 * assert.equal((uart.portRead(0x3fd, 1) & 0x60), 0x60);
 * ```
 */
export class Uart implements PortDevice, Stateful<UartState> {
  readonly #clock: VirtualClock;
  readonly #irq: IrqLine;
  readonly #irqNumber: number;
  readonly #sink: ByteSink;
  readonly #gate: boolean;

  #fifo: number[] = [];
  #rbr = 0;
  #ier = 0;
  #lcr = 0;
  #mcr = 0;
  #lsr = LSR_THRE | LSR_TEMT;
  #msrDelta = 0;
  #scr = 0;
  /** Divisor latch; 12 (9600 baud) as a PC BIOS INT 14h initialisation leaves it. */
  #divisor = 12;
  #fifoEnabled = false;
  #trigger = 1;
  #thrPending = false;
  #timeoutPending = false;
  #input: Uint8Array;
  #inputPos = 0;
  #arrival = -1;
  #arrivalTimer = 0;
  #timeout = -1;
  #timeoutTimer = 0;
  #irqLevel = false;

  constructor(o: UartOptions) {
    this.#clock = o.clock;
    this.#irq = o.irq;
    this.#irqNumber = o.irqNumber ?? 4;
    this.#sink = o.sink ?? (() => {});
    this.#gate = o.gateIrqWithOut2 ?? true;
    this.#input = o.input ?? new Uint8Array(0);
    this.#scheduleArrival();
  }

  /** One character time on the line, in instructions. */
  #charInsns(): number {
    const dataBits = 5 + (this.#lcr & 3);
    const stop = this.#lcr & 4 ? 2 : 1;
    const parity = this.#lcr & 8 ? 1 : 0;
    const bits = 1 + dataBits + parity + stop;
    const divisor = this.#divisor === 0 ? 0x10000 : this.#divisor;
    return this.#clock.nanosToInsns(bits * divisor * 1e9 / BAUD_BASE);
  }

  #room(): boolean {
    return this.#fifo.length < (this.#fifoEnabled ? FIFO_SIZE : 1);
  }

  #scheduleArrival(): void {
    if (this.#arrival >= 0 || this.#inputPos >= this.#input.length) return;
    if (this.#mcr & 0x10 || !this.#room()) return; // flow control: the sender waits
    this.#armArrival(this.#clock.icount + this.#charInsns());
  }

  /** Line settings changed: the character in flight restarts at the new rate. */
  #retime(): void {
    if (this.#arrival < 0) return;
    this.#clock.cancel(this.#arrivalTimer);
    this.#arrival = -1;
    this.#scheduleArrival();
  }

  #armArrival(at: number): void {
    this.#arrival = at;
    this.#arrivalTimer = this.#clock.schedule(at, () => {
      this.#arrival = -1;
      if (this.#mcr & 0x10 || !this.#room()) return; // re-scheduled when room appears
      this.#receive(this.#input[this.#inputPos++]);
      this.#scheduleArrival();
    });
  }

  #armTimeout(at: number): void {
    this.#timeout = at;
    this.#timeoutTimer = this.#clock.schedule(at, () => {
      this.#timeout = -1;
      this.#timeoutPending = true;
      this.#update();
    });
  }

  /** Restarts the 4-character-time FIFO timeout after a receive or an RBR read. */
  #restartTimeout(): void {
    if (this.#timeout >= 0) this.#clock.cancel(this.#timeoutTimer);
    this.#timeout = -1;
    if (this.#fifoEnabled && this.#fifo.length > 0) {
      this.#armTimeout(this.#clock.icount + 4 * this.#charInsns());
    }
  }

  /** A character enters the receiver (from the line or from loopback). */
  #receive(byte: number): void {
    if (this.#room()) this.#fifo.push(byte);
    else this.#lsr |= LSR_OE; // datasheet: overrun, the character is lost
    this.#timeoutPending = false;
    this.#restartTimeout();
    this.#update();
  }

  /** MSR status bits (7..4) from the external lines or, in loopback, from MCR. */
  #msrStatus(mcr: number): number {
    if (!(mcr & 0x10)) return 0xb0; // a connected terminal: DCD, DSR, CTS asserted
    return ((mcr & 2) << 3) | ((mcr & 1) << 5) | ((mcr & 4) << 4) | ((mcr & 8) << 4);
  }

  #iir(): number {
    const lsr = this.#lsr;
    if (this.#ier & 4 && lsr & LSR_ERRORS) return 0x06;
    if (this.#ier & 1 && this.#timeoutPending) return 0x0c;
    if (
      this.#ier & 1 && this.#fifo.length > 0 &&
      (!this.#fifoEnabled || this.#fifo.length >= this.#trigger)
    ) return 0x04;
    if (this.#ier & 2 && this.#thrPending) return 0x02;
    if (this.#ier & 8 && this.#msrDelta) return 0x00;
    return 0x01;
  }

  #update(): void {
    const pending = this.#iir() !== 0x01;
    const gated = !this.#gate || ((this.#mcr & 0x08) !== 0 && (this.#mcr & 0x10) === 0);
    const level = pending && gated;
    if (level !== this.#irqLevel) {
      this.#irqLevel = level;
      this.#irq.setIrq(this.#irqNumber, level);
    }
  }

  portRead(port: number, _size: AccessSize): number {
    const dlab = (this.#lcr & 0x80) !== 0;
    switch (port & 7) {
      case 0: {
        if (dlab) return this.#divisor & 0xff;
        if (this.#fifo.length > 0) this.#rbr = this.#fifo.shift()!;
        this.#timeoutPending = false;
        this.#restartTimeout();
        this.#scheduleArrival();
        this.#update();
        return this.#rbr;
      }
      case 1:
        return dlab ? this.#divisor >> 8 : this.#ier;
      case 2: {
        const iir = this.#iir();
        if (iir === 0x02) { // datasheet: reading IIR when THRE is the source clears it
          this.#thrPending = false;
          this.#update();
        }
        return iir | (this.#fifoEnabled ? 0xc0 : 0);
      }
      case 3:
        return this.#lcr;
      case 4:
        return this.#mcr;
      case 5: {
        const v = this.#lsr | (this.#fifo.length > 0 ? LSR_DR : 0);
        this.#lsr &= ~LSR_ERRORS; // OE, PE, FE, BI clear on read
        this.#update();
        return v;
      }
      case 6: {
        const v = this.#msrStatus(this.#mcr) | this.#msrDelta;
        this.#msrDelta = 0;
        this.#update();
        return v;
      }
      default:
        return this.#scr;
    }
  }

  portWrite(port: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    const dlab = (this.#lcr & 0x80) !== 0;
    switch (port & 7) {
      case 0:
        if (dlab) {
          this.#divisor = (this.#divisor & 0xff00) | value;
          this.#retime();
          return;
        }
        this.#thrPending = false;
        this.#update();
        if (this.#mcr & 0x10) this.#receive(value);
        else this.#sink(value);
        this.#thrPending = true;
        this.#update();
        return;
      case 1:
        if (dlab) {
          this.#divisor = (this.#divisor & 0xff) | (value << 8);
          this.#retime();
          return;
        }
        // Enabling ETBEI with THR empty raises THRE at once (datasheet IIR description).
        if (value & 2 && !(this.#ier & 2)) this.#thrPending = true;
        this.#ier = value & 0x0f;
        this.#update();
        return;
      case 2: {
        const enable = (value & 1) !== 0;
        if (enable !== this.#fifoEnabled) this.#fifo = []; // datasheet: FCR0 change clears
        this.#fifoEnabled = enable;
        if (enable) {
          if (value & 2) this.#fifo = [];
          this.#trigger = TRIGGER_LEVELS[value >> 6];
        }
        this.#timeoutPending = false;
        this.#restartTimeout();
        this.#scheduleArrival();
        this.#update();
        return;
      }
      case 3:
        if ((this.#lcr ^ value) & 0x1f) {
          this.#lcr = value;
          this.#retime();
        }
        this.#lcr = value;
        return;
      case 4: {
        const old = this.#msrStatus(this.#mcr);
        this.#mcr = value & 0x1f;
        const now = this.#msrStatus(this.#mcr);
        const changed = old ^ now;
        // Delta bits: DCTS, DDSR, DDCD on any change; TERI on RI going inactive.
        this.#msrDelta |= ((changed >> 4) & 0x0b) | ((old & ~now & 0x40) >> 4);
        this.#scheduleArrival();
        this.#update();
        return;
      }
      case 5: // LSR is read-only (factory test writes ignored)
      case 6:
        return;
      default:
        this.#scr = value;
    }
  }

  saveState(): UartState {
    let input = "";
    for (let i = this.#inputPos; i < this.#input.length; i++) {
      input += String.fromCharCode(this.#input[i]);
    }
    return {
      fifo: [...this.#fifo],
      rbr: this.#rbr,
      ier: this.#ier,
      lcr: this.#lcr,
      mcr: this.#mcr,
      lsr: this.#lsr,
      msrDelta: this.#msrDelta,
      scr: this.#scr,
      divisor: this.#divisor,
      fifoEnabled: this.#fifoEnabled,
      trigger: this.#trigger,
      thrPending: this.#thrPending,
      timeoutPending: this.#timeoutPending,
      input,
      arrival: this.#arrival,
      timeout: this.#timeout,
      irqLevel: this.#irqLevel,
    };
  }

  loadState(s: UartState): void {
    this.#fifo = [...s.fifo];
    this.#rbr = s.rbr;
    this.#ier = s.ier;
    this.#lcr = s.lcr;
    this.#mcr = s.mcr;
    this.#lsr = s.lsr;
    this.#msrDelta = s.msrDelta;
    this.#scr = s.scr;
    this.#divisor = s.divisor;
    this.#fifoEnabled = s.fifoEnabled;
    this.#trigger = s.trigger;
    this.#thrPending = s.thrPending;
    this.#timeoutPending = s.timeoutPending;
    this.#input = Uint8Array.from(s.input, (c) => c.charCodeAt(0));
    this.#inputPos = 0;
    this.#irqLevel = s.irqLevel;
    this.#arrival = -1;
    this.#timeout = -1;
    if (s.arrival >= 0) this.#armArrival(s.arrival);
    if (s.timeout >= 0) this.#armTimeout(s.timeout);
  }
}
