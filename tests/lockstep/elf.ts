/**
 * Minimal ELF32 (i386) reader for the verification tools: entry point, PT_LOAD segments and the
 * symbol table. Errors name the file and what is wrong.
 *
 * @module
 */

/** One PT_LOAD program header. */
export interface ElfSegment {
  paddr: number;
  vaddr: number;
  data: Uint8Array;
  memsz: number;
}

/** A parsed ELF32 executable. */
export interface ElfImage {
  entry: number;
  segments: ElfSegment[];
  symbols: Map<string, number>;
}

/**
 * Parses an ELF32 little-endian i386 executable.
 *
 * @example
 * ```ts ignore
 * import { parseElf } from "./elf.ts";
 * const elf = parseElf(Deno.readFileSync("kernel.elf"), "kernel.elf");
 * console.log(elf.entry.toString(16));
 * ```
 */
export function parseElf(bytes: Uint8Array, name = "image"): ElfImage {
  const fail = (what: string): never => {
    throw new Error(`${name}: not a usable ELF32 i386 executable: ${what}`);
  };
  if (bytes.length < 52) fail("shorter than an ELF header");
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    fail("bad magic");
  }
  if (bytes[4] !== 1 || bytes[5] !== 1) fail("not 32-bit little-endian");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint16(18, true) !== 3) fail("machine is not EM_386");
  const entry = dv.getUint32(24, true);
  const phoff = dv.getUint32(28, true), shoff = dv.getUint32(32, true);
  const phentsize = dv.getUint16(42, true), phnum = dv.getUint16(44, true);
  const shentsize = dv.getUint16(46, true), shnum = dv.getUint16(48, true);
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (o + 32 > bytes.length) fail(`program header ${i} out of bounds`);
    if (dv.getUint32(o, true) !== 1) continue;
    const off = dv.getUint32(o + 4, true), vaddr = dv.getUint32(o + 8, true);
    const paddr = dv.getUint32(o + 12, true), filesz = dv.getUint32(o + 16, true);
    const memsz = dv.getUint32(o + 20, true);
    if (off + filesz > bytes.length) fail(`segment ${i} data out of bounds`);
    segments.push({ paddr, vaddr, data: bytes.subarray(off, off + filesz), memsz });
  }
  const symbols = new Map<string, number>();
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    if (o + 40 > bytes.length || dv.getUint32(o + 4, true) !== 2) continue; // SHT_SYMTAB
    const symOff = dv.getUint32(o + 16, true), symSize = dv.getUint32(o + 20, true);
    const strSec = shoff + dv.getUint32(o + 24, true) * shentsize;
    const strOff = dv.getUint32(strSec + 16, true);
    for (let s = symOff; s + 16 <= symOff + symSize; s += 16) {
      let p = strOff + dv.getUint32(s, true);
      let n = "";
      while (p < bytes.length && bytes[p] !== 0) n += String.fromCharCode(bytes[p++]);
      if (n) symbols.set(n, dv.getUint32(s + 4, true));
    }
  }
  return { entry, segments, symbols };
}
