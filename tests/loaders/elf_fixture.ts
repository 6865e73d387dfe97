/**
 * Builds small i386 ELF32 executables in memory for loader tests: PT_LOAD segments and an
 * optional symbol table (.symtab + .strtab + .shstrtab sections).
 */

export interface FixtureSegment {
  paddr: number;
  vaddr?: number;
  data: Uint8Array;
  memSize?: number;
}

export interface FixtureSymbol {
  name: string;
  value: number;
  size?: number;
  /** STT_*: 0 NOTYPE, 1 OBJECT, 2 FUNC. */
  type?: number;
}

export interface FixtureOptions {
  entry: number;
  segments: FixtureSegment[];
  symbols?: FixtureSymbol[];
  /** Overrides for header fields, to make broken images. */
  machine?: number;
  elfClass?: number;
  type?: number;
}

export function buildElf(o: FixtureOptions): Uint8Array {
  const EH = 52, PH = 32, SH = 40;
  const phoff = EH;
  let off = phoff + PH * o.segments.length;
  const dataOffsets = o.segments.map((s) => {
    const at = off;
    off += s.data.length;
    return at;
  });
  const syms = o.symbols ?? [];
  const strtab: number[] = [0];
  const symEntries: number[][] = [];
  for (const s of syms) {
    const nameOff = strtab.length;
    for (const c of new TextEncoder().encode(s.name)) strtab.push(c);
    strtab.push(0);
    symEntries.push([nameOff, s.value, s.size ?? 0, (1 << 4) | (s.type ?? 2)]);
  }
  const shstr = new TextEncoder().encode("\0.symtab\0.strtab\0.shstrtab\0");
  const symOff = off;
  const symSize = 16 * (symEntries.length + 1);
  const strOff = symOff + symSize;
  const shstrOff = strOff + strtab.length;
  const shoff = (shstrOff + shstr.length + 3) & ~3;
  const withSyms = syms.length > 0;
  const total = withSyms ? shoff + SH * 4 : off;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, o.elfClass ?? 1, 1, 1], 0);
  dv.setUint16(16, o.type ?? 2, true);
  dv.setUint16(18, o.machine ?? 3, true);
  dv.setUint32(20, 1, true);
  dv.setUint32(24, o.entry, true);
  dv.setUint32(28, phoff, true);
  dv.setUint32(32, withSyms ? shoff : 0, true);
  dv.setUint16(40, EH, true);
  dv.setUint16(42, PH, true);
  dv.setUint16(44, o.segments.length, true);
  dv.setUint16(46, SH, true);
  dv.setUint16(48, withSyms ? 4 : 0, true);
  dv.setUint16(50, withSyms ? 3 : 0, true);
  o.segments.forEach((s, i) => {
    const p = phoff + i * PH;
    dv.setUint32(p, 1, true);
    dv.setUint32(p + 4, dataOffsets[i], true);
    dv.setUint32(p + 8, s.vaddr ?? s.paddr, true);
    dv.setUint32(p + 12, s.paddr, true);
    dv.setUint32(p + 16, s.data.length, true);
    dv.setUint32(p + 20, s.memSize ?? s.data.length, true);
    dv.setUint32(p + 24, 7, true);
    out.set(s.data, dataOffsets[i]);
  });
  if (withSyms) {
    symEntries.forEach(([name, value, size, info], i) => {
      const p = symOff + 16 * (i + 1);
      dv.setUint32(p, name, true);
      dv.setUint32(p + 4, value, true);
      dv.setUint32(p + 8, size, true);
      out[p + 12] = info;
      dv.setUint16(p + 14, 1, true); // defined in section 1 (any non-zero index)
    });
    out.set(strtab, strOff);
    out.set(shstr, shstrOff);
    const sh = (
      i: number,
      name: number,
      type: number,
      offset: number,
      size: number,
      link: number,
      ent: number,
    ) => {
      const p = shoff + SH * i;
      dv.setUint32(p, name, true);
      dv.setUint32(p + 4, type, true);
      dv.setUint32(p + 16, offset, true);
      dv.setUint32(p + 20, size, true);
      dv.setUint32(p + 24, link, true);
      dv.setUint32(p + 36, ent, true);
    };
    sh(1, 1, 2, symOff, symSize, 2, 16);
    sh(2, 9, 3, strOff, strtab.length, 0, 0);
    sh(3, 17, 3, shstrOff, shstr.length, 0, 0);
  }
  return out;
}

/** A Multiboot v1 header (magic, flags, checksum [, address fields]). */
export function multibootHeader(flags: number, addresses?: number[]): Uint8Array {
  const words = [0x1badb002, flags, (-(0x1badb002 + flags)) >>> 0, ...(addresses ?? [])];
  const out = new Uint8Array(words.length * 4);
  const dv = new DataView(out.buffer);
  words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
