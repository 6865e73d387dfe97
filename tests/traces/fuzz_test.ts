import assert from "node:assert/strict";
import { crc32, TraceFormatError } from "../../traces/format/format.ts";
import { readTrace } from "../../traces/format/reader.ts";
import { encodeTrace } from "../../traces/format/writer.ts";
import { mulberry32, syntheticEvents, testHeader, withPollingRuns } from "./synthetic.ts";

/** Only a TraceFormatError (thrown or returned) or a valid/truncated result is acceptable. */
function check(bytes: Uint8Array, what: string): "ok" | "truncated" | "error" {
  try {
    const r = readTrace(bytes);
    if (r.error !== null) {
      assert.ok(r.error instanceof TraceFormatError);
      assert.ok(Number.isInteger(r.error.byteOffset) && r.error.byteOffset >= 0, what);
      return "error";
    }
    return r.truncated ? "truncated" : "ok";
  } catch (e) {
    if (e instanceof TraceFormatError) return "error";
    throw new Error(`${what}: unexpected ${(e as Error).stack ?? e}`);
  }
}

/** Start offsets of the chunk blocks and the end block of a clean trace. */
function blocks(bytes: Uint8Array): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  let pos = 16 + dv.getUint32(12, true) + 4;
  const out: number[] = [];
  while (pos < bytes.length) {
    out.push(pos);
    const magic = dv.getUint32(pos, true);
    pos += magic === 0x43545650
      ? 44 + dv.getUint32(pos + 12, true)
      : 12 + dv.getUint32(pos + 4, true);
  }
  out.push(bytes.length);
  return out;
}

// Polling runs make the corpus carry repeat records as well as ordinary ones.
const EVENTS = withPollingRuns(syntheticEvents(120, 11), 3, 12);
const TRACES = [false, true].map((compress) =>
  encodeTrace(testHeader(), EVENTS, { finalDigest: "c0ffee" }, { compress, chunkEvents: 16 })
);

Deno.test("fuzz: 10,000 blind mutations give TraceFormatError or a valid/truncated result", () => {
  const rnd = mulberry32(0x5eed);
  const int = (n: number) => Math.floor(rnd() * n);
  const seen = { ok: 0, truncated: 0, error: 0 };
  for (let iter = 0; iter < 10000; iter++) {
    const src = TRACES[iter & 1];
    let b = src.slice();
    const kind = int(6);
    if (kind === 0) {
      for (let k = 1 + int(3); k > 0; k--) b[int(b.length)] ^= 1 << int(8);
    } else if (kind === 1) {
      b = b.slice(0, int(b.length));
    } else if (kind === 2) {
      const at = int(b.length + 1);
      b = new Uint8Array([...b.subarray(0, at), int(256), ...b.subarray(at)]);
    } else if (kind === 3) {
      const at = int(b.length);
      b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + 1 + int(4))]);
    } else if (kind === 4) {
      const bl = blocks(src);
      const i = int(bl.length - 2), j = int(bl.length - 2);
      const [x, y] = i < j ? [i, j] : [j, i];
      if (x !== y) {
        b = new Uint8Array([
          ...src.subarray(0, bl[x]),
          ...src.subarray(bl[y], bl[y + 1]),
          ...src.subarray(bl[x + 1], bl[y]),
          ...src.subarray(bl[x], bl[x + 1]),
          ...src.subarray(bl[y + 1]),
        ]);
      }
    } else {
      b[int(b.length)] = int(256);
    }
    seen[check(b, `iteration ${iter} kind ${kind}`)]++;
  }
  assert.ok(seen.error > 5000 && seen.truncated > 500, JSON.stringify(seen));
});

Deno.test("fuzz: 10,000 mutations behind valid CRCs exercise the decoder itself", () => {
  const rnd = mulberry32(0xdec0de);
  const int = (n: number) => Math.floor(rnd() * n);
  const seen = { ok: 0, truncated: 0, error: 0 };
  for (let iter = 0; iter < 10000; iter++) {
    const src = TRACES[iter & 1];
    const bl = blocks(src);
    const c = int(bl.length - 2); // a chunk block
    const start = bl[c], end = bl[c + 1];
    const b = src.slice();
    // Mostly payload bytes; sometimes the chunk header fields (count, lengths, seq, icount).
    for (let k = 1 + int(3); k > 0; k--) {
      const at = rnd() < 0.8 ? start + 44 + int(end - start - 44) : start + 8 + int(32);
      if (rnd() < 0.5) b[at] ^= 1 << int(8);
      else b[at] = int(256);
    }
    const dv = new DataView(b.buffer);
    const crc = crc32(b.subarray(start + 44, end), crc32(b.subarray(start, start + 40)));
    dv.setUint32(start + 40, crc, true);
    seen[check(b, `iteration ${iter}`)]++;
  }
  assert.ok(seen.error > 3000, JSON.stringify(seen));
});
