/**
 * Motorola MC146818A real-time clock and CMOS RAM (ports 0x70 index / 0x71 data, IRQ8).
 *
 * Wall time is `epoch + virtual time` (never host time): the configured epoch (default
 * 2007-03-09 00:00:00 UTC) plus `clock.nanos()`, shifted by whatever the guest writes. Register
 * semantics follow the MC146818A datasheet: time/alarm registers 0x00-0x09 in BCD or binary
 * (register B DM) and 12/24-hour format (register B 24/12), register A (UIP, divider, rate
 * select), B (SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE), C (IRQF, PF, AF, UF; cleared by reading)
 * and D (VRT). Bit 7 of the index port is the PC's NMI mask.
 *
 * Modelling choices: UIP reads 1 during the last 244 us + 1984 us (update cycle) before each
 * second boundary, derived from virtual time; the time registers step at the boundary. The day
 * of week is computed from the date (1 = Sunday). Clearing SET starts a fresh second. Daylight
 * saving (DSE) and the divider-reset states of register A are stored but not acted upon.
 *
 * @module
 */

import type { AccessSize, IrqLine, PortDevice } from "../bus.ts";
import { civilFromDays, daysFromCivil } from "../civil_date.ts";
import { DEFAULT_EPOCH, type VirtualClock } from "../clock.ts";
import type { Stateful } from "./stateful.ts";

const NS = 1_000_000_000;
/** Update-in-progress window before each second boundary: 244 us setup + 1984 us cycle. */
const UIP_NS = 244_000 + 1_984_000;

const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
const B_SET = 0x80;
const B_PIE = 0x40;
const B_AIE = 0x20;
const B_UIE = 0x10;
const B_DM = 0x04;
const B_24H = 0x02;
const C_IRQF = 0x80;
const C_PF = 0x40;
const C_AF = 0x20;
const C_UF = 0x10;

/** Options for {@link Rtc}. */
export interface RtcOptions {
  clock: VirtualClock;
  irq: IrqLine;
  /** Wall time at virtual time 0, seconds since 1970-01-01 UTC. */
  epoch?: number;
  /** Installed RAM in bytes, for the CMOS memory-size registers. */
  ramBytes: number;
  irqNumber?: number;
}

/** Serialised RTC state. */
export interface RtcState {
  cmos: number[];
  index: number;
  nmiMasked: boolean;
  /** Wall seconds at virtual-ns `phase` (epoch plus guest adjustments). */
  base: number;
  phase: number;
  /** Time fields held while SET = 1: [sec, min, hour, day, month, year]. */
  held: number[] | null;
  flags: number;
  /** Virtual ns up to which PF/UF/AF have been evaluated (they are computed lazily). */
  settled: number;
  irqLevel: boolean;
  deadline: number;
}

/** Registers 0x00-0x09 except the alarms (0x01, 0x03, 0x05). */
const isTimeReg = (reg: number) => reg <= 0x09 && reg !== 0x01 && reg !== 0x03 && reg !== 0x05;

const toBcd = (v: number) => ((Math.floor(v / 10) % 10) << 4) | (v % 10);
const fromBcd = (v: number) => (v >> 4) * 10 + (v & 0xf);

/**
 * The RTC/CMOS device.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rtc } from "./rtc.ts";
 * import { VirtualClock } from "../clock.ts";
 * const rtc = new Rtc({ clock: new VirtualClock(), irq: { setIrq() {} }, ramBytes: 32 << 20 });
 * rtc.portWrite(0x70, 1, 0x09);
 * assert.equal(rtc.portRead(0x71, 1), 0x07); // year 2007 in BCD
 * ```
 */
export class Rtc implements PortDevice, Stateful<RtcState> {
  readonly #clock: VirtualClock;
  readonly #irq: IrqLine;
  readonly #irqNumber: number;
  #cmos = new Uint8Array(128);
  #index = 0;
  /** PC: bit 7 of a write to 0x70 disables NMI. */
  nmiMasked = false;
  #base: number;
  #phase = 0;
  #held: number[] | null = null;
  #flags = 0;
  #settled = 0;
  #irqLevel = false;
  #deadline = -1;
  #timer = 0;

  constructor(o: RtcOptions) {
    this.#clock = o.clock;
    this.#irq = o.irq;
    this.#irqNumber = o.irqNumber ?? 8;
    this.#base = o.epoch ?? DEFAULT_EPOCH;
    const c = this.#cmos;
    c[REG_A] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
    c[REG_B] = B_24H; // 24-hour, BCD, as a PC BIOS sets it
    c[REG_D] = 0x80; // valid RAM and time
    // PC/AT CMOS layout (IBM PC/AT technical reference; QEMU hw/rtc/mc146818rtc.c and pc.c).
    const kb = Math.floor(o.ramBytes / 1024);
    const base = Math.min(640, kb);
    c[0x15] = base & 0xff;
    c[0x16] = base >> 8;
    const ext = Math.min(0xffff, Math.max(0, kb - 1024));
    c[0x17] = c[0x30] = ext & 0xff;
    c[0x18] = c[0x31] = ext >> 8;
    const above16 = Math.min(0xffff, Math.max(0, Math.floor((o.ramBytes - (16 << 20)) / 65536)));
    c[0x34] = above16 & 0xff;
    c[0x35] = above16 >> 8;
    c[0x14] = 0x06; // equipment: math coprocessor present, display = EGA/VGA (bits 4-5 = 0)
    c[0x32] = 0x20; // century (BCD), IBM convention
    this.#checksum();
  }

  /** Standard AT checksum of bytes 0x10-0x2D, stored big-endian at 0x2E/0x2F. */
  #checksum(): void {
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += this.#cmos[i];
    this.#cmos[0x2e] = (sum >> 8) & 0xff;
    this.#cmos[0x2f] = sum & 0xff;
  }

  /** Virtual ns into the current RTC second sequence. */
  #elapsed(): number {
    return this.#clock.nanos() - this.#phase;
  }

  /** Current wall-clock seconds since 1970. */
  wallSeconds(): number {
    return this.#base + Math.floor(this.#elapsed() / NS);
  }

  /** [sec, min, hour, day, month, year(full)] of the current wall time. */
  #fields(): number[] {
    if (this.#held) return this.#held;
    const t = this.wallSeconds();
    const days = Math.floor(t / 86400);
    const s = t - days * 86400;
    const [y, m, d] = civilFromDays(days);
    return [s % 60, Math.floor(s / 60) % 60, Math.floor(s / 3600), d, m, y];
  }

  #encode(v: number): number {
    return this.#cmos[REG_B] & B_DM ? v : toBcd(v);
  }

  #decode(v: number): number {
    return this.#cmos[REG_B] & B_DM ? v : fromBcd(v);
  }

  #encodeHour(h: number): number {
    if (this.#cmos[REG_B] & B_24H) return this.#encode(h);
    const pm = h >= 12 ? 0x80 : 0;
    return this.#encode(h % 12 === 0 ? 12 : h % 12) | pm;
  }

  #decodeHour(v: number): number {
    if (this.#cmos[REG_B] & B_24H) return this.#decode(v);
    const h = this.#decode(v & 0x7f) % 12;
    return v & 0x80 ? h + 12 : h;
  }

  #readTimeReg(reg: number): number {
    const [sec, min, hour, day, month, year] = this.#fields();
    switch (reg) {
      case 0x00:
        return this.#encode(sec);
      case 0x02:
        return this.#encode(min);
      case 0x04:
        return this.#encodeHour(hour);
      case 0x06: {
        const dow = ((daysFromCivil(year, month, day) + 4) % 7 + 7) % 7; // 1970-01-01: Thursday
        return this.#encode(dow + 1);
      }
      case 0x07:
        return this.#encode(day);
      case 0x08:
        return this.#encode(month);
      default:
        return this.#encode(year % 100);
    }
  }

  #writeTimeReg(reg: number, v: number): void {
    const f = [...this.#fields()];
    const century = fromBcd(this.#cmos[0x32]) * 100;
    switch (reg) {
      case 0x00:
        f[0] = this.#decode(v);
        break;
      case 0x02:
        f[1] = this.#decode(v);
        break;
      case 0x04:
        f[2] = this.#decodeHour(v);
        break;
      case 0x06: // derived from the date
        return;
      case 0x07:
        f[3] = this.#decode(v);
        break;
      case 0x08:
        f[4] = this.#decode(v);
        break;
      default:
        f[5] = century + this.#decode(v);
    }
    if (this.#held) this.#held = f;
    else this.#setWall(f);
  }

  /** Makes `f` the current time, starting a fresh second now. */
  #setWall(f: number[]): void {
    const [sec, min, hour, day, month, year] = f;
    this.#base = daysFromCivil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
    this.#phase = this.#clock.nanos();
    this.#settled = this.#phase;
    this.#schedule();
  }

  #uip(): boolean {
    if (this.#held) return false;
    const e = this.#elapsed();
    return e % NS >= NS - UIP_NS;
  }

  /** Periodic-interrupt period in ns from RS3..0 (32.768 kHz time base), 0 = off. */
  #periodNs(): number {
    const rs = this.#cmos[REG_A] & 0x0f;
    if (rs === 0) return 0;
    const hz = rs <= 2 ? 32768 >> (rs + 6) : 32768 >> (rs - 1);
    return NS / hz;
  }

  #alarmMatches(): boolean {
    const [sec, min, hour] = this.#fields();
    const c = this.#cmos;
    // Alarm bytes with both top bits set are "don't care" (datasheet).
    const match = (alarm: number, v: number) => (alarm & 0xc0) === 0xc0 || alarm === v;
    return match(c[0x01], this.#encode(sec)) && match(c[0x03], this.#encode(min)) &&
      match(c[0x05], this.#encodeHour(hour));
  }

  /** Sets PF/UF/AF for the boundaries passed since the last evaluation; drives IRQ8. */
  #settleFlags(): void {
    const now = this.#clock.nanos();
    const from = this.#settled - this.#phase;
    const to = now - this.#phase;
    const period = this.#periodNs();
    if (period > 0 && Math.floor(to / period) > Math.floor(from / period)) this.#flags |= C_PF;
    if (!this.#held && Math.floor(to / NS) > Math.floor(from / NS)) {
      this.#flags |= C_UF;
      if (this.#alarmMatches()) this.#flags |= C_AF;
    }
    this.#settled = now;
    const b = this.#cmos[REG_B];
    const irqf = (this.#flags & C_PF && b & B_PIE) || (this.#flags & C_AF && b & B_AIE) ||
      (this.#flags & C_UF && b & B_UIE);
    this.#flags = irqf ? this.#flags | C_IRQF : this.#flags & ~C_IRQF;
    if (!!irqf !== this.#irqLevel) {
      this.#irqLevel = !!irqf;
      this.#irq.setIrq(this.#irqNumber, this.#irqLevel);
    }
  }

  /** Arms a clock event at the next interrupt-producing boundary (only if enabled). */
  #schedule(): void {
    if (this.#deadline >= 0) this.#clock.cancel(this.#timer);
    this.#deadline = -1;
    const b = this.#cmos[REG_B];
    const e = this.#elapsed();
    let next = Infinity;
    const period = this.#periodNs();
    if (b & B_PIE && period > 0) next = (Math.floor(e / period) + 1) * period;
    if (b & (B_AIE | B_UIE) && !this.#held) next = Math.min(next, (Math.floor(e / NS) + 1) * NS);
    if (next === Infinity) return;
    this.#arm(this.#clock.icountAtTicks(Math.ceil(next + this.#phase), NS));
  }

  #arm(at: number): void {
    this.#deadline = Math.max(at, this.#clock.icount + 1);
    this.#timer = this.#clock.schedule(this.#deadline, () => {
      this.#deadline = -1;
      this.#settleFlags();
      this.#schedule();
    });
  }

  portRead(port: number, _size: AccessSize): number {
    if (port === 0x70) return 0xff; // the index register is write-only on the AT
    const reg = this.#index;
    if (isTimeReg(reg)) return this.#readTimeReg(reg);
    switch (reg) {
      case REG_A:
        return (this.#cmos[REG_A] & 0x7f) | (this.#uip() ? 0x80 : 0);
      case REG_C: {
        this.#settleFlags();
        const v = this.#flags;
        this.#flags = 0;
        if (this.#irqLevel) {
          this.#irqLevel = false;
          this.#irq.setIrq(this.#irqNumber, false);
        }
        return v;
      }
      default:
        return this.#cmos[reg];
    }
  }

  portWrite(port: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (port === 0x70) {
      this.#index = value & 0x7f;
      this.nmiMasked = (value & 0x80) !== 0;
      return;
    }
    const reg = this.#index;
    if (isTimeReg(reg)) {
      this.#writeTimeReg(reg, value);
      return;
    }
    switch (reg) {
      case REG_A:
        this.#cmos[REG_A] = value & 0x7f; // UIP is read-only
        this.#schedule();
        return;
      case REG_B: {
        const wasSet = (this.#cmos[REG_B] & B_SET) !== 0;
        // Time read in the old format before the format bits change.
        const f = this.#fields();
        this.#cmos[REG_B] = value;
        if (value & B_SET && !wasSet) this.#held = [...f];
        else if (!(value & B_SET) && wasSet && this.#held) {
          const held = this.#held;
          this.#held = null;
          this.#setWall(held);
        }
        this.#settleFlags();
        this.#schedule();
        return;
      }
      case REG_C:
      case REG_D: // read-only
        return;
      default:
        this.#cmos[reg] = value;
    }
  }

  saveState(): RtcState {
    return {
      cmos: [...this.#cmos],
      index: this.#index,
      nmiMasked: this.nmiMasked,
      base: this.#base,
      phase: this.#phase,
      held: this.#held ? [...this.#held] : null,
      flags: this.#flags,
      settled: this.#settled,
      irqLevel: this.#irqLevel,
      deadline: this.#deadline,
    };
  }

  loadState(s: RtcState): void {
    this.#cmos = Uint8Array.from(s.cmos);
    this.#index = s.index;
    this.nmiMasked = s.nmiMasked;
    this.#base = s.base;
    this.#phase = s.phase;
    this.#held = s.held ? [...s.held] : null;
    this.#flags = s.flags;
    this.#settled = s.settled;
    this.#irqLevel = s.irqLevel;
    this.#deadline = -1;
    if (s.deadline >= 0) this.#arm(s.deadline);
  }
}
