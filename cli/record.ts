/**
 * `pvreplay record`: run a guest under a backend and write every hypercall and trap to a trace.
 *
 * @module
 */

import { basename, resolve } from "node:path";
import { EXIT_INTERNAL, EXIT_TRACE_ERROR } from "../core/exit_status.ts";
import { DEFAULT_MEM_MIB } from "../core/machine.ts";
import { ImageError } from "../core/loaders/image_error.ts";
import { Recorder } from "../traces/session/recorder.ts";
import { openSession } from "../traces/session/session.ts";
import { TraceWriter } from "../traces/format/writer.ts";
import { SigintGuard } from "./interrupt.ts";
import {
  command,
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

/** Default instruction budget of a recording (10 virtual seconds at 100 M insns/s). */
export const DEFAULT_RECORD_INSNS = 1_000_000_000;

const USAGE = `usage: pvreplay record --kernel FILE --backend NAME[@VERSION] --out FILE [options]

Boots a Multiboot or Linux kernel on the deterministic PC under a hypervisor backend and records
every hypercall, exception, interrupt, privileged-operation exit and port/MMIO access to a trace.

options:
  --kernel FILE          Multiboot (v1) kernel image, or a Linux bzImage or vmlinux ELF booted
                         by the 32-bit Linux boot protocol (header 'boot: linux')
  --append STR           kernel command line
  --initrd FILE          initial ramdisk for a Linux kernel (name, path and SHA-256 recorded)
  --backend SPEC         native, kvm, kvm@2.6.20, ... (see 'pvreplay matrix --list')
  --out FILE             trace file to write (.pvt)
  --mem MIB              RAM size in MiB (default ${DEFAULT_MEM_MIB}, as QEMU)
${SMP_HELP}
  --serial -|FILE        COM1 output (default -: stdout; 'none' discards)
  --serial-input STR|@FILE  bytes fed to COM1 (recorded in the trace header)
  --max-insns N          instruction budget (default ${DEFAULT_RECORD_INSNS}; k/M/G suffixes)
  --progress, --no-progress  progress line on stderr (default: when stderr is a terminal)
  --json                 print a JSON summary on stdout
  --help                 show this help

A run cut short (Ctrl-C, budget) leaves a trace readable up to its last event, marked as
incomplete with the reason.

exit status: the guest's, as for 'run' ((v<<1)|1 isa-debug-exit, 0 halted, 8 triple fault,
10 budget, 12 reset, 18 the backend stopped the VM, 20 the hypervisor killed the guest,
22 suspended, 24 crashed); 2 usage, 4 bad image, 6 trace file not writable, 130 interrupted
(Ctrl-C; a second Ctrl-C exits at once).`;

/**
 * Implements `pvreplay record`; returns the exit status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordCommand } from "./record.ts";
 * assert.equal(await recordCommand(["--bogus"]), 2);
 * ```
 */
export function recordCommand(args: string[]): Promise<number> {
  return command(
    "record",
    USAGE,
    args,
    {
      ...GUEST_FLAGS,
      initrd: { type: "string" },
      backend: { type: "string" },
      out: { type: "string" },
    },
    {},
    (values) => record(values as RecordFlags),
  );
}

interface RecordFlags {
  kernel?: string;
  append?: string;
  initrd?: string;
  backend?: string;
  out?: string;
  mem?: string;
  smp?: string;
  ioapic?: boolean;
  serial?: string;
  "serial-input"?: string;
  "max-insns"?: string;
  progress?: boolean;
  json?: boolean;
}

async function record(f: RecordFlags): Promise<number> {
  if (f.kernel === undefined) throw new UsageError("--kernel is required");
  if (f.backend === undefined) throw new UsageError("--backend is required");
  if (f.out === undefined) throw new UsageError("--out is required");
  const maxInsns = f["max-insns"] === undefined
    ? DEFAULT_RECORD_INSNS
    : parseCount("max-insns", f["max-insns"]);
  const image = readInput(f.kernel, "kernel");
  const initrd = f.initrd === undefined ? undefined : readInput(f.initrd, "initrd");
  const serialOut = new OutputSink(f.serial ?? "-");
  let writer: TraceWriter | null = null;
  const recorder = new Recorder({
    append: (e) => writer!.append(e),
    appendRepeat: (n, step) => writer!.appendRepeat(n, step),
  });
  let session;
  try {
    session = openSession({
      image,
      imageName: basename(f.kernel),
      imagePath: resolve(f.kernel),
      cmdline: f.append ?? "",
      ...(f.initrd !== undefined
        ? { initrd, initrdName: basename(f.initrd), initrdPath: resolve(f.initrd) }
        : {}),
      backend: f.backend,
      memMiB: f.mem === undefined ? undefined : parseCount("mem", f.mem),
      ...machineShape(f),
      serialInput: serialInputBytes(f["serial-input"]),
      serialOut: serialOut.sink,
      maxInsns,
    }, recorder);
  } catch (e) {
    if (e instanceof ImageError || e instanceof UsageError) throw e;
    if (e instanceof RangeError || /backend/.test((e as Error).message)) {
      throw new UsageError((e as Error).message);
    }
    throw e;
  }
  try {
    writer = TraceWriter.create(f.out, session.header);
  } catch (e) {
    console.error(`pvreplay record: cannot write trace ${f.out}: ${(e as Error).message}`);
    return EXIT_TRACE_ERROR;
  }

  // Ctrl-C ends the run at the next slice boundary; the trace keeps every event so far.
  const guard = new SigintGuard("pvreplay record");
  const progress = new Progress("pvreplay record", f.progress);
  let result;
  try {
    result = await session.runAsync(maxInsns, {
      interrupted: () => guard.interrupted,
      onProgress: (icount) => {
        serialOut.flush();
        progress.update(icount, maxInsns, `${recorder.count} events`);
      },
    });
  } catch (e) {
    // Keep what the backend still holds (an open polling run) if it can still give it.
    try {
      session.backend.flush();
    } catch {
      // the backend is what failed: the trace ends at its last event
    }
    writer.abort(`internal error: ${(e as Error).message}`);
    serialOut.close();
    console.error(`pvreplay record: internal error (trace kept up to event ${recorder.count}):`);
    console.error(e);
    return EXIT_INTERNAL;
  } finally {
    guard.close();
    progress.done();
  }
  serialOut.close();
  const interrupted = result.reason === "interrupted";
  if (interrupted) writer.abort("interrupted (SIGINT)");
  else if (result.reason === "budget") writer.abort(`instruction budget exhausted (${maxInsns})`);
  else writer.close({ finalDigest: session.digest() });

  const summary = {
    trace: f.out,
    backend: `${session.header.backend.name}@${session.header.backend.profile}`,
    events: recorder.count,
    instructions: result.instructions,
    exit: result.reason,
    code: result.exitCode,
    seconds: Number(progress.seconds.toFixed(3)),
  };
  if (f.json) console.log(JSON.stringify(summary));
  else {
    console.error(
      `pvreplay record: ${summary.events} events, ${summary.instructions} instructions, ` +
        `${summary.exit} (status ${summary.code}) -> ${f.out}`,
    );
  }
  return result.exitCode;
}
