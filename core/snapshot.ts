/**
 * Machine snapshots: the complete state (CPU, devices, clock and pending device timers, RAM,
 * firmware) in one file, such that restoring and running on gives exactly what running straight
 * through gives.
 *
 * File format, version 1 (all integers little-endian):
 *
 * | offset | size | content |
 * |---|---|---|
 * | 0 | 8 | magic `"PVRSNAP\n"` |
 * | 8 | 4 | format version (1) |
 * | 12 | 4 | header length H |
 * | 16 | H | UTF-8 JSON header: `{ state, ramBytes, ramDeflated, firmwareBytes, firmwareDeflated }` |
 * | 16+H | ramDeflated | RAM, zlib-deflated (`node:zlib` deflateSync) |
 * | ... | firmwareDeflated | firmware image, deflated (absent when firmwareBytes = 0) |
 *
 * Timers: callbacks are not serialisable, so restore clears the clock's queue and each device
 * re-arms its events from its saved absolute deadlines. Events that share a deadline are then
 * queued in device order rather than their original order; every device event only latches
 * state in its own device before the CPU samples interrupts, so the order is not observable.
 *
 * @module
 */

import { deflateSync, inflateSync } from "node:zlib";
import { ImageError } from "./loaders/image_error.ts";
import { Machine, type MachineConfig, type MachineState } from "./machine.ts";

/** Snapshot format version written by {@link encodeSnapshot}. */
export const SNAPSHOT_VERSION = 1;
const MAGIC = "PVRSNAP\n";

interface SnapshotHeader {
  state: MachineState;
  ramBytes: number;
  ramDeflated: number;
  firmwareBytes: number;
  firmwareDeflated: number;
}

/** Host-side attachments a restored machine needs (not part of the guest state). */
export type RestoreOptions = Pick<MachineConfig, "serialOut" | "debugconOut" | "hooks">;

/**
 * Serialises `machine` at the current instruction boundary.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Machine } from "./machine.ts";
 * import { encodeSnapshot, restoreSnapshot } from "./snapshot.ts";
 * const m = new Machine({ memMiB: 2 });
 * const copy = restoreSnapshot(encodeSnapshot(m));
 * assert.equal(copy.clock.icount, m.clock.icount);
 * ```
 */
export function encodeSnapshot(machine: Machine): Uint8Array {
  const ram = deflateSync(machine.memory.ram);
  const fw = machine.firmware ? deflateSync(machine.firmware) : new Uint8Array(0);
  const header: SnapshotHeader = {
    state: machine.saveState(),
    ramBytes: machine.memory.ram.length,
    ramDeflated: ram.length,
    firmwareBytes: machine.firmware?.length ?? 0,
    firmwareDeflated: fw.length,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(16 + json.length + ram.length + fw.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, SNAPSHOT_VERSION, true);
  dv.setUint32(12, json.length, true);
  out.set(json, 16);
  out.set(ram, 16 + json.length);
  out.set(fw, 16 + json.length + ram.length);
  return out;
}

/**
 * Builds a machine from a snapshot; `file` names it in errors ({@link ImageError}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { restoreSnapshot } from "./snapshot.ts";
 * try {
 *   restoreSnapshot(new Uint8Array(4), {}, "bad.snap");
 * } catch (e) {
 *   assert.ok((e as Error).message.startsWith("bad.snap:"));
 * }
 * ```
 */
export function restoreSnapshot(
  bytes: Uint8Array,
  options: RestoreOptions = {},
  file = "<snapshot>",
): Machine {
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new ImageError(file, "not a pvreplay snapshot (bad magic)");
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== SNAPSHOT_VERSION) {
    throw new ImageError(
      file,
      `snapshot format version ${version} (this build reads ${SNAPSHOT_VERSION})`,
    );
  }
  const hlen = dv.getUint32(12, true);
  if (16 + hlen > bytes.length) throw new ImageError(file, "truncated snapshot header");
  let header: SnapshotHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen)));
  } catch (e) {
    throw new ImageError(file, `corrupt snapshot header: ${(e as Error).message}`);
  }
  const ramAt = 16 + hlen;
  const fwAt = ramAt + header.ramDeflated;
  if (fwAt + header.firmwareDeflated > bytes.length) {
    throw new ImageError(file, "truncated snapshot");
  }
  const inflate = (at: number, n: number, want: number, what: string) => {
    let data: Uint8Array;
    try {
      data = inflateSync(bytes.subarray(at, at + n));
    } catch (e) {
      throw new ImageError(file, `corrupt ${what} data: ${(e as Error).message}`);
    }
    if (data.length !== want) {
      throw new ImageError(file, `${what} is ${data.length} bytes, header says ${want}`);
    }
    return data;
  };
  const ram = inflate(ramAt, header.ramDeflated, header.ramBytes, "RAM");
  const { state } = header;
  const machine = new Machine({ ...state.config, ...options });
  if (ram.length !== machine.memory.ram.length) {
    throw new ImageError(
      file,
      `RAM is ${ram.length} bytes, configuration says ${state.config.memMiB} MiB`,
    );
  }
  if (header.firmwareBytes > 0) {
    const fw = inflate(fwAt, header.firmwareDeflated, header.firmwareBytes, "firmware");
    machine.loadFirmware(fw, file);
  }
  machine.memory.ram.set(ram);
  machine.memory.noteWrite(0, ram.length);
  try {
    machine.loadState(state);
  } catch (e) {
    throw new ImageError(file, `inconsistent snapshot state: ${(e as Error).message}`);
  }
  return machine;
}
