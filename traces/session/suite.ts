/**
 * The bundled scenario suite: which guest images and scenarios `demo`, `matrix`, the reference
 * traces and `bless` run, and how one case is recorded and judged.
 *
 * @module
 */

import { Recorder } from "./recorder.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";
import { openSession, type Session } from "./session.ts";
import { IMAGE_DIR } from "../format/guest_image.ts";
import { TraceWriter } from "../format/writer.ts";
import type { RunResult } from "../../core/machine.ts";
import type { ProfileTweak } from "../../backends/registry.ts";
import { resolve } from "node:path";

/** Scenarios of the bundled guest kernel (guests/README.md). */
export const SCENARIOS = [
  "boot",
  "irq",
  "timer",
  "clock",
  "mmu",
  "syscall",
  "halt",
  "shutdown",
] as const;

/** Kernel variants (guests/images/pvkernel-VARIANT.elf). */
export const VARIANTS = [
  "2.6.20",
  "2.6.21",
  "2.6.21-vdso",
  "2.6.22",
  "2.6.23",
  "2.6.24",
  "nopv",
] as const;

/** The variant whose scenarios the native/kvm reference traces and the suite-wide tests use. */
export const REFERENCE_VARIANT = "2.6.22";

/** Budget of one suite case: every scenario finishes in well under this. */
export const CASE_INSNS = 400_000_000;

/** One guest run of the suite. */
export interface SuiteCase {
  /** Image file name in {@link IMAGE_DIR}. */
  image: string;
  cmdline: string;
  /** Short label, e.g. `2.6.22-timer`. */
  label: string;
  /** Directory of the image (default {@link IMAGE_DIR}). */
  dir?: string;
  /** Initrd file in `dir`: the image is a Linux kernel booted with it (`matrix --linux`). */
  initrd?: string;
  /** RAM (default {@link SUITE_MEM_MIB}). */
  memMiB?: number;
  /** Instruction budget (default {@link CASE_INSNS}). */
  maxInsns?: number;
}

/** The case for `scenario` on kernel `variant`, with optional extra boot options. */
export function suiteCase(variant: string, scenario: string, extra = ""): SuiteCase {
  const cmdline = `scenario=${scenario}${extra ? " " + extra : ""}`;
  const suffix = extra ? "-" + extra.replaceAll(/[^a-z0-9]+/gi, "_") : "";
  return { image: `pvkernel-${variant}.elf`, cmdline, label: `${variant}-${scenario}${suffix}` };
}

/** The scenario of the real Linux guest: boot to the busybox userspace (guests/linux/init.sh). */
export const LINUX_SCENARIO = "userspace";

/**
 * Budget of the Linux case: the native boot to the init script's exit takes about 6.4 G
 * instructions; the margin is the linux tests' (tests/guests/linux_boot_test.ts).
 */
export const LINUX_INSNS = 12_000_000_000;

/**
 * The variant name of the Linux kernel in `dir` (vmlinuz, initrd.cpio; guests/linux/fetch.sh):
 * `linux-` and the kernel package's ABI from `dir/VERSION` (`linux-6.1.0-57-686`), else `linux`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linuxVariant } from "./suite.ts";
 * const dir = Deno.makeTempDirSync();
 * assert.equal(linuxVariant(dir), "linux");
 * Deno.writeTextFileSync(`${dir}/VERSION`, "linux-image-6.1.0-57-686 6.1.192-3\n");
 * assert.equal(linuxVariant(dir), "linux-6.1.0-57-686");
 * ```
 */
export function linuxVariant(dir: string): string {
  let version: string;
  try {
    version = Deno.readTextFileSync(`${dir}/VERSION`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "linux";
    throw e;
  }
  const m = /^linux-image-(\S+)/.exec(version);
  return m ? `linux-${m[1].replaceAll(/[^A-Za-z0-9.+-]/g, "_")}` : "linux";
}

/**
 * The Linux case: `dir/vmlinuz` booted by the Linux boot protocol with `dir/initrd.cpio`,
 * `console=ttyS0`, 128 MiB (QEMU's default, the memory the linux tests boot with).
 */
export function linuxCase(dir: string): SuiteCase {
  return {
    image: "vmlinuz",
    cmdline: "console=ttyS0",
    label: `${linuxVariant(dir)}-${LINUX_SCENARIO}`,
    dir,
    initrd: "initrd.cpio",
    memMiB: 128,
    maxInsns: LINUX_INSNS,
  };
}

/** The guest's verdict, from its `RESULT ...` line. */
export interface GuestVerdict {
  /** true pass=1, false pass=0, null when no RESULT line was printed. */
  pass: boolean | null;
  /** key=value fields of the RESULT line. */
  fields: Record<string, string>;
  /** The RESULT line itself, or "". */
  line: string;
}

/**
 * Parses the guest's `RESULT key=value ...` summary line from its serial output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseVerdict } from "./suite.ts";
 * const v = parseVerdict("boot\nRESULT scenario=boot backend=kvm pass=1 ops=52\n");
 * assert.equal(v.pass, true);
 * assert.equal(v.fields.backend, "kvm");
 * ```
 */
export function parseVerdict(serial: string): GuestVerdict {
  const line = serial.split("\n").reverse().find((l) => l.startsWith("RESULT ")) ?? "";
  const fields: Record<string, string> = {};
  for (const kv of line.split(" ").slice(1)) {
    const i = kv.indexOf("=");
    if (i > 0) fields[kv.slice(0, i)] = kv.slice(i + 1).trim();
  }
  return { pass: line ? fields.pass === "1" : null, fields, line: line.trim() };
}

/** What recording one case produced. */
export interface CaseRun {
  result: RunResult;
  verdict: GuestVerdict;
  serial: string;
  events: number;
  session: Session;
}

/**
 * RAM of every suite case: 32 MiB, the machine default when the reference traces were recorded
 * (their headers say so and replays compare it), kept explicit since the default became 128.
 */
export const SUITE_MEM_MIB = 32;

/**
 * Records one case under `backend`: to `out` (a .pvt path), to `events` (an array), or nowhere.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordCase, suiteCase } from "./suite.ts";
 * const r = recordCase(suiteCase("2.6.22", "boot"), "native", {});
 * assert.equal(r.verdict.pass, true);
 * ```
 */
export function recordCase(c: SuiteCase, backend: string, to: CaseTarget): CaseRun {
  const run = startCase(c, backend, to);
  return run.finish(run.session.run(run.maxInsns));
}

/** Where {@link recordCase} sends a run, and how it is bounded. */
export interface CaseTarget {
  out?: string;
  events?: TraceEvent[];
  imageDir?: string;
  maxInsns?: number;
  profileTweak?: ProfileTweak;
}

/**
 * {@link recordCase} yielding to the host between slices (Machine.runAsync): `interrupted`
 * (Ctrl-C) ends the run at a slice boundary, the trace is then marked aborted and the result's
 * reason is "interrupted". The guest sees the same run either way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordCaseAsync, suiteCase } from "./suite.ts";
 * const r = await recordCaseAsync(suiteCase("2.6.22", "boot"), "kvm", {}, () => true);
 * assert.equal(r.result.reason, "interrupted");
 * ```
 */
export async function recordCaseAsync(
  c: SuiteCase,
  backend: string,
  to: CaseTarget,
  interrupted: () => boolean,
): Promise<CaseRun> {
  const run = startCase(c, backend, to);
  return run.finish(await run.session.runAsync(run.maxInsns, { interrupted }));
}

function startCase(c: SuiteCase, backend: string, to: CaseTarget) {
  const dir = c.dir ?? to.imageDir ?? IMAGE_DIR;
  const image = Deno.readFileSync(`${dir}/${c.image}`);
  let writer: TraceWriter | null = null;
  const events = to.events;
  // An event list needs every event as an object; a trace file alone takes polling runs whole.
  const recorder = new Recorder(
    events ? { append: (e) => (writer?.append(e), events.push(e)) } : {
      append: (e) => writer?.append(e),
      appendRepeat: (n, step) => writer?.appendRepeat(n, step),
    },
  );
  const maxInsns = to.maxInsns ?? c.maxInsns ?? CASE_INSNS;
  // A Linux case records where its kernel and initrd are, so `replay` of a kept trace finds them.
  const linux = c.initrd === undefined ? {} : {
    imagePath: resolve(`${dir}/${c.image}`),
    initrd: Deno.readFileSync(`${dir}/${c.initrd}`),
    initrdName: c.initrd,
    initrdPath: resolve(`${dir}/${c.initrd}`),
  };
  const session = openSession(
    {
      image,
      imageName: c.image,
      cmdline: c.cmdline,
      backend,
      maxInsns,
      memMiB: c.memMiB ?? SUITE_MEM_MIB,
      profileTweak: to.profileTweak,
      ...linux,
    },
    recorder,
  );
  if (to.out) writer = TraceWriter.create(to.out, session.header);
  const finish = (result: RunResult): CaseRun => {
    if (writer) {
      if (result.reason === "budget") writer.abort("instruction budget exhausted");
      else if (result.reason === "interrupted") writer.abort("interrupted (SIGINT)");
      else writer.close({ finalDigest: session.digest() });
    }
    const serial = new TextDecoder().decode(Uint8Array.from(session.serial));
    return { result, verdict: parseVerdict(serial), serial, events: recorder.count, session };
  };
  return { session, maxInsns, finish };
}
