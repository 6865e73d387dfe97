import assert from "node:assert/strict";
import type { TraceEvent } from "../../vocabulary/event.ts";
import { ByteCursor, ByteWriter, crc32, TraceFormatError } from "../../traces/format/format.ts";
import { checkReplayable, validateHeader } from "../../traces/format/header.ts";
import { readTrace, TraceReader } from "../../traces/format/reader.ts";
import { encodeTrace, TraceWriter } from "../../traces/format/writer.ts";
import { syntheticEvents, testHeader } from "./synthetic.ts";

function ev(seq: number, fields: Partial<TraceEvent> = {}): TraceEvent {
  return {
    seq,
    icount: seq * 10,
    vcpu: 0,
    kind: "exit",
    nr: 3,
    name: "hlt",
    args: [],
    ret: null,
    vector: null,
    errorCode: null,
    cr2: null,
    eip: 0x1000,
    op: null,
    opArgs: [],
    state: [],
    ...fields,
  };
}

const EDGE: TraceEvent[] = [
  ev(0),
  ev(1, {
    icount: 0,
    vcpu: 0xffff,
    kind: "exception",
    nr: 0xffffffff,
    name: "page_fault",
    args: [0, 0xffffffff, -1, -0x80000000, 0x7fffffff],
    ret: 0xffffffff,
    vector: 255,
    errorCode: -1,
    cr2: 0xfffff000,
    eip: 0xffffffff,
    op: "",
    opArgs: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0, -1],
    state: [["CR2", 0xfffff000], ["IF", 0], ["IF", 1], ["TIMER", 2 ** 52]],
  }),
  ev(2, { icount: Number.MAX_SAFE_INTEGER, nr: -1, ret: -1, vector: 0, errorCode: 0, cr2: 0 }),
  ev(3, { icount: 5, name: "x".repeat(5000), op: "é∑🙂 op", eip: -0x80000000 }),
  ev(4, {
    icount: 5,
    kind: "marker",
    name: "",
    args: [1, 2, 3],
    opArgs: [-Number.MAX_SAFE_INTEGER],
  }),
  ev(1000, { icount: 6, kind: "hypercall", opArgs: [Number.MAX_SAFE_INTEGER] }),
  ev(1001, { icount: 6, kind: "hypercall", opArgs: [-Number.MAX_SAFE_INTEGER] }),
  ev(7, {
    icount: 7,
    kind: "mmio",
    state: [["TS", -5], ["HALTED", 1], ["CPL", 3], ["CR0", 0x80000011]],
  }),
  ev(8, { icount: 7, kind: "interrupt", vcpu: 1 }),
  ev(9, { icount: 8, kind: "io", name: "hlt" }),
];

Deno.test("every field round-trips, including edge values, for all chunkings and codecs", () => {
  for (const compress of [false, true]) {
    for (const chunkEvents of [1, 3, 256]) {
      const bytes = encodeTrace(testHeader(), EDGE, { finalDigest: "00ff" }, {
        compress,
        chunkEvents,
      });
      const r = readTrace(bytes);
      assert.equal(r.error, null);
      assert.equal(r.truncated, false);
      assert.deepStrictEqual(r.events, EDGE);
      assert.deepStrictEqual(r.header, testHeader());
      assert.equal(r.footer?.eventCount, EDGE.length);
      assert.equal(r.footer?.finalDigest, "00ff");
      assert.equal(r.footer?.chunkCount, Math.ceil(EDGE.length / chunkEvents));
    }
  }
});

Deno.test("a realistic stream round-trips and stays under 16 bytes per event", () => {
  const events = [...syntheticEvents(20000, 3)];
  for (const compress of [false, true]) {
    const bytes = encodeTrace(testHeader(), events, { finalDigest: "aa" }, { compress });
    assert.deepStrictEqual(readTrace(bytes).events, events);
    assert.ok(bytes.length / events.length < (compress ? 4 : 8), `${bytes.length / events.length}`);
  }
});

Deno.test("same events give byte-identical traces", () => {
  const a = encodeTrace(testHeader(), syntheticEvents(3000, 9), { finalDigest: "01" });
  const b = encodeTrace(testHeader(), syntheticEvents(3000, 9), { finalDigest: "01" });
  assert.deepStrictEqual(a, b);
  const c = encodeTrace(testHeader(), syntheticEvents(3000, 10), { finalDigest: "01" });
  assert.notDeepStrictEqual(a, c);
});

Deno.test("the writer refuses unencodable events naming the field", () => {
  const w = new TraceWriter({ write() {}, close() {} }, testHeader());
  const bad: Array<[Partial<TraceEvent>, string]> = [
    [{ args: [1.5] }, "args[0]"],
    [{ args: [2 ** 32] }, "args[0]"],
    [{ vector: 256 }, "vector"],
    [{ icount: -1 }, "icount"],
    [{ nr: -2 }, "nr"],
    [{ kind: "toString" as TraceEvent["kind"] }, "kind"],
    [{ name: "\ud800" }, "name"],
    [{ opArgs: [2 ** 53] }, "opArgs[0]"],
    [{ state: [["toString" as "IF", 1]] }, "state[0]"],
  ];
  for (const [fields, name] of bad) {
    assert.throws(
      () => w.append(ev(0, fields)),
      (e: Error) => e instanceof RangeError && e.message.includes(name),
    );
  }
  assert.equal(w.eventCount, 0);
  assert.throws(() => w.close({ finalDigest: "XYZ" }), RangeError);
});

Deno.test("header validation names the inconsistent field", () => {
  const cases: Array<[ReturnType<typeof testHeader>, string]> = [
    [testHeader({ guest: { name: "g", sha256: "12", cmdline: "" } }), "guest.sha256"],
    [testHeader({ quirks: ["a", "a"] }), "quirks"],
    [testHeader({ seed: -1 }), "seed"],
    [{ ...testHeader(), machine: { ...testHeader().machine, tscHz: 0 } }, "machine.tsc_hz"],
    [
      { ...testHeader(), machine: { ...testHeader().machine, serialInput: "0" } },
      "machine.serial_input",
    ],
    [
      testHeader({
        cpu: {
          cpuid: [{ leaf: 1, subleaf: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 }, {
            leaf: 1,
            subleaf: 0,
            eax: 1,
            ebx: 0,
            ecx: 0,
            edx: 0,
          }],
        },
      }),
      "duplicate CPUID",
    ],
  ];
  for (const [h, what] of cases) {
    assert.throws(
      () => validateHeader(h),
      (e: Error) => e instanceof TraceFormatError && e.message.includes(what),
    );
  }
});

Deno.test("checkReplayable refuses a different image, CPU or clock and allows cross-backend runs", () => {
  const h = testHeader();
  assert.deepStrictEqual(checkReplayable(h, h), { ok: true, problems: [] });
  const other = testHeader({ guest: { ...h.guest, sha256: "cd".repeat(32) } });
  assert.deepStrictEqual(checkReplayable(h, other).problems.map((p) => p.field), ["guest.sha256"]);
  const cpu = testHeader({ cpu: { cpuid: [{ ...h.cpu.cpuid[0], eax: 5 }, h.cpu.cpuid[1]] } });
  assert.equal(checkReplayable(h, cpu).ok, false);
  const clock = testHeader({ machine: { ...h.machine, apicHz: 1 } });
  assert.equal(checkReplayable(h, clock).problems[0].field, "machine.apic_hz");
  const kvm = testHeader({
    backend: { name: "kvm", profile: "2.6.22" },
    cpu: {
      cpuid: [...h.cpu.cpuid, { leaf: 0x40000000, subleaf: 0, eax: 1, ebx: 2, ecx: 3, edx: 4 }],
    },
  });
  assert.equal(checkReplayable(h, kvm).ok, false);
  assert.equal(checkReplayable(h, kvm, { crossBackend: true }).ok, true);
  const newer = checkReplayable(h, { ...h, toolVersion: "9.9" });
  assert.equal(newer.ok, true);
  assert.equal(newer.problems[0].fatal, false);
});

Deno.test("a Linux boot's header: boot and guest.initrd round-trip and are checked on replay", () => {
  const base = testHeader();
  const initrd = { name: "initrd.cpio", sha256: "ef".repeat(32), path: "/abs/initrd.cpio" };
  const h = testHeader({ boot: "linux", guest: { ...base.guest, initrd } });
  const path = Deno.makeTempFileSync({ suffix: ".pvt" });
  Deno.writeFileSync(path, encodeTrace(h, [], { finalDigest: "00" }));
  const back = readTrace(path).header;
  assert.equal(back.boot, "linux");
  assert.deepStrictEqual(back.guest.initrd, initrd);
  // No path: still valid; bad hash or unknown key: refused.
  validateHeader(
    testHeader({ guest: { ...base.guest, initrd: { name: "i", sha256: "0".repeat(64) } } }),
  );
  assert.throws(
    () =>
      validateHeader(testHeader({ guest: { ...base.guest, initrd: { name: "i", sha256: "x" } } })),
    (e: Error) => e instanceof TraceFormatError && e.message.includes("guest.initrd.sha256"),
  );
  const other = { ...h, guest: { ...h.guest, initrd: { ...initrd, sha256: "01".repeat(32) } } };
  assert.deepStrictEqual(checkReplayable(h, other).problems.map((p) => p.field), [
    "guest.initrd.sha256",
  ]);
  const none = { ...h, guest: base.guest };
  assert.equal(checkReplayable(h, none).problems[0].field, "guest.initrd.sha256");
  assert.deepStrictEqual(
    checkReplayable(h, { ...h, boot: undefined }).problems.map((p) => p.field),
    [
      "boot",
    ],
  );
});

Deno.test("truncation at every byte offset reads up to the last complete chunk", () => {
  const events = [...syntheticEvents(40, 5)];
  const full = encodeTrace(testHeader(), events, { finalDigest: "beef" }, { chunkEvents: 7 });
  let headerSize = -1;
  for (let cut = 0; cut < full.length; cut++) {
    const bytes = full.slice(0, cut);
    let r;
    try {
      r = readTrace(bytes);
    } catch (e) {
      assert.ok(e instanceof TraceFormatError, `cut ${cut}: ${e}`);
      assert.ok(/truncated|bad magic/.test(e.reason), e.reason);
      continue;
    }
    if (headerSize < 0) headerSize = cut;
    assert.equal(r.error, null, `cut ${cut}`);
    assert.equal(r.truncated, true);
    assert.ok(r.truncation !== null);
    const n = r.events.length;
    assert.equal(n % 7 === 0 || n === 40, true, `cut ${cut}: ${n} events`);
    assert.deepStrictEqual(r.events, events.slice(0, n));
    assert.equal(r.truncation.validEvents, n);
    assert.ok(r.truncation.byteOffset <= cut);
  }
  assert.ok(headerSize > 16);
  assert.equal(readTrace(full).truncated, false);
});

Deno.test("abort marks the trace incomplete with the reason; flush makes events durable", () => {
  const path = Deno.makeTempFileSync({ suffix: ".pvt" });
  try {
    const w = TraceWriter.create(path, testHeader(), { chunkEvents: 100 });
    const events = [...syntheticEvents(150, 2)];
    for (const e of events.slice(0, 120)) w.append(e);
    // Simulated hard crash: only the first full chunk is on disk.
    let r = readTrace(Deno.readFileSync(path));
    assert.equal(r.events.length, 100);
    assert.match(r.truncation!.reason, /no footer/);
    w.flush();
    r = readTrace(path);
    assert.equal(r.events.length, 120);
    for (const e of events.slice(120)) w.append(e);
    w.abort("budget exhausted");
    assert.throws(() => w.append(events[0]), /closed/);
    r = readTrace(path);
    assert.deepStrictEqual(r.events, events);
    assert.equal(r.truncated, true);
    assert.equal(r.truncation!.aborted, true);
    assert.equal(r.truncation!.reason, "aborted: budget exhausted");
    assert.equal(r.footer, null);
    const reader = TraceReader.open(path);
    assert.equal(reader.hasFooter(), false);
    reader.close();
  } finally {
    Deno.removeSync(path);
  }
});

function mustFail(bytes: Uint8Array, offset: number | null, pattern: RegExp): void {
  let err: unknown = null;
  try {
    const r = readTrace(bytes);
    err = r.error;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof TraceFormatError, `expected a TraceFormatError, got ${err}`);
  assert.match(err.reason, pattern);
  if (offset !== null) assert.equal(err.byteOffset, offset);
}

Deno.test("corruption is reported with the byte offset and a named reason", () => {
  const events = [...syntheticEvents(30, 4)];
  const full = encodeTrace(testHeader(), events, { finalDigest: "11" }, { chunkEvents: 10 });
  const headerLen = new DataView(full.buffer).getUint32(12, true);
  const chunk0 = 16 + headerLen + 4;
  const chunkLen = (at: number) => 44 + new DataView(full.buffer).getUint32(at + 12, true);
  const chunk1 = chunk0 + chunkLen(chunk0);
  const chunk2 = chunk1 + chunkLen(chunk1);
  const flip = (at: number) => {
    const b = full.slice();
    b[at] ^= 0x10;
    return b;
  };
  mustFail(flip(0), 0, /bad magic/);
  mustFail(flip(8), 8, /unsupported format version 17\.1/);
  mustFail(flip(20), 16 + headerLen, /header CRC mismatch/);
  mustFail(flip(chunk1 + 50), chunk1 + 40, /chunk 1: CRC mismatch/);
  mustFail(flip(chunk1), chunk1, /unknown block magic/);
  mustFail(flip(chunk1 + 4), chunk1 + 4, /chunk 1: index 17 found where 1 expected/);
  mustFail(flip(full.length - 6), null, /footer/);
  // Chunk swap: each chunk is intact, the order is not.
  const swapped = new Uint8Array(full.length);
  swapped.set(full.subarray(0, chunk0));
  swapped.set(full.subarray(chunk1, chunk2), chunk0);
  swapped.set(full.subarray(chunk0, chunk1), chunk0 + (chunk2 - chunk1));
  swapped.set(full.subarray(chunk2), chunk2);
  mustFail(swapped, chunk0 + 4, /chunk 0: index 1 found where 0 expected/);
  // Trailing garbage after the footer.
  const longer = new Uint8Array(full.length + 3);
  longer.set(full);
  mustFail(longer, null, /trailing data/);
  // Corruption after valid chunks keeps the events before it.
  const r = readTrace(flip(chunk2 + 60));
  assert.equal(r.events.length, 20);
  assert.equal(r.error?.byteOffset, chunk2 + 40);
});

Deno.test("a newer minor version or another major is refused by name", () => {
  const full = encodeTrace(testHeader(), [], { finalDigest: "11" });
  const b = full.slice();
  new DataView(b.buffer).setUint16(10, 2, true);
  mustFail(b, 8, /unsupported format version 1\.2 \(this reader reads 1\.0 to 1\.1\)/);
});

Deno.test("varints: canonical encodings only, every safe integer exact", () => {
  const w = new ByteWriter(4);
  const values = [0, 1, 63, 64, 127, 128, 2 ** 31, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER];
  for (const v of values) {
    w.uvarint(v);
    w.svarint(v);
    w.svarint(-v);
  }
  const c = new ByteCursor(w.toBytes(), 0, "test");
  for (const v of values) {
    assert.equal(c.uvarint(), v);
    assert.equal(c.svarint(), v);
    assert.ok(Object.is(c.svarint(), v === 0 ? 0 : -v));
  }
  assert.throws(
    () => new ByteCursor(new Uint8Array([0x80, 0x00]), 5, "t").uvarint(),
    /non-canonical/,
  );
  assert.throws(
    () => new ByteCursor(new Uint8Array(9).fill(0xff), 5, "t").uvarint(),
    /longer than 8/,
  );
  assert.throws(
    () => new ByteCursor(new Uint8Array([0x80]), 5, "t").uvarint(),
    (e: TraceFormatError) => e.byteOffset === 5 && /truncated varint/.test(e.reason),
  );
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

Deno.test("chunks are also cut by size, and hasFooter tells complete traces apart", () => {
  const events = [...syntheticEvents(400, 6)].map((e) => ({ ...e, name: e.name + "_".repeat(40) }));
  const bytes = encodeTrace(testHeader(), events, { finalDigest: "02" }, {
    chunkBytes: 256,
    compress: false,
  });
  const r = readTrace(bytes);
  assert.deepStrictEqual(r.events, events);
  assert.ok(r.footer!.chunkCount > 20, `${r.footer!.chunkCount} chunks`);
  const reader = TraceReader.fromBytes(bytes);
  assert.equal(reader.hasFooter(), true);
  assert.equal(TraceReader.fromBytes(bytes.slice(0, bytes.length - 1)).hasFooter(), false);
});

Deno.test("a chunk whose decompressed size disagrees with its header is refused", () => {
  const bytes = encodeTrace(testHeader(), syntheticEvents(200, 6), { finalDigest: "02" });
  const dv = new DataView(bytes.buffer);
  const chunk0 = 16 + dv.getUint32(12, true) + 4;
  assert.equal(bytes[chunk0 + 20], 1, "deflate codec expected");
  dv.setUint32(chunk0 + 16, dv.getUint32(chunk0 + 16, true) - 1, true);
  const plen = dv.getUint32(chunk0 + 12, true);
  const crc = crc32(
    bytes.subarray(chunk0 + 44, chunk0 + 44 + plen),
    crc32(bytes.subarray(chunk0, chunk0 + 40)),
  );
  dv.setUint32(chunk0 + 40, crc, true);
  mustFail(bytes, null, /chunk 0: bad compressed payload|decompressed to/);
});
