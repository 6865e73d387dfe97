/**
 * The trace header: everything a replay must reproduce, stored up front (as rr does) so that a
 * reader can refuse an unsafe replay before running anything. On disk it is canonical JSON with
 * snake_case keys (see `docs/trace-format.md` §3); in memory it is {@link TraceHeader}.
 *
 * @module
 */

import { BOOT_PROTOCOLS } from "../../core/platform.ts";
import { TraceFormatError } from "./format.ts";

/** The `boot` values a reader accepts: every protocol a backend can choose. */
const BOOT_PROTOCOL_PATTERN = new RegExp(`^(?:${BOOT_PROTOCOLS.join("|")})$`);

/** One CPUID answer as recorded (all values unsigned 32-bit). */
export interface CpuidLeaf {
  leaf: number;
  subleaf: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** Trace header. Every input that is not a function of guest image + configuration is here. */
export interface TraceHeader {
  /** Version of the pvreplay that wrote the trace. */
  toolVersion: string;
  guest: {
    name: string;
    /** SHA-256 of the guest image, 64 lower-case hex digits. */
    sha256: string;
    cmdline: string;
    /**
     * Absolute path of the image when it was recorded (optional; `pvreplay record` writes it,
     * the reference suite does not). Replay looks there first, checking the hash.
     */
    path?: string;
    /**
     * The initial ramdisk of a Linux boot (optional; absent for Multiboot guests): its file
     * name, SHA-256 and, as for the image, where `pvreplay record` read it.
     */
    initrd?: { name: string; sha256: string; path?: string };
  };
  backend: {
    /** `native`, `kvm`, `xen`, `vmi`, `lguest`, ... */
    name: string;
    /** Version profile of the backend (e.g. `2.6.22`). */
    profile: string;
  };
  machine: {
    memMiB: number;
    /** Instructions per virtual second. */
    ips: number;
    tscHz: number;
    apicHz: number;
    /** RTC epoch: Unix seconds of virtual time 0. */
    epoch: number;
    /** Bytes fed to the serial port, lower-case hex. */
    serialInput: string;
    /** CPUs (docs/smp.md); absent means 1, so older traces read unchanged. */
    cpus?: number;
    /** An I/O APIC and MP tables with one CPU (`--ioapic`); absent means none. */
    ioapic?: boolean;
  };
  cpu: {
    /** CPUID leaves as the guest saw them, unique by (leaf, subleaf). */
    cpuid: CpuidLeaf[];
  };
  seed: number;
  /**
   * Boot protocol the backend used (core/platform.ts `BootProtocol`); absent means
   * `multiboot`, so traces written before it existed read unchanged.
   */
  boot?: string;
  /** Backend quirks enabled for the run (unique names). */
  quirks: string[];
  /**
   * How the run was bounded, so a replay stops where the recording did (optional: traces
   * written without it replay with the replayer's default budget).
   */
  run?: {
    /** Instruction budget of the recording. */
    maxInsns: number;
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Canonical on-disk JSON form (fixed key order, snake_case). */
export function headerToJson(h: TraceHeader): Record<string, Json> {
  return {
    tool_version: h.toolVersion,
    guest: {
      name: h.guest.name,
      sha256: h.guest.sha256,
      cmdline: h.guest.cmdline,
      ...(h.guest.path !== undefined ? { path: h.guest.path } : {}),
      ...(h.guest.initrd !== undefined
        ? {
          initrd: {
            name: h.guest.initrd.name,
            sha256: h.guest.initrd.sha256,
            ...(h.guest.initrd.path !== undefined ? { path: h.guest.initrd.path } : {}),
          },
        }
        : {}),
    },
    backend: { name: h.backend.name, profile: h.backend.profile },
    machine: {
      mem_mib: h.machine.memMiB,
      ips: h.machine.ips,
      tsc_hz: h.machine.tscHz,
      apic_hz: h.machine.apicHz,
      epoch: h.machine.epoch,
      serial_input: h.machine.serialInput,
      ...(h.machine.cpus !== undefined ? { cpus: h.machine.cpus } : {}),
      ...(h.machine.ioapic !== undefined ? { ioapic: h.machine.ioapic } : {}),
    },
    cpu: {
      cpuid: h.cpu.cpuid.map((l) => ({
        leaf: l.leaf,
        subleaf: l.subleaf,
        eax: l.eax,
        ebx: l.ebx,
        ecx: l.ecx,
        edx: l.edx,
      })),
    },
    seed: h.seed,
    ...(h.boot !== undefined ? { boot: h.boot } : {}),
    quirks: [...h.quirks],
    ...(h.run ? { run: { max_insns: h.run.maxInsns } } : {}),
  };
}

/** Collects the first problem found while parsing a header. */
class HeaderParser {
  constructor(readonly offset: number) {}
  fail(path: string, what: string): never {
    throw new TraceFormatError(this.offset, `header field ${path}: ${what}`);
  }
  object(
    v: unknown,
    path: string,
    keys: readonly string[],
    optional: readonly string[] = [],
  ): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(path, "not an object");
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!keys.includes(k) && !optional.includes(k)) this.fail(`${path}.${k}`, "unknown field");
    }
    for (const k of keys) if (!(k in o)) this.fail(`${path}.${k}`, "missing");
    return o;
  }
  string(v: unknown, path: string, pattern?: RegExp): string {
    if (typeof v !== "string") this.fail(path, "not a string");
    if (!v.isWellFormed()) this.fail(path, "not well-formed Unicode");
    if (pattern && !pattern.test(v)) this.fail(path, `does not match ${pattern}`);
    return v;
  }
  int(v: unknown, path: string, min: number, max: number): number {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.fail(path, `${JSON.stringify(v)} is not an integer in [${min}, ${max}]`);
    }
    return v;
  }
  array(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, "not an array");
    return v;
  }
  /** An optional flag: written only when set, so `true` is its one value. */
  flag(v: unknown, path: string): true {
    if (v !== true) this.fail(path, `${JSON.stringify(v)} is not true`);
    return v;
  }
}

const U32 = 0xffffffff;
const SAFE = Number.MAX_SAFE_INTEGER;

/**
 * Validates an on-disk header JSON value and converts it to a {@link TraceHeader}. Refuses
 * unknown or missing fields, malformed values and inconsistencies (duplicate CPUID leaves or
 * quirks, zero frequencies), naming the field.
 */
export function headerFromJson(value: unknown, byteOffset = 0): TraceHeader {
  const p = new HeaderParser(byteOffset);
  const o = p.object(value, "header", [
    "tool_version",
    "guest",
    "backend",
    "machine",
    "cpu",
    "seed",
    "quirks",
  ], ["run", "boot"]);
  const g = p.object(o.guest, "guest", ["name", "sha256", "cmdline"], ["path", "initrd"]);
  const rd = g.initrd === undefined
    ? undefined
    : p.object(g.initrd, "guest.initrd", ["name", "sha256"], ["path"]);
  const b = p.object(o.backend, "backend", ["name", "profile"]);
  const m = p.object(o.machine, "machine", [
    "mem_mib",
    "ips",
    "tsc_hz",
    "apic_hz",
    "epoch",
    "serial_input",
  ], ["cpus", "ioapic"]);
  const c = p.object(o.cpu, "cpu", ["cpuid"]);
  const seen = new Set<string>();
  const cpuid = p.array(c.cpuid, "cpu.cpuid").map((e, i) => {
    const path = `cpu.cpuid[${i}]`;
    const l = p.object(e, path, ["leaf", "subleaf", "eax", "ebx", "ecx", "edx"]);
    const leaf: CpuidLeaf = {
      leaf: p.int(l.leaf, `${path}.leaf`, 0, U32),
      subleaf: p.int(l.subleaf, `${path}.subleaf`, 0, U32),
      eax: p.int(l.eax, `${path}.eax`, 0, U32),
      ebx: p.int(l.ebx, `${path}.ebx`, 0, U32),
      ecx: p.int(l.ecx, `${path}.ecx`, 0, U32),
      edx: p.int(l.edx, `${path}.edx`, 0, U32),
    };
    const key = `${leaf.leaf}/${leaf.subleaf}`;
    if (seen.has(key)) p.fail(path, `duplicate CPUID leaf ${hex(leaf.leaf)}/${leaf.subleaf}`);
    seen.add(key);
    return leaf;
  });
  const quirks = p.array(o.quirks, "quirks").map((q, i) => p.string(q, `quirks[${i}]`, /^\S+$/));
  if (new Set(quirks).size !== quirks.length) p.fail("quirks", "duplicate quirk");
  const run = o.run === undefined ? undefined : p.object(o.run, "run", ["max_insns"]);
  return {
    toolVersion: p.string(o.tool_version, "tool_version", /^\S+$/),
    guest: {
      name: p.string(g.name, "guest.name", /^\S/),
      sha256: p.string(g.sha256, "guest.sha256", /^[0-9a-f]{64}$/),
      cmdline: p.string(g.cmdline, "guest.cmdline"),
      ...(g.path !== undefined ? { path: p.string(g.path, "guest.path", /^\S/) } : {}),
      ...(rd !== undefined
        ? {
          initrd: {
            name: p.string(rd.name, "guest.initrd.name", /^\S/),
            sha256: p.string(rd.sha256, "guest.initrd.sha256", /^[0-9a-f]{64}$/),
            ...(rd.path !== undefined
              ? { path: p.string(rd.path, "guest.initrd.path", /^\S/) }
              : {}),
          },
        }
        : {}),
    },
    backend: {
      name: p.string(b.name, "backend.name", /^[a-z0-9_-]+$/),
      profile: p.string(b.profile, "backend.profile"),
    },
    machine: {
      // i386 without PAE addresses at most 4 GiB.
      memMiB: p.int(m.mem_mib, "machine.mem_mib", 1, 4096),
      ips: p.int(m.ips, "machine.ips", 1, SAFE),
      tscHz: p.int(m.tsc_hz, "machine.tsc_hz", 1, SAFE),
      apicHz: p.int(m.apic_hz, "machine.apic_hz", 1, SAFE),
      epoch: p.int(m.epoch, "machine.epoch", -SAFE, SAFE),
      serialInput: p.string(m.serial_input, "machine.serial_input", /^(?:[0-9a-f]{2})*$/),
      ...(m.cpus !== undefined ? { cpus: p.int(m.cpus, "machine.cpus", 2, 16) } : {}),
      ...(m.ioapic !== undefined ? { ioapic: p.flag(m.ioapic, "machine.ioapic") } : {}),
    },
    cpu: { cpuid },
    seed: p.int(o.seed, "seed", 0, SAFE),
    ...(o.boot !== undefined ? { boot: p.string(o.boot, "boot", BOOT_PROTOCOL_PATTERN) } : {}),
    quirks,
    ...(run ? { run: { maxInsns: p.int(run.max_insns, "run.max_insns", 0, SAFE) } } : {}),
  };
}

/**
 * Checks a header for the writer (same rules as the reader), returning it unchanged.
 *
 * @example
 * ```ts
 * import { validateHeader } from "./header.ts";
 * validateHeader({
 *   toolVersion: "0.1.0",
 *   guest: { name: "hello", sha256: "0".repeat(64), cmdline: "" },
 *   backend: { name: "native", profile: "pc" },
 *   machine: { memMiB: 32, ips: 1e8, tscHz: 1e8, apicHz: 1e8, epoch: 0, serialInput: "" },
 *   cpu: { cpuid: [] },
 *   seed: 0,
 *   quirks: [],
 * });
 * ```
 */
export function validateHeader(h: TraceHeader): TraceHeader {
  headerFromJson(headerToJson(h));
  return h;
}

function hex(v: number): string {
  return "0x" + v.toString(16);
}

/** The environment a replay would run in, described like a header. */
export type ReplayEnvironment = Omit<TraceHeader, "toolVersion"> & { toolVersion?: string };

/** One difference between the recorded and the replay environment. */
export interface ReplayProblem {
  /** Header field path, e.g. `guest.sha256`. */
  field: string;
  recorded: string;
  current: string;
  /** False for differences that only warrant a warning (tool version). */
  fatal: boolean;
}

/** Result of {@link checkReplayable}. */
export interface ReplayCheck {
  ok: boolean;
  problems: ReplayProblem[];
}

/** Options of {@link checkReplayable}. */
export interface ReplayCheckOptions {
  /**
   * Replay on a different backend (divergence run): backend name/profile, quirks and the
   * hypervisor CPUID range 0x40000000-0x4FFFFFFF may differ.
   */
  crossBackend?: boolean;
}

/**
 * Decides whether a trace can be replayed in `env`: the guest image, command line, machine
 * configuration (memory, clock rates, epoch, serial input), seed and CPU identity must be
 * identical; the backend and its quirks too unless `crossBackend`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkReplayable, type TraceHeader } from "./header.ts";
 * const h: TraceHeader = {
 *   toolVersion: "0.1.0",
 *   guest: { name: "hello", sha256: "0".repeat(64), cmdline: "" },
 *   backend: { name: "native", profile: "pc" },
 *   machine: { memMiB: 32, ips: 1e8, tscHz: 1e8, apicHz: 1e8, epoch: 0, serialInput: "" },
 *   cpu: { cpuid: [] },
 *   seed: 0,
 *   quirks: [],
 * };
 * const r = checkReplayable(h, { ...h, machine: { ...h.machine, tscHz: 2e8 } });
 * assert.ok(!r.ok);
 * assert.equal(r.problems[0].field, "machine.tsc_hz");
 * ```
 */
export function checkReplayable(
  recorded: TraceHeader,
  env: ReplayEnvironment,
  options: ReplayCheckOptions = {},
): ReplayCheck {
  const problems: ReplayProblem[] = [];
  const cmp = (field: string, a: unknown, b: unknown, fatal = true) => {
    const ra = String(a), cb = String(b);
    if (ra !== cb) problems.push({ field, recorded: ra, current: cb, fatal });
  };
  cmp("guest.sha256", recorded.guest.sha256, env.guest.sha256);
  cmp("guest.cmdline", recorded.guest.cmdline, env.guest.cmdline);
  cmp(
    "guest.initrd.sha256",
    recorded.guest.initrd?.sha256 ?? "none",
    env.guest.initrd?.sha256 ?? "none",
  );
  cmp("machine.mem_mib", recorded.machine.memMiB, env.machine.memMiB);
  cmp("machine.ips", recorded.machine.ips, env.machine.ips);
  cmp("machine.tsc_hz", recorded.machine.tscHz, env.machine.tscHz);
  cmp("machine.apic_hz", recorded.machine.apicHz, env.machine.apicHz);
  cmp("machine.epoch", recorded.machine.epoch, env.machine.epoch);
  cmp("machine.serial_input", recorded.machine.serialInput, env.machine.serialInput);
  cmp("machine.cpus", recorded.machine.cpus ?? 1, env.machine.cpus ?? 1);
  cmp("machine.ioapic", recorded.machine.ioapic ?? false, env.machine.ioapic ?? false);
  cmp("seed", recorded.seed, env.seed);
  const cross = options.crossBackend === true;
  if (!cross) {
    cmp("boot", recorded.boot ?? "multiboot", env.boot ?? "multiboot");
    cmp("backend.name", recorded.backend.name, env.backend.name);
    cmp("backend.profile", recorded.backend.profile, env.backend.profile);
    cmp("quirks", [...recorded.quirks].sort().join(","), [...env.quirks].sort().join(","));
  }
  const cpuidMap = (leaves: CpuidLeaf[]) => {
    const m = new Map<string, string>();
    for (const l of leaves) {
      if (cross && l.leaf >= 0x40000000 && l.leaf <= 0x4fffffff) continue;
      m.set(`${hex(l.leaf)}/${l.subleaf}`, [l.eax, l.ebx, l.ecx, l.edx].map(hex).join(" "));
    }
    return m;
  };
  const ra = cpuidMap(recorded.cpu.cpuid), ca = cpuidMap(env.cpu.cpuid);
  const keys = [...new Set([...ra.keys(), ...ca.keys()])].sort();
  for (const k of keys) cmp(`cpu.cpuid[${k}]`, ra.get(k) ?? "absent", ca.get(k) ?? "absent");
  if (env.toolVersion !== undefined) {
    cmp("tool_version", recorded.toolVersion, env.toolVersion, false);
  }
  return { ok: problems.every((p) => !p.fatal), problems };
}
