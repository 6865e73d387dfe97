/**
 * Repeat records (docs/trace-format.md §5.3): exact repetitions of an event (port polling) are
 * stored as one record, give the same bytes however they reach the writer, read back as
 * individual events, and corrupt ones are refused by name. Backends hand polling runs to sinks
 * that take them, and the events are the same as event by event.
 */

import assert from "node:assert/strict";
import { decodeChunk } from "../../traces/format/chunk_codec.ts";
import type { EventSink, TraceEvent } from "../../vocabulary/event.ts";
import { TraceFormatError } from "../../traces/format/format.ts";
import { readTrace, TraceReader } from "../../traces/format/reader.ts";
import { Recorder } from "../../traces/session/recorder.ts";
import { REFERENCE_DIR } from "../../traces/session/reference.ts";
import { replaySame } from "../../traces/session/replay.ts";
import { openSession } from "../../traces/session/session.ts";
import { suiteCase } from "../../traces/session/suite.ts";
import { IMAGE_DIR } from "../../traces/format/guest_image.ts";
import { encodeTrace, TraceWriter, type TraceWriterOptions } from "../../traces/format/writer.ts";
import { syntheticEvents, testHeader, withPollingRuns } from "./synthetic.ts";

const EVENTS = withPollingRuns(syntheticEvents(3000, 5), 9);

/** Writes `events` through `appendRepeat` wherever one is an exact repetition of the last. */
function encodeWithRuns(events: TraceEvent[], options: TraceWriterOptions): Uint8Array {
  const chunks: Uint8Array[] = [];
  const sink = { write: (b: Uint8Array) => chunks.push(b.slice()), close() {} };
  const w = new TraceWriter(sink, testHeader(), options);
  for (let i = 0; i < events.length;) {
    const e = events[i];
    let n = 0;
    const step = i + 1 < events.length ? events[i + 1].icount - e.icount : 0;
    while (
      i + n + 1 < events.length && sameButPosition(events[i + n + 1], e) &&
      events[i + n + 1].icount - events[i + n].icount === step
    ) n++;
    w.append(e);
    if (n > 0) w.appendRepeat(n, step);
    i += n + 1;
  }
  w.close({ finalDigest: "ab" });
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) (out.set(c, at), at += c.length);
  return out;
}

function sameButPosition(a: TraceEvent, b: TraceEvent): boolean {
  return JSON.stringify({ ...a, seq: 0, icount: 0 }) ===
    JSON.stringify({ ...b, seq: 0, icount: 0 });
}

Deno.test("runs of exact repetitions read back event by event", () => {
  const bytes = encodeTrace(testHeader(), EVENTS, { finalDigest: "ab" });
  const back = readTrace(bytes);
  assert.equal(back.error, null);
  assert.deepEqual(back.events, EVENTS);
  assert.equal(back.footer?.eventCount, EVENTS.length);
});

Deno.test("a run costs one record: 100,000 identical polls take a few bytes per chunk", () => {
  const poll = EVENTS.find((e) => e.kind === "io")!;
  const polls = Array.from({ length: 100_000 }, (_, i) => ({ ...poll, seq: i, icount: 7 * i }));
  const bytes = encodeTrace(testHeader(), polls, { finalDigest: "ab" }, { compress: false });
  const empty = encodeTrace(testHeader(), [], { finalDigest: "ab" }, { compress: false });
  // 25 chunks of 4096 events: header 44 bytes + the event + one repeat record each.
  assert.ok(bytes.length - empty.length < 25 * 80, `${bytes.length - empty.length} bytes`);
  assert.deepEqual(readTrace(bytes).events, polls);
});

Deno.test("appendRepeat writes the same bytes as appending the repetitions one by one", () => {
  const policies: TraceWriterOptions[] = [
    {},
    { compress: false },
    { chunkEvents: 1 },
    { chunkEvents: 3 },
    { chunkEvents: 64, chunkBytes: 64 },
    { chunkEvents: 1000, chunkBytes: 200 },
  ];
  const events = EVENTS.slice(0, 8000);
  for (const p of policies) {
    const one = encodeTrace(testHeader(), events, { finalDigest: "ab" }, p);
    assert.deepEqual(encodeWithRuns(events, p), one, JSON.stringify(p));
  }
});

Deno.test("appendRepeat refuses a run with nothing to repeat or out of range", () => {
  const sink = { write() {}, close() {} };
  const w = new TraceWriter(sink, testHeader());
  assert.throws(() => w.appendRepeat(3, 1), /no event to repeat/);
  w.append(EVENTS[0]);
  assert.throws(() => w.appendRepeat(0, 1), /bad run/);
  assert.throws(() => w.appendRepeat(2, -EVENTS[0].icount), /bad run/);
  assert.throws(() => w.appendRepeat(1.5, 1), /bad run/);
});

Deno.test("corrupt repeat records are refused by name", () => {
  const fail = (payload: number[], count: number, pattern: RegExp) => {
    assert.throws(
      () => decodeChunk(new Uint8Array(payload), count, 0, 0, 1000, true),
      (e) => e instanceof TraceFormatError && pattern.test(e.message),
    );
  };
  // 0x00 0xff = repeat record; then uvarint count, svarint step (sign-magnitude: 0x04 = +2,
  // 0x03 = -1).
  fail([0x00, 0xff, 0x02, 0x02], 2, /repeat record before any event/);
  const event = [0x00, 4, 0, 0x62, 0, 2, 0x69, 0x6e, 0, 0, 0, 0, 0, 0, 0x00];
  fail([...event, 0x00, 0xff, 0x05, 0x02], 3, /repeat count 5 not in 1\.\.2/);
  fail([...event, 0x00, 0xff, 0x00, 0x02], 3, /repeat count 0/);
  fail([...event, 0x00, 0xff, 0x01, 0x03], 2, /impossible icount -1/);
  const ok = decodeChunk(new Uint8Array([...event, 0x00, 0xff, 0x02, 0x04]), 3, 7, 100, 0, true);
  assert.deepEqual(ok.map((e) => [e.seq, e.icount, e.name, e.nr]), [
    [7, 100, "in", 0x61],
    [8, 102, "in", 0x61],
    [9, 104, "in", 0x61],
  ]);
});

Deno.test("a format 1.0 trace (before repeat records) reads as the same events as its 1.1 re-recording", () => {
  const old = readTrace("tests/traces/fixtures/boot-native-v1.0.pvt");
  const now = readTrace(`${REFERENCE_DIR}/pvkernel-2.6.22-boot-native_p6.pvt`);
  assert.equal(old.error, null);
  assert.equal(old.events.length, now.events.length);
  assert.deepEqual(old.events, now.events);
});

const CLOCK = suiteCase("2.6.22", "clock");
const IMAGE = Deno.readFileSync(`${IMAGE_DIR}/${CLOCK.image}`);

function record(backend: string, sink: (r: Recorder) => EventSink): TraceEvent[] {
  const events: TraceEvent[] = [];
  const rec = new Recorder({ append: (e) => events.push(e) });
  const s = openSession(
    { image: IMAGE, imageName: CLOCK.image, cmdline: CLOCK.cmdline, backend },
    sink(rec),
  );
  assert.equal(s.run(400_000_000).reason, "debug-exit");
  return events;
}

for (const backend of ["native", "kvm"]) {
  Deno.test(`${backend}: polling runs handed over whole give the same events as one by one`, () => {
    let runs = 0;
    const whole = record(backend, (r) => ({
      emit: (e) => r.emit(e),
      emitRepeat: (n, step) => (runs++, r.emitRepeat(n, step)),
    }));
    const single = record(backend, (r) => ({ emit: (e) => r.emit(e) }));
    assert.ok(runs > 1000, `only ${runs} runs`);
    assert.equal(whole.length, single.length);
    assert.deepEqual(whole, single);
  });
}

Deno.test("replay catches an event altered inside a polling run at exactly that event", () => {
  const t = readTrace(`${REFERENCE_DIR}/pvkernel-2.6.22-clock-native_p6.pvt`);
  // An `in` whose neighbours on both sides are the same access: the middle of a run.
  const pick = t.events.findIndex((e, i) =>
    i > 100_000 && e.kind === "io" && sameButPosition(e, t.events[i - 1]) &&
    sameButPosition(e, t.events[i + 1])
  );
  assert.ok(pick > 0);
  const altered = t.events.map((e) => e.seq === pick ? { ...e, ret: (e.ret! ^ 0x20) >>> 0 } : e);
  const image = Deno.readFileSync(`${IMAGE_DIR}/${t.header.guest.name}`);
  const r = replaySame(t.header, altered, image);
  assert.equal(r.mismatch?.seq, pick);
  assert.deepEqual(r.mismatch?.fields, ["ret"]);
});

Deno.test("collapsed decoding: the events and repeats expand to the same events", () => {
  const event = [0x00, 4, 0, 0x62, 0, 2, 0x69, 0x6e, 0, 0, 0, 0, 0, 0, 0x00];
  // The event, 2 copies 2 apart, 3 more 3 apart (a repeat after a repeat of another step).
  const payload = new Uint8Array([...event, 0x00, 0xff, 0x02, 0x04, 0x00, 0xff, 0x03, 0x06]);
  const expanded = decodeChunk(payload, 6, 7, 100, 0, true);
  const collapsed = { repeats: [], steps: [] };
  const events = decodeChunk(payload, 6, 7, 100, 0, true, collapsed);
  const again = events.flatMap((e, k) => [
    e,
    ...Array.from(
      { length: collapsed.repeats[k] },
      (_, n) => ({ ...e, seq: e.seq + n + 1, icount: e.icount + (n + 1) * collapsed.steps[k] }),
    ),
  ]);
  assert.deepEqual(again, expanded);
  assert.deepEqual(expanded.map((e) => e.icount), [100, 102, 104, 107, 110, 113]);
  assert.equal(events.length, 2);
});

Deno.test("collapsed events of a recorded trace count as many events per op as events()", () => {
  const path = `${REFERENCE_DIR}/pvkernel-2.6.22-boot-native_p6.pvt`;
  const count = (it: Iterator<TraceEvent>, repeats: () => number) => {
    const n = new Map<string, number>();
    for (let r = it.next(); !r.done; r = it.next()) {
      const k = `${r.value.kind}:${r.value.op}`;
      n.set(k, (n.get(k) ?? 0) + 1 + repeats());
    }
    return n;
  };
  const a = TraceReader.open(path), b = TraceReader.open(path);
  const c = b.collapsedEvents();
  assert.deepEqual(count(c, () => c.repeats), count(a.events(), () => 0));
  a.close(), b.close();
});
