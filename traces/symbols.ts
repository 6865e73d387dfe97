/**
 * Symbol lookup for reports: maps an EIP to `function+0xoff` using `nm` output of the guest
 * kernel (`nm vmlinux > syms.txt`), so divergences and dumps name the code involved.
 *
 * @module
 */

/** Resolves an address to `name+0xoff`, or null when no text symbol precedes it. */
export type Symbolizer = (eip: number) => string | null;

/**
 * Parses `nm` output (`c0100000 T startup_32` lines; text symbols T/t/W/w only) into a lookup.
 * Throws RangeError naming the line for malformed input.
 *
 * @example
 * ```ts
 * import { parseNmSymbols } from "./symbols.ts";
 * const sym = parseNmSymbols("c0100000 T startup_32\nc0100100 t do_fork\n");
 * console.assert(sym(0xc0100104) === "do_fork+0x4");
 * ```
 */
export function parseNmSymbols(text: string): Symbolizer {
  const entries: Array<[number, string]> = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const m = /^([0-9a-fA-F]{1,8})\s+(\S)\s+(\S+)$/.exec(line);
    if (m === null) {
      if (/^\s*\S\s+\S+$/.test(line)) continue; // undefined symbol ("U name"): no address
      throw new RangeError(`symbols line ${i + 1}: not nm output: ${JSON.stringify(line)}`);
    }
    if ("TtWw".includes(m[2])) entries.push([parseInt(m[1], 16), m[3]]);
  }
  entries.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const addrs = Float64Array.from(entries, (e) => e[0]);
  return (eip: number) => {
    const a = eip >>> 0;
    let lo = 0, hi = addrs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (addrs[mid] <= a) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return null;
    const [base, name] = entries[lo - 1];
    return a === base ? name : `${name}+0x${(a - base).toString(16)}`;
  };
}
