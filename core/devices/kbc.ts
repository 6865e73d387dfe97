/**
 * Intel 8042 keyboard controller (ports 0x60 data, 0x64 status/command) with a PS/2 keyboard
 * behind it and no auxiliary (mouse) device.
 *
 * Enough of the controller for what kernels and firmware do at boot: the status register
 * (OBF, SYS, command/data, keyboard-unlocked), the controller command byte (0x20/0x60), self
 * tests (0xAA -> 0x55, 0xAB/0xA9 -> 0x00), enable/disable (0xAD/0xAE/0xA7/0xA8), the output
 * port (0xD0 read, 0xD1 write: bit 0 = CPU reset line (active low), bit 1 = A20), 0xDD/0xDF
 * A20 off/on, output-buffer writes (0xD2/0xD3) and output-port pulses 0xF0-0xFF (0xFE pulses
 * the reset line). Keyboard commands written to port 0x60 are answered as a PS/2 keyboard
 * does (0xFA acknowledge; 0xFF -> 0xFA 0xAA; 0xF2 -> 0xFA 0xAB 0x83; 0xEE -> 0xEE). Sources:
 * IBM PC/AT technical reference (8042), and QEMU `hw/input/pckbd.c` for reset values. Bytes
 * written to the mouse (0xD4) are dropped: no auxiliary device is attached. No keys are ever
 * pressed (there is no scripted keyboard input).
 *
 * @module
 */

import type { AccessSize, IrqLine, PortDevice } from "../bus.ts";
import type { PhysicalMemory } from "../memory.ts";
import { A20_OFF, A20_ON } from "./system_control.ts";
import type { Stateful } from "./stateful.ts";

const ST_OBF = 0x01;
const ST_SYS = 0x04;
const ST_CMD = 0x08;
const ST_UNLOCKED = 0x10;
const ST_AUX = 0x20;

/** Serialised controller state. */
export interface KbcState {
  queue: Array<[number, boolean]>;
  last: number;
  commandByte: number;
  lastWasCommand: boolean;
  pending: number;
  kbdPending: number;
  irq1: boolean;
  irq12: boolean;
}

/**
 * The 8042.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KeyboardController } from "./kbc.ts";
 * import { PhysicalMemory } from "../memory.ts";
 * let resets = 0;
 * const kbc = new KeyboardController(new PhysicalMemory({ size: 1 << 21 }), { setIrq() {} },
 *   () => resets++);
 * kbc.portWrite(0x64, 1, 0xaa);
 * assert.equal(kbc.portRead(0x60, 1), 0x55);
 * kbc.portWrite(0x64, 1, 0xfe);
 * assert.equal(resets, 1);
 * ```
 */
export class KeyboardController implements PortDevice, Stateful<KbcState> {
  #queue: Array<[number, boolean]> = [];
  #last = 0;
  /** Translate, system flag, keyboard interrupt (as a BIOS leaves it). */
  #commandByte = 0x45;
  #lastWasCommand = false;
  /** Controller command awaiting a data byte (0x60, 0xD1, 0xD2, 0xD3, 0xD4), or 0. */
  #pending = 0;
  /** Keyboard command awaiting its argument byte, or 0. */
  #kbdPending = 0;
  #irq1 = false;
  #irq12 = false;

  constructor(
    readonly memory: PhysicalMemory,
    readonly irq: IrqLine,
    readonly onReset: () => void,
  ) {}

  #push(byte: number, aux = false): void {
    this.#queue.push([byte & 0xff, aux]);
    this.#update();
  }

  #update(): void {
    const head = this.#queue[0];
    const irq1 = !!head && !head[1] && (this.#commandByte & 1) !== 0;
    const irq12 = !!head && head[1] && (this.#commandByte & 2) !== 0;
    if (irq1 !== this.#irq1) this.irq.setIrq(1, this.#irq1 = irq1);
    if (irq12 !== this.#irq12) this.irq.setIrq(12, this.#irq12 = irq12);
  }

  #outputPort(): number {
    // 0xCC: the unused lines read high (QEMU KBD_OUT_ONES); bit 0 reset inactive (high).
    return 0xcd | (this.memory.a20Mask === A20_ON ? 0x02 : 0);
  }

  #writeOutputPort(v: number): void {
    this.memory.a20Mask = v & 0x02 ? A20_ON : A20_OFF;
    if (!(v & 0x01)) this.onReset();
  }

  #command(cmd: number): void {
    switch (cmd) {
      case 0x20:
        this.#push(this.#commandByte);
        return;
      case 0x60:
      case 0xd1:
      case 0xd2:
      case 0xd3:
      case 0xd4:
        this.#pending = cmd;
        return;
      case 0xa7:
        this.#commandByte |= 0x20;
        return;
      case 0xa8:
        this.#commandByte &= ~0x20;
        return;
      case 0xa9: // auxiliary interface test: no error
      case 0xab: // keyboard interface test: no error
        this.#push(0x00);
        return;
      case 0xaa: // controller self test passed; the system flag is set
        this.#commandByte |= 0x04;
        this.#push(0x55);
        return;
      case 0xad:
        this.#commandByte |= 0x10;
        return;
      case 0xae:
        this.#commandByte &= ~0x10;
        return;
      case 0xd0:
        this.#push(this.#outputPort());
        return;
      case 0xdd:
        this.memory.a20Mask = A20_OFF;
        return;
      case 0xdf:
        this.memory.a20Mask = A20_ON;
        return;
    }
    // 0xF0-0xFF pulse the output-port lines whose bit is 0 in the low nibble; line 0 is reset.
    if (cmd >= 0xf0 && !(cmd & 1)) this.onReset();
  }

  #keyboard(v: number): void {
    if (this.#kbdPending) { // argument of 0xED (LEDs), 0xF0 (scan-code set), 0xF3 (typematic)
      this.#kbdPending = 0;
      this.#push(0xfa);
      return;
    }
    switch (v) {
      case 0xee:
        this.#push(0xee);
        return;
      case 0xed:
      case 0xf0:
      case 0xf3:
        this.#kbdPending = v;
        this.#push(0xfa);
        return;
      case 0xf2: // identify: MF2 keyboard
        this.#push(0xfa);
        this.#push(0xab);
        this.#push(0x83);
        return;
      case 0xff: // reset: acknowledge, then basic assurance test passed
        this.#push(0xfa);
        this.#push(0xaa);
        return;
      default:
        this.#push(0xfa);
    }
  }

  portRead(port: number, _size: AccessSize): number {
    if (port === 0x64) {
      const head = this.#queue[0];
      return (head ? ST_OBF : 0) | (head?.[1] ? ST_AUX : 0) |
        (this.#commandByte & 0x04 ? ST_SYS : 0) | (this.#lastWasCommand ? ST_CMD : 0) |
        ST_UNLOCKED;
    }
    const head = this.#queue.shift();
    if (head) this.#last = head[0];
    this.#update();
    return this.#last;
  }

  portWrite(port: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (port === 0x64) {
      this.#lastWasCommand = true;
      this.#pending = 0;
      this.#command(value);
      return;
    }
    this.#lastWasCommand = false;
    const pending = this.#pending;
    this.#pending = 0;
    switch (pending) {
      case 0x60:
        this.#commandByte = value;
        this.#update();
        return;
      case 0xd1:
        this.#writeOutputPort(value);
        return;
      case 0xd2:
        this.#push(value);
        return;
      case 0xd3:
        this.#push(value, true);
        return;
      case 0xd4: // to the (absent) auxiliary device
        return;
      default:
        this.#keyboard(value);
    }
  }

  saveState(): KbcState {
    return {
      queue: this.#queue.map(([b, a]) => [b, a]),
      last: this.#last,
      commandByte: this.#commandByte,
      lastWasCommand: this.#lastWasCommand,
      pending: this.#pending,
      kbdPending: this.#kbdPending,
      irq1: this.#irq1,
      irq12: this.#irq12,
    };
  }

  loadState(s: KbcState): void {
    this.#queue = s.queue.map(([b, a]) => [b, a]);
    this.#last = s.last;
    this.#commandByte = s.commandByte;
    this.#lastWasCommand = s.lastWasCommand;
    this.#pending = s.pending;
    this.#kbdPending = s.kbdPending;
    this.#irq1 = s.irq1;
    this.#irq12 = s.irq12;
  }
}
