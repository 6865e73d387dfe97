/**
 * `.pvt` trace reader: validates the prelude and header on open, then streams events chunk by
 * chunk (memory bounded by one chunk). Every defect becomes a {@link TraceFormatError} with a
 * byte offset; a trace that simply stops (crash, Ctrl-C, abort record) is reported as truncated
 * with the number of events that were complete.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { inflateRawSync } from "node:zlib";
import type { TraceEvent } from "../../vocabulary/event.ts";
import { type ChunkRepeats, decodeChunk } from "./chunk_codec.ts";
import {
  ABORT_MAGIC,
  ByteCursor,
  bytesToHex,
  CHUNK_HEADER_SIZE,
  CHUNK_MAGIC,
  CODEC_DEFLATE,
  CODEC_RAW,
  crc32,
  decodeUtf8,
  FILE_MAGIC,
  FOOTER_FIXED_SIZE,
  FOOTER_MAGIC,
  FORMAT_MAJOR,
  FORMAT_MINOR,
  MAX_CHUNK_EVENTS,
  MAX_CHUNK_PAYLOAD,
  MAX_DIGEST_BYTES,
  MAX_HEADER_BYTES,
  MAX_REASON_BYTES,
  PRELUDE_SIZE,
  TraceFormatError,
} from "./format.ts";
import { headerFromJson, type TraceHeader } from "./header.ts";

/** Events of {@link TraceReader.collapsedEvents}: the repeats of the event `next()` returned. */
export interface CollapsedEvents extends IterableIterator<TraceEvent> {
  /** Copies of the last event returned that follow it (0: none). */
  repeats: number;
  /** Instructions between one copy and the next. */
  step: number;
}

/** A chunk's events with its repeat records collapsed (chunk_codec.ts {@link ChunkRepeats}). */
interface CollapsedChunk extends ChunkRepeats {
  events: TraceEvent[];
}

/** Footer of a complete trace. */
export interface TraceFooter {
  eventCount: number;
  chunkCount: number;
  /** SHA-256 over all chunk blocks as stored, hex. */
  chunksSha256: string;
  /** Final machine-state digest passed to `TraceWriter.close`, hex. */
  finalDigest: string;
}

/** Why a trace ended early. */
export interface TraceTruncation {
  reason: string;
  /** Events readable (all complete chunks). */
  validEvents: number;
  /** File offset where the valid data ends (start of the incomplete block). */
  byteOffset: number;
  /** True when the writer recorded an abort (as opposed to the file just stopping). */
  aborted: boolean;
}

/** Random access to the trace bytes. */
interface ByteSource {
  readonly size: number;
  /** Up to `n` bytes at `pos` (fewer only at end of data). */
  read(pos: number, n: number): Uint8Array;
  close(): void;
}

class MemorySource implements ByteSource {
  constructor(readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  read(pos: number, n: number): Uint8Array {
    return this.bytes.subarray(pos, Math.min(pos + n, this.bytes.length));
  }
  close(): void {}
}

/** File source with a read-ahead window, so that each chunk costs at most one system read. */
class FileSource implements ByteSource {
  static readonly WINDOW = 1 << 18;
  readonly size: number;
  #file: Deno.FsFile;
  #buf = new Uint8Array(0);
  #bufPos = 0;
  constructor(path: string) {
    this.#file = Deno.openSync(path, { read: true });
    this.size = this.#file.statSync().size;
  }
  read(pos: number, n: number): Uint8Array {
    const len = Math.max(0, Math.min(n, this.size - pos));
    if (pos < this.#bufPos || pos + len > this.#bufPos + this.#buf.length) {
      const want = Math.max(0, Math.min(Math.max(len, FileSource.WINDOW), this.size - pos));
      const buf = new Uint8Array(want);
      this.#file.seekSync(pos, Deno.SeekMode.Start);
      let off = 0;
      while (off < want) {
        const got = this.#file.readSync(buf.subarray(off));
        if (got === null || got === 0) break;
        off += got;
      }
      this.#buf = buf.subarray(0, off);
      this.#bufPos = pos;
    }
    const start = pos - this.#bufPos;
    return this.#buf.subarray(start, Math.min(start + len, this.#buf.length));
  }
  close(): void {
    this.#file.close();
  }
}

function hex32(v: number): string {
  return "0x" + (v >>> 0).toString(16).padStart(8, "0");
}

/**
 * Streaming reader.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TraceReader } from "./reader.ts";
 * import { encodeTrace } from "./writer.ts";
 * import { makeEvent } from "../../vocabulary/event.ts";
 * import type { TraceHeader } from "./header.ts";
 * const header: TraceHeader = {
 *   toolVersion: "0.1.0",
 *   guest: { name: "hello", sha256: "0".repeat(64), cmdline: "" },
 *   backend: { name: "native", profile: "pc" },
 *   machine: { memMiB: 32, ips: 1e8, tscHz: 1e8, apicHz: 1e8, epoch: 0, serialInput: "" },
 *   cpu: { cpuid: [] },
 *   seed: 0,
 *   quirks: [],
 * };
 * const ev = { ...makeEvent({ icount: 1, kind: "exit", name: "hlt", eip: 0 }), seq: 0 };
 * const reader = TraceReader.fromBytes(encodeTrace(header, [ev], { finalDigest: "00" }));
 * for (const e of reader.events()) assert.equal(e.name, "hlt");
 * assert.equal(reader.footer?.eventCount, 1);
 * assert.equal(reader.truncation, null);
 * ```
 */
export class TraceReader {
  readonly header: TraceHeader;
  /** `major.minor` of the file. */
  readonly formatVersion: string;
  /** Total size of the trace in bytes. */
  readonly byteLength: number;
  /** Set once iteration reached a valid footer. */
  footer: TraceFooter | null = null;
  /** Set once iteration found the trace incomplete. */
  truncation: TraceTruncation | null = null;
  /** Events delivered by the current iteration so far. */
  validEvents = 0;
  #src: ByteSource;
  #dataStart: number;

  private constructor(src: ByteSource) {
    this.#src = src;
    this.byteLength = src.size;
    try {
      const pre = src.read(0, PRELUDE_SIZE);
      const magicPart = pre.subarray(0, Math.min(pre.length, FILE_MAGIC.length));
      if (magicPart.some((b, i) => b !== FILE_MAGIC[i])) {
        throw new TraceFormatError(0, "bad magic: not a pvreplay trace (.pvt)");
      }
      if (pre.length < PRELUDE_SIZE) {
        throw new TraceFormatError(pre.length, "truncated in the file prelude");
      }
      const c = new ByteCursor(pre, 0, "prelude");
      c.pos = FILE_MAGIC.length;
      const major = c.u16(), minor = c.u16(), len = c.u32();
      this.formatVersion = `${major}.${minor}`;
      if (major !== FORMAT_MAJOR || minor > FORMAT_MINOR) {
        throw new TraceFormatError(
          8,
          `unsupported format version ${major}.${minor} (this reader reads ${FORMAT_MAJOR}.0 to ` +
            `${FORMAT_MAJOR}.${FORMAT_MINOR})`,
        );
      }
      if (len > MAX_HEADER_BYTES) {
        throw new TraceFormatError(12, `header length ${len} exceeds ${MAX_HEADER_BYTES}`);
      }
      const body = src.read(PRELUDE_SIZE, len + 4);
      if (body.length < len + 4) {
        throw new TraceFormatError(src.size, "truncated in the header");
      }
      const json = body.subarray(0, len);
      const stored = new ByteCursor(body, PRELUDE_SIZE, "header").u32AtEnd();
      const computed = crc32(json, crc32(pre.subarray(FILE_MAGIC.length)));
      if (stored !== computed) {
        throw new TraceFormatError(
          PRELUDE_SIZE + len,
          `header CRC mismatch (stored ${hex32(stored)}, computed ${hex32(computed)})`,
        );
      }
      const text = decodeUtf8(json, () => {
        throw new TraceFormatError(PRELUDE_SIZE, "header is not valid UTF-8");
      });
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        throw new TraceFormatError(
          PRELUDE_SIZE,
          `header is not valid JSON (${(e as Error).message})`,
        );
      }
      this.header = headerFromJson(value, PRELUDE_SIZE);
      this.#dataStart = PRELUDE_SIZE + len + 4;
    } catch (e) {
      src.close();
      throw e;
    }
  }

  /** Opens a trace file and validates its header (throws {@link TraceFormatError}). */
  static open(path: string): TraceReader {
    return new TraceReader(new FileSource(path));
  }

  /** Reads a trace held in memory. */
  static fromBytes(bytes: Uint8Array): TraceReader {
    return new TraceReader(new MemorySource(bytes));
  }

  /**
   * Whether the trace ends with a well-formed footer (checked from the tail only, without
   * reading the events): false for crashed, interrupted or aborted recordings.
   */
  hasFooter(): boolean {
    return this.footerEventCount() !== null;
  }

  /**
   * The event count the footer states, read from the tail only (null without a well-formed
   * footer): a total for progress lines before the events are read.
   */
  footerEventCount(): number | null {
    const size = this.#src.size;
    const maxLen = FOOTER_FIXED_SIZE + 8 + 4 + 32 + 1 + MAX_DIGEST_BYTES;
    const from = Math.max(this.#dataStart, size - maxLen);
    const tail = this.#src.read(from, size - from);
    for (let p = 0; p + FOOTER_FIXED_SIZE <= tail.length; p++) {
      const c = new ByteCursor(tail, from, "footer");
      c.pos = p;
      if (c.u32() !== FOOTER_MAGIC || p + FOOTER_FIXED_SIZE + c.u32() !== tail.length) continue;
      if (crc32(tail.subarray(p, tail.length - 4)) === c.u32AtEnd()) return c.u64();
    }
    return null;
  }

  /** Releases the file. */
  close(): void {
    this.#src.close();
  }

  /**
   * Streams events in order; see {@link TraceReader.chunks}. (A plain iterator over the chunk
   * arrays: a generator per event would dominate the cost of diff and inspect.)
   */
  events(): IterableIterator<TraceEvent> {
    const chunks = this.chunks();
    let cur: TraceEvent[] = [];
    let i = 0;
    const it: IterableIterator<TraceEvent> = {
      next(): IteratorResult<TraceEvent> {
        while (i >= cur.length) {
          const r = chunks.next();
          if (r.done) return { done: true, value: undefined };
          cur = r.value;
          i = 0;
        }
        return { done: false, value: cur[i++] };
      },
      [Symbol.iterator]() {
        return it;
      },
    };
    return it;
  }

  /**
   * {@link TraceReader.events} with repeat records (a polling loop, docs/trace-format.md §5.4)
   * left collapsed: after `next()` returns an event, `repeats` copies of it follow in the trace
   * (`seq` one more each, `icount` `step` more each, every other field equal) that the iterator
   * does not return. For consumers that take a run of equal events at once; events are not to be
   * changed (the reader keeps none, but a copy may share nothing with them either way).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TraceReader } from "./reader.ts";
   * import { TraceWriter } from "./writer.ts";
   * import { makeEvent } from "../../vocabulary/event.ts";
   * import type { TraceHeader } from "./header.ts";
   * const header: TraceHeader = {
   *   toolVersion: "0.1.0",
   *   guest: { name: "hello", sha256: "0".repeat(64), cmdline: "" },
   *   backend: { name: "native", profile: "pc" },
   *   machine: { memMiB: 32, ips: 1e8, tscHz: 1e8, apicHz: 1e8, epoch: 0, serialInput: "" },
   *   cpu: { cpuid: [] },
   *   seed: 0,
   *   quirks: [],
   * };
   * const path = Deno.makeTempFileSync({ suffix: ".pvt" });
   * const w = TraceWriter.create(path, header);
   * w.append({ ...makeEvent({ icount: 10, kind: "io", name: "in", eip: 9 }), seq: 0 });
   * w.appendRepeat(2, 4); // polled twice more, 4 instructions apart
   * w.close({ finalDigest: "00" });
   * const reader = TraceReader.open(path);
   * const it = reader.collapsedEvents();
   * assert.equal(it.next().value?.icount, 10);
   * assert.deepEqual([it.repeats, it.step], [2, 4]);
   * assert.equal(it.next().done, true);
   * reader.close();
   * Deno.removeSync(path);
   * ```
   */
  collapsedEvents(): CollapsedEvents {
    const chunks = this.#chunks(true) as Generator<CollapsedChunk, void, undefined>;
    let cur: CollapsedChunk = { events: [], repeats: [], steps: [] };
    let i = 0;
    const it: CollapsedEvents = {
      repeats: 0,
      step: 0,
      next(): IteratorResult<TraceEvent> {
        while (i >= cur.events.length) {
          const r = chunks.next();
          if (r.done) {
            it.repeats = it.step = 0;
            return { done: true, value: undefined };
          }
          cur = r.value;
          i = 0;
        }
        it.repeats = cur.repeats[i];
        it.step = cur.steps[i];
        return { done: false, value: cur.events[i++] };
      },
      [Symbol.iterator]() {
        return it;
      },
    };
    return it;
  }

  /**
   * Streams the events of each verified chunk, from the start of the trace. Returns normally at
   * the footer (sets `footer`) or at a truncation (sets `truncation`); throws
   * {@link TraceFormatError} on corruption after delivering every event before it.
   */
  chunks(): Generator<TraceEvent[], void, undefined> {
    return this.#chunks(false) as Generator<TraceEvent[], void, undefined>;
  }

  *#chunks(collapse: boolean): Generator<TraceEvent[] | CollapsedChunk, void, undefined> {
    const src = this.#src;
    const size = src.size;
    this.footer = null;
    this.truncation = null;
    this.validEvents = 0;
    const hash = createHash("sha256");
    let pos = this.#dataStart;
    let index = 0;
    const truncate = (reason: string, aborted = false) => {
      this.truncation = { reason, validEvents: this.validEvents, byteOffset: pos, aborted };
    };
    while (true) {
      const avail = size - pos;
      if (avail === 0) {
        return truncate(`no footer: the trace ends after ${index} complete chunks`);
      }
      if (avail < 8) return truncate("incomplete block header at end of file");
      const head = new ByteCursor(src.read(pos, CHUNK_HEADER_SIZE), pos, "");
      const magic = head.u32();
      if (magic === CHUNK_MAGIC) {
        if (avail < CHUNK_HEADER_SIZE) return truncate(`incomplete chunk ${index} header`);
        const idx = head.u32(), count = head.u32(), plen = head.u32(), rawLen = head.u32();
        const codec = head.u8(), reserved = head.u8() | head.u16();
        const firstSeq = head.u64(), baseIcount = head.u64(), storedCrc = head.u32();
        const what = `chunk ${index}`;
        if (idx !== index) {
          head.fail(`${what}: index ${idx} found where ${index} expected`, 4);
        }
        if (plen > MAX_CHUNK_PAYLOAD || rawLen > MAX_CHUNK_PAYLOAD) {
          head.fail(`${what}: implausible payload length ${plen}/${rawLen}`, 12);
        }
        if (codec !== CODEC_RAW && codec !== CODEC_DEFLATE) {
          head.fail(`${what}: unknown codec ${codec}`, 20);
        }
        if (reserved !== 0) head.fail(`${what}: reserved bytes not zero`, 21);
        if (codec === CODEC_RAW && rawLen !== plen) head.fail(`${what}: raw length mismatch`, 16);
        // A chunk holds at least one event of at least 3 bytes (template ref, icount delta,
        // mask); repeat records make the count independent of the length beyond that.
        if (count === 0 || count > MAX_CHUNK_EVENTS || rawLen < 3) {
          head.fail(`${what}: impossible event count ${count}`, 8);
        }
        if (avail < CHUNK_HEADER_SIZE + plen) {
          return truncate(
            `incomplete chunk ${index}: ${avail} of ${CHUNK_HEADER_SIZE + plen} bytes present`,
          );
        }
        const block = src.read(pos, CHUNK_HEADER_SIZE + plen);
        const payload = block.subarray(CHUNK_HEADER_SIZE);
        const crc = crc32(payload, crc32(block.subarray(0, CHUNK_HEADER_SIZE - 4)));
        if (crc !== storedCrc) {
          head.fail(
            `${what}: CRC mismatch (stored ${hex32(storedCrc)}, computed ${hex32(crc)})`,
            40,
          );
        }
        let raw = payload;
        if (codec === CODEC_DEFLATE) {
          try {
            raw = inflateRawSync(payload, { maxOutputLength: Math.max(rawLen, 1) });
          } catch (e) {
            head.fail(
              `${what}: bad compressed payload (${(e as Error).message})`,
              CHUNK_HEADER_SIZE,
            );
          }
          if (raw.length !== rawLen) {
            head.fail(`${what}: decompressed to ${raw.length} bytes, header says ${rawLen}`, 16);
          }
        }
        const repeats: ChunkRepeats | undefined = collapse ? { repeats: [], steps: [] } : undefined;
        const events = decodeChunk(
          raw,
          count,
          firstSeq,
          baseIcount,
          pos,
          codec !== CODEC_RAW,
          repeats,
        );
        hash.update(block);
        pos += block.length;
        index++;
        this.validEvents += count;
        yield repeats ? { events, ...repeats } : events;
      } else if (magic === FOOTER_MAGIC || magic === ABORT_MAGIC) {
        const isFooter = magic === FOOTER_MAGIC;
        const len = head.u32();
        const max = isFooter ? 8 + 4 + 32 + 1 + MAX_DIGEST_BYTES : MAX_REASON_BYTES;
        if (len > max) {
          head.fail(`${isFooter ? "footer" : "abort record"}: implausible length ${len}`, 4);
        }
        if (avail < FOOTER_FIXED_SIZE + len) {
          return truncate(`incomplete ${isFooter ? "footer" : "abort record"}`);
        }
        const block = src.read(pos, FOOTER_FIXED_SIZE + len);
        const c = new ByteCursor(block, pos, isFooter ? "footer" : "abort record");
        const stored = c.u32AtEnd();
        const crc = crc32(block.subarray(0, 8 + len));
        if (crc !== stored) {
          c.fail(`CRC mismatch (stored ${hex32(stored)}, computed ${hex32(crc)})`, 8 + len);
        }
        c.pos = 8;
        const body = new ByteCursor(c.take(len), pos + 8, c.what);
        if (pos + block.length !== size) {
          c.fail(`${size - pos - block.length} bytes of trailing data after the end`, block.length);
        }
        if (isFooter) {
          const eventCount = body.u64(), chunkCount = body.u32();
          const sha = bytesToHex(body.take(32));
          const dlen = body.u8();
          if (dlen < 1 || dlen > MAX_DIGEST_BYTES) body.fail(`bad digest length ${dlen}`, 44);
          const finalDigest = bytesToHex(body.take(dlen));
          if (body.remaining !== 0) body.fail(`${body.remaining} trailing bytes`);
          if (eventCount !== this.validEvents) {
            body.fail(`event count ${eventCount} but ${this.validEvents} events were read`, 0);
          }
          if (chunkCount !== index) body.fail(`chunk count ${chunkCount} but ${index} chunks`, 8);
          const computed = hash.digest("hex");
          if (sha !== computed) {
            body.fail(`chunk checksum mismatch (stored ${sha}, computed ${computed})`, 12);
          }
          this.footer = { eventCount, chunkCount, chunksSha256: sha, finalDigest };
          return;
        }
        const reason = decodeUtf8(body.bytes, () => body.fail("reason is not valid UTF-8", 0));
        return truncate(`aborted: ${reason}`, true);
      } else {
        head.fail(`unknown block magic ${hex32(magic)}`, 0);
      }
    }
  }
}

/** Everything {@link readTrace} found. */
export interface ReadTraceResult {
  header: TraceHeader;
  formatVersion: string;
  /** Every event that could be read (all events of all valid chunks). */
  events: TraceEvent[];
  footer: TraceFooter | null;
  /** True when the trace has no footer (crash, abort) or is corrupt after some point. */
  truncated: boolean;
  truncation: TraceTruncation | null;
  /** Corruption met after the header (events before it are in `events`). */
  error: TraceFormatError | null;
}

/**
 * Reads a whole trace into memory. Throws {@link TraceFormatError} only when the prelude or
 * header is unusable (and Deno I/O errors such as `NotFound` for a path); later corruption is
 * returned in `error` with the events before it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTrace } from "./reader.ts";
 * try {
 *   readTrace(new Uint8Array([1, 2, 3]));
 * } catch (e) {
 *   assert.equal((e as Error).name, "TraceFormatError");
 * }
 * ```
 */
export function readTrace(source: string | Uint8Array): ReadTraceResult {
  const reader = typeof source === "string"
    ? TraceReader.open(source)
    : TraceReader.fromBytes(source);
  const events: TraceEvent[] = [];
  let error: TraceFormatError | null = null;
  try {
    for (const chunk of reader.chunks()) for (const ev of chunk) events.push(ev);
  } catch (e) {
    if (!(e instanceof TraceFormatError)) throw e;
    error = e;
  } finally {
    reader.close();
  }
  return {
    header: reader.header,
    formatVersion: reader.formatVersion,
    events,
    footer: reader.footer,
    truncated: reader.footer === null,
    truncation: reader.truncation,
    error,
  };
}
