/**
 * ELF32 (i386) parsing and loading: program headers for loading, the symbol table for reports.
 *
 * Layouts per the System V ABI (gABI "Object Files" chapter) and its Intel386 supplement:
 * ELFCLASS32, ELFDATA2LSB, EM_386 (3), ET_EXEC (2); PT_LOAD (1) segments are copied to their
 * physical address (`p_paddr`) with the `p_memsz - p_filesz` tail zeroed; symbols come from the
 * SHT_SYMTAB (2) section and its linked string table.
 *
 * @module
 */

import type { PhysicalMemory } from "../memory.ts";
import { ImageError } from "./image_error.ts";

/** One PT_LOAD segment. */
export interface ElfSegment {
  paddr: number;
  vaddr: number;
  offset: number;
  fileSize: number;
  memSize: number;
  /** PF_X 1, PF_W 2, PF_R 4. */
  flags: number;
}

/** One symbol-table entry with a defined value. */
export interface ElfSymbol {
  name: string;
  value: number;
  size: number;
  /** STT_* type: 0 NOTYPE, 1 OBJECT, 2 FUNC. */
  type: number;
}

/** A parsed ELF32 executable. */
export interface ElfImage {
  /** `e_entry` as written in the file (a virtual address). */
  entry: number;
  segments: ElfSegment[];
  symbols: ElfSymbol[];
}

const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const STT_SECTION = 3;
const STT_FILE = 4;

/** True when `bytes` starts with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c &&
    bytes[3] === 0x46;
}

/**
 * Parses an i386 ELF32 executable; `file` names it in errors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseElf } from "./elf.ts";
 * try {
 *   parseElf(new Uint8Array(8), "x.elf");
 * } catch (e) {
 *   assert.ok((e as Error).message.startsWith("x.elf:"));
 * }
 * ```
 */
export function parseElf(bytes: Uint8Array, file: string): ElfImage {
  if (bytes.length < 52) {
    throw new ImageError(file, `too short for an ELF header (${bytes.length} bytes)`);
  }
  if (!isElf(bytes)) throw new ImageError(file, "not an ELF file (bad magic)");
  if (bytes[4] !== 1) throw new ImageError(file, `not a 32-bit ELF (EI_CLASS ${bytes[4]})`);
  if (bytes[5] !== 1) throw new ImageError(file, `not little-endian (EI_DATA ${bytes[5]})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  if (machine !== 3) throw new ImageError(file, `not an i386 ELF (e_machine ${machine})`);
  if (type !== 2) throw new ImageError(file, `not an executable (e_type ${type}, want ET_EXEC)`);
  const entry = dv.getUint32(24, true);
  const phoff = dv.getUint32(28, true);
  const shoff = dv.getUint32(32, true);
  const phentsize = dv.getUint16(42, true);
  const phnum = dv.getUint16(44, true);
  const shentsize = dv.getUint16(46, true);
  const shnum = dv.getUint16(48, true);
  if (phnum > 0 && (phentsize < 32 || phoff + phnum * phentsize > bytes.length)) {
    throw new ImageError(
      file,
      `program header table (offset ${phoff}, ${phnum} x ${phentsize}) lies outside the file`,
    );
  }
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (dv.getUint32(o, true) !== PT_LOAD) continue;
    const seg: ElfSegment = {
      offset: dv.getUint32(o + 4, true),
      vaddr: dv.getUint32(o + 8, true),
      paddr: dv.getUint32(o + 12, true),
      fileSize: dv.getUint32(o + 16, true),
      memSize: dv.getUint32(o + 20, true),
      flags: dv.getUint32(o + 24, true),
    };
    if (seg.offset + seg.fileSize > bytes.length) {
      throw new ImageError(
        file,
        `segment ${i} file range 0x${seg.offset.toString(16)}+0x${
          seg.fileSize.toString(16)
        } lies outside the file`,
      );
    }
    if (seg.fileSize > seg.memSize) {
      throw new ImageError(file, `segment ${i} has p_filesz > p_memsz`);
    }
    segments.push(seg);
  }
  if (segments.length === 0) throw new ImageError(file, "no PT_LOAD segment");
  const symbols: ElfSymbol[] = [];
  if (shnum > 0 && shentsize >= 40 && shoff + shnum * shentsize <= bytes.length) {
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * shentsize;
      if (dv.getUint32(o + 4, true) !== SHT_SYMTAB) continue;
      const symOff = dv.getUint32(o + 16, true);
      const symSize = dv.getUint32(o + 20, true);
      const link = dv.getUint32(o + 24, true);
      const entsize = dv.getUint32(o + 36, true) || 16;
      if (link >= shnum || symOff + symSize > bytes.length) {
        throw new ImageError(file, `symbol table section ${i} lies outside the file`);
      }
      const so = shoff + link * shentsize;
      const strOff = dv.getUint32(so + 16, true);
      const strSize = dv.getUint32(so + 20, true);
      if (strOff + strSize > bytes.length) {
        throw new ImageError(file, `string table section ${link} lies outside the file`);
      }
      const decoder = new TextDecoder();
      for (let s = symOff + entsize; s + 16 <= symOff + symSize; s += entsize) {
        const nameOff = dv.getUint32(s, true);
        const info = bytes[s + 12];
        const shndx = dv.getUint16(s + 14, true);
        const stype = info & 0xf;
        if (shndx === 0 || stype === STT_SECTION || stype === STT_FILE || nameOff >= strSize) {
          continue;
        }
        let end = strOff + nameOff;
        while (end < strOff + strSize && bytes[end] !== 0) end++;
        const name = decoder.decode(bytes.subarray(strOff + nameOff, end));
        if (name === "") continue;
        symbols.push({
          name,
          value: dv.getUint32(s + 4, true),
          size: dv.getUint32(s + 8, true),
          type: stype,
        });
      }
    }
  }
  return { entry, segments, symbols };
}

/** Copies a segment into RAM at `paddr`, zeroing the bss tail. */
export function loadSegment(
  memory: PhysicalMemory,
  bytes: Uint8Array,
  seg: ElfSegment,
  file: string,
): void {
  if (seg.paddr + seg.memSize > memory.ramSize) {
    throw new ImageError(
      file,
      `segment at 0x${seg.paddr.toString(16)}+0x${seg.memSize.toString(16)} does not fit in ${
        memory.ramSize >>> 20
      } MiB of RAM`,
    );
  }
  memory.ram.set(bytes.subarray(seg.offset, seg.offset + seg.fileSize), seg.paddr);
  memory.ram.fill(0, seg.paddr + seg.fileSize, seg.paddr + seg.memSize);
  memory.noteWrite(seg.paddr, seg.memSize);
}

/**
 * Loads every PT_LOAD segment of an i386 ELF32 executable at its physical address. The caller
 * decides the entry state (backends start kernels their own way).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadElf } from "./elf.ts";
 * import { PhysicalMemory } from "../memory.ts";
 * const mem = new PhysicalMemory({ size: 4 << 20 });
 * // const image = loadElf(mem, await Deno.readFile("kernel.elf"), "kernel.elf");
 * assert.equal(typeof loadElf, "function");
 * assert.equal(mem.ramSize, 4 << 20);
 * ```
 */
export function loadElf(memory: PhysicalMemory, bytes: Uint8Array, file = "<image>"): ElfImage {
  const image = parseElf(bytes, file);
  for (const seg of image.segments) loadSegment(memory, bytes, seg, file);
  return image;
}

/**
 * Address <-> symbol lookups for diff and inspect reports.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SymbolTable } from "./elf.ts";
 * const t = new SymbolTable([{ name: "main", value: 0x1000, size: 0x20, type: 2 }]);
 * assert.equal(t.address("main"), 0x1000);
 * assert.equal(t.functionAt(0x1004)?.name, "main");
 * assert.equal(t.functionAt(0x1004)?.offset, 4);
 * ```
 */
export class SymbolTable {
  readonly #byName = new Map<string, number>();
  /** Code symbols (FUNC, or NOTYPE labels from assembly) sorted by address. */
  readonly #code: ElfSymbol[];

  constructor(symbols: readonly ElfSymbol[]) {
    for (const s of symbols) if (!this.#byName.has(s.name)) this.#byName.set(s.name, s.value);
    this.#code = symbols.filter((s) => s.type === 2 || s.type === 0)
      .sort((a, b) => a.value - b.value || b.type - a.type || (a.name < b.name ? -1 : 1));
  }

  /** Address of `name`, or undefined. */
  address(name: string): number | undefined {
    return this.#byName.get(name);
  }

  /** The function containing `addr` (nearest code symbol at or below it), or undefined. */
  functionAt(addr: number): { name: string; offset: number } | undefined {
    let lo = 0;
    let hi = this.#code.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#code[mid].value <= addr) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    // Prefer the FUNC among symbols sharing this address.
    let i = found;
    while (i > 0 && this.#code[i - 1].value === this.#code[found].value) i--;
    const s = this.#code[i];
    if (s.size > 0 && addr >= s.value + s.size && s.type === 2) return undefined;
    return { name: s.name, offset: addr - s.value };
  }
}
