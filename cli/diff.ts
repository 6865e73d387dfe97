/**
 * `pvreplay diff`: aligns two `.pvt` traces on canonical operations and reports divergences.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type CliIo, runWithIo, stdio } from "./io.ts";
import { type DiffTolerances, diffTraces, parseTolerance } from "../traces/analysis/diff.ts";
import { diffToHtml, diffToJson, formatDiffText } from "../traces/analysis/diff_format.ts";
import { TraceFormatError } from "../traces/format/format.ts";
import { IMAGE_DIR } from "../traces/format/guest_image.ts";
import { parseNmSymbols, type Symbolizer } from "../traces/analysis/symbols.ts";
import { ImageError } from "../core/loaders/image_error.ts";
import { EXIT_IMAGE_ERROR } from "../core/exit_status.ts";
import { symbolizerFor, traceFileOf } from "./bundle_arg.ts";
import { Progress } from "./common.ts";

const USAGE = `usage: pvreplay diff A B [options]

A and B are .pvt traces or bundles made by 'pvreplay pack' (directories).

Aligns the canonical operations of two traces, plus hypercalls and markers (patience
anchors + Myers diff, streamed through a bounded window), and classifies each divergence:
missing, extra, reordered, arguments, units, result, trap, state (timing with an icount
tolerance). Consecutive events with the same operation and equal non-time-valued fields
form a run (a polling loop); runs of different length are one 'repeats' divergence,
reported but not counted as a difference unless --exact-repeats.

options:
  --context N          runs of context around the first divergence (default 3)
  --list N             divergences listed in the text report (default 20)
  --json               JSON report on stdout (docs/trace-format.md section 9.5)
  --html FILE          also write a self-contained side-by-side HTML report
  --tolerance K=V      time=1000ns (ns|us|ms|s), addr=0x1000, icount=N; repeatable.
                       Default: time=1ms when the traces' backends (or profiles) differ,
                       else 0; addr=0; icount ignored. TSC values are compared in ns.
  --exact-repeats      repeat-count differences make the traces different
  --all-events         also align events without a canonical op, by kind:name
  --window N           alignment window in runs per side (default 4096)
  --symbols FILE       nm output of the guest kernel, to name EIPs (default: the symbol
                       table of the guest ELF named in each header, if found in
                       ${IMAGE_DIR}/ with the recorded SHA-256)
  --progress, --no-progress  events read (both traces), rate and ETA on stderr
                       (default: when stderr is a terminal)
  --help               this text

exit status: 0 equivalent, 1 different, 2 error (unreadable or corrupt trace, bad usage),
4 damaged bundle (a file whose SHA-256 is not the manifest's; the message names it).
`;

/**
 * Runs `diff` with command-line `args`; returns the exit status (as diff(1)).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { diffCommand } from "./diff.ts";
 * assert.equal(await diffCommand(["--help"]), 0);
 * ```
 */
export function diffCommand(args: string[], io: CliIo = stdio()): Promise<number> {
  return runWithIo(run, args, io);
}

function run(argv: string[], io: CliIo): number {
  // --no-progress (taken apart: this parser's typed result has no `allowNegative`).
  const noProgress = argv.includes("--no-progress");
  const args = argv.filter((a) => a !== "--no-progress");
  let parsed;
  const tolerances: Partial<DiffTolerances> = {};
  let symbolize: Symbolizer | undefined;
  let context = 3, window = 4096, list = 20;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        context: { type: "string" },
        list: { type: "string" },
        "exact-repeats": { type: "boolean" },
        json: { type: "boolean" },
        html: { type: "string" },
        tolerance: { type: "string", multiple: true },
        "all-events": { type: "boolean" },
        window: { type: "string" },
        symbols: { type: "string" },
        progress: { type: "boolean" },
        help: { type: "boolean" },
      },
    });
    if (parsed.values.help) {
      io.out(USAGE);
      return 0;
    }
    if (parsed.positionals.length !== 2) throw new RangeError("expected two trace files");
    const int = (name: string, v: string | undefined, dflt: number, min: number) => {
      if (v === undefined) return dflt;
      if (!/^\d+$/.test(v) || Number(v) < min) {
        throw new RangeError(`--${name} must be an integer >= ${min}`);
      }
      return Number(v);
    };
    context = int("context", parsed.values.context, 3, 0);
    window = int("window", parsed.values.window, 4096, 32);
    list = int("list", parsed.values.list, 20, 0);
    for (const t of parsed.values.tolerance ?? []) {
      const [k, v] = parseTolerance(t);
      tolerances[k] = v;
    }
    if (parsed.values.symbols !== undefined) {
      symbolize = parseNmSymbols(Deno.readTextFileSync(parsed.values.symbols));
    }
  } catch (e) {
    io.err(`pvreplay diff: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const [fa, fb] = parsed.positionals;
  let result;
  const progress = new Progress(
    "pvreplay diff",
    noProgress ? false : parsed.values.progress ?? Deno.stderr.isTerminal(),
    "events",
  );
  try {
    result = diffTraces(traceFileOf(fa), traceFileOf(fb), {
      onProgress: (n, total) => progress.update(n, total),
      allEvents: parsed.values["all-events"] ?? false,
      context,
      window,
      tolerances,
      exactRepeats: parsed.values["exact-repeats"] ?? false,
    });
  } catch (e) {
    progress.done();
    if (e instanceof ImageError) {
      io.err(`pvreplay diff: ${e.message}\n`);
      return EXIT_IMAGE_ERROR;
    }
    if (e instanceof TraceFormatError || e instanceof Deno.errors.NotFound) {
      io.err(`pvreplay diff: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  progress.done();
  const warn = (m: string) => io.err(`pvreplay diff: warning: ${m}\n`);
  let symbolizeA, symbolizeB;
  try {
    symbolizeA = symbolize ?? symbolizerFor(fa, result.a.header, warn) ?? undefined;
    symbolizeB = symbolize ?? symbolizerFor(fb, result.b.header, warn) ?? undefined;
  } catch (e) {
    if (!(e instanceof ImageError)) throw e;
    io.err(`pvreplay diff: ${e.message}\n`);
    return EXIT_IMAGE_ERROR;
  }
  const ctx = { labelA: fa, labelB: fb, a: result.a, b: result.b, symbolizeA, symbolizeB, list };
  for (const [label, s] of [[fa, result.a], [fb, result.b]] as const) {
    if (s.truncation) {
      io.err(
        `pvreplay diff: warning: ${label} is truncated at byte ${s.truncation.byteOffset} ` +
          `(${s.truncation.reason}); compared its ${s.truncation.validEvents} readable events\n`,
      );
    }
  }
  if (parsed.values.html !== undefined) {
    try {
      Deno.writeTextFileSync(parsed.values.html, diffToHtml(result.report, ctx));
    } catch (e) {
      io.err(`pvreplay diff: cannot write ${parsed.values.html}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  io.out(
    parsed.values.json
      ? JSON.stringify(diffToJson(result.report, ctx)) + "\n"
      : formatDiffText(result.report, ctx),
  );
  return result.report.same ? 0 : 1;
}
