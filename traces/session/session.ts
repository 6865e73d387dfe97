/**
 * A recording session: one guest image booted on one machine under one backend, every event
 * going to a sink (a {@link Recorder} feeding a trace writer, or a {@link ReplayChecker}).
 *
 * This is the one place that wires machine, backend and sink together, so `record`, same-backend
 * `replay`, `matrix`, `demo`, `bless` and the regression suite all run guests identically.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { Backend } from "../../backends/backend.ts";
import { createBackend, parseBackendSpec, type ProfileTweak } from "../../backends/registry.ts";
import { nativeCpuid } from "../../core/cpu/system.ts";
import { Machine, type RunOptions, type RunResult } from "../../core/machine.ts";
import { RunningCpu } from "../../core/smp.ts";
import { MachinePlatform } from "../../core/platform.ts";
import { sha256Hex } from "../format/guest_image.ts";
import type { CpuidLeaf, TraceHeader } from "../format/header.ts";
import type { EventSink } from "../../vocabulary/event.ts";

/** Version written into trace headers (kept in step with deno.json). */
export const TOOL_VERSION = "0.1.0";

/** The CPUID leaves recorded in a trace header as the CPU's identity. */
const IDENTITY_LEAVES = [0, 1, 0x80000000, 0x40000000, 0x40000001];

/** Everything that determines a run (the header is derived from it). */
export interface SessionConfig {
  /** Guest image bytes and the name recorded for it (file name, no directories). */
  image: Uint8Array;
  imageName: string;
  /** Where the image was read from (absolute), recorded in the header for replay to find it. */
  imagePath?: string;
  /** Kernel command line (passed by the backend's boot protocol). */
  cmdline: string;
  /**
   * Initial ramdisk of a Linux kernel (the `linux` boot protocol), its recorded file name and
   * (optional, absolute) where it was read from; all three go into the header's `guest.initrd`.
   */
  initrd?: Uint8Array;
  initrdName?: string;
  initrdPath?: string;
  /**
   * The boot protocol a recording used (its header's `boot`, default multiboot): a replay
   * refuses a backend that would boot the guest another way.
   */
  boot?: string;
  /** `name[@version]`. */
  backend: string;
  memMiB?: number;
  /** Bytes fed to COM1 (recorded in the header so replay is exact). */
  serialInput?: Uint8Array;
  epoch?: number;
  ips?: number;
  tscHz?: number;
  apicHz?: number;
  /** CPUs (docs/smp.md; default 1); more than one needs a PC backend (native, kvm). */
  cpus?: number;
  /** An I/O APIC and MP tables with one CPU. */
  ioapic?: boolean;
  /** Instruction budget, recorded in the header so a replay stops where the recording did. */
  maxInsns?: number;
  /** Backend profile fields overridden (registry.ts ProfileTweak); recorded in the quirks. */
  profileTweak?: ProfileTweak;
  /** Receives COM1 output bytes as well as {@link Session.serial}. */
  serialOut?: (byte: number) => void;
  /** Receives port 0xE9 (debug console) output bytes (default: discarded). */
  debugconOut?: (byte: number) => void;
}

/** A machine with its backend attached, ready to run. */
export interface Session {
  machine: Machine;
  backend: Backend;
  header: TraceHeader;
  /** COM1 output so far. */
  serial: number[];
  /** Runs the guest; flushes the backend's held-back events at the end. */
  run(maxInsns: number, options?: RunOptions): RunResult;
  /** {@link run} yielding to the host between slices (Ctrl-C, progress; see Machine.runAsync). */
  runAsync(maxInsns: number, options?: RunOptions): Promise<RunResult>;
  /** Digest of the final machine state (registers + RAM), hex. */
  digest(): string;
}

/**
 * Boots `config.image` on a fresh machine by the backend's boot protocol, with `sink` receiving
 * every event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openSession } from "./session.ts";
 * import { Recorder } from "./recorder.ts";
 * const image = await Deno.readFile("guests/images/pvkernel-2.6.22.elf");
 * const events: unknown[] = [];
 * const s = openSession(
 *   { image, imageName: "pvkernel-2.6.22.elf", cmdline: "scenario=boot", backend: "kvm" },
 *   new Recorder({ append: (e) => events.push(e) }),
 * );
 * const r = s.run(50_000_000);
 * assert.equal(r.reason, "debug-exit");
 * assert.ok(events.length > 0);
 * ```
 */
export function openSession(config: SessionConfig, sink: EventSink): Session {
  const spec = parseBackendSpec(config.backend);
  const backend = createBackend(spec, config.profileTweak);
  const serial: number[] = [];
  const machine = new Machine({
    memMiB: config.memMiB,
    serialOut: (b: number) => {
      serial.push(b);
      config.serialOut?.(b);
    },
    serialInput: config.serialInput,
    debugconOut: config.debugconOut,
    epoch: config.epoch,
    ips: config.ips,
    tscHz: config.tscHz,
    apicHz: config.apicHz,
    cpus: config.cpus,
    ioapic: config.ioapic,
  });
  const image = {
    bytes: config.image,
    file: config.imageName,
    cmdline: config.cmdline,
    ...(config.initrd !== undefined
      ? { initrd: { bytes: config.initrd, file: config.initrdName ?? "initrd" } }
      : {}),
  };
  const protocol = backend.bootProtocolFor?.(image) ?? backend.bootProtocol;
  if (config.boot !== undefined && config.boot !== protocol) {
    throw new Error(
      `the trace was booted by the ${config.boot} protocol; backend ${spec.name}@${spec.version} boots by ${protocol}`,
    );
  }
  if (machine.config.cpus > 1 && spec.name !== "native" && spec.name !== "kvm") {
    // The paravirtual backends model one vCPU (their platform drives the BSP only).
    throw new Error(`backend ${spec.name} runs one CPU; --smp needs native or kvm`);
  }
  const platform = new MachinePlatform(machine);
  backend.boot(platform, image);
  const header: TraceHeader = {
    toolVersion: TOOL_VERSION,
    guest: {
      name: config.imageName,
      sha256: sha256Hex(config.image),
      cmdline: config.cmdline,
      ...(config.imagePath !== undefined ? { path: config.imagePath } : {}),
      ...(config.initrd !== undefined
        ? {
          initrd: {
            name: image.initrd!.file,
            sha256: sha256Hex(config.initrd),
            ...(config.initrdPath !== undefined ? { path: config.initrdPath } : {}),
          },
        }
        : {}),
    },
    backend: { name: spec.name, profile: spec.version },
    machine: {
      memMiB: machine.config.memMiB,
      ips: machine.config.ips,
      tscHz: machine.config.tscHz,
      apicHz: machine.config.apicHz,
      epoch: machine.config.epoch,
      serialInput: hex(config.serialInput ?? new Uint8Array()),
      ...(machine.config.cpus > 1 ? { cpus: machine.config.cpus } : {}),
      ...(machine.config.ioapic && machine.config.cpus === 1 ? { ioapic: true as const } : {}),
    },
    cpu: { cpuid: identity(backend) },
    seed: 0,
    ...(protocol !== "multiboot" ? { boot: protocol } : {}),
    quirks: config.profileTweak ? [`profile-tweak:${JSON.stringify(config.profileTweak)}`] : [],
    ...(config.maxInsns !== undefined ? { run: { maxInsns: config.maxInsns } } : {}),
  };
  const processors = machine.processors;
  backend.attach({
    cpu: processors ? new RunningCpu(processors) : machine.cpu,
    memory: machine.memory,
    io: machine.io,
    clock: machine.clock,
    sink,
    epoch: machine.config.epoch,
    apicBusHz: machine.config.apicHz,
    irqOfVector: (vector) => machine.pic.irqOfVector(vector),
    platform,
  });
  for (const cpu of machine.cpus) cpu.hooks = backend;
  if (processors) {
    processors.onSwitch = (i) => backend.setVcpu(i);
    processors.onInit = (i) => backend.resetVcpu(i);
  }
  return {
    machine,
    backend,
    header,
    serial,
    run(maxInsns, options) {
      const result = machine.run(maxInsns, options);
      backend.flush();
      return result;
    },
    async runAsync(maxInsns, options) {
      const result = await machine.runAsync(maxInsns, options);
      backend.flush();
      return result;
    },
    digest: () => machineDigest(machine),
  };
}

/** The CPU identity a guest sees under `backend`: native answers rewritten by the backend. */
function identity(backend: Backend): CpuidLeaf[] {
  const out = new Int32Array(4);
  return IDENTITY_LEAVES.map((leaf) => {
    nativeCpuid(leaf, 0, out);
    backend.cpuid(leaf, 0, out);
    return {
      leaf,
      subleaf: 0,
      eax: out[0] >>> 0,
      ebx: out[1] >>> 0,
      ecx: out[2] >>> 0,
      edx: out[3] >>> 0,
    };
  });
}

/** A page of zeros to compare RAM pages with. */
const ZERO_PAGE = Buffer.alloc(4096);

/**
 * SHA-256 over the architectural registers, then each RAM page that is not all zeros as its
 * page number (u32, little-endian) and its 4096 bytes, in address order. Only pages the memory
 * marks as possibly written are read (the others are zeros, memory.ts): reading all 32 MiB
 * costs a host page fault per untouched page, more than recording a polling guest's runs.
 */
export function machineDigest(machine: Machine): string {
  const cpu = machine.cpu;
  const regs = new Int32Array([
    ...cpu.regs,
    cpu.eip,
    cpu.getEflags(),
    ...cpu.segSel.subarray(0, 6),
    cpu.cr0,
    cpu.cr2,
    cpu.cr3,
    cpu.cr4,
  ]);
  const hash = createHash("sha256").update(new Uint8Array(regs.buffer));
  const { ram, writtenPages } = machine.memory;
  const pages = Buffer.from(ram.buffer, ram.byteOffset, ram.length);
  const pageNumber = new Uint8Array(4);
  for (let page = 0; page < writtenPages.length; page++) {
    if (writtenPages[page] === 0) continue;
    const p = page * 4096;
    if (pages.compare(ZERO_PAGE, 0, 4096, p, p + 4096) === 0) continue;
    new DataView(pageNumber.buffer).setUint32(0, page, true);
    hash.update(pageNumber).update(ram.subarray(p, p + 4096));
  }
  return hash.digest("hex");
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
