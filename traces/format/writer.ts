/**
 * Streaming `.pvt` trace writer. Events are encoded as they are appended into a bounded chunk
 * buffer; a chunk is written (length, CRC-32, event count, decoder reset state) when it holds
 * `chunkEvents` events or `chunkBytes` encoded bytes, on `flush()`, `close()` and `abort()`.
 * A hard crash therefore loses at most one unflushed chunk; everything before it stays readable.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { deflateRawSync, type ZlibOptions } from "node:zlib";
import { repeatOf, type TraceEvent } from "../../vocabulary/event.ts";
import { ChunkEncoder } from "./chunk_codec.ts";
import {
  ABORT_MAGIC,
  ByteWriter,
  CHUNK_MAGIC,
  CODEC_DEFLATE,
  CODEC_RAW,
  crc32,
  DEFAULT_CHUNK_BYTES,
  DEFAULT_CHUNK_EVENTS,
  DEFAULT_DEFLATE_LEVEL,
  encodeUtf8,
  FILE_MAGIC,
  FOOTER_MAGIC,
  FORMAT_MAJOR,
  FORMAT_MINOR,
  hexToBytes,
  MAX_CHUNK_EVENTS,
  MAX_CHUNK_PAYLOAD,
  MAX_DIGEST_BYTES,
  MAX_REASON_BYTES,
  PRELUDE_SIZE,
} from "./format.ts";
import { headerToJson, type TraceHeader, validateHeader } from "./header.ts";

/** What `close()` records in the footer. */
export interface TraceFooterInput {
  /** Final machine-state digest (lower-case hex, 1..64 bytes), computed by the caller. */
  finalDigest: string;
}

/** Chunk policy and compression. */
export interface TraceWriterOptions {
  /** Events per chunk (1..65536, default 4096): the most a hard crash can lose. */
  chunkEvents?: number;
  /** Encoded bytes per chunk before it is cut (default 32 KiB). */
  chunkBytes?: number;
  /** Deflate chunk payloads when that makes them smaller (default true). */
  compress?: boolean;
  /**
   * zlib level when compressing, 1..9 (default 1: 4-5x faster than 6 on varied events, for
   * about a third more bytes; recording speed matters more than size here).
   */
  deflateLevel?: number;
}

/** Where the writer's bytes go. */
export interface TraceSink {
  /** Stores `bytes` now; the writer reuses the buffer after the call returns. */
  write(bytes: Uint8Array): void;
  close(): void;
}

/** Sink appending to a file with synchronous writes (survives the process dying mid-run). */
class FileSink implements TraceSink {
  #file: Deno.FsFile;
  constructor(path: string) {
    this.#file = Deno.openSync(path, { write: true, create: true, truncate: true });
  }
  write(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) off += this.#file.writeSync(bytes.subarray(off));
  }
  close(): void {
    this.#file.close();
  }
}

/** Sink collecting bytes in memory. */
class MemorySink implements TraceSink {
  readonly buf = new ByteWriter(1 << 16);
  write(bytes: Uint8Array): void {
    this.buf.bytes(bytes);
  }
  close(): void {}
}

/**
 * Writes a trace. Not reentrant; every method throws once the writer is closed or aborted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TraceWriter } from "./writer.ts";
 * import { readTrace } from "./reader.ts";
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
 * w.append({ ...makeEvent({ icount: 5, kind: "exit", name: "hlt", eip: 0x1000 }), seq: 0 });
 * w.close({ finalDigest: "00ff" });
 * assert.equal(readTrace(path).footer?.finalDigest, "00ff");
 * Deno.removeSync(path);
 * ```
 */
export class TraceWriter {
  #sink: TraceSink;
  #enc = new ChunkEncoder();
  /** Chunk block being written (reused: sinks do not keep the bytes they are given). */
  #block = new ByteWriter(1 << 16);
  #chunkEvents: number;
  #chunkBytes: number;
  #compress: boolean;
  #zlibOptions: ZlibOptions;
  #chunkIndex = 0;
  #events = 0;
  #hash: Hash = createHash("sha256");
  #open = true;
  /** The last appended event, and the seq and icount of its last repetition. */
  #last: TraceEvent | null = null;
  #lastSeq = 0;
  #lastIcount = 0;

  /** Writes the prelude and header to `sink` at once. */
  constructor(sink: TraceSink, header: TraceHeader, options: TraceWriterOptions = {}) {
    const chunkEvents = options.chunkEvents ?? DEFAULT_CHUNK_EVENTS;
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isInteger(chunkEvents) || chunkEvents < 1 || chunkEvents > MAX_CHUNK_EVENTS) {
      throw new RangeError(`TraceWriter: chunkEvents ${chunkEvents} not in 1..${MAX_CHUNK_EVENTS}`);
    }
    if (!Number.isInteger(chunkBytes) || chunkBytes < 64 || chunkBytes > MAX_CHUNK_PAYLOAD / 2) {
      throw new RangeError(
        `TraceWriter: chunkBytes ${chunkBytes} not in 64..${MAX_CHUNK_PAYLOAD / 2}`,
      );
    }
    this.#chunkEvents = chunkEvents;
    this.#chunkBytes = chunkBytes;
    this.#compress = options.compress ?? true;
    const level = options.deflateLevel ?? DEFAULT_DEFLATE_LEVEL;
    if (!Number.isInteger(level) || level < 1 || level > 9) {
      throw new RangeError(`TraceWriter: deflateLevel ${level} not in 1..9`);
    }
    this.#zlibOptions = { level };
    const json = encodeUtf8(JSON.stringify(headerToJson(validateHeader(header))));
    const w = new ByteWriter(PRELUDE_SIZE + json.length + 4);
    w.bytes(FILE_MAGIC);
    w.u16(FORMAT_MAJOR);
    w.u16(FORMAT_MINOR);
    w.u32(json.length);
    w.bytes(json);
    w.u32(crc32(w.view().subarray(FILE_MAGIC.length)));
    this.#sink = sink;
    sink.write(w.view());
  }

  /** Creates (truncates) `path` and writes the header. */
  static create(path: string, header: TraceHeader, options?: TraceWriterOptions): TraceWriter {
    return new TraceWriter(new FileSink(path), header, options);
  }

  /** Events appended so far. */
  get eventCount(): number {
    return this.#events;
  }

  /**
   * Appends one event; throws RangeError (naming the field) if it is not encodable. The event
   * is encoded now; the writer keeps a reference to the last one for
   * {@link TraceWriter.appendRepeat}, so do not change an event after appending it.
   */
  append(ev: TraceEvent): void {
    if (!this.#open) this.#checkOpen();
    const enc = this.#enc;
    enc.append(ev);
    this.#last = ev;
    this.#lastSeq = ev.seq;
    this.#lastIcount = ev.icount;
    this.#events++;
    if (this.#chunkFull()) this.#writeChunk();
  }

  /**
   * Appends `count` repetitions of the last event, each `icountStep` instructions after the one
   * before (seq numbers follow on). The file is byte-identical to appending them one by one.
   */
  appendRepeat(count: number, icountStep: number): void {
    this.#checkOpen();
    const last = this.#last;
    if (last === null) throw new Error("TraceWriter.appendRepeat: no event to repeat");
    const end = this.#lastIcount + count * icountStep;
    if (
      !Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(icountStep) ||
      !Number.isSafeInteger(end) || end < 0
    ) {
      throw new RangeError(`TraceWriter.appendRepeat: bad run of ${count} × ${icountStep}`);
    }
    const enc = this.#enc;
    let left = count;
    while (left > 0) {
      // The first repetition may close an earlier run (bytes written: test the byte limit);
      // the rest only count, so they go in at once up to the event limit. Same chunks as one
      // by one.
      let n = 1;
      this.#lastSeq++;
      this.#lastIcount += icountStep;
      if (enc.count === 0) {
        // The chunk was just cut: it starts with the event itself.
        enc.append(repeatOf(last, this.#lastSeq, this.#lastIcount));
      } else {
        enc.repeat(1, icountStep);
        if (!this.#chunkFull()) {
          n += Math.min(left - 1, this.#chunkEvents - enc.count);
          if (n > 1) enc.repeat(n - 1, icountStep);
          this.#lastSeq += n - 1;
          this.#lastIcount += (n - 1) * icountStep;
        }
      }
      this.#events += n;
      left -= n;
      if (this.#chunkFull()) this.#writeChunk();
    }
  }

  /** Whether the chunk policy cuts the chunk being encoded now. */
  #chunkFull(): boolean {
    return this.#enc.count >= this.#chunkEvents || this.#enc.out.len >= this.#chunkBytes;
  }

  /** Writes buffered events as a complete chunk (no-op when none are buffered). */
  flush(): void {
    this.#checkOpen();
    if (this.#enc.count > 0) this.#writeChunk();
  }

  #writeChunk(): void {
    const enc = this.#enc;
    enc.seal();
    const raw = enc.out.view();
    let payload: Uint8Array = raw;
    let codec = CODEC_RAW;
    if (this.#compress) {
      const z = deflateRawSync(raw, this.#zlibOptions);
      if (z.length < raw.length) {
        payload = z;
        codec = CODEC_DEFLATE;
      }
    }
    const block = this.#block;
    block.reset();
    block.u32(CHUNK_MAGIC);
    block.u32(this.#chunkIndex);
    block.u32(enc.count);
    block.u32(payload.length);
    block.u32(raw.length);
    block.u8(codec);
    block.u8(0);
    block.u16(0);
    block.u64(enc.firstSeq);
    block.u64(enc.baseIcount);
    const crcPos = block.len;
    block.u32(0);
    block.bytes(payload);
    const bytes = block.view();
    const crc = crc32(bytes.subarray(crcPos + 4), crc32(bytes.subarray(0, crcPos)));
    block.len = crcPos;
    block.u32(crc);
    block.len = bytes.length;
    this.#sink.write(bytes);
    this.#hash.update(bytes);
    this.#chunkIndex++;
    enc.reset();
  }

  /** Flushes, writes the footer (event count, final digest, SHA-256 of all chunks), closes. */
  close(footer: TraceFooterInput): void {
    this.#checkOpen();
    const digest = hexToBytes(footer.finalDigest);
    if (
      digest === null || footer.finalDigest !== footer.finalDigest.toLowerCase() ||
      digest.length < 1 || digest.length > MAX_DIGEST_BYTES
    ) {
      throw new RangeError(
        `TraceWriter.close: finalDigest must be 1..${MAX_DIGEST_BYTES} bytes of lower-case hex`,
      );
    }
    this.flush();
    const body = new ByteWriter(64 + digest.length);
    body.u64(this.#events);
    body.u32(this.#chunkIndex);
    body.bytes(new Uint8Array(this.#hash.digest()));
    body.u8(digest.length);
    body.bytes(digest);
    this.#finish(FOOTER_MAGIC, body.view());
  }

  /**
   * Flushes buffered events and marks the trace incomplete with `reason` (crash handler,
   * refused replay, ...). Readers report it as truncated with this reason.
   */
  abort(reason: string): void {
    this.#checkOpen();
    this.flush();
    let r = encodeUtf8(reason.toWellFormed());
    if (r.length > MAX_REASON_BYTES) r = encodeUtf8("(reason too long) " + reason.slice(0, 512));
    this.#finish(ABORT_MAGIC, r);
  }

  #finish(magic: number, body: Uint8Array): void {
    const w = new ByteWriter(12 + body.length);
    w.u32(magic);
    w.u32(body.length);
    w.bytes(body);
    w.u32(crc32(w.view()));
    this.#open = false;
    this.#sink.write(w.view());
    this.#sink.close();
  }

  #checkOpen(): void {
    if (!this.#open) throw new Error("TraceWriter: already closed or aborted");
  }
}

/**
 * Encodes a complete trace in memory (tests, conversions); same bytes as {@link TraceWriter}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeTrace } from "./writer.ts";
 * import { readTrace } from "./reader.ts";
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
 * const bytes = encodeTrace(header, [], { finalDigest: "ab" });
 * assert.equal(readTrace(bytes).footer?.finalDigest, "ab");
 * ```
 */
export function encodeTrace(
  header: TraceHeader,
  events: Iterable<TraceEvent>,
  footer: TraceFooterInput,
  options?: TraceWriterOptions,
): Uint8Array {
  const sink = new MemorySink();
  const w = new TraceWriter(sink, header, options);
  for (const ev of events) w.append(ev);
  w.close(footer);
  return sink.buf.toBytes();
}
