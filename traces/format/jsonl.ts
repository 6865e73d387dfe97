/**
 * JSON Lines form of a trace (export, `inspect --json`), schema in `docs/trace-format.md` §8.
 * One JSON object per line, discriminated by `type`: `header`, `event`, then `footer`,
 * `truncated` or `error`. Event objects use snake_case keys and carry the backend name so that
 * lines from several traces can be mixed. Lossless for every {@link TraceEvent} field.
 *
 * @module
 */

import type { StateKeyName, TraceEvent } from "../../vocabulary/event.ts";
import { checkEvent } from "./chunk_codec.ts";
import { encodeUtf8, TraceFormatError } from "./format.ts";
import { headerFromJson, headerToJson, type TraceHeader } from "./header.ts";
import type { TraceFooter, TraceTruncation } from "./reader.ts";

/** The header line. */
export function headerToJsonLine(header: TraceHeader, formatVersion: string): string {
  return JSON.stringify({
    type: "header",
    format_version: formatVersion,
    header: headerToJson(header),
  });
}

/**
 * One event line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { eventToJsonLine } from "./jsonl.ts";
 * import { makeEvent } from "../../vocabulary/event.ts";
 * const line = eventToJsonLine({ seq: 0, ...makeEvent({ icount: 1, kind: "exit", name: "hlt", eip: 16 }) }, "kvm");
 * assert.equal(JSON.parse(line).backend, "kvm");
 * ```
 */
export function eventToJsonLine(ev: TraceEvent, backend: string): string {
  return JSON.stringify(eventToJson(ev, backend));
}

/** One event as the JSON object of the event line schema. */
export function eventToJson(ev: TraceEvent, backend: string): Record<string, unknown> {
  return {
    type: "event",
    seq: ev.seq,
    icount: ev.icount,
    vcpu: ev.vcpu,
    kind: ev.kind,
    backend,
    nr: ev.nr,
    name: ev.name,
    args: ev.args,
    ret: ev.ret,
    vector: ev.vector,
    error_code: ev.errorCode,
    cr2: ev.cr2,
    eip: ev.eip,
    op: ev.op,
    op_args: ev.opArgs,
    state: ev.state,
  };
}

/** The closing line: footer, truncation or error. */
export function endToJsonLine(
  end: { footer: TraceFooter } | { truncation: TraceTruncation } | { error: TraceFormatError },
): string {
  if ("footer" in end) {
    const f = end.footer;
    return JSON.stringify({
      type: "footer",
      event_count: f.eventCount,
      chunk_count: f.chunkCount,
      chunks_sha256: f.chunksSha256,
      final_digest: f.finalDigest,
    });
  }
  if ("truncation" in end) {
    const t = end.truncation;
    return JSON.stringify({
      type: "truncated",
      reason: t.reason,
      valid_events: t.validEvents,
      byte_offset: t.byteOffset,
      aborted: t.aborted,
    });
  }
  return JSON.stringify({
    type: "error",
    reason: end.error.reason,
    byte_offset: end.error.byteOffset,
  });
}

/** A trace as JSON Lines data. */
export interface JsonlTrace {
  header: TraceHeader;
  formatVersion: string;
  events: TraceEvent[];
  footer: TraceFooter | null;
  truncation: TraceTruncation | null;
  /** An `error` line: the source trace was corrupt at `byteOffset`. */
  error: { reason: string; byteOffset: number } | null;
}

/**
 * Serialises a trace to JSON Lines (newline-terminated).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromJsonl, toJsonl } from "./jsonl.ts";
 * import { readTrace } from "./reader.ts";
 * import { encodeTrace } from "./writer.ts";
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
 * const t = readTrace(encodeTrace(header, [], { finalDigest: "00" }));
 * assert.equal(fromJsonl(toJsonl(t)).footer?.finalDigest, "00");
 * ```
 */
export function toJsonl(
  trace: Pick<JsonlTrace, "header" | "formatVersion" | "events" | "footer" | "truncation"> & {
    error?: { reason: string; byteOffset: number } | null;
  },
): string {
  const lines = [headerToJsonLine(trace.header, trace.formatVersion)];
  const backend = trace.header.backend.name;
  for (const ev of trace.events) lines.push(eventToJsonLine(ev, backend));
  if (trace.error) {
    lines.push(
      endToJsonLine({ error: new TraceFormatError(trace.error.byteOffset, trace.error.reason) }),
    );
  } else if (trace.footer) lines.push(endToJsonLine({ footer: trace.footer }));
  else if (trace.truncation) lines.push(endToJsonLine({ truncation: trace.truncation }));
  return lines.join("\n") + "\n";
}

const EVENT_KEYS = [
  "type",
  "seq",
  "icount",
  "vcpu",
  "kind",
  "backend",
  "nr",
  "name",
  "args",
  "ret",
  "vector",
  "error_code",
  "cr2",
  "eip",
  "op",
  "op_args",
  "state",
];

/**
 * Parses JSON Lines produced by {@link toJsonl}. Errors are {@link TraceFormatError}s whose
 * `byteOffset` is the start of the offending line and whose reason names the line number.
 */
export function fromJsonl(text: string): JsonlTrace {
  const out: JsonlTrace = {
    header: undefined as unknown as TraceHeader,
    formatVersion: "",
    events: [],
    footer: null,
    truncation: null,
    error: null,
  };
  let offset = 0;
  let lineNo = 0;
  let ended = false;
  let backend = "";
  for (const line of text.split("\n")) {
    lineNo++;
    const at = offset;
    offset += encodeUtf8(line).length + 1;
    if (line === "") continue;
    const fail = (why: string): never => {
      throw new TraceFormatError(at, `JSON Lines line ${lineNo}: ${why}`);
    };
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line);
    } catch (e) {
      return fail(`not JSON (${(e as Error).message})`);
    }
    if (typeof o !== "object" || o === null || Array.isArray(o)) fail("not an object");
    if (ended) fail("data after the closing line");
    if (lineNo === 1 && o.type !== "header") fail("the first line must be the header");
    const keys = (want: string[]) => {
      for (const k of Object.keys(o)) if (!want.includes(k)) fail(`unknown field ${k}`);
      for (const k of want) if (!(k in o)) fail(`missing field ${k}`);
    };
    switch (o.type) {
      case "header": {
        if (lineNo !== 1) fail("header not on the first line");
        keys(["type", "format_version", "header"]);
        if (typeof o.format_version !== "string") fail("format_version is not a string");
        try {
          out.header = headerFromJson(o.header, at);
        } catch (e) {
          return fail((e as TraceFormatError).reason);
        }
        out.formatVersion = o.format_version as string;
        backend = out.header.backend.name;
        break;
      }
      case "event": {
        keys(EVENT_KEYS);
        if (o.backend !== backend) {
          fail(`backend ${JSON.stringify(o.backend)} differs from the header`);
        }
        const ev = {
          seq: o.seq,
          icount: o.icount,
          vcpu: o.vcpu,
          kind: o.kind,
          nr: o.nr,
          name: o.name,
          args: o.args,
          ret: o.ret,
          vector: o.vector,
          errorCode: o.error_code,
          cr2: o.cr2,
          eip: o.eip,
          op: o.op,
          opArgs: o.op_args,
          state: o.state as Array<[StateKeyName, number]>,
        } as TraceEvent;
        try {
          checkEvent(ev);
        } catch (e) {
          fail((e as Error).message);
        }
        out.events.push(ev);
        break;
      }
      case "footer": {
        keys(["type", "event_count", "chunk_count", "chunks_sha256", "final_digest"]);
        const okInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
        if (!okInt(o.event_count) || !okInt(o.chunk_count)) fail("bad counts");
        if (!/^[0-9a-f]{64}$/.test(String(o.chunks_sha256))) fail("bad chunks_sha256");
        if (!/^(?:[0-9a-f]{2}){1,64}$/.test(String(o.final_digest))) fail("bad final_digest");
        out.footer = {
          eventCount: o.event_count as number,
          chunkCount: o.chunk_count as number,
          chunksSha256: o.chunks_sha256 as string,
          finalDigest: o.final_digest as string,
        };
        ended = true;
        break;
      }
      case "truncated": {
        keys(["type", "reason", "valid_events", "byte_offset", "aborted"]);
        if (
          typeof o.reason !== "string" || !Number.isSafeInteger(o.valid_events) ||
          !Number.isSafeInteger(o.byte_offset) || typeof o.aborted !== "boolean"
        ) fail("bad truncation record");
        out.truncation = {
          reason: o.reason as string,
          validEvents: o.valid_events as number,
          byteOffset: o.byte_offset as number,
          aborted: o.aborted as boolean,
        };
        ended = true;
        break;
      }
      case "error": {
        keys(["type", "reason", "byte_offset"]);
        if (typeof o.reason !== "string" || !Number.isSafeInteger(o.byte_offset)) {
          fail("bad error record");
        }
        out.error = { reason: o.reason as string, byteOffset: o.byte_offset as number };
        ended = true;
        break;
      }
      default:
        fail(`unknown line type ${JSON.stringify(o.type)}`);
    }
  }
  if (out.header === undefined) throw new TraceFormatError(0, "JSON Lines: no header line");
  return out;
}
