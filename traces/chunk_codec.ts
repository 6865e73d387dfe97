/**
 * Event encoding inside one chunk payload (`docs/trace-format.md` §5): a per-chunk string table,
 * a per-chunk template ("shape") table, and per-template last values so that a repeating event
 * costs a template reference, a change mask, an icount delta and only the fields that changed.
 * All decoder state is reset at every chunk start, so each chunk decodes on its own.
 *
 * @module
 */

import {
  EVENT_KIND_NAMES,
  EventKind,
  type EventKindName,
  STATE_KEY_NAMES,
  StateKey,
  type StateKeyName,
  type TraceEvent,
} from "./event.ts";
import { ByteCursor, ByteWriter, encodeUtf8 } from "./format.ts";

/** Per-event limits (writer refuses, reader reports corruption). */
export const MAX_ARGS = 1024;
export const MAX_STATE = 64;
export const MAX_STRING_BYTES = 65535;
/** Domain of the 32-bit fields: either signedness is kept as given. */
const I32_MIN = -0x80000000;
const U32_MAX = 0xffffffff;

const PRESENT_RET = 1, PRESENT_VECTOR = 2, PRESENT_ERROR = 4, PRESENT_CR2 = 8;

function in32(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= I32_MIN && v <= U32_MAX;
}

/**
 * Checks that an event is encodable, throwing a RangeError naming the field otherwise.
 * Domains: seq/icount non-negative safe integers; vcpu 0..65535; nr -1..2^32-1; vector 0..255;
 * eip, args, ret, errorCode, cr2 in [-2^31, 2^32-1] (signedness preserved); opArgs and state
 * values any safe integer; strings well-formed Unicode of at most 65535 UTF-8 bytes.
 */
export function checkEvent(ev: TraceEvent): void {
  const bad = (field: string, v: unknown): never => {
    throw new RangeError(`trace event seq ${ev.seq}: ${field} = ${JSON.stringify(v)} is invalid`);
  };
  if (!Number.isSafeInteger(ev.seq) || ev.seq < 0) bad("seq", ev.seq);
  if (!Number.isSafeInteger(ev.icount) || ev.icount < 0) bad("icount", ev.icount);
  if (!Number.isInteger(ev.vcpu) || ev.vcpu < 0 || ev.vcpu > 0xffff) bad("vcpu", ev.vcpu);
  if (!Object.hasOwn(EventKind, ev.kind)) bad("kind", ev.kind);
  if (!Number.isInteger(ev.nr) || ev.nr < -1 || ev.nr > U32_MAX) bad("nr", ev.nr);
  checkString(ev.name, "name", bad);
  if (ev.op !== null) checkString(ev.op, "op", bad);
  if (!Array.isArray(ev.args) || ev.args.length > MAX_ARGS) bad("args", ev.args);
  for (let i = 0; i < ev.args.length; i++) if (!in32(ev.args[i])) bad(`args[${i}]`, ev.args[i]);
  if (!Array.isArray(ev.opArgs) || ev.opArgs.length > MAX_ARGS) bad("opArgs", ev.opArgs);
  for (let i = 0; i < ev.opArgs.length; i++) {
    if (!Number.isSafeInteger(ev.opArgs[i])) bad(`opArgs[${i}]`, ev.opArgs[i]);
  }
  if (ev.ret !== null && !in32(ev.ret)) bad("ret", ev.ret);
  if (ev.vector !== null && (!Number.isInteger(ev.vector) || ev.vector < 0 || ev.vector > 255)) {
    bad("vector", ev.vector);
  }
  if (ev.errorCode !== null && !in32(ev.errorCode)) bad("errorCode", ev.errorCode);
  if (ev.cr2 !== null && !in32(ev.cr2)) bad("cr2", ev.cr2);
  if (!in32(ev.eip)) bad("eip", ev.eip);
  if (!Array.isArray(ev.state) || ev.state.length > MAX_STATE) bad("state", ev.state);
  for (let i = 0; i < ev.state.length; i++) {
    const p = ev.state[i];
    if (!Array.isArray(p) || p.length !== 2 || !Object.hasOwn(StateKey, p[0])) {
      bad(`state[${i}]`, p);
    }
    if (!Number.isSafeInteger(p[1])) bad(`state[${i}]`, p);
  }
}

function checkString(s: unknown, field: string, bad: (f: string, v: unknown) => never): void {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: only long strings need the exact count.
  if (
    typeof s !== "string" || !s.isWellFormed() ||
    (s.length * 3 > MAX_STRING_BYTES && encodeUtf8(s).length > MAX_STRING_BYTES)
  ) {
    bad(field, s);
  }
}

/** Shape of an event: everything but the values that the change mask covers. */
interface EncTemplate {
  id: number;
  /** Last value of each mask slot (eip, args, present nullables, opArgs, state values). */
  last: Float64Array;
}

/**
 * Encodes events into one chunk payload. `reset()` starts a new chunk (empties the string and
 * template tables).
 */
export class ChunkEncoder {
  readonly out = new ByteWriter(1 << 16);
  count = 0;
  firstSeq = 0;
  baseIcount = 0;
  #prevSeq = 0;
  #prevIcount = 0;
  #strings = new Map<string, number>();
  #templates = new Map<string, EncTemplate>();

  reset(): void {
    this.out.reset();
    this.count = 0;
    this.#strings.clear();
    this.#templates.clear();
  }

  /** Appends one (already checked) event. */
  append(ev: TraceEvent): void {
    const w = this.out;
    if (this.count === 0) {
      this.firstSeq = ev.seq;
      this.baseIcount = ev.icount;
      this.#prevSeq = ev.seq - 1;
      this.#prevIcount = ev.icount;
    }
    const presence = (ev.ret !== null ? PRESENT_RET : 0) |
      (ev.vector !== null ? PRESENT_VECTOR : 0) |
      (ev.errorCode !== null ? PRESENT_ERROR : 0) |
      (ev.cr2 !== null ? PRESENT_CR2 : 0);
    let key = ev.kind + "|" + ev.vcpu + "|" + ev.nr + "|" + ev.args.length + "|" +
      ev.opArgs.length + "|" + presence + "|";
    for (let i = 0; i < ev.state.length; i++) key += ev.state[i][0] + ",";
    key += "|" + (ev.op === null ? "-" : ev.op.length + ":" + ev.op) + "|" + ev.name;
    let t = this.#templates.get(key);
    if (t === undefined) {
      w.uvarint(0);
      w.u8(EventKind[ev.kind]);
      w.uvarint(ev.vcpu);
      w.uvarint(ev.nr + 1);
      this.#stringRef(ev.name, false);
      this.#stringRef(ev.op, true);
      w.uvarint(ev.args.length);
      w.uvarint(ev.opArgs.length);
      w.uvarint(ev.state.length);
      for (let i = 0; i < ev.state.length; i++) w.u8(StateKey[ev.state[i][0]]);
      w.u8(presence);
      const slots = 1 + ev.args.length + popcount4(presence) + ev.opArgs.length + ev.state.length;
      t = { id: this.#templates.size, last: new Float64Array(slots) };
      this.#templates.set(key, t);
    } else {
      w.uvarint(t.id + 1);
    }
    w.svarint(ev.icount - this.#prevIcount);
    this.#prevIcount = ev.icount;
    // Change mask: bit 0 = seq gap, bit 1+i = slot i changed.
    const last = t.last;
    const maskBytes = (last.length + 8) >> 3;
    if (w.len + maskBytes > w.buf.length) w.bytes(new Uint8Array(maskBytes));
    else {
      w.buf.fill(0, w.len, w.len + maskBytes);
      w.len += maskBytes;
    }
    const maskAt = w.len - maskBytes;
    const gap = ev.seq - this.#prevSeq - 1;
    this.#prevSeq = ev.seq;
    if (gap !== 0) {
      w.buf[maskAt] |= 1;
      w.svarint(gap);
    }
    let slot = 0;
    slot = this.#value(maskAt, slot, ev.eip, last);
    for (let i = 0; i < ev.args.length; i++) slot = this.#value(maskAt, slot, ev.args[i], last);
    if (ev.ret !== null) slot = this.#value(maskAt, slot, ev.ret, last);
    if (ev.vector !== null) slot = this.#value(maskAt, slot, ev.vector, last);
    if (ev.errorCode !== null) slot = this.#value(maskAt, slot, ev.errorCode, last);
    if (ev.cr2 !== null) slot = this.#value(maskAt, slot, ev.cr2, last);
    for (let i = 0; i < ev.opArgs.length; i++) {
      slot = this.#value(maskAt, slot, ev.opArgs[i], last);
    }
    for (let i = 0; i < ev.state.length; i++) {
      slot = this.#value(maskAt, slot, ev.state[i][1], last);
    }
    this.count++;
  }

  #value(maskAt: number, slot: number, v: number, last: Float64Array): number {
    const prev = last[slot];
    if (v !== prev) {
      const w = this.out;
      const bit = slot + 1;
      w.buf[maskAt + (bit >> 3)] |= 1 << (bit & 7);
      const d = v - prev;
      if (Number.isSafeInteger(d)) {
        w.svarint(d);
      } else {
        w.u8(1); // "-0": escape, the absolute value follows
        w.svarint(v);
      }
      last[slot] = v;
    }
    return slot + 1;
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
 * Decodes one chunk payload of `count` events. Errors are {@link TraceFormatError}s located at
 * `fileOffset` (the chunk's start) with the position inside the decoded payload in the reason.
 */
export function decodeChunk(
  payload: Uint8Array,
  count: number,
  firstSeq: number,
  baseIcount: number,
  fileOffset: number,
  opaque: boolean,
): TraceEvent[] {
  const r = new ByteCursor(payload, fileOffset, "chunk payload", opaque);
  const strings: string[] = [];
  const templates: DecTemplate[] = [];
  const events: TraceEvent[] = new Array(count);
  let seq = firstSeq - 1;
  let icount = baseIcount;
  for (let n = 0; n < count; n++) {
    const start = r.pos;
    const tref = r.uvarint();
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
      !in32(eip) || (ret !== null && !in32(ret)) || (errorCode !== null && !in32(errorCode)) ||
      (cr2 !== null && !in32(cr2)) || (vector !== null && (vector < 0 || vector > 255))
    ) {
      r.fail("32-bit field out of range", start);
    }
    for (let i = 0; i < args.length; i++) {
      if (!in32(args[i])) r.fail("argument out of range", start);
    }
    events[n] = {
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
