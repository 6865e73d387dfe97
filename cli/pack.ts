/**
 * `pvreplay pack`: make a trace self-contained (trace + the guest image it needs, hash-checked,
 * + the guest's nm symbols when given), as `rr pack` does, so that `replay`, `diff` and
 * `inspect` work on a machine that has neither the image nor this project's guests/.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { EXIT_TRACE_ERROR } from "../core/exit_status.ts";
import { ImageError } from "../core/loaders/image_error.ts";
import { TraceFormatError } from "../traces/format/format.ts";
import { TraceReader } from "../traces/format/reader.ts";
import { writeBundle } from "../traces/format/bundle.ts";
import { command, readInput, UsageError } from "./common.ts";
import { findImage } from "./replay.ts";

const USAGE = `usage: pvreplay pack TRACE [--out BUNDLE] [options]

Writes a bundle: a directory holding the trace (byte for byte), the guest image its header
names (found as 'replay' finds it, SHA-256 checked) and, with --symbols, the guest kernel's nm
output, plus bundle.json listing every file with its SHA-256 (docs/trace-format.md section 11).
'replay', 'diff' and 'inspect' take the bundle directory wherever a trace goes, and use only
the files in it. Copy the directory as a whole (cp -r, tar).

options:
  --out DIR          bundle directory to create (default: TRACE without .pvt, plus .bundle);
                     it must not exist or be empty
  --kernel FILE      the guest image, when replay would not find it (hash still checked)
  --symbols FILE     nm output of the guest kernel, kept for 'diff' and 'inspect'
  --help             show this help

exit status: 0 packed, 2 usage (or the --out directory is not empty), 4 the guest image is
not found or is not the one recorded, 6 unreadable trace.`;

/**
 * Implements `pvreplay pack`; returns the exit status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packCommand } from "./pack.ts";
 * assert.equal(await packCommand([]), 2);
 * ```
 */
export function packCommand(args: string[]): Promise<number> {
  return command(
    "pack",
    USAGE,
    args,
    { out: { type: "string" }, kernel: { type: "string" }, symbols: { type: "string" } },
    { positionals: true },
    (values, positionals) => {
      if (positionals.length !== 1) throw new UsageError("give exactly one trace file");
      return pack(positionals[0], values as { out?: string; kernel?: string; symbols?: string });
    },
  );
}

function pack(trace: string, f: { out?: string; kernel?: string; symbols?: string }): number {
  let reader;
  try {
    reader = TraceReader.open(trace);
  } catch (e) {
    if (e instanceof TraceFormatError) throw e;
    console.error(`pvreplay pack: ${trace}: ${(e as Error).message}`);
    return EXIT_TRACE_ERROR;
  }
  const header = reader.header;
  reader.close();
  let image;
  try {
    image = findImage(trace, header.guest, f.kernel);
  } catch (e) {
    if (e instanceof UsageError) throw new ImageError(header.guest.name, e.message);
    throw e;
  }
  const out = f.out ?? join(dirname(trace), `${basename(trace).replace(/\.pvt$/, "")}.bundle`);
  try {
    writeBundle(out, {
      trace: readInput(trace, "trace"),
      header,
      image,
      symbols: f.symbols === undefined ? undefined : readInput(f.symbols, "symbols"),
    });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) throw new UsageError(`--out: ${e.message}`);
    throw e;
  }
  console.error(`pvreplay pack: ${trace} + ${header.guest.name} -> ${out}`);
  return 0;
}
