/**
 * Debug and diagnostic ports used by test kernels and firmware:
 * - POST code ports 0x80 and 0x190 (last value + bounded history);
 * - the Bochs/QEMU debug console at 0xE9 (QEMU `-debugcon`: written bytes go to a sink, reads
 *   return 0xE9 so a guest can detect it; QEMU `hw/char/debugcon.c`);
 * - QEMU's `isa-debug-exit` (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`): a write of `v`
 *   ends the run with exit status `(v << 1) | 1`; reads return 0 (QEMU `hw/misc/debugexit.c`).
 *
 * @module
 */

import type { AccessSize, PortDevice } from "../bus.ts";
import type { ByteSink, Stateful } from "./stateful.ts";

/** POST history entries kept (oldest dropped first). */
export const POST_HISTORY_MAX = 1024;

/** Serialised POST port state. */
export interface PostState {
  last: number;
  history: Array<[number, number]>;
}

/**
 * POST diagnostic ports. Reads return the last value written to that port (as the latch on many
 * POST cards); consecutive identical writes to the same port are recorded once, so Linux's
 * `outb(0x80)` I/O delay does not flood the history.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PostPorts } from "./debug_ports.ts";
 * const post = new PostPorts();
 * post.portWrite(0x80, 1, 0x12);
 * post.portWrite(0x80, 1, 0x12);
 * assert.equal(post.last, 0x12);
 * assert.equal(post.history.length, 1);
 * ```
 */
export class PostPorts implements PortDevice, Stateful<PostState> {
  /** Last POST code written to any POST port (-1 if none). */
  last = -1;
  /** (port, value) pairs, oldest first. */
  history: Array<[number, number]> = [];
  #latch = new Map<number, number>();

  portRead(port: number, _size: AccessSize): number {
    return this.#latch.get(port) ?? 0xff;
  }

  portWrite(port: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    const prev = this.history[this.history.length - 1];
    if (!prev || prev[0] !== port || prev[1] !== value) {
      this.history.push([port, value]);
      if (this.history.length > POST_HISTORY_MAX) this.history.shift();
    }
    this.last = value;
    this.#latch.set(port, value);
  }

  saveState(): PostState {
    return { last: this.last, history: this.history.map(([p, v]) => [p, v]) };
  }

  loadState(s: PostState): void {
    this.last = s.last;
    this.history = s.history.map(([p, v]) => [p, v]);
    this.#latch.clear();
    for (const [p, v] of this.history) this.#latch.set(p, v);
  }
}

/**
 * Debug console port (0xE9).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DebugConsole } from "./debug_ports.ts";
 * const out: number[] = [];
 * const con = new DebugConsole((b) => out.push(b));
 * con.portWrite(0xe9, 1, 0x48);
 * assert.equal(out[0], 0x48);
 * assert.equal(con.portRead(0xe9, 1), 0xe9);
 * ```
 */
export class DebugConsole implements PortDevice {
  constructor(readonly sink: ByteSink) {}

  portRead(_port: number, _size: AccessSize): number {
    return 0xe9;
  }

  portWrite(_port: number, _size: AccessSize, value: number): void {
    this.sink(value & 0xff);
  }
}

/**
 * `isa-debug-exit`: any write ends the run. The exit status is computed by
 * {@link debugExitStatus}; the device only reports the value written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DebugExit } from "./debug_ports.ts";
 * let got = -1;
 * const dev = new DebugExit((v) => { got = v; });
 * dev.portWrite(0xf4, 4, 0x10);
 * assert.equal(got, 0x10);
 * ```
 */
export class DebugExit implements PortDevice {
  constructor(readonly onExit: (value: number) => void) {}

  portRead(_port: number, _size: AccessSize): number {
    return 0;
  }

  portWrite(_port: number, _size: AccessSize, value: number): void {
    this.onExit(value >>> 0);
  }
}
