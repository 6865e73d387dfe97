/**
 * A trace argument of `diff` and `inspect`: a `.pvt` file or a bundle directory made by
 * `pvreplay pack` (traces/format/bundle.ts). A bundle names its EIPs from its own files only.
 *
 * @module
 */

import { bundleTrace, isBundle, openBundle } from "../traces/format/bundle.ts";
import type { TraceHeader } from "../traces/format/header.ts";
import { guestSymbolizer, parseNmSymbols, type Symbolizer } from "../traces/analysis/symbols.ts";

/** The trace file behind `arg` (itself, or the bundle's trace; ImageError for a bad manifest). */
export function traceFileOf(arg: string): string {
  return isBundle(arg) ? bundleTrace(arg) : arg;
}

/**
 * The symbol lookup for a trace argument: for a bundle (checked first: ImageError naming a
 * damaged file) its nm symbols if packed with them, else its guest ELF's symbol table; for a
 * plain trace the guest ELF in guests/images/ with the recorded SHA-256.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { symbolizerFor } from "./bundle_arg.ts";
 * const guest = { name: "absent.elf", sha256: "0".repeat(64), cmdline: "" };
 * assert.equal(symbolizerFor("x.pvt", { guest }, () => {}), null);
 * ```
 */
export function symbolizerFor(
  arg: string,
  header: Pick<TraceHeader, "guest">,
  warn: (message: string) => void,
): Symbolizer | null {
  if (!isBundle(arg)) return guestSymbolizer(header, { warn });
  const b = openBundle(arg, header);
  if (b.symbols !== undefined) return parseNmSymbols(Deno.readTextFileSync(b.symbols));
  return guestSymbolizer(header, { imageDirs: [b.imageDir], warn });
}
