/**
 * Pieces every `pvreplay` subcommand shares: flag values, output sinks, file input, progress.
 *
 * Host wall time is read here (progress and `--stats` only); it never reaches a guest or trace.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { EXIT_IMAGE_ERROR, EXIT_TRACE_ERROR, EXIT_USAGE } from "../core/exit_status.ts";
import { listBackends, parseBackendSpec } from "../backends/registry.ts";
import { ImageError } from "../core/loaders/image_error.ts";
import { MP_MAX_CPUS as MAX_CPUS } from "../core/loaders/mp_table.ts";
import { TraceFormatError } from "../traces/format/format.ts";
import type { ByteSink } from "../core/devices/stateful.ts";

/** A bad command line; the command prints its usage and exits with `EXIT_USAGE`. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Parses a count with an optional decimal suffix: 1500, 2k, 30M, 1G. */
export function parseCount(flag: string, text: string): number {
  const m = /^(\d+)([kMG]?)$/.exec(text.replaceAll("_", ""));
  if (!m) {
    throw new UsageError(
      `--${flag}: expected a non-negative integer (k/M/G suffix allowed), got "${text}"`,
    );
  }
  const mult = m[2] === "k" ? 1e3 : m[2] === "M" ? 1e6 : m[2] === "G" ? 1e9 : 1;
  const v = Number(m[1]) * mult;
  if (!Number.isSafeInteger(v)) throw new UsageError(`--${flag}: ${text} is too large`);
  return v;
}

/** Writes all of `bytes` to a synchronous writer. */
export function writeAll(fd: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += fd.writeSync(bytes.subarray(off));
}

/**
 * A byte sink buffered in memory and flushed to stdout (`-`), a file, or nowhere (`null` or
 * `none`, as QEMU's `-serial none`).
 */
export class OutputSink {
  #buf: number[] = [];
  #file: Deno.FsFile | null = null;
  #readerGone = false;
  readonly sink: ByteSink = (b) => {
    this.#buf.push(b);
  };

  readonly target: string | null;

  constructor(target: string | null) {
    this.target = target === "none" ? null : target;
    if (this.target !== null && this.target !== "-") {
      this.#file = Deno.openSync(this.target, { write: true, create: true, truncate: true });
    }
  }

  flush(): void {
    if (this.#buf.length === 0) return;
    const bytes = Uint8Array.from(this.#buf);
    this.#buf = [];
    if (this.target === null || this.#readerGone) return;
    try {
      writeAll(this.#file ?? Deno.stdout, bytes);
    } catch (e) {
      // `record ... | head`: the guest runs on and its trace completes; the rest of its console
      // output has nobody to read it.
      if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
      this.#readerGone = true;
    }
  }

  close(): void {
    this.flush();
    this.#file?.close();
  }
}

/** Reads a guest-supplied file; failures become an {@link ImageError} naming the file. */
export function readInput(file: string, what: string): Uint8Array {
  try {
    return Deno.readFileSync(file);
  } catch (e) {
    throw new ImageError(file, `cannot read ${what}: ${(e as Error).message}`);
  }
}

/** `--serial-input STR|@FILE` to bytes. */
export function serialInputBytes(value: string | undefined): Uint8Array | undefined {
  if (value === undefined) return undefined;
  return value.startsWith("@")
    ? readInput(value.slice(1), "serial input")
    : new TextEncoder().encode(value);
}

/**
 * A progress line on stderr for anything that can take more than two seconds: done/total, rate
 * and ETA, redrawn at most every half second, only when `enabled` (default: stderr is a
 * terminal; `--progress` / `--no-progress` override). Never part of a trace or of stdout.
 *
 * Host wall time is read here and only here (and for `--stats`): it measures the host, it never
 * reaches a guest, a trace or a result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Progress } from "./common.ts";
 * const p = new Progress("pvreplay x", false, "cells");
 * p.update(1, 4);
 * p.done();
 * assert.ok(p.seconds >= 0);
 * ```
 */
export class Progress {
  #t0 = performance.now();
  #last = this.#t0;
  #shown = false;

  constructor(
    readonly label: string,
    readonly enabled = Deno.stderr.isTerminal(),
    /** What is counted: "insns" (shown in millions, rate in MIPS) or e.g. "cells", "events". */
    readonly unit = "insns",
  ) {}

  /** Host seconds since construction. */
  get seconds(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  /** Reports `done` of `total` (0 if unknown) with an optional note. */
  update(done: number, total = 0, note = ""): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.#last < 500) return;
    this.#last = now;
    this.#shown = true;
    const secs = (now - this.#t0) / 1000;
    const rate = done / Math.max(secs, 1e-9);
    const mega = this.unit === "insns";
    const fmt = (n: number) => mega ? `${(n / 1e6).toFixed(1)} M` : String(n);
    const parts = [`${fmt(done)}${total > 0 ? ` / ${fmt(total)}` : ""} ${this.unit}`];
    parts.push(mega ? `${(rate / 1e6).toFixed(1)} MIPS` : `${rate.toFixed(2)}/s`);
    if (total > 0 && rate > 0) parts.push(`ETA ${Math.ceil((total - done) / rate)} s`);
    if (note) parts.push(note);
    // \x1b[K clears what a longer previous line left behind.
    writeAll(Deno.stderr, ENCODER.encode(`\r[${this.label}] ${parts.join(", ")}\x1b[K`));
  }

  done(): void {
    if (this.#shown) writeAll(Deno.stderr, ENCODER.encode("\n"));
    this.#shown = false;
  }
}

const ENCODER = new TextEncoder();

/** Flag values as `node:util` parseArgs returns them. */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** parseArgs option declarations. */
export type FlagSpec = Record<string, { type: "string" | "boolean"; multiple?: boolean }>;

/** How {@link command} maps errors to exit statuses. */
export interface CommandOptions {
  /** Accept positional arguments (default false). */
  positionals?: boolean;
  /** Status for an unreadable or malformed trace (default EXIT_TRACE_ERROR). */
  traceErrorStatus?: number;
}

/**
 * The frame every subcommand shares: strict flag parsing, `--help`, and the mapping of errors to
 * documented exit statuses (usage 2, image 4, trace 6) with a message naming the command.
 *
 * @example
 * ```ts
 * import { command } from "./common.ts";
 * import assert from "node:assert/strict";
 * const status = await command("x", "usage: x", ["--bad"], {}, {}, () => 0);
 * assert.equal(status, 2);
 * ```
 */
export async function command(
  name: string,
  usage: string,
  args: string[],
  flags: FlagSpec,
  options: CommandOptions,
  body: (values: FlagValues, positionals: string[]) => number | Promise<number>,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(
      {
        args,
        strict: true,
        allowPositionals: options.positionals ?? false,
        options: { ...flags, help: { type: "boolean" } },
        // --no-progress and the like (node:util parseArgs `allowNegative`).
        allowNegative: true,
      } as Parameters<typeof parseArgs>[0],
    );
  } catch (e) {
    console.error(`pvreplay ${name}: ${(e as Error).message}\n\n${usage}`);
    return EXIT_USAGE;
  }
  if (parsed.values.help) {
    console.log(usage);
    return 0;
  }
  try {
    return await body(parsed.values as FlagValues, parsed.positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`pvreplay ${name}: ${e.message}\n\n${usage}`);
      return EXIT_USAGE;
    }
    if (e instanceof ImageError) {
      console.error(`pvreplay ${name}: ${e.message}`);
      return EXIT_IMAGE_ERROR;
    }
    if (e instanceof TraceFormatError) {
      console.error(`pvreplay ${name}: ${e.message}`);
      return options.traceErrorStatus ?? EXIT_TRACE_ERROR;
    }
    throw e;
  }
}

/** Every profile of every registered backend, native first, as `name@version`. */
export function allBackendSpecs(): string[] {
  return listBackends().flatMap((b) => b.versions.map((v) => `${b.name}@${v}`));
}

/** `--backends a,b@v,...` to normalised `name@version` specs (default: every profile). */
export function backendList(value: string | undefined): string[] {
  if (value === undefined) return allBackendSpecs();
  return value.split(",").map((b) => {
    try {
      const s = parseBackendSpec(b);
      return `${s.name}@${s.version}`;
    } catch (e) {
      throw new UsageError(`--backends: ${(e as Error).message}`);
    }
  });
}

/** A comma-separated subset of `all` (default: all), naming any unknown item. */
export function choiceList(
  flag: string,
  value: string | undefined,
  all: readonly string[],
): string[] {
  if (value === undefined) return [...all];
  const items = value.split(",").map((x) => x.trim()).filter(Boolean);
  const bad = items.filter((x) => !all.includes(x));
  if (bad.length) {
    throw new UsageError(`--${flag}: unknown ${bad.join(", ")}; valid: ${all.join(", ")}`);
  }
  return items;
}

/** The flags of every command that boots a guest (`run`, `record`). */
export const GUEST_FLAGS: FlagSpec = {
  kernel: { type: "string" },
  append: { type: "string" },
  mem: { type: "string" },
  smp: { type: "string" },
  ioapic: { type: "boolean" },
  serial: { type: "string" },
  "serial-input": { type: "string" },
  "max-insns": { type: "string" },
  progress: { type: "boolean" },
  json: { type: "boolean" },
};

/** The help lines of `--smp` and `--ioapic` (`run`, `record`). */
export const SMP_HELP =
  `  --smp N                CPUs (1-16, default 1); N > 1 adds the 82093AA I/O APIC and MP
                         tables, starts the APs by INIT/SIPI and runs the CPUs in turn by
                         a fixed instruction quantum (docs/smp.md); native and kvm only
  --ioapic               the I/O APIC and MP tables with one CPU too`;

/** `--smp N` and `--ioapic` as Machine / session configuration. */
export function machineShape(f: { smp?: string; ioapic?: boolean }): {
  cpus?: number;
  ioapic?: boolean;
} {
  const cpus = f.smp === undefined ? undefined : parseCount("smp", f.smp);
  if (cpus !== undefined && (cpus < 1 || cpus > MAX_CPUS)) {
    throw new UsageError(`--smp: ${cpus} CPUs; give 1 to ${MAX_CPUS}`);
  }
  return {
    ...(cpus !== undefined ? { cpus } : {}),
    ...(f.ioapic === true ? { ioapic: true } : {}),
  };
}
