/**
 * `pvreplay run`: boot a Multiboot or Linux kernel, a raw firmware image or a snapshot on the emulated PC
 * and run it to completion.
 *
 * Exit status: the guest's (see `core/exit_status.ts`): 0 when it halts for good, `(v << 1) | 1`
 * for an isa-debug-exit write of `v`, 8 triple fault, 10 budget exhausted, 12 reset; 2 for a
 * usage error, 4 for an unusable kernel, firmware or snapshot file.
 *
 * @module
 */

import { DEFAULT_MEM_MIB, Machine, type RunResult } from "../core/machine.ts";
import { translatorDefault } from "../core/cpu/cpu.ts";
import { encodeSnapshot, restoreSnapshot } from "../core/snapshot.ts";
import { basename } from "node:path";
import { openSession } from "../traces/session/session.ts";
import { SigintGuard } from "./interrupt.ts";
import {
  command,
  type FlagSpec,
  GUEST_FLAGS,
  machineShape,
  OutputSink,
  parseCount,
  Progress,
  readInput,
  serialInputBytes,
  SMP_HELP,
  UsageError,
} from "./common.ts";

/** Default instruction budget: 10^10 (100 virtual seconds at the default 100 M insns/s). */
export const DEFAULT_MAX_INSNS = 10_000_000_000;

const USAGE = `usage: pvreplay run (--kernel FILE | --bios FILE | --restore FILE) [options]

Boots a Multiboot or Linux kernel (or a raw firmware image at the reset vector, or a snapshot) on the
deterministic PC and runs it until it halts, exits through isa-debug-exit (port 0xF4), resets,
triple-faults, or the instruction budget runs out.

options:
  --kernel FILE          Multiboot (v1) kernel (ELF32 or a.out kludge), or a Linux bzImage or
                         vmlinux ELF booted by the 32-bit Linux boot protocol
  --append STR           kernel command line
  --backend SPEC         boot and run the kernel under a hypervisor backend (native, kvm,
                         kvm@2.6.20, ...: 'pvreplay matrix --list'), as 'record' does but
                         without writing a trace. Default: the bare PC, no backend
  --initrd FILE          initial ramdisk for a Linux kernel (as QEMU's -initrd)
  --bios FILE            raw firmware image (multiple of 64 KiB), mapped below 4 GiB and 1 MiB
  --restore FILE         continue from a snapshot written by --snapshot-out
  --mem MIB              RAM size in MiB (default ${DEFAULT_MEM_MIB}, as QEMU)
${SMP_HELP}
  --serial -|FILE|none   COM1 output (default -: stdout)
  --debugcon -|FILE      port 0xE9 output (default: discarded)
  --serial-input STR|@FILE  bytes fed to COM1's receiver at the line rate
  --max-insns N          instruction budget (default 10000000000; suffixes k, M, G)
  --snapshot-at N        write a snapshot when the instruction count reaches N ...
  --snapshot-out FILE    ... to FILE, then continue
  --stats                print one JSON line of run statistics to stderr
  --no-jit               interpret only: no translation of hot code to JavaScript (same
                         results, slower; for comparison)
  --progress, --no-progress  progress line on stderr (default: when stderr is a terminal)
  --json                 print the run result as one JSON object on stdout
  --help                 show this help

With --backend only --kernel is taken (no --initrd, --bios, --restore or snapshots: the
backend's boot protocol loads the kernel, and its state is not part of a snapshot).

exit status: 0 halted, (v<<1)|1 isa-debug-exit, 2 usage, 4 bad image, 8 triple fault,
10 budget exhausted, 12 reset, 18 the backend stopped the VM, 20 the hypervisor killed the
guest (lguest), 22 the guest suspended, 24 the guest crashed (Xen SCHEDOP_shutdown),
130 interrupted (Ctrl-C; a second Ctrl-C exits at once) (see core/exit_status.ts)`;

function describeResult(m: Machine, r: RunResult): string {
  const cpu = m.cpu;
  const where = `${(cpu.segSel[1] & 0xffff).toString(16).padStart(4, "0")}:${
    (cpu.eip >>> 0).toString(16).padStart(8, "0")
  }`;
  const sym = m.symbols?.functionAt(cpu.eip >>> 0);
  const at = sym ? `${where} (${sym.name}+0x${sym.offset.toString(16)})` : where;
  switch (r.reason) {
    case "triple-fault":
      return `triple fault (vector ${r.shutdownVector}) at ${at}`;
    case "budget":
      return `instruction budget exhausted after ${r.instructions} instructions at ${at}`;
    case "reset":
      return `guest requested a platform reset at ${at}`;
    default:
      return "";
  }
}

/**
 * Implements `pvreplay run`; returns the process exit status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runCommand } from "./run.ts";
 * assert.equal(await runCommand(["--no-such-flag"]), 2);
 * ```
 */
export function runCommand(args: string[]): Promise<number> {
  return command("run", USAGE, args, RUN_FLAGS, {}, (values) => run(values as RunFlags));
}

const RUN_FLAGS: FlagSpec = {
  ...GUEST_FLAGS,
  initrd: { type: "string" },
  bios: { type: "string" },
  restore: { type: "string" },
  debugcon: { type: "string" },
  "snapshot-at": { type: "string" },
  "snapshot-out": { type: "string" },
  stats: { type: "boolean" },
  jit: { type: "boolean" },
  backend: { type: "string" },
};

interface RunFlags {
  kernel?: string;
  append?: string;
  initrd?: string;
  bios?: string;
  restore?: string;
  mem?: string;
  smp?: string;
  ioapic?: boolean;
  serial?: string;
  debugcon?: string;
  "serial-input"?: string;
  "max-insns"?: string;
  "snapshot-at"?: string;
  "snapshot-out"?: string;
  stats?: boolean;
  /** false with `--no-jit` (parseArgs allowNegative). */
  jit?: boolean;
  progress?: boolean;
  json?: boolean;
  backend?: string;
}

/** Discards events: `run --backend` runs the backend's model without recording it. */
const NO_EVENTS = { emit() {}, emitRepeat() {} };

async function run(f: RunFlags): Promise<number> {
  if (f.backend !== undefined) return await runOnBackend(f, f.backend);
  const sources = [f.kernel, f.bios, f.restore].filter((x) => x !== undefined).length;
  if (sources !== 1) throw new UsageError("give exactly one of --kernel, --bios, --restore");
  if (f.append !== undefined && f.kernel === undefined) {
    throw new UsageError("--append needs --kernel");
  }
  if (f.initrd !== undefined && f.kernel === undefined) {
    throw new UsageError("--initrd needs --kernel");
  }
  if ((f["snapshot-at"] === undefined) !== (f["snapshot-out"] === undefined)) {
    throw new UsageError("--snapshot-at and --snapshot-out go together");
  }
  if (
    f.restore !== undefined &&
    (f.mem !== undefined || f["serial-input"] !== undefined || f.smp !== undefined || f.ioapic)
  ) {
    throw new UsageError(
      "--mem, --serial-input, --smp and --ioapic come from the snapshot with --restore",
    );
  }
  const memMiB = f.mem === undefined ? undefined : parseCount("mem", f.mem);
  const maxInsns = f["max-insns"] === undefined
    ? DEFAULT_MAX_INSNS
    : parseCount("max-insns", f["max-insns"]);
  const snapshotAt = f["snapshot-at"] === undefined
    ? -1
    : parseCount("snapshot-at", f["snapshot-at"]);
  const serialInput = serialInputBytes(f["serial-input"]);

  const serial = new OutputSink(f.serial ?? "-");
  const debugcon = new OutputSink(f.debugcon ?? null);
  const sinks = { serialOut: serial.sink, debugconOut: debugcon.sink };
  let machine: Machine;
  // The machine's CPU takes the setting at construction; later machines keep the default.
  const jitBefore = translatorDefault(f.jit !== false);
  try {
    if (f.restore !== undefined) {
      machine = restoreSnapshot(readInput(f.restore, "snapshot"), sinks, f.restore);
    } else {
      try {
        machine = new Machine({ memMiB, serialInput, ...machineShape(f), ...sinks });
      } catch (e) {
        if (e instanceof RangeError) throw new UsageError(e.message);
        throw e;
      }
      if (f.kernel !== undefined) {
        machine.bootKernel(readInput(f.kernel, "kernel"), {
          file: f.kernel,
          cmdline: f.append ?? "",
          initrd: f.initrd === undefined ? undefined : readInput(f.initrd, "initrd"),
          initrdFile: f.initrd,
        });
      } else {
        machine.loadFirmware(readInput(f.bios!, "firmware"), f.bios!);
      }
    }
  } catch (e) {
    serial.close();
    debugcon.close();
    throw e;
  } finally {
    translatorDefault(jitBefore);
  }

  const progress = new Progress("pvreplay", f.progress);
  const onProgress = (icount: number) => {
    serial.flush();
    debugcon.flush();
    progress.update(icount - startIcount, maxInsns);
  };
  const startIcount = machine.clock.icount;
  const guard = new SigintGuard("pvreplay run");
  const opts = { onProgress, interrupted: () => guard.interrupted };
  let result: RunResult;
  try {
    result = await runMachine();
  } finally {
    guard.close();
  }
  return report(f, machine, result, progress, [serial, debugcon]);

  async function runMachine(): Promise<RunResult> {
    let result: RunResult;
    if (snapshotAt >= 0 && snapshotAt >= startIcount && snapshotAt - startIcount <= maxInsns) {
      result = await machine.runAsync(snapshotAt - startIcount, opts);
      if (result.reason === "budget") {
        Deno.writeFileSync(f["snapshot-out"]!, encodeSnapshot(machine));
        const rest = await machine.runAsync(maxInsns - (snapshotAt - startIcount), opts);
        rest.instructions += result.instructions;
        result = rest;
      } else {
        console.error(
          `pvreplay run: guest stopped (${result.reason}) before instruction ${snapshotAt}; no snapshot written`,
        );
      }
    } else {
      if (snapshotAt >= 0) {
        console.error(
          `pvreplay run: instruction ${snapshotAt} is outside this run (${startIcount}..${
            startIcount + maxInsns
          }); no snapshot written`,
        );
      }
      result = await machine.runAsync(maxInsns, opts);
    }
    return result;
  }
}

/** `run --backend`: the kernel booted by the backend's protocol, events discarded. */
async function runOnBackend(f: RunFlags, backend: string): Promise<number> {
  if (f.kernel === undefined) throw new UsageError("--backend needs --kernel");
  for (const flag of ["initrd", "bios", "restore", "snapshot-at", "snapshot-out"] as const) {
    if (f[flag] !== undefined) throw new UsageError(`--${flag} does not go with --backend`);
  }
  const maxInsns = f["max-insns"] === undefined
    ? DEFAULT_MAX_INSNS
    : parseCount("max-insns", f["max-insns"]);
  const image = readInput(f.kernel, "kernel");
  const serial = new OutputSink(f.serial ?? "-");
  const debugcon = new OutputSink(f.debugcon ?? null);
  const jitBefore = translatorDefault(f.jit !== false);
  let session;
  try {
    session = openSession({
      image,
      imageName: basename(f.kernel),
      cmdline: f.append ?? "",
      backend,
      memMiB: f.mem === undefined ? undefined : parseCount("mem", f.mem),
      ...machineShape(f),
      serialInput: serialInputBytes(f["serial-input"]),
      serialOut: serial.sink,
      debugconOut: debugcon.sink,
      maxInsns,
    }, NO_EVENTS);
  } catch (e) {
    serial.close();
    if (e instanceof RangeError || /backend/.test((e as Error).message)) {
      throw new UsageError((e as Error).message);
    }
    throw e;
  } finally {
    translatorDefault(jitBefore);
  }
  const progress = new Progress("pvreplay", f.progress);
  const guard = new SigintGuard("pvreplay run");
  let result: RunResult;
  try {
    result = await session.runAsync(maxInsns, {
      interrupted: () => guard.interrupted,
      onProgress: (icount) => {
        serial.flush();
        progress.update(icount, maxInsns);
      },
    });
  } finally {
    guard.close();
  }
  return report(f, session.machine, result, progress, [serial, debugcon]);
}

function report(
  f: RunFlags,
  machine: Machine,
  result: RunResult,
  progress: Progress,
  sinks: OutputSink[],
): number {
  const seconds = progress.seconds;
  for (const s of sinks) s.close();
  progress.done();

  const note = describeResult(machine, result);
  if (note && !f.json) console.error(`pvreplay run: ${note}`);
  if (f.stats) {
    console.error(JSON.stringify({
      instructions: result.instructions,
      icount: machine.clock.icount,
      seconds: Number(seconds.toFixed(3)),
      mips: Number((result.instructions / Math.max(seconds, 1e-9) / 1e6).toFixed(2)),
      exit: result.reason,
      code: result.exitCode,
      post: result.post,
    }));
  }
  if (f.json) {
    console.log(
      JSON.stringify({ ...result, icount: machine.clock.icount, note: note || undefined }),
    );
  }
  return result.exitCode;
}
