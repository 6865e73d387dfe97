/**
 * Text output of the trace CLIs (`inspect`, `diff`): buffered stdout, direct stderr, and an
 * in-memory variant for tests.
 *
 * @module
 */

/** Where a command writes. `out`/`err` take text without implied newlines. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Writes buffered output; commands call it before returning. */
  flush(): void;
}

const ENC = new TextEncoder();

function writeAll(f: { writeSync(b: Uint8Array): number }, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
}

/**
 * Process stdout (buffered in 64 KiB blocks: dumps of millions of events) and stderr.
 *
 * @example
 * ```ts
 * import { stdio } from "./cli_io.ts";
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
