/**
 * Polling runs at the backend (base_backend.ts): repetitions of a port access are handed to a
 * sink that takes runs, and the events a recorder makes of them equal, in content and order,
 * the events built one by one, also when another event is queued in the middle of a run.
 */

import { assertEquals } from "./assert.ts";
import { rig } from "./fake_machine.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";
import { Recorder } from "../../traces/session/recorder.ts";

/** Polls port 0x61, queues an after-exit marker mid-run, polls on; returns the events. */
function script(takesRuns: boolean): { events: TraceEvent[]; runs: number } {
  const events: TraceEvent[] = [];
  const rec = new Recorder({ append: (e) => events.push(e) });
  let runs = 0;
  const sink = takesRuns
    ? {
      emit: (e: Omit<TraceEvent, "seq">) => rec.emit(e),
      emitRepeat: (n: number, s: number) => (runs++, rec.emitRepeat(n, s)),
    }
    : { emit: (e: Omit<TraceEvent, "seq">) => rec.emit(e) };
  const r = rig("native", { sink });
  // The same `in` (an unclaimed port: 0xff each time) every 8 instructions.
  const poll = (n: number) => {
    for (let i = 0; i < n; i++) {
      r.step(8, 0);
      r.io.read(0x61, 1);
    }
  };
  poll(4);
  // A hook's event queued to follow its instruction (as KVM's para-state marker is).
  const backend = r.backend as unknown as { emitAfterExit(f: object): void };
  backend.emitAfterExit({ kind: "marker", nr: 1, name: "queued", args: [], eip: 0x2010 });
  poll(3);
  r.backend.flush();
  return { events, runs };
}

Deno.test("polling runs: same events in the same order as one by one", () => {
  const single = script(false);
  const whole = script(true);
  assertEquals(single.runs, 0);
  assertEquals(whole.runs, 2);
  assertEquals(whole.events, single.events);
  const names = whole.events.map((e) => e.name);
  assertEquals(names.filter((n) => n === "in").length, 7);
  assertEquals(names.indexOf("queued") > names.indexOf("in"), true);
});
