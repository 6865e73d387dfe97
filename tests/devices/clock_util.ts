import type { VirtualClock } from "../../core/clock.ts";

/** Advances `clock` to `to`, firing every event on its exact deadline (as the CPU does). */
export function advance(clock: VirtualClock, to: number): void {
  while (clock.nextDeadline <= to) {
    clock.icount = Math.max(clock.icount, clock.nextDeadline);
    clock.fireDue();
  }
  clock.icount = to;
}

/** An IrqLine that records (icount, irq, level) transitions. */
export function recordingIrq(clock: VirtualClock) {
  const log: Array<[number, number, boolean]> = [];
  return {
    log,
    setIrq(irq: number, level: boolean) {
      log.push([clock.icount, irq, level]);
    },
    rising(irq: number): number[] {
      return log.filter(([, n, l]) => n === irq && l).map(([t]) => t);
    },
  };
}
