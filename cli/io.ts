/**
 * Text output of the trace CLIs (`inspect`, `diff`): buffered stdout, direct stderr, and an
 * in-memory variant for tests.
 *
 * @module
 */

import { writeAll } from "./common.ts";

/** Where a command writes. `out`/`err` take text without implied newlines. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Writes buffered output; commands call it before returning. */
  flush(): void;
}

const ENC = new TextEncoder();

/**
 * Process stdout (buffered in 64 KiB blocks: dumps of millions of events) and stderr.
 *
 * @example
 * ```ts
 * import { stdio } from "./io.ts";
 * const io = stdio();
 * io.out("hello\n");
 * io.flush();
 * ```
 */
export function stdio(): CliIo {
  let parts: string[] = [];
  let size = 0;
  const flush = () => {
    if (parts.length === 0) return;
    writeAll(Deno.stdout, ENC.encode(parts.join("")));
    parts = [];
    size = 0;
  };
  return {
    out(text) {
      parts.push(text);
      size += text.length;
      if (size >= 1 << 16) flush();
    },
    err(text) {
      flush();
      writeAll(Deno.stderr, ENC.encode(text));
    },
    flush,
  };
}

/** Collects output in memory (tests). */
export function memoryIo(): CliIo & { stdout: () => string; stderr: () => string } {
  const out: string[] = [], err: string[] = [];
  return {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    flush() {},
    stdout: () => out.join(""),
    stderr: () => err.join(""),
  };
}

/**
 * Runs a synchronous command body against `io`, flushing its buffered output however it ends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryIo, runWithIo } from "./io.ts";
 * const io = memoryIo();
 * const status = await runWithIo((_args, o) => (o.out("hi\n"), 0), [], io);
 * assert.equal(status, 0);
 * assert.equal(io.stdout(), "hi\n");
 * ```
 */
export function runWithIo(
  run: (args: string[], io: CliIo) => number,
  args: string[],
  io: CliIo,
): Promise<number> {
  try {
    return Promise.resolve(run(args, io));
  } catch (e) {
    return Promise.reject(e);
  } finally {
    io.flush();
  }
}
