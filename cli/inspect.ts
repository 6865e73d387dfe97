/**
 * `pvreplay inspect`: dump, filter and summarise `.pvt` traces.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type CliIo, runWithIo, stdio } from "./io.ts";
import { TraceFormatError } from "../traces/format/format.ts";
import { endToJsonLine, eventToJsonLine, headerToJsonLine } from "../traces/format/jsonl.ts";
import {
  EVENT_TABLE_HEAD,
  type EventFilter,
  formatEvent,
  formatHeader,
  formatStats,
  parseFilter,
  parseRange,
  selects,
  type SeqRange,
  StatsCollector,
  type TraceStats,
} from "../traces/analysis/inspect.ts";
import { TraceReader } from "../traces/format/reader.ts";
import { parseNmSymbols, type Symbolizer } from "../traces/analysis/symbols.ts";
import { isBundle, openBundle } from "../traces/format/bundle.ts";
import { ImageError } from "../core/loaders/image_error.ts";
import { EXIT_IMAGE_ERROR } from "../core/exit_status.ts";
import { symbolizerFor, traceFileOf } from "./bundle_arg.ts";
import { IMAGE_DIR } from "../traces/format/guest_image.ts";

const USAGE = `usage: pvreplay inspect FILE [FILE2] [options]

Dumps the events of a .pvt trace, or summarises one or two traces side by side. A FILE may
also be a bundle made by 'pvreplay pack' (a directory).

options:
  --header           print the trace header (environment, CPUID, quirks)
  --stats            statistics per call/trap and per canonical op: count, share %,
                     icount gaps between consecutive events (min/mean/max)
  --json             JSON Lines output (schema: docs/trace-format.md section 8)
  --range A..B       only events with A <= seq <= B (A.. and ..B allowed)
  --filter K=V,...   only matching events; keys kind, name, op, nr, vector, vcpu;
                     repeated keys are alternatives, different keys must all match
  --symbols FILE     nm output of the guest kernel, to name EIPs (default: the symbol
                     table of the guest ELF named in the header, if found in
                     ${IMAGE_DIR}/ with the recorded SHA-256)
  --help             this text

exit status: 0 ok, 2 usage error or unreadable trace/header, 3 trace truncated,
aborted or corrupt (everything readable before the defect was processed), 4 damaged bundle
(a file whose SHA-256 is not the manifest's; the message names it).
`;

/**
 * Runs `inspect` with command-line `args`; returns the exit status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inspectCommand } from "./inspect.ts";
 * const status = await inspectCommand(["--help"]);
 * assert.equal(status, 0);
 * ```
 */
export function inspectCommand(args: string[], io: CliIo = stdio()): Promise<number> {
  return runWithIo(run, args, io);
}

function run(args: string[], io: CliIo): number {
  let parsed;
  let range: SeqRange | null = null;
  const filter: EventFilter = new Map();
  let symbolize: Symbolizer | undefined;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        header: { type: "boolean" },
        stats: { type: "boolean" },
        json: { type: "boolean" },
        range: { type: "string" },
        filter: { type: "string", multiple: true },
        symbols: { type: "string" },
        help: { type: "boolean" },
      },
    });
    if (parsed.values.help) {
      io.out(USAGE);
      return 0;
    }
    if (parsed.positionals.length < 1 || parsed.positionals.length > 2) {
      throw new RangeError("expected one or two trace files");
    }
    if (parsed.values.range !== undefined) range = parseRange(parsed.values.range);
    for (const f of parsed.values.filter ?? []) parseFilter(f, filter);
    if (parsed.values.symbols !== undefined) {
      symbolize = parseNmSymbols(Deno.readTextFileSync(parsed.values.symbols));
    }
  } catch (e) {
    io.err(`pvreplay inspect: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { json = false, stats: wantStats = false, header: wantHeader = false } = parsed.values;
  const files = parsed.positionals;
  const readers: TraceReader[] = [];
  try {
    for (const f of files) {
      const r = TraceReader.open(traceFileOf(f));
      readers.push(r);
      // A bundle is checked whole before anything is printed from it.
      if (isBundle(f)) openBundle(f, r.header);
    }
  } catch (e) {
    for (const r of readers) r.close();
    if (e instanceof ImageError) {
      io.err(`pvreplay inspect: ${e.message}\n`);
      return EXIT_IMAGE_ERROR;
    }
    io.err(`pvreplay inspect: ${files[readers.length]}: ${describe(e)}\n`);
    return 2;
  }
  const warn = (m: string) => io.err(`pvreplay inspect: warning: ${m}\n`);
  let status = 0;
  const allStats: TraceStats[] = [];
  for (let i = 0; i < readers.length; i++) {
    const r = readers[i], file = files[i];
    const backend = r.header.backend.name;
    if (wantHeader) {
      io.out(
        json
          ? headerToJsonLine(r.header, r.formatVersion) + "\n"
          : `== ${file}\n${formatHeader(r.header, r.formatVersion)}\n`,
      );
    }
    const dump = !wantStats && !wantHeader;
    if (dump && !json) io.out(`${readers.length > 1 ? `== ${file}\n` : ""}${EVENT_TABLE_HEAD}\n`);
    const sym = dump && !json
      ? symbolize ?? symbolizerFor(file, r.header, warn) ?? undefined
      : undefined;
    const collector = new StatsCollector();
    let error: TraceFormatError | null = null;
    if (dump || wantStats) {
      try {
        for (const ev of r.events()) {
          if (!selects(ev, range, filter)) continue;
          if (wantStats) collector.add(ev);
          else io.out((json ? eventToJsonLine(ev, backend) : formatEvent(ev, sym)) + "\n");
        }
      } catch (e) {
        if (!(e instanceof TraceFormatError)) throw e;
        error = e;
      }
      const end = error
        ? { error }
        : r.truncation
        ? { truncation: r.truncation }
        : { footer: r.footer! };
      if (dump && json) io.out(endToJsonLine(end) + "\n");
      if (error) {
        io.err(
          `pvreplay inspect: ${file}: corrupt: ${error.message} (${r.validEvents} events read)\n`,
        );
        status = 3;
      } else if (r.truncation) {
        const t = r.truncation;
        io.err(
          `pvreplay inspect: ${file}: truncated at byte ${t.byteOffset}: ${t.reason} ` +
            `(${t.validEvents} events readable)\n`,
        );
        status = 3;
      }
    }
    r.close();
    allStats.push(collector.result());
  }
  if (wantStats) {
    if (json) {
      for (let i = 0; i < files.length; i++) {
        io.out(JSON.stringify({ type: "stats", file: files[i], ...statsJson(allStats[i]) }) + "\n");
      }
    } else {
      io.out(formatStats(allStats, files) + "\n");
    }
  }
  return status;
}

function statsJson(s: TraceStats) {
  const rows = (rs: TraceStats["byName"]) =>
    rs.map((r) => ({
      key: r.key,
      count: r.count,
      share: r.share,
      gap_min: r.gapMin,
      gap_mean: r.gapMean,
      gap_max: r.gapMax,
    }));
  return {
    events: s.events,
    first_icount: s.firstIcount,
    last_icount: s.lastIcount,
    by_name: rows(s.byName),
    by_op: rows(s.byOp),
  };
}

function describe(e: unknown): string {
  if (e instanceof TraceFormatError) return e.message;
  if (e instanceof Deno.errors.NotFound) return "no such file";
  return (e as Error).message ?? String(e);
}
