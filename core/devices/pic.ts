/**
 * Intel 8259A programmable interrupt controller pair, wired as on the PC/AT: master at
 * 0x20/0x21 (IRQ0-7), slave at 0xA0/0xA1 (IRQ8-15) cascaded into master IR2.
 *
 * Register behaviour follows the Intel 8259A datasheet (order no. 231468): initialization
 * command words ICW1-ICW4, operation command words OCW1-OCW3, IRR/ISR/IMR, fully nested and
 * rotating priority, special mask mode, poll command, automatic EOI and the IR7 spurious
 * vector. Choices where the datasheet leaves room follow QEMU's `hw/intc/i8259.c` and are marked.
 *
 * @module
 */

import type { AccessSize, InterruptController, IrqLine, PortDevice } from "../bus.ts";
import type { Stateful } from "./stateful.ts";

/** Serialised state of one 8259A. */
export interface PicChipState {
  irr: number;
  isr: number;
  imr: number;
  lines: number;
  lowestPriority: number;
  readIsr: boolean;
  poll: boolean;
  specialMask: boolean;
  initStep: number;
  needIcw4: boolean;
  single: boolean;
  levelTriggered: boolean;
  vectorBase: number;
  cascade: number;
  autoEoi: boolean;
  rotateOnAutoEoi: boolean;
  specialFullyNested: boolean;
}

/** Serialised state of the pair. */
export interface PicState {
  master: PicChipState;
  slave: PicChipState;
}

/** One 8259A. The pair wiring (cascade) lives in {@link Pic}. */
class PicChip {
  irr = 0;
  isr = 0;
  imr = 0;
  /** Current input line levels (edge detection). */
  lines = 0;
  /** The IR level with the lowest priority (rotation); 7 after ICW1. */
  lowestPriority = 7;
  readIsr = false;
  poll = false;
  specialMask = false;
  /** 0 = operational; 2, 3, 4 = expecting ICW2, ICW3, ICW4. */
  initStep = 0;
  needIcw4 = false;
  single = false;
  levelTriggered = false;
  vectorBase = 0;
  cascade = 0;
  autoEoi = false;
  rotateOnAutoEoi = false;
  specialFullyNested = false;

  constructor(readonly isMaster: boolean) {}

  /** Priority rank of IR `irq` (0 = highest) under the current rotation. */
  #rank(irq: number): number {
    return (irq - this.lowestPriority - 1) & 7;
  }

  /** Highest-priority set bit of `mask`, or -1. */
  #highest(mask: number): number {
    let best = -1;
    for (let irq = 0; irq < 8; irq++) {
      if (mask & (1 << irq) && (best < 0 || this.#rank(irq) < this.#rank(best))) best = irq;
    }
    return best;
  }

  /** The IR level that would be delivered now, or -1 (datasheet "priority resolver"). */
  pending(): number {
    const req = this.#highest(this.irr & ~this.imr);
    if (req < 0) return -1;
    // Special mask mode: masked in-service levels do not inhibit lower ones (datasheet OCW3).
    let inService = this.specialMask ? this.isr & ~this.imr : this.isr;
    // Special fully nested mode: the cascade input may interrupt its own service (datasheet ICW4).
    if (this.specialFullyNested && this.isMaster) inService &= ~this.cascade;
    const cur = this.#highest(inService);
    return cur < 0 || this.#rank(req) < this.#rank(cur) ? req : -1;
  }

  setLine(irq: number, level: boolean): void {
    const bit = 1 << irq;
    if (this.levelTriggered) {
      if (level) this.irr |= bit;
      else this.irr &= ~bit;
    } else if (level && !(this.lines & bit)) {
      // Edge mode latches the rising edge; the request stays in IRR until acknowledged
      // (as QEMU's i8259; the datasheet requires the line to stay high until INTA).
      this.irr |= bit;
    }
    if (level) this.lines |= bit;
    else this.lines &= ~bit;
  }

  /** INTA for level `irq`: IRR -> ISR (or automatic EOI). */
  ack(irq: number): void {
    const bit = 1 << irq;
    if (!this.levelTriggered) this.irr &= ~bit;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.lowestPriority = irq;
    } else {
      this.isr |= bit;
    }
  }

  #eoi(irq: number, rotate: boolean): void {
    if (irq < 0) return;
    this.isr &= ~(1 << irq);
    if (rotate) this.lowestPriority = irq;
  }

  writeCommand(v: number): void {
    if (v & 0x10) {
      // ICW1 (datasheet: "IMR cleared, IR7 lowest priority, special mask mode cleared,
      // status read set to IRR; if IC4 = 0 all ICW4 functions are set to zero").
      this.initStep = 2;
      this.needIcw4 = (v & 1) !== 0;
      this.single = (v & 2) !== 0;
      this.levelTriggered = (v & 8) !== 0;
      this.imr = 0;
      this.isr = 0;
      this.irr &= this.levelTriggered ? this.lines : 0;
      this.lowestPriority = 7;
      this.specialMask = false;
      this.readIsr = false;
      this.poll = false;
      this.autoEoi = false;
      this.rotateOnAutoEoi = false;
      this.specialFullyNested = false;
      return;
    }
    if (v & 0x08) {
      // OCW3.
      this.poll = (v & 0x04) !== 0;
      if (v & 0x02) this.readIsr = (v & 0x01) !== 0;
      if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
      return;
    }
    // OCW2: R SL EOI in bits 7..5, level in bits 2..0.
    const level = v & 7;
    switch (v >> 5) {
      case 0b001: // non-specific EOI: the highest-priority in-service level
        this.#eoi(this.#highest(this.isr), false);
        break;
      case 0b011: // specific EOI
        this.#eoi(level, false);
        break;
      case 0b101: // rotate on non-specific EOI
        this.#eoi(this.#highest(this.isr), true);
        break;
      case 0b111: // rotate on specific EOI
        this.#eoi(level, true);
        break;
      case 0b100: // set rotate in automatic EOI mode
        this.rotateOnAutoEoi = true;
        break;
      case 0b000: // clear rotate in automatic EOI mode
        this.rotateOnAutoEoi = false;
        break;
      case 0b110: // set priority: `level` becomes the lowest
        this.lowestPriority = level;
        break;
      default: // 0b010: no operation
    }
  }

  writeData(v: number): void {
    switch (this.initStep) {
      case 2: // ICW2: x86 mode uses T7..T3 as the vector base
        this.vectorBase = v & 0xf8;
        this.initStep = this.single ? (this.needIcw4 ? 4 : 0) : 3;
        return;
      case 3: // ICW3: slave mask (master) or slave ID (slave)
        this.cascade = this.isMaster ? v : 1 << (v & 7);
        this.initStep = this.needIcw4 ? 4 : 0;
        return;
      case 4: // ICW4: bit 1 AEOI, bit 4 SFNM (bit 0 = 8086 mode, bits 2-3 buffering: no effect)
        this.autoEoi = (v & 0x02) !== 0;
        this.specialFullyNested = (v & 0x10) !== 0;
        this.initStep = 0;
        return;
      default: // OCW1
        this.imr = v;
    }
  }

  saveState(): PicChipState {
    const { irr, isr, imr, lines, lowestPriority, readIsr, poll, specialMask, initStep } = this;
    const { needIcw4, single, levelTriggered, vectorBase, cascade, autoEoi } = this;
    const { rotateOnAutoEoi, specialFullyNested } = this;
    return {
      irr,
      isr,
      imr,
      lines,
      lowestPriority,
      readIsr,
      poll,
      specialMask,
      initStep,
      needIcw4,
      single,
      levelTriggered,
      vectorBase,
      cascade,
      autoEoi,
      rotateOnAutoEoi,
      specialFullyNested,
    };
  }

  loadState(s: PicChipState): void {
    Object.assign(this, s);
  }
}

/** Cascade input of the master (PC/AT wiring). */
const CASCADE_IRQ = 2;

/**
 * The PC/AT 8259A pair. Devices drive it through {@link IrqLine.setIrq} (IRQ 0-15); the CPU
 * side is {@link InterruptController} (INTR output and the INTA cycle).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Pic } from "./pic.ts";
 * const pic = new Pic();
 * for (const [p, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 0x04], [0x21, 0x01]]) {
 *   pic.portWrite(p, 1, v);
 * }
 * pic.setIrq(1, true);
 * assert.ok(pic.hasInterrupt());
 * assert.equal(pic.acknowledge(), 0x21);
 * ```
 */
export class Pic implements PortDevice, IrqLine, InterruptController, Stateful<PicState> {
  readonly master = new PicChip(true);
  readonly slave = new PicChip(false);

  setIrq(irq: number, level: boolean): void {
    if (irq < 8) this.master.setLine(irq, level);
    else this.slave.setLine(irq - 8, level);
    this.#cascade();
  }

  /** The slave's INT output drives master IR2. */
  #cascade(): void {
    this.master.setLine(CASCADE_IRQ, this.slave.pending() >= 0);
  }

  /** The IRQ line (0-15) whose vector the pair currently delivers as `vector`, or -1. */
  irqOfVector(vector: number): number {
    const m = this.master.vectorBase, s = this.slave.vectorBase;
    if (vector >= m && vector < m + 8) return vector - m;
    if (vector >= s && vector < s + 8) return 8 + vector - s;
    return -1;
  }

  /** The master's INT output (the CPU's INTR pin). */
  hasInterrupt(): boolean {
    return this.master.pending() >= 0;
  }

  /**
   * INTA cycle. With no request left (the line dropped before INTA) the 8259A answers IR7 of the
   * chip concerned without setting ISR: the spurious IRQ7 / IRQ15 of the datasheet.
   */
  acknowledge(): number {
    const irq = this.master.pending();
    if (irq < 0) return this.master.vectorBase | 7;
    this.master.ack(irq);
    if (irq !== CASCADE_IRQ || !(this.master.cascade & (1 << CASCADE_IRQ))) {
      this.#cascade();
      return this.master.vectorBase | irq;
    }
    const sirq = this.slave.pending();
    const vector = this.slave.vectorBase | (sirq < 0 ? 7 : sirq);
    if (sirq >= 0) this.slave.ack(sirq);
    this.#cascade();
    return vector;
  }

  /** Poll command (OCW3 P=1): the next read of the command port acknowledges. */
  #pollRead(chip: PicChip): number {
    chip.poll = false;
    const irq = chip.pending();
    if (irq < 0) return 0;
    chip.ack(irq);
    this.#cascade();
    return 0x80 | irq;
  }

  portRead(port: number, _size: AccessSize): number {
    const chip = port >= 0xa0 ? this.slave : this.master;
    if (port & 1) return chip.imr;
    if (chip.poll) return this.#pollRead(chip);
    return chip.readIsr ? chip.isr : chip.irr;
  }

  portWrite(port: number, _size: AccessSize, value: number): void {
    const chip = port >= 0xa0 ? this.slave : this.master;
    if (port & 1) chip.writeData(value & 0xff);
    else chip.writeCommand(value & 0xff);
    this.#cascade();
  }

  saveState(): PicState {
    return { master: this.master.saveState(), slave: this.slave.saveState() };
  }

  loadState(s: PicState): void {
    this.master.loadState(s.master);
    this.slave.loadState(s.slave);
  }
}
