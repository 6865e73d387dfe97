/**
 * The demo's summary of one backend's trace against the base backend's, computed off the main
 * thread (demo_diff_worker.ts) so that a Ctrl-C during the diff phase is seen while a diff runs.
 *
 * @module
 */

import { diffTraces } from "../traces/analysis/diff.ts";
import type { TraceDivergenceClass } from "../vocabulary/divergence.ts";

/** What the demo shows of one diff. */
export interface DemoDiff {
  against: string;
  same: boolean;
  matched: number;
  totals: Record<TraceDivergenceClass, number>;
  /** "class key xN" for every key that diverged. */
  byKey: string[];
  first: string | null;
}

/** A request to the diff worker. */
export interface DemoDiffJob {
  refPath: string;
  path: string;
  against: string;
}

/**
 * Diffs `path` against `refPath` on canonical operations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { demoDiff } from "./demo_diff.ts";
 * import { recordCase, suiteCase } from "../traces/session/suite.ts";
 * const out = Deno.makeTempFileSync({ suffix: ".pvt" });
 * recordCase(suiteCase("2.6.22", "boot"), "native", { out });
 * const d = demoDiff({ refPath: out, path: out, against: "native" });
 * assert.equal(d.same, true);
 * assert.deepEqual(d.byKey, []);
 * ```
 */
export function demoDiff({ refPath, path, against }: DemoDiffJob): DemoDiff {
  const { report } = diffTraces(refPath, path);
  const first = report.first?.divergence;
  const side = (e: { seq: number } | null) => (e ? `#${e.seq}` : "-");
  return {
    against,
    same: report.same,
    matched: report.matched,
    totals: report.totals,
    byKey: report.perKey.flatMap((k) =>
      Object.entries(k.counts).filter(([, n]) => n > 0).map(([cls, n]) =>
        `${cls} ${k.key}${n > 1 ? ` x${n}` : ""}`
      )
    ),
    first: first
      ? `${first.class} ${first.key}${first.fields.length ? ` [${first.fields.join(",")}]` : ""}` +
        `${first.note ? ` (${first.note})` : ""} at ${side(first.a)}/${side(first.b)}`
      : null,
  };
}

/**
 * Runs {@link demoDiff} jobs one at a time on one Web Worker; {@link DemoDiffer.terminate} stops
 * the diff in progress at once (its promise then resolves to `null`).
 */
export class DemoDiffer {
  #worker: Worker | null = null;
  #pending: ((d: DemoDiff | null) => void) | null = null;
  #failed: ((e: Error) => void) | null = null;

  /** Diffs on the worker (started on first use). */
  diff(job: DemoDiffJob): Promise<DemoDiff | null> {
    this.#worker ??= this.#start();
    return new Promise((resolve, reject) => {
      this.#pending = resolve;
      this.#failed = reject;
      this.#worker!.postMessage(job);
    });
  }

  /** Terminates the worker; a diff in progress resolves to `null`. */
  terminate(): void {
    this.#worker?.terminate();
    this.#worker = null;
    this.#pending?.(null);
    this.#pending = this.#failed = null;
  }

  #start(): Worker {
    const w = new Worker(new URL("./demo_diff_worker.ts", import.meta.url), { type: "module" });
    w.onmessage = (e: MessageEvent<{ diff?: DemoDiff; error?: string }>) => {
      const resolve = this.#pending, reject = this.#failed;
      this.#pending = this.#failed = null;
      if (e.data.diff) resolve?.(e.data.diff);
      else reject?.(new Error(`demo diff: ${e.data.error}`));
    };
    w.onerror = (e) => {
      e.preventDefault();
      this.#failed?.(new Error(`demo diff worker: ${e.message}`));
      this.#pending = this.#failed = null;
    };
    return w;
  }
}
