/**
 * The encoder's fast paths (template reuse by field comparison, values checked without the
 * full check, batched encoding) must not change what is written or what is refused.
 */

import assert from "node:assert/strict";
import type { TraceEvent } from "../../vocabulary/event.ts";
import { readTrace } from "../../traces/format/reader.ts";
import { encodeTrace, TraceWriter } from "../../traces/format/writer.ts";
import { ByteWriter } from "../../traces/format/format.ts";
import { mulberry32, portPolls, syntheticEvents, testHeader } from "./synthetic.ts";

/** A sink keeping every write, to compare the bytes of two writers. */
function memorySink(): {
  sink: { write(b: Uint8Array): void; close(): void };
  bytes(): Uint8Array;
} {
  const out = new ByteWriter();
  return { sink: { write: (b) => out.bytes(b), close() {} }, bytes: () => out.toBytes() };
}

/** (event count, decoded payload length) of each chunk block of a clean trace. */
function chunkSizes(bytes: Uint8Array): Array<[number, number]> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  let pos = 16 + dv.getUint32(12, true) + 4;
  const out: Array<[number, number]> = [];
  while (dv.getUint32(pos, true) === 0x43545650) {
    out.push([dv.getUint32(pos + 8, true), dv.getUint32(pos + 16, true)]);
    pos += 44 + dv.getUint32(pos + 12, true);
  }
  return out;
}

Deno.test("chunks end exactly at flushes, full counts and size cuts, whatever the batching", () => {
  const events = [...syntheticEvents(6000, 21)];
  const rnd = mulberry32(3);
  const flushAt = new Set(Array.from({ length: 10 }, () => Math.floor(rnd() * events.length)));
  const chunkEvents = 700, chunkBytes = 1024;
  const s = memorySink();
  const w = new TraceWriter(s.sink, testHeader(), { chunkEvents, chunkBytes });
  events.forEach((e, i) => {
    w.append(e);
    if (flushAt.has(i)) w.flush();
  });
  w.close({ finalDigest: "01" });
  assert.deepStrictEqual(readTrace(s.bytes()).events, events);
  let end = 0, bySize = 0;
  const sizes = chunkSizes(s.bytes());
  sizes.forEach(([n, raw], k) => {
    end += n;
    assert.ok(n <= chunkEvents, `chunk ${k}: ${n} events`);
    const last = k === sizes.length - 1;
    // A chunk ends at a flush, when full, or when its payload reached chunkBytes; a size cut
    // happens at the first event that reaches it (one event is at most ~40 bytes here).
    if (!flushAt.has(end - 1) && !last && n !== chunkEvents) {
      assert.ok(raw >= chunkBytes && raw < chunkBytes + 64, `chunk ${k}: ${raw} bytes`);
      bySize++;
    }
  });
  assert.equal(end, events.length);
  assert.ok(bySize > 5, `${bySize} size cuts`);
  // Every flush point is a chunk end.
  const ends = new Set<number>();
  let acc = 0;
  for (const [n] of sizes) ends.add((acc += n) - 1);
  for (const i of flushAt) assert.ok(ends.has(i), `no chunk ends at flushed event ${i}`);
});

Deno.test("count cuts fall every chunkEvents events, below, at and above the encoding batch", () => {
  const events = [...syntheticEvents(2000, 8)];
  for (const chunkEvents of [1, 7, 255, 256, 257, 1000]) {
    const bytes = encodeTrace(testHeader(), events, { finalDigest: "02" }, {
      chunkEvents,
      chunkBytes: 1 << 20,
    });
    assert.deepStrictEqual(readTrace(bytes).events, events);
    const counts = chunkSizes(bytes).map(([n]) => n);
    const full = Math.floor(events.length / chunkEvents);
    assert.deepStrictEqual(counts.slice(0, full), new Array(full).fill(chunkEvents));
    assert.deepStrictEqual(
      counts.slice(full),
      events.length % chunkEvents ? [events.length % chunkEvents] : [],
    );
  }
});

Deno.test("repeated port polls cost about a byte each and round-trip", () => {
  const events = [...portPolls(20000)];
  const bytes = encodeTrace(testHeader(), events, { finalDigest: "03" });
  assert.deepStrictEqual(readTrace(bytes).events, events);
  assert.ok(bytes.length / events.length < 0.5, `${bytes.length / events.length} bytes/event`);
  const raw = encodeTrace(testHeader(), events, { finalDigest: "03" }, { compress: false });
  // t (1) + icount delta (1) + mask (1) + ret delta when it toggles.
  assert.ok(raw.length / events.length < 3.1, `${raw.length / events.length} raw bytes/event`);
});

Deno.test("an event of a known shape with a bad value is refused and changes nothing", () => {
  const good = [...portPolls(10)];
  const bad: Array<[Partial<TraceEvent>, string]> = [
    [{ args: [0x61, 2 ** 32] }, "args[1]"],
    [{ args: [0x61, 0.5] }, "args[1]"],
    [{ ret: -(2 ** 31) - 1 }, "ret"],
    [{ eip: NaN }, "eip"],
    [{ icount: -1 }, "icount"],
    [{ seq: 2 ** 53 }, "seq"],
    [{ args: [0x61, "1" as unknown as number] }, "args[1]"],
    [{ args: [0x61, 1n as unknown as number] }, "args[1]"],
  ];
  for (const [fields, name] of bad) {
    const s = memorySink();
    const w = new TraceWriter(s.sink, testHeader(), { chunkEvents: 4 });
    for (const e of good.slice(0, 5)) w.append(e);
    assert.throws(
      () => w.append({ ...good[5], ...fields }),
      (e: Error) => e instanceof RangeError && e.message.includes(name),
      name,
    );
    assert.equal(w.eventCount, 5);
    for (const e of good.slice(5)) w.append(e);
    w.close({ finalDigest: "04" });
    assert.deepStrictEqual(readTrace(s.bytes()).events, good, name);
  }
});

Deno.test("shapes differing only in a fixed field get their own templates", () => {
  const base = [...portPolls(1)][0];
  const variants: TraceEvent[] = [
    base,
    { ...base, nr: 0x60 },
    { ...base, vcpu: 1 },
    { ...base, kind: "mmio" },
    { ...base, op: "x" },
    { ...base, op: "y" },
    { ...base, args: [0x61] },
    { ...base, ret: null },
    { ...base, ret: null, vector: 3 },
    { ...base, state: [["IF", 1]] },
    { ...base, state: [["CR0", 1]] },
    { ...base, state: [["IF", 1], ["IF", 0]] },
    { ...base, opArgs: [5] },
    { ...base, name: "ins" },
  ];
  // Interleaved, repeated: every event must decode to its own shape.
  const events: TraceEvent[] = [];
  for (let i = 0; i < 200; i++) {
    const v = variants[(i * 7) % variants.length];
    events.push({ ...v, seq: i, icount: 10 * i, ret: v.ret === null ? null : i & 0xff });
  }
  for (const compress of [false, true]) {
    const bytes = encodeTrace(testHeader(), events, { finalDigest: "05" }, { compress });
    assert.deepStrictEqual(readTrace(bytes).events, events);
  }
});
