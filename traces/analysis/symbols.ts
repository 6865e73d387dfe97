/**
 * Symbol lookup for reports: maps an EIP to `function+0xoff`, from `nm` output of the guest
 * kernel (`nm vmlinux > syms.txt`) or from the symbol table of the guest ELF a trace header
 * names, so that divergences and dumps name the code involved.
 *
 * @module
 */

import { type ElfSymbol, isElf, parseElf, SymbolTable } from "../../core/loaders/elf.ts";
import type { TraceHeader } from "../format/header.ts";
import { PROJECT_IMAGE_DIR, sha256Hex } from "../format/guest_image.ts";

/** Resolves an address to `name+0xoff` (`name` at offset 0), or null when no symbol covers it. */
export type Symbolizer = (eip: number) => string | null;

/** A lookup in `table`: the code symbol at or below the address (see `SymbolTable`). */
function symbolizerOf(table: SymbolTable): Symbolizer {
  return (eip: number) => {
    const f = table.functionAt(eip >>> 0);
    if (f === undefined) return null;
    return f.offset === 0 ? f.name : `${f.name}+0x${f.offset.toString(16)}`;
  };
}

/**
 * Parses `nm` output (`c0100000 T startup_32` lines; text symbols T/t/W/w only) into a lookup.
 * `U` lines (no address) are skipped. Of several symbols at one address the first by name is
 * used. Throws RangeError naming the line for malformed input.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseNmSymbols } from "./symbols.ts";
 * const sym = parseNmSymbols("c0100000 T startup_32\nc0100100 t do_fork\n");
 * assert.equal(sym(0xc0100104), "do_fork+0x4");
 * ```
 */
export function parseNmSymbols(text: string): Symbolizer {
  const symbols: ElfSymbol[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const m = /^([0-9a-fA-F]{1,8})\s+(\S)\s+(\S+)$/.exec(line);
    if (m === null) {
      if (/^\s*\S\s+\S+$/.test(line)) continue; // undefined symbol ("U name"): no address
      throw new RangeError(`symbols line ${i + 1}: not nm output: ${JSON.stringify(line)}`);
    }
    // nm gives no sizes: a text symbol covers everything up to the next one (STT_FUNC = 2).
    if ("TtWw".includes(m[2])) {
      symbols.push({ name: m[3], value: parseInt(m[1], 16), size: 0, type: 2 });
    }
  }
  return symbolizerOf(new SymbolTable(symbols));
}

/** Options of {@link guestSymbolizer}. */
export interface GuestSymbolOptions {
  /** Directories searched in order (default: {@link PROJECT_IMAGE_DIR}). */
  imageDirs?: readonly (string | URL)[];
  /** Receives problems worth telling the user (an unreadable or unparsable matching image). */
  warn?: (message: string) => void;
}

/**
 * Names EIPs from the symbol table of the guest ELF that `header` records: the file
 * `header.guest.name` in the first of `imageDirs` that holds it **with the recorded SHA-256**
 * (another build's symbols would name the wrong functions). Returns null when no such image is
 * found, when it is not an ELF file or has no symbol table, and when the recorded name is not a
 * bare file name (a header never makes this read outside `imageDirs`). An image file that exists
 * but cannot be read, or a matching one that cannot be parsed, is reported through
 * `options.warn`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { guestSymbolizer } from "./symbols.ts";
 * const guest = { name: "pvkernel-2.6.22.elf", sha256: "0".repeat(64), cmdline: "" };
 * assert.equal(guestSymbolizer({ guest }), null); // not the digest of the committed build
 * ```
 */
export function guestSymbolizer(
  header: Pick<TraceHeader, "guest">,
  options: GuestSymbolOptions = {},
): Symbolizer | null {
  const { imageDirs = [PROJECT_IMAGE_DIR], warn } = options;
  const { name, sha256 } = header.guest;
  if (!/^[\w+-][\w.+-]*$/.test(name)) return null;
  for (const dir of imageDirs) {
    const path = typeof dir === "string"
      ? `${dir.replace(/\/+$/, "")}/${name}`
      : new URL(name, dir.href.endsWith("/") ? dir : `${dir.href}/`);
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) warn?.(`${shown(path)}: ${(e as Error).message}`);
      continue;
    }
    if (sha256Hex(bytes) !== sha256) continue;
    if (!isElf(bytes)) return null;
    try {
      const symbols = parseElf(bytes, shown(path)).symbols;
      return symbols.length === 0 ? null : symbolizerOf(new SymbolTable(symbols));
    } catch (e) {
      warn?.(`no guest symbols: ${(e as Error).message}`); // the message names the file
      return null;
    }
  }
  return null;
}

function shown(path: string | URL): string {
  return typeof path === "string" ? path : decodeURIComponent(path.pathname);
}
