/**
 * `pvreplay bless`: re-record the reference traces after an intended behaviour change.
 *
 * @module
 */

import {
  blessOne,
  type ManifestEntry,
  REFERENCE_DIR,
  referenceTraces,
} from "../traces/session/reference.ts";
import { command } from "./common.ts";

const USAGE = `usage: pvreplay bless [--only SUBSTRING] [--dir DIR]

Re-records every reference trace (each scenario of the bundled guest on each reference
backend) into ${REFERENCE_DIR}/ and rewrites MANIFEST.json. Run it after an intended change
that the regression suite ('deno task test') reports as a divergence; review the change with
'pvreplay diff OLD NEW' first.

  --only SUBSTRING   only traces whose file name contains SUBSTRING
  --dir DIR          write elsewhere (default ${REFERENCE_DIR})
  --help             show this help`;

/**
 * Implements `pvreplay bless`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blessCommand } from "./bless.ts";
 * assert.equal(await blessCommand(["--bogus"]), 2);
 * ```
 */
export function blessCommand(args: string[]): Promise<number> {
  return command(
    "bless",
    USAGE,
    args,
    {
      only: { type: "string" },
      dir: { type: "string" },
    },
    {},
    (values) => bless(values as { only?: string; dir?: string }),
  );
}

function bless(f: { only?: string; dir?: string }): number {
  const dir = f.dir ?? REFERENCE_DIR;
  Deno.mkdirSync(dir, { recursive: true });
  const manifestPath = `${dir}/MANIFEST.json`;
  let manifest: ManifestEntry[] = [];
  try {
    manifest = JSON.parse(Deno.readTextFileSync(manifestPath));
  } catch {
    // first bless
  }
  for (const ref of referenceTraces()) {
    if (f.only && !ref.file.includes(f.only)) continue;
    const entry = blessOne(ref, dir);
    manifest = manifest.filter((m) => m.file !== entry.file);
    manifest.push(entry);
    console.log(`blessed ${entry.file}: ${entry.events} events, ${entry.exit}`);
  }
  manifest.sort((a, b) => a.file < b.file ? -1 : a.file > b.file ? 1 : 0);
  Deno.writeTextFileSync(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  return 0;
}
