/**
 * `pvreplay replay`: determinism check on the recording backend, trace-driven replay against
 * another backend, and what-if replay with altered results.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBackendSpec } from "../backends/registry.ts";
import type { TraceEvent } from "../vocabulary/event.ts";
import { checkReplayable } from "../traces/format/header.ts";
import { readTrace } from "../traces/format/reader.ts";
import { Recorder } from "../traces/session/recorder.ts";
import {
  type CrossReport,
  parseOverride,
  replayCross,
  replaySameAsync,
} from "../traces/session/replay.ts";
import { PROJECT_IMAGE_DIR, sha256Hex } from "../traces/format/guest_image.ts";
import { TraceWriter } from "../traces/format/writer.ts";
import { bundleTrace, isBundle, openBundle } from "../traces/format/bundle.ts";
import { command, Progress, readInput, UsageError } from "./common.ts";
import { SigintGuard } from "./interrupt.ts";
import { EXIT_INTERRUPTED } from "../core/exit_status.ts";

/** replay/diff statuses follow diff(1): 0 same, 1 different, 2 trouble. */
export const REPLAY_SAME = 0;
export const REPLAY_DIVERGED = 1;
export const REPLAY_ERROR = 2;

const USAGE = `usage: pvreplay replay TRACE|BUNDLE [--backend NAME[@VERSION]] [options]

TRACE is a .pvt file; BUNDLE a directory made by 'pvreplay pack', replayed from its own
trace and guest image only (both hash-checked).

Without --backend (or with the recording's own backend): re-executes the guest and checks the
event stream event by event; stops at the first mismatch and prints both sides with context.
When every event agrees, the final machine state (registers and RAM) is checked against the
digest in the trace's footer.

With another --backend: trace-driven replay. Each recorded canonical operation is translated
into the target backend's ABI and applied to its hypervisor model; responses and state effects
are compared with the recording and each divergence is classified (unsupported,
different-units, different-result, different-state, needs-batch, implicit-side-effect, trap,
fatal).

options:
  --backend SPEC      target backend (default: the recording's)
  --kernel FILE       guest image (default: the bundle's; else where the header says it was
                      recorded, next to the trace, then in guests/images/); its SHA-256 must
                      match the header
  --initrd FILE       initial ramdisk of a Linux boot (default: the header's guest.initrd,
                      where it was recorded, then next to the trace); SHA-256 checked
  --set SEQ.ret=V     what-if: the guest sees V as the result of event SEQ (repeatable); the
                      run continues deterministically from there
  --out FILE          write the re-executed events to a new trace (same-backend/what-if)
  --context N         events of context around the first mismatch (default 5)
  --max N             divergences listed in cross-backend mode (default 20; all with --json)
  --json              machine-readable report on stdout
  --progress, --no-progress  progress line on stderr (default: when stderr is a terminal)
  --help              show this help

exit status: 0 no divergence, 1 divergence (or what-if changed the outcome), 2 error
(unreadable trace, missing or different image, unsafe replay, bad flags), 4 damaged bundle
(a file whose SHA-256 is not the manifest's, or missing; the message names it), 130 interrupted
(Ctrl-C; --out is then marked aborted; a second Ctrl-C exits at once).`;

/**
 * Implements `pvreplay replay`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replayCommand } from "./replay.ts";
 * assert.equal(await replayCommand(["--bogus"]), 2);
 * ```
 */
export function replayCommand(args: string[]): Promise<number> {
  return command(
    "replay",
    USAGE,
    args,
    {
      backend: { type: "string" },
      kernel: { type: "string" },
      initrd: { type: "string" },
      set: { type: "string", multiple: true },
      out: { type: "string" },
      context: { type: "string" },
      max: { type: "string" },
      json: { type: "boolean" },
      progress: { type: "boolean" },
    },
    { positionals: true, traceErrorStatus: REPLAY_ERROR },
    (values, positionals) => {
      if (positionals.length !== 1) throw new UsageError("give exactly one trace file");
      return replay(positionals[0], values as ReplayFlags);
    },
  );
}

interface ReplayFlags {
  backend?: string;
  kernel?: string;
  initrd?: string;
  set?: string[];
  out?: string;
  context?: string;
  max?: string;
  json?: boolean;
  progress?: boolean;
}

function intFlag(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name}: expected a non-negative integer`);
  return Number(v);
}

async function replay(path: string, f: ReplayFlags): Promise<number> {
  // A bundle (pvreplay pack) replays from its own files only: its trace, its hash-checked image.
  const bundle = isBundle(path);
  const trace = readTrace(bundle ? bundleTrace(path) : path);
  if (trace.error) {
    console.error(
      `pvreplay replay: warning: ${path}: ${trace.error.message}; replaying the ${trace.events.length} events before it`,
    );
  } else if (trace.truncation) {
    console.error(
      `pvreplay replay: note: ${path} is incomplete (${trace.truncation.reason}); ${trace.events.length} events`,
    );
  }
  const header = trace.header;
  // A damaged bundle is refused in every mode, before anything runs.
  const bundled = bundle ? openBundle(path, header) : null;
  const recordedOn = `${header.backend.name}@${header.backend.profile}`;
  let target = recordedOn;
  if (f.backend !== undefined) {
    try {
      const s = parseBackendSpec(f.backend);
      target = `${s.name}@${s.version}`;
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  if (target !== recordedOn) {
    if (f.set?.length || f.out) {
      throw new UsageError("--set and --out apply to same-backend replay only");
    }
    const report = replayCross(header, trace.events, target);
    printCross(report, f.json === true, intFlag("max", f.max, 20));
    return report.divergences.length ? REPLAY_DIVERGED : REPLAY_SAME;
  }

  const image = bundled && f.kernel === undefined
    ? bundled.image.bytes
    : findImage(path, header.guest, f.kernel);
  const initrd = header.guest.initrd === undefined
    ? undefined
    : findImage(path, header.guest.initrd, f.initrd, "initrd");
  if (initrd === undefined && f.initrd !== undefined) {
    throw new UsageError(`--initrd: the trace ${path} was recorded without an initrd`);
  }
  const env = {
    ...sessionHeaderEnv(header),
    guest: {
      ...header.guest,
      sha256: sha256Hex(image),
      ...(header.guest.initrd !== undefined && initrd !== undefined
        ? { initrd: { ...header.guest.initrd, sha256: sha256Hex(initrd) } }
        : {}),
    },
  };
  const check = checkReplayable(header, env);
  if (!check.ok) {
    for (const p of check.problems.filter((p) => p.fatal)) {
      console.error(
        `pvreplay replay: refusing unsafe replay: ${p.field} recorded ${p.recorded}, now ${p.current}`,
      );
    }
    return REPLAY_ERROR;
  }
  let overrides;
  try {
    overrides = (f.set ?? []).map(parseOverride);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  for (const o of overrides) {
    const ev = trace.events[o.seq];
    if (!ev) throw new UsageError(`--set ${o.seq}.ret: the trace has no event ${o.seq}`);
    if (ev.ret === null) {
      throw new UsageError(
        `--set ${o.seq}.ret: event ${o.seq} (${ev.kind} ${ev.name}) has no result`,
      );
    }
  }
  let writer: TraceWriter | null = null;
  const tee = f.out
    ? new Recorder({
      append: (e) => writer!.append(e),
      appendRepeat: (n, step) => writer!.appendRepeat(n, step),
    })
    : undefined;
  if (f.out) writer = TraceWriter.create(f.out, header);
  const progress = new Progress("pvreplay replay", f.progress);
  const guard = new SigintGuard("pvreplay replay");
  let report;
  try {
    report = await replaySameAsync(header, trace.events, image, {
      context: intFlag("context", f.context, 5),
      initrd,
      overrides,
      tee,
      onProgress: (icount) => progress.update(icount, header.run?.maxInsns ?? 0),
      interrupted: () => guard.interrupted,
    });
  } finally {
    guard.close();
    progress.done();
  }
  if (report.result.reason === "interrupted") {
    writer?.abort("interrupted (SIGINT)");
    console.error(
      `pvreplay replay: interrupted after ${report.checked} identical events of ${trace.events.length}`,
    );
    return EXIT_INTERRUPTED;
  }
  if (writer) {
    if (report.result.reason === "budget") writer.abort("instruction budget exhausted");
    else writer.close({ finalDigest: report.session.digest() });
  }
  const m = report.mismatch;
  // The events agreeing, the final machine state must too (rr-style end-of-replay check).
  const recordedDigest = overrides.length || m ? undefined : trace.footer?.finalDigest;
  const replayedDigest = recordedDigest === undefined ? undefined : report.session.digest();
  const stateDiffers = recordedDigest !== undefined && recordedDigest !== replayedDigest;
  if (f.json) {
    console.log(JSON.stringify({
      trace: path,
      backend: recordedOn,
      mode: overrides.length ? "what-if" : "determinism",
      checked: report.checked,
      recorded: trace.events.length,
      replayed: report.events,
      exit: report.result.reason,
      code: report.result.exitCode,
      mismatch: m,
      final_state: recordedDigest === undefined ? null : stateDiffers ? "different" : "same",
    }));
  } else if (stateDiffers) {
    console.log(
      `replay ${path} on ${recordedOn}: DIVERGED in the final machine state after ` +
        `${report.checked} identical events (recorded digest ${recordedDigest}, replayed ` +
        `${replayedDigest})`,
    );
  } else if (!m) {
    console.log(
      `replay ${path} on ${recordedOn}: ${report.checked} events identical, no divergence ` +
        `(${report.result.reason}, status ${report.result.exitCode})`,
    );
  } else {
    const what = overrides.length ? "what-if run left the recording" : "DIVERGED";
    console.log(
      `replay ${path} on ${recordedOn}: ${what} at event ${m.seq} (fields: ${m.fields.join(", ")})`,
    );
    for (const ev of m.before) console.log(`  = ${fmt(ev)}`);
    console.log(`  - recorded: ${m.expected ? fmt(m.expected) : "(no more events)"}`);
    console.log(`  + replayed: ${m.actual ? fmt(m.actual) : "(run ended)"}`);
    if (overrides.length) {
      console.log(
        `  guest continued to ${report.result.reason} (status ${report.result.exitCode}) after ${report.events} events`,
      );
    }
  }
  return m || stateDiffers ? REPLAY_DIVERGED : REPLAY_SAME;
}

/** The environment a same-backend replay runs in (everything but the image comes from header). */
function sessionHeaderEnv(header: ReturnType<typeof readTrace>["header"]) {
  const { toolVersion: _t, ...rest } = header;
  return rest;
}

/**
 * Finds the guest image (or, with `kind` "initrd", a Linux boot's initrd): the explicit flag as
 * given; else, among those with the recorded SHA-256, where it was recorded (header
 * `guest.path`, `guest.initrd.path`), next to the trace, then (images only) the project's
 * guests/images/ (located from the code, so any working directory works).
 */
export function findImage(
  tracePath: string,
  guest: { name: string; sha256: string; path?: string },
  explicit?: string,
  kind: "kernel" | "initrd" = "kernel",
): Uint8Array {
  if (explicit !== undefined) return readInput(explicit, kind);
  const candidates = [
    ...(guest.path !== undefined ? [guest.path] : []),
    join(dirname(tracePath), guest.name),
    ...(kind === "kernel" ? [join(fileURLToPath(PROJECT_IMAGE_DIR), guest.name)] : []),
  ];
  const seen: string[] = [];
  for (const c of candidates) {
    let bytes;
    try {
      bytes = Deno.readFileSync(c);
    } catch {
      seen.push(`${c} (absent)`);
      continue;
    }
    if (sha256Hex(bytes) === guest.sha256) return bytes;
    seen.push(`${c} (different SHA-256)`);
  }
  throw new UsageError(
    `${
      kind === "kernel" ? "guest image" : "initrd"
    } ${guest.name} with SHA-256 ${guest.sha256} not found: ${
      seen.join(", ")
    }; pass --${kind} FILE`,
  );
}

function fmt(ev: TraceEvent): string {
  const parts = [
    `#${ev.seq}`,
    `icount=${ev.icount}`,
    `eip=0x${(ev.eip >>> 0).toString(16)}`,
    `${ev.kind}:${ev.name}`,
  ];
  if (ev.args.length) {
    parts.push(`args=[${ev.args.map((a) => `0x${(a >>> 0).toString(16)}`).join(",")}]`);
  }
  if (ev.ret !== null) parts.push(`ret=0x${(ev.ret >>> 0).toString(16)}`);
  if (ev.vector !== null) parts.push(`vector=${ev.vector}`);
  if (ev.errorCode !== null) parts.push(`err=0x${ev.errorCode.toString(16)}`);
  if (ev.op) parts.push(`op=${ev.op}(${ev.opArgs.join(",")})`);
  if (ev.state.length) {
    parts.push(`state=${ev.state.map(([k, v]) => `${k}=0x${(v >>> 0).toString(16)}`).join(",")}`);
  }
  return parts.join(" ");
}

function printCross(r: CrossReport, json: boolean, max: number): void {
  if (json) {
    console.log(JSON.stringify(r));
    return;
  }
  console.log(
    `cross replay ${r.source} -> ${r.target}: ${r.operations} canonical operations, ${r.divergences.length} divergences`,
  );
  for (const d of r.divergences.slice(0, max)) {
    const t = d.target
      ? `${d.target.name}(${d.target.args.map((a) => `0x${(a >>> 0).toString(16)}`).join(",")})`
      : "-";
    console.log(
      `  #${d.seq} icount=${d.icount} ${d.op}(${d.opArgs.join(",")}) [${d.class}] ${d.reason}\n` +
        `      recorded ${d.recorded.name}(${
          d.recorded.args.map((a) => `0x${(a >>> 0).toString(16)}`).join(",")
        })  target ${t}`,
    );
  }
  if (r.divergences.length > max) {
    console.log(`  ... ${r.divergences.length - max} more (--max N or --json)`);
  }
  console.log("\nper operation:");
  for (const s of r.summary) {
    const cls = Object.entries(s.classes).map(([k, v]) => `${k}=${v}`).join(" ") || "ok";
    const calls = Object.entries(s.targetCalls).map(([k, v]) => `${k}x${v}`).join(" ");
    console.log(`  ${s.op.padEnd(22)} ${String(s.count).padStart(8)}  ${cls.padEnd(40)} ${calls}`);
  }
}
