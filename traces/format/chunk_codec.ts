/**
 * Event encoding inside one chunk payload (`docs/trace-format.md` §5): a per-chunk string table,
 * a per-chunk template ("shape") table, and per-template last values so that a repeating event
 * costs a template reference, a change mask, an icount delta and only the fields that changed.
 * All decoder state is reset at every chunk start, so each chunk decodes on its own.
 *
 * Why this file is long: encoder and decoder of one chunk payload are kept together so that every
 * field's encoding and decoding sit next to each other (docs/trace-format.md §5).
 *
 * @module
 */

import {
  EVENT_KIND_NAMES,
  EventKind,
  type EventKindName,
  repeatOf,
  STATE_KEY_NAMES,
  StateKey,
  type StateKeyName,
  type TraceEvent,
} from "../../vocabulary/event.ts";
import {
  ByteCursor,
  ByteWriter,
  encodeUtf8,
  MAX_VARINT_BYTES,
  putSvarint,
  putUvarint,
} from "./format.ts";

/** Per-event limits (writer refuses, reader reports corruption). */
export const MAX_ARGS = 1024;
export const MAX_STATE = 64;
export const MAX_STRING_BYTES = 65535;
/** Largest `nr` (the 32-bit fields take either signedness: see {@link checkEvent}). */
const U32_MAX = 0xffffffff;

const PRESENT_RET = 1, PRESENT_VECTOR = 2, PRESENT_ERROR = 4, PRESENT_CR2 = 8;
/** After a template reference of 0, this byte (not an event kind) opens a repeat record. */
const REPEAT_MARK = 0xff;

/** A 32-bit value in either signedness (integer in [-2^31, 2^32-1]). */
function is32(v: unknown): boolean {
  return typeof v === "number" && ((v | 0) === v || v >>> 0 === v);
}

const KINDS: ReadonlySet<unknown> = new Set(EVENT_KIND_NAMES);
const STATE_KEYS: ReadonlySet<unknown> = new Set(STATE_KEY_NAMES);

/**
 * Checks that an event is encodable, throwing a RangeError naming the field otherwise.
 * Domains: seq/icount non-negative safe integers; vcpu 0..65535; nr -1..2^32-1; vector 0..255;
 * eip, args, ret, errorCode, cr2 in [-2^31, 2^32-1] (signedness preserved); opArgs and state
 * values any safe integer; strings well-formed Unicode of at most 65535 UTF-8 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkEvent } from "./chunk_codec.ts";
 * import { makeEvent, type TraceEvent } from "../../vocabulary/event.ts";
 * const ev = { ...makeEvent({ icount: 1, kind: "io", name: "in", eip: 0 }), seq: 0 };
 * checkEvent(ev); // fine
 * try {
 *   checkEvent({ ...ev, args: [2 ** 32] } as TraceEvent);
 * } catch (e) {
 *   assert.ok((e as Error).message.includes("args[0]"));
 * }
 * ```
 */
export function checkEvent(ev: TraceEvent): void {
  const field = invalidField(ev);
  if (field === null) return;
  const [, name, index] = /^(\w+)(?:\[(\d+)\])?$/.exec(field)!;
  const whole = (ev as unknown as Record<string, unknown>)[name];
  const v = index === undefined ? whole : (whole as unknown[])[Number(index)];
  throw new RangeError(`trace event seq ${String(ev.seq)}: ${field} = ${show(v)} is invalid`);
}

/** A bad value for an error message (JSON where possible: BigInts and cycles are not). */
function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * The first field of `ev` outside its domain (`"args[3]"`), or null when it is encodable. On
 * the recording hot path: plain comparisons, no allocation unless a field is bad.
 */
function invalidField(ev: TraceEvent): string | null {
  if (!(Number.isSafeInteger(ev.seq) && ev.seq >= 0)) return "seq";
  if (!(Number.isSafeInteger(ev.icount) && ev.icount >= 0)) return "icount";
  const vcpu = ev.vcpu, nr = ev.nr;
  if (!(typeof vcpu === "number" && (vcpu & 0xffff) === vcpu)) return "vcpu";
  if (!KINDS.has(ev.kind)) return "kind";
  if (!(nr === -1 || (typeof nr === "number" && nr >>> 0 === nr))) return "nr";
  if (!validString(ev.name)) return "name";
  if (ev.op !== null && !validString(ev.op)) return "op";
  const args = ev.args, opArgs = ev.opArgs, state = ev.state;
  if (!Array.isArray(args) || args.length > MAX_ARGS) return "args";
  for (let i = 0; i < args.length; i++) if (!is32(args[i])) return `args[${i}]`;
  if (!Array.isArray(opArgs) || opArgs.length > MAX_ARGS) return "opArgs";
  for (let i = 0; i < opArgs.length; i++) {
    if (!Number.isSafeInteger(opArgs[i])) return `opArgs[${i}]`;
  }
  if (ev.ret !== null && !is32(ev.ret)) return "ret";
  const vector = ev.vector;
  if (vector !== null && !(typeof vector === "number" && (vector & 0xff) === vector)) {
    return "vector";
  }
  if (ev.errorCode !== null && !is32(ev.errorCode)) return "errorCode";
  if (ev.cr2 !== null && !is32(ev.cr2)) return "cr2";
  if (!is32(ev.eip)) return "eip";
  if (!Array.isArray(state) || state.length > MAX_STATE) return "state";
  for (let i = 0; i < state.length; i++) {
    const p = state[i];
    if (!Array.isArray(p) || p.length !== 2 || !STATE_KEYS.has(p[0])) return `state[${i}]`;
    if (!Number.isSafeInteger(p[1])) return `state[${i}]`;
  }
  return null;
}

/** The last string {@link validString} accepted: names repeat, and checking one is a scan. */
let lastValidString = "";

function validString(s: unknown): boolean {
  if (s === lastValidString) return true;
  // UTF-8 takes at most 3 bytes per UTF-16 unit: only long strings need the exact count.
  const ok = typeof s === "string" && s.isWellFormed() &&
    (s.length * 3 <= MAX_STRING_BYTES || encodeUtf8(s).length <= MAX_STRING_BYTES);
  if (ok) lastValidString = s;
  return ok;
}

/** An event shape (§5.2) with the last value of each of its slots. */
interface EncTemplate {
  id: number;
  kind: EventKindName;
  vcpu: number;
  nr: number;
  name: string;
  op: string | null;
  nArgs: number;
  nOpArgs: number;
  presence: number;
  stateKeys: StateKeyName[];
  /** Last value of each mask slot (eip, args, present nullables, opArgs, state values). */
  last: Float64Array;
  maskBytes: number;
  /** Next template with the same name (lookup chain). */
  next: EncTemplate | null;
}

/**
 * Whether the slot values of `ev` (of template `t`'s shape) equal the template's last values,
 * i.e. `ev` repeats the template's previous event (`-0` counts as 0, as it is stored).
 */
function sameValues(t: EncTemplate, ev: TraceEvent): boolean {
  const last = t.last;
  if (ev.eip !== last[0]) return false;
  let slot = 1;
  const args = ev.args;
  for (let i = 0; i < args.length; i++) if (args[i] !== last[slot++]) return false;
  if (t.presence !== 0) {
    if (ev.ret !== null && ev.ret !== last[slot++]) return false;
    if (ev.vector !== null && ev.vector !== last[slot++]) return false;
    if (ev.errorCode !== null && ev.errorCode !== last[slot++]) return false;
    if (ev.cr2 !== null && ev.cr2 !== last[slot++]) return false;
  }
  const opArgs = ev.opArgs;
  for (let i = 0; i < opArgs.length; i++) if (opArgs[i] !== last[slot++]) return false;
  const state = ev.state;
  for (let i = 0; i < state.length; i++) if (state[i][1] !== last[slot++]) return false;
  return true;
}

function presenceOf(ev: TraceEvent): number {
  return (ev.ret !== null ? PRESENT_RET : 0) | (ev.vector !== null ? PRESENT_VECTOR : 0) |
    (ev.errorCode !== null ? PRESENT_ERROR : 0) | (ev.cr2 !== null ? PRESENT_CR2 : 0);
}

/**
 * Whether `ev` has shape `t` (the fields a template fixes are equal). Safe on unchecked events:
 * a field of the wrong type is simply a different shape.
 */
function hasShape(t: EncTemplate, ev: TraceEvent, presence: number): boolean {
  const args = ev.args, opArgs = ev.opArgs, state = ev.state;
  if (
    t.name !== ev.name || t.nr !== ev.nr || t.kind !== ev.kind || t.vcpu !== ev.vcpu ||
    t.op !== ev.op || t.presence !== presence || !Array.isArray(args) ||
    t.nArgs !== args.length || !Array.isArray(opArgs) || t.nOpArgs !== opArgs.length ||
    !Array.isArray(state)
  ) {
    return false;
  }
  const keys = t.stateKeys;
  if (keys.length !== state.length) return false;
  for (let i = 0; i < keys.length; i++) {
    const p = state[i];
    if (!Array.isArray(p) || p[0] !== keys[i]) return false;
  }
  return true;
}

/**
 * Whether the fields a template does not fix (seq, icount, slot values) are in their domains,
 * for an event whose shape equals a template's: its fixed fields were checked when the template
 * was defined, so this is all {@link checkEvent} would still look at.
 */
function valuesValid(ev: TraceEvent): boolean {
  const seq = ev.seq, icount = ev.icount, args = ev.args, opArgs = ev.opArgs, state = ev.state;
  if (!(Number.isSafeInteger(seq) && seq >= 0 && Number.isSafeInteger(icount) && icount >= 0)) {
    return false;
  }
  for (let i = 0; i < args.length; i++) if (!is32(args[i])) return false;
  for (let i = 0; i < opArgs.length; i++) if (!Number.isSafeInteger(opArgs[i])) return false;
  const vector = ev.vector;
  if (
    (ev.ret !== null && !is32(ev.ret)) ||
    (vector !== null && !(typeof vector === "number" && (vector & 0xff) === vector)) ||
    (ev.errorCode !== null && !is32(ev.errorCode)) || (ev.cr2 !== null && !is32(ev.cr2)) ||
    !is32(ev.eip)
  ) {
    return false;
  }
  for (let i = 0; i < state.length; i++) {
    const p = state[i];
    if (p.length !== 2 || !Number.isSafeInteger(p[1])) return false;
  }
  return true;
}

/**
 * Encodes events into one chunk payload. `reset()` starts a new chunk (empties the string and
 * template tables). The common case (an event of a shape already seen in the chunk) takes no
 * allocation: the shape is found by comparing fields, not by building a key.
 */
export class ChunkEncoder {
  readonly out = new ByteWriter(1 << 16);
  count = 0;
  firstSeq = 0;
  baseIcount = 0;
  #prevSeq = 0;
  #prevIcount = 0;
  #strings = new Map<string, number>();
  /** Templates by name, chained through `next`; ids in order of definition. */
  #byName = new Map<string, EncTemplate>();
  #templates = 0;
  /** The template of the previous event: runs of one shape skip the lookup. */
  #recent: EncTemplate | null = null;

  /** Exact repetitions of the previous event not yet written (§5.3 repeat record). */
  #repeats = 0;
  #repeatStep = 0;

  reset(): void {
    this.out.reset();
    this.count = 0;
    this.#repeats = 0;
    this.#strings.clear();
    this.#byName.clear();
    this.#templates = 0;
    this.#recent = null;
  }

  /**
   * Checks one event as {@link checkEvent} does (throwing the same RangeError, with nothing
   * written) and appends it. The event is not kept: the caller may reuse it after the call.
   */
  append(ev: TraceEvent): void {
    const presence = presenceOf(ev);
    let t = this.#recent;
    if (t !== null && hasShape(t, ev, presence)) {
      // Runs of one shape (port polling) need only their values checked.
      if (!valuesValid(ev)) checkEvent(ev);
      if (ev.seq === this.#prevSeq + 1 && sameValues(t, ev)) {
        this.#repeat(1, ev.icount - this.#prevIcount);
        return;
      }
    } else {
      checkEvent(ev);
      t = this.#find(ev, presence);
    }
    this.#closeRepeat();
    const w = this.out;
    if (this.count === 0) {
      this.firstSeq = ev.seq;
      this.baseIcount = ev.icount;
      this.#prevSeq = ev.seq - 1;
      this.#prevIcount = ev.icount;
    }
    const defined = t === null;
    if (t === null) t = this.#define(ev, presence);
    this.#recent = t;
    const last = t.last;
    const maskBytes = t.maskBytes;
    // Room for template reference, icount delta, seq gap, mask and every slot written with the
    // escape: the event is then written straight into the buffer.
    w.ensure(3 * (MAX_VARINT_BYTES + 1) + maskBytes + last.length * (MAX_VARINT_BYTES + 2));
    const b = w.buf;
    let p = defined ? w.len : putUvarint(b, w.len, t.id + 1);
    p = putSvarint(b, p, ev.icount - this.#prevIcount);
    this.#prevIcount = ev.icount;
    // Change mask: bit 0 = seq gap, bit 1+s = slot s changed; values follow it.
    const maskAt = p;
    for (let i = 0; i < maskBytes; i++) b[p++] = 0;
    const gap = ev.seq - this.#prevSeq - 1;
    this.#prevSeq = ev.seq;
    if (gap !== 0) {
      b[maskAt] = 1;
      p = putSvarint(b, p, gap);
    }
    // 32-bit slots: the difference of two 32-bit values is always a safe integer.
    p = put32(b, p, maskAt, 0, ev.eip, last);
    let slot = 1;
    const args = ev.args;
    for (let i = 0; i < args.length; i++) p = put32(b, p, maskAt, slot++, args[i], last);
    if (presence !== 0) {
      if (ev.ret !== null) p = put32(b, p, maskAt, slot++, ev.ret, last);
      if (ev.vector !== null) p = put32(b, p, maskAt, slot++, ev.vector, last);
      if (ev.errorCode !== null) p = put32(b, p, maskAt, slot++, ev.errorCode, last);
      if (ev.cr2 !== null) p = put32(b, p, maskAt, slot++, ev.cr2, last);
    }
    const opArgs = ev.opArgs;
    for (let i = 0; i < opArgs.length; i++) p = putSafe(b, p, maskAt, slot++, opArgs[i], last);
    const state = ev.state;
    for (let i = 0; i < state.length; i++) p = putSafe(b, p, maskAt, slot++, state[i][1], last);
    w.len = p;
    this.count++;
  }

  /**
   * Appends `count` exact repetitions of the previous event of this chunk, each `icountStep`
   * instructions after the one before; the same bytes as appending them one by one. Throws if
   * the chunk has no event yet (the caller re-appends the event itself then).
   */
  repeat(count: number, icountStep: number): void {
    if (this.count === 0) throw new Error("ChunkEncoder.repeat: no previous event in the chunk");
    this.#repeat(count, icountStep);
  }

  /** Writes pending repetitions: call before reading {@link ChunkEncoder.out}. */
  seal(): void {
    this.#closeRepeat();
  }

  #repeat(count: number, step: number): void {
    if (this.#repeats > 0 && step !== this.#repeatStep) this.#closeRepeat();
    this.#repeats += count;
    this.#repeatStep = step;
    this.#prevSeq += count;
    this.#prevIcount += count * step;
    this.count += count;
  }

  /** One repetition is an ordinary record (shorter); more are one repeat record. */
  #closeRepeat(): void {
    const n = this.#repeats;
    if (n === 0) return;
    this.#repeats = 0;
    const w = this.out;
    if (n === 1) {
      const t = this.#recent!;
      w.uvarint(t.id + 1);
      w.svarint(this.#repeatStep);
      for (let i = 0; i < t.maskBytes; i++) w.u8(0);
      return;
    }
    w.uvarint(0);
    w.u8(REPEAT_MARK);
    w.uvarint(n);
    w.svarint(this.#repeatStep);
  }

  #find(ev: TraceEvent, presence: number): EncTemplate | null {
    for (let t = this.#byName.get(ev.name) ?? null; t !== null; t = t.next) {
      if (hasShape(t, ev, presence)) return t;
    }
    return null;
  }

  /** Writes a template definition for the (checked) event's shape and registers it. */
  #define(ev: TraceEvent, presence: number): EncTemplate {
    const w = this.out;
    w.uvarint(0);
    w.u8(EventKind[ev.kind]);
    w.uvarint(ev.vcpu);
    w.uvarint(ev.nr + 1);
    this.#stringRef(ev.name, false);
    this.#stringRef(ev.op, true);
    w.uvarint(ev.args.length);
    w.uvarint(ev.opArgs.length);
    w.uvarint(ev.state.length);
    const stateKeys: StateKeyName[] = [];
    for (let i = 0; i < ev.state.length; i++) {
      stateKeys.push(ev.state[i][0]);
      w.u8(StateKey[ev.state[i][0]]);
    }
    w.u8(presence);
    const slots = 1 + ev.args.length + popcount4(presence) + ev.opArgs.length + ev.state.length;
    const t: EncTemplate = {
      id: this.#templates++,
      kind: ev.kind,
      vcpu: ev.vcpu,
      nr: ev.nr,
      name: ev.name,
      op: ev.op,
      nArgs: ev.args.length,
      nOpArgs: ev.opArgs.length,
      presence,
      stateKeys,
      last: new Float64Array(slots),
      maskBytes: (slots + 8) >> 3,
      next: this.#byName.get(ev.name) ?? null,
    };
    this.#byName.set(ev.name, t);
    return t;
  }

  /** Name: 0 = literal follows, k = table[k-1]. Op: 0 = null, 1 = literal, k = table[k-2]. */
  #stringRef(s: string | null, nullable: boolean): void {
    const w = this.out;
    const base = nullable ? 1 : 0;
    if (s === null) {
      w.uvarint(0);
      return;
    }
    const idx = this.#strings.get(s);
    if (idx !== undefined) {
      w.uvarint(idx + 1 + base);
      return;
    }
    w.uvarint(base);
    w.string(s);
    this.#strings.set(s, this.#strings.size);
  }
}

/** Writes slot `slot` of a 32-bit field if it changed (mask bit + delta); returns the position. */
function put32(
  b: Uint8Array,
  p: number,
  maskAt: number,
  slot: number,
  v: number,
  last: Float64Array,
): number {
  const prev = last[slot];
  if (v === prev) return p;
  last[slot] = v;
  const bit = slot + 1;
  b[maskAt + (bit >> 3)] |= 1 << (bit & 7);
  return putSvarint(b, p, v - prev);
}

/** Like {@link put32} for any safe integer: a difference beyond 2^53 is escaped (§5.3). */
function putSafe(
  b: Uint8Array,
  p: number,
  maskAt: number,
  slot: number,
  v: number,
  last: Float64Array,
): number {
  const prev = last[slot];
  if (v === prev) return p;
  last[slot] = v;
  const bit = slot + 1;
  b[maskAt + (bit >> 3)] |= 1 << (bit & 7);
  const d = v - prev;
  if (Number.isSafeInteger(d)) return putSvarint(b, p, d);
  b[p] = 1; // "-0": escape, the absolute value follows
  return putSvarint(b, p + 1, v);
}

function popcount4(v: number): number {
  return (v & 1) + ((v >> 1) & 1) + ((v >> 2) & 1) + ((v >> 3) & 1);
}

interface DecTemplate {
  kind: EventKindName;
  vcpu: number;
  nr: number;
  name: string;
  op: string | null;
  nArgs: number;
  nOpArgs: number;
  stateKeys: StateKeyName[];
  presence: number;
  last: Float64Array;
}

/**
 * Repeat records left collapsed by {@link decodeChunk}: event `k` of the returned list is followed
 * in the trace by `repeats[k]` copies of itself (every field equal but `seq`, one more each, and
 * `icount`, `steps[k]` more each) that are not in the list.
 */
export interface ChunkRepeats {
  repeats: number[];
  steps: number[];
}

/**
 * Decodes one chunk payload of `count` events. Errors are {@link TraceFormatError}s located at
 * `fileOffset` (the chunk's start) with the position inside the decoded payload in the reason.
 *
 * With `collapsed`, repeat records are not expanded into events: the list holds the other events
 * only and `collapsed` says how many copies follow each (the same checks are made either way).
 */
export function decodeChunk(
  payload: Uint8Array,
  count: number,
  firstSeq: number,
  baseIcount: number,
  fileOffset: number,
  opaque: boolean,
  collapsed?: ChunkRepeats,
): TraceEvent[] {
  const r = new ByteCursor(payload, fileOffset, "chunk payload", opaque);
  const strings: string[] = [];
  const templates: DecTemplate[] = [];
  const events: TraceEvent[] = collapsed ? [] : new Array(count);
  const repeats = collapsed?.repeats, steps = collapsed?.steps;
  if (repeats) repeats.length = steps!.length = 0;
  let seq = firstSeq - 1;
  let icount = baseIcount;
  for (let n = 0; n < count;) {
    const start = r.pos;
    const tref = r.uvarint();
    if (tref === 0 && r.remaining > 0 && payload[r.pos] === REPEAT_MARK) {
      r.u8();
      const times = r.uvarint();
      const step = r.svarint();
      if (n === 0) r.fail("repeat record before any event", start);
      if (times < 1 || times > count - n) {
        r.fail(`repeat count ${times} not in 1..${count - n} (events left in the chunk)`, start);
      }
      if (repeats) {
        // A repeat after a repeat of another step: its base is the last copy, made an event.
        let last = events.length - 1;
        if (repeats[last] !== 0 && steps![last] !== step) {
          events.push(repeatOf(events[last], seq, icount));
          repeats[last]--;
          repeats.push(0), steps!.push(step);
          last++;
        }
        for (let k = 0; k < times; k++) {
          icount += step;
          seq++;
          if (icount < 0 || icount > Number.MAX_SAFE_INTEGER || seq > Number.MAX_SAFE_INTEGER) {
            r.fail(`impossible icount ${icount} or seq ${seq} in a repeat`, start);
          }
        }
        repeats[last] += times;
        steps![last] = step;
        n += times;
        continue;
      }
      const prev = events[n - 1];
      for (let k = 0; k < times; k++) {
        icount += step;
        seq++;
        if (icount < 0 || icount > Number.MAX_SAFE_INTEGER || seq > Number.MAX_SAFE_INTEGER) {
          r.fail(`impossible icount ${icount} or seq ${seq} in a repeat`, start);
        }
        events[n++] = repeatOf(prev, seq, icount);
      }
      continue;
    }
    let t: DecTemplate;
    if (tref === 0) {
      t = readTemplate(r, strings);
      templates.push(t);
    } else {
      if (tref > templates.length) r.fail(`template ${tref - 1} not defined`, start);
      t = templates[tref - 1];
    }
    icount += r.svarint();
    if (icount < 0 || icount > Number.MAX_SAFE_INTEGER) {
      r.fail(`impossible icount ${icount}`, start);
    }
    const last = t.last;
    const maskBytes = (last.length + 8) >> 3;
    const m = r.skip(maskBytes);
    seq += 1 + (payload[m] & 1 ? r.svarint() : 0);
    if (seq < 0 || seq > Number.MAX_SAFE_INTEGER) r.fail(`impossible seq ${seq}`, start);
    for (let slot = 0; slot < last.length; slot++) {
      const bit = slot + 1;
      if (payload[m + (bit >> 3)] & (1 << (bit & 7))) {
        const d = r.svarint();
        const v = Object.is(d, -0) ? r.svarint() : last[slot] + d;
        if (!Number.isSafeInteger(v)) r.fail(`value ${v} out of range`, start);
        last[slot] = v;
      }
    }
    const unused = (last.length + 1) & 7;
    if (unused !== 0 && payload[m + maskBytes - 1] >> unused) {
      r.fail("mask padding bits set", start);
    }
    let slot = 0;
    const eip = last[slot++];
    const args: number[] = new Array(t.nArgs);
    for (let i = 0; i < t.nArgs; i++) args[i] = last[slot++];
    const p = t.presence;
    const ret = p & PRESENT_RET ? last[slot++] : null;
    const vector = p & PRESENT_VECTOR ? last[slot++] : null;
    const errorCode = p & PRESENT_ERROR ? last[slot++] : null;
    const cr2 = p & PRESENT_CR2 ? last[slot++] : null;
    const opArgs: number[] = new Array(t.nOpArgs);
    for (let i = 0; i < t.nOpArgs; i++) opArgs[i] = last[slot++];
    const state: Array<[StateKeyName, number]> = new Array(t.stateKeys.length);
    for (let i = 0; i < t.stateKeys.length; i++) state[i] = [t.stateKeys[i], last[slot++]];
    if (
      !is32(eip) || (ret !== null && !is32(ret)) || (errorCode !== null && !is32(errorCode)) ||
      (cr2 !== null && !is32(cr2)) || (vector !== null && (vector < 0 || vector > 255))
    ) {
      r.fail("32-bit field out of range", start);
    }
    for (let i = 0; i < args.length; i++) {
      if (!is32(args[i])) r.fail("argument out of range", start);
    }
    if (repeats) repeats.push(0), steps!.push(0);
    events[collapsed ? events.length : n] = {
      seq,
      icount,
      vcpu: t.vcpu,
      kind: t.kind,
      nr: t.nr,
      name: t.name,
      args,
      ret,
      vector,
      errorCode,
      cr2,
      eip,
      op: t.op,
      opArgs,
      state,
    };
    n++;
  }
  if (r.remaining !== 0) r.fail(`${r.remaining} trailing bytes after ${count} events`);
  return events;
}

function readTemplate(r: ByteCursor, strings: string[]): DecTemplate {
  const start = r.pos;
  const k = r.u8();
  if (k >= EVENT_KIND_NAMES.length) r.fail(`unknown event kind ${k}`, start);
  const vcpu = r.uvarint();
  if (vcpu > 0xffff) r.fail(`impossible vcpu ${vcpu}`, start);
  const nr = r.uvarint() - 1;
  if (nr > U32_MAX) r.fail(`impossible nr ${nr}`, start);
  const name = readStringRef(r, strings, false) as string;
  const op = readStringRef(r, strings, true);
  const nArgs = r.uvarint();
  const nOpArgs = r.uvarint();
  const nState = r.uvarint();
  if (nArgs > MAX_ARGS || nOpArgs > MAX_ARGS || nState > MAX_STATE) {
    r.fail(`impossible field counts ${nArgs}/${nOpArgs}/${nState}`, start);
  }
  const stateKeys: StateKeyName[] = [];
  for (let i = 0; i < nState; i++) {
    const s = r.u8();
    if (s >= STATE_KEY_NAMES.length) r.fail(`unknown state key ${s}`, start);
    stateKeys.push(STATE_KEY_NAMES[s]);
  }
  const presence = r.u8();
  if (presence > 15) r.fail(`bad presence bits ${presence}`, start);
  const slots = 1 + nArgs + popcount4(presence) + nOpArgs + nState;
  return {
    kind: EVENT_KIND_NAMES[k],
    vcpu,
    nr,
    name,
    op,
    nArgs,
    nOpArgs,
    stateKeys,
    presence,
    last: new Float64Array(slots),
  };
}

function readStringRef(r: ByteCursor, strings: string[], nullable: boolean): string | null {
  const start = r.pos;
  const v = r.uvarint();
  const base = nullable ? 1 : 0;
  if (nullable && v === 0) return null;
  if (v === base) {
    const s = r.string(MAX_STRING_BYTES);
    strings.push(s);
    return s;
  }
  const idx = v - 1 - base;
  if (idx >= strings.length) r.fail(`string index ${idx} out of range`, start);
  return strings[idx];
}
