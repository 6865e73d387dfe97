/**
 * Byte-level building blocks of the `.pvt` trace format (specified in `docs/trace-format.md`):
 * layout constants, the error type every reader failure becomes, CRC-32, and the LEB128 varint
 * writer/cursor used by the header, chunk and footer codecs.
 *
 * @module
 */

/** File magic: PNG-style so that text-mode transfers and truncated copies are caught early. */
export const FILE_MAGIC: Uint8Array = new Uint8Array([
  0x89,
  0x50,
  0x56,
  0x54,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
]);
/** Format major version this code writes and reads. A different major is refused. */
export const FORMAT_MAJOR = 1;
/**
 * Format minor version this code writes; files with a higher minor are refused. 1.1 added the
 * repeat record (docs/trace-format.md §5.3); 1.0 files read unchanged.
 */
export const FORMAT_MINOR = 1;
/** Prelude: magic(8) major(u16) minor(u16) headerLength(u32). */
export const PRELUDE_SIZE = 16;
/** Upper bound on the header JSON, so a corrupt length cannot make the reader allocate GiBs. */
export const MAX_HEADER_BYTES = 16 << 20;

/** Block magics ("PVTC", "PVTF", "PVTA") as little-endian u32. */
export const CHUNK_MAGIC = 0x43545650;
export const FOOTER_MAGIC = 0x46545650;
export const ABORT_MAGIC = 0x41545650;

/** Chunk block header size; the payload follows. */
export const CHUNK_HEADER_SIZE = 44;
/** Upper bounds on one chunk's stored and decoded payload (corrupt lengths are refused). */
export const MAX_CHUNK_PAYLOAD = 16 << 20;
/** Most events one chunk may hold (bounds what a reader materializes per chunk). */
export const MAX_CHUNK_EVENTS = 65536;
/** Chunk payload codecs. */
export const CODEC_RAW = 0;
export const CODEC_DEFLATE = 1;

/** Footer block: magic(4) bodyLength(u32) body crc(u32). */
export const FOOTER_FIXED_SIZE = 12;
/** Largest final-state digest accepted (bytes). */
export const MAX_DIGEST_BYTES = 64;
/** Largest abort reason accepted (UTF-8 bytes). */
export const MAX_REASON_BYTES = 4096;

/**
 * Default chunk policy: a chunk is cut at this many events or this many raw bytes, whichever
 * comes first, so a hard crash loses at most one chunk. Varied events (≥ 3 bytes each) meet
 * the byte limit first (≤ ~11 k events); polling runs cost bytes per run, not per event, and
 * meet the event limit (a 4096-event limit cut the `clock` scenario into 153 chunks, whose
 * fixed costs — deflate set-up, write, CRC, hash — were most of its recording overhead).
 */
export const DEFAULT_CHUNK_EVENTS = MAX_CHUNK_EVENTS;
export const DEFAULT_CHUNK_BYTES = 32 << 10;
/** Default zlib level of chunk payloads (the writer's `deflateLevel`). */
export const DEFAULT_DEFLATE_LEVEL = 1;

/**
 * Everything a trace reader can object to. `byteOffset` is the file offset of the offending
 * byte (or of the start of the offending block), `reason` a short human-readable cause.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TraceFormatError } from "./format.ts";
 * const e = new TraceFormatError(16, "bad chunk magic");
 * assert.equal(e.message, "trace format error at byte 16: bad chunk magic");
 * ```
 */
export class TraceFormatError extends Error {
  readonly byteOffset: number;
  readonly reason: string;
  constructor(byteOffset: number, reason: string) {
    super(`trace format error at byte ${byteOffset}: ${reason}`);
    this.name = "TraceFormatError";
    this.byteOffset = byteOffset;
    this.reason = reason;
  }
}

/** CRC-32 tables for slicing-by-4 (table k advances a byte through k further zero bytes). */
const CRC_TABLES = (() => {
  const t = new Int32Array(256 * 4);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 4; k++) {
      t[k * 256 + n] = t[t[(k - 1) * 256 + n] & 0xff] ^ (t[(k - 1) * 256 + n] >>> 8);
    }
  }
  return t;
})();

/**
 * CRC-32 (IEEE 802.3, reflected, as zlib/PNG). Pass the previous result as `crc` to continue.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32 } from "./format.ts";
 * assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
 * ```
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  const t = CRC_TABLES;
  let c = ~crc;
  let i = 0;
  const n4 = bytes.length & ~3;
  for (; i < n4; i += 4) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = t[768 + (c & 0xff)] ^ t[512 + ((c >>> 8) & 0xff)] ^ t[256 + ((c >>> 16) & 0xff)] ^
      t[c >>> 24];
  }
  for (; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const TWO32 = 0x1_0000_0000;

/** Longest uvarint of a safe integer (53 bits, 7 per byte); an svarint takes one byte more. */
export const MAX_VARINT_BYTES = 8;

/**
 * Writes the uvarint of `v` (a non-negative safe integer) at `b[p]`, returning the position
 * after it. The caller guarantees room ({@link MAX_VARINT_BYTES}). Values below 2^31 take the
 * integer path; larger ones need floating-point division.
 */
export function putUvarint(b: Uint8Array, p: number, v: number): number {
  if (v < 0x80) {
    b[p] = v;
    return p + 1;
  }
  if (v <= 0x7fffffff) {
    do {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    } while (v >= 0x80);
  } else {
    do {
      b[p++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    } while (v >= 0x80);
  }
  b[p] = v;
  return p + 1;
}

/**
 * Writes the svarint of `v` (a safe integer; -0 is written as 0) at `b[p]`, returning the
 * position after it. The caller guarantees room ({@link MAX_VARINT_BYTES} + 1).
 */
export function putSvarint(b: Uint8Array, p: number, v: number): number {
  let sign = 0;
  if (v < 0) {
    v = -v;
    sign = 1;
  }
  if (v < 64) {
    b[p] = (v << 1) | sign;
    return p + 1;
  }
  if (v <= 0x7fffffff) {
    b[p] = ((v & 63) << 1) | sign | 0x80;
    return putUvarint(b, p + 1, v >>> 6);
  }
  b[p] = ((v % 64) << 1) | sign | 0x80;
  return putUvarint(b, p + 1, Math.floor(v / 64));
}

/**
 * Growable little-endian byte buffer with LEB128 varints. Unsigned varints carry integers up to
 * 2^53-1; signed ones use sign-magnitude (bit 0 of the first byte is the sign) so that every
 * safe integer is exact without 64-bit arithmetic.
 */
export class ByteWriter {
  buf: Uint8Array;
  len = 0;
  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
  }
  /** Makes room for `extra` more bytes, so that `buf` can be written directly up to there. */
  ensure(extra: number): void {
    if (this.len + extra > this.buf.length) this.#grow(extra);
  }
  #grow(extra: number): void {
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  u8(v: number): void {
    if (this.len + 1 > this.buf.length) this.#grow(1);
    this.buf[this.len++] = v;
  }
  u16(v: number): void {
    this.u8(v & 0xff);
    this.u8((v >>> 8) & 0xff);
  }
  u32(v: number): void {
    if (this.len + 4 > this.buf.length) this.#grow(4);
    const b = this.buf, p = this.len;
    b[p] = v & 0xff;
    b[p + 1] = (v >>> 8) & 0xff;
    b[p + 2] = (v >>> 16) & 0xff;
    b[p + 3] = (v >>> 24) & 0xff;
    this.len = p + 4;
  }
  /** Unsigned 64-bit little-endian of a non-negative safe integer. */
  u64(v: number): void {
    this.u32(v % TWO32);
    this.u32(Math.floor(v / TWO32));
  }
  bytes(b: Uint8Array): void {
    if (this.len + b.length > this.buf.length) this.#grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** Unsigned LEB128 of a non-negative safe integer. */
  uvarint(v: number): void {
    if (this.len + MAX_VARINT_BYTES > this.buf.length) this.#grow(MAX_VARINT_BYTES);
    this.len = putUvarint(this.buf, this.len, v);
  }
  /** Sign-magnitude LEB128: first byte = sign | (low 6 magnitude bits << 1) | continuation. */
  svarint(v: number): void {
    if (this.len + MAX_VARINT_BYTES + 1 > this.buf.length) this.#grow(MAX_VARINT_BYTES + 1);
    this.len = putSvarint(this.buf, this.len, v);
  }
  /** Length-prefixed UTF-8. */
  string(s: string): void {
    const b = ENCODER.encode(s);
    this.uvarint(b.length);
    this.bytes(b);
  }
  /** A copy of the written bytes. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
  /** A view of the written bytes (valid until the next write). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
  reset(): void {
    this.len = 0;
  }
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder("utf-8", { fatal: true });

/**
 * Bounds-checked reader over a byte range. Every failure is a {@link TraceFormatError} whose
 * offset is `base + position`, so errors inside a decompressed chunk point at that chunk.
 */
export class ByteCursor {
  readonly bytes: Uint8Array;
  pos = 0;
  /** File offset reported for errors (chunk start for decoded payloads). */
  readonly base: number;
  /** True when positions are not file offsets (decompressed payload): report `base` only. */
  readonly opaque: boolean;
  readonly what: string;
  constructor(bytes: Uint8Array, base: number, what: string, opaque = false) {
    this.bytes = bytes;
    this.base = base;
    this.what = what;
    this.opaque = opaque;
  }
  get remaining(): number {
    return this.bytes.length - this.pos;
  }
  fail(reason: string, at = this.pos): never {
    const where = this.opaque ? ` (offset ${at} in decoded payload)` : "";
    throw new TraceFormatError(
      this.opaque ? this.base : this.base + at,
      `${this.what ? `${this.what}: ` : ""}${reason}${where}`,
    );
  }
  #need(n: number): void {
    if (this.pos + n > this.bytes.length) this.fail("unexpected end of data");
  }
  u8(): number {
    this.#need(1);
    return this.bytes[this.pos++];
  }
  u16(): number {
    this.#need(2);
    const b = this.bytes, p = this.pos;
    this.pos = p + 2;
    return b[p] | (b[p + 1] << 8);
  }
  u32(): number {
    this.#need(4);
    const b = this.bytes, p = this.pos;
    this.pos = p + 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }
  /** The u32 stored in the last 4 bytes (block CRCs); the position does not move. */
  u32AtEnd(): number {
    const b = this.bytes, p = b.length - 4;
    if (p < 0) this.fail("unexpected end of data", 0);
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }
  /** u64 that must be a safe integer. */
  u64(): number {
    const start = this.pos;
    const lo = this.u32();
    const hi = this.u32();
    if (hi >= 0x200000) this.fail("64-bit value exceeds 2^53-1", start);
    return hi * TWO32 + lo;
  }
  take(n: number): Uint8Array {
    this.#need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** Skips `n` bytes, returning the position they start at. */
  skip(n: number): number {
    this.#need(n);
    const at = this.pos;
    this.pos = at + n;
    return at;
  }
  uvarint(): number {
    const b = this.bytes, start = this.pos;
    let p = start;
    if (p < b.length && b[p] < 0x80) {
      this.pos = p + 1;
      return b[p];
    }
    let v = 0, mul = 1;
    for (let i = 0; i < 8; i++) {
      if (p >= b.length) this.fail("truncated varint", start);
      const x = b[p++];
      v += (x & 0x7f) * mul;
      if (x < 0x80) {
        if (i > 0 && x === 0) this.fail("non-canonical varint", start);
        if (v > Number.MAX_SAFE_INTEGER) this.fail("varint exceeds 2^53-1", start);
        this.pos = p;
        return v;
      }
      mul *= 0x80;
    }
    return this.fail("varint longer than 8 bytes", start);
  }
  /**
   * Sign-magnitude varint (see {@link ByteWriter.svarint}). The writer never produces "-0"
   * (byte 0x01), so codecs use it as an escape marker; it is returned as `-0`.
   */
  svarint(): number {
    const start = this.pos;
    const first = this.u8();
    let m = (first >>> 1) & 0x3f;
    if (first & 0x80) {
      const hi = this.uvarint();
      if (hi === 0) this.fail("non-canonical signed varint", start);
      m += hi * 64;
      if (m > Number.MAX_SAFE_INTEGER) this.fail("signed varint exceeds 2^53-1", start);
    }
    return first & 1 ? -m : m;
  }
  string(maxBytes: number): string {
    const start = this.pos;
    const n = this.uvarint();
    if (n > maxBytes) this.fail(`string of ${n} bytes exceeds the limit ${maxBytes}`, start);
    const bytes = this.take(n);
    // Names are short ASCII: decoding them here is much cheaper than a TextDecoder call.
    if (n <= 32) {
      let s = "";
      for (let i = 0; i < n; i++) {
        if (bytes[i] >= 0x80) return decodeUtf8(bytes, () => this.fail("invalid UTF-8", start));
        s += String.fromCharCode(bytes[i]);
      }
      return s;
    }
    return decodeUtf8(bytes, () => this.fail("invalid UTF-8 in string", start));
  }
}

/** Strict UTF-8 decoding; `onError` must throw. */
export function decodeUtf8(bytes: Uint8Array, onError: () => never): string {
  try {
    return DECODER.decode(bytes);
  } catch {
    return onError();
  }
}

/** UTF-8 encoding (shared encoder). */
export function encodeUtf8(s: string): Uint8Array {
  return ENCODER.encode(s);
}

/** Lower-case hex of bytes. */
export function bytesToHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += bytes[i].toString(16).padStart(2, "0");
  return s;
}

/** Parses even-length hex (either case); returns null when malformed. */
export function hexToBytes(hex: string): Uint8Array | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
