/**
 * Guest physical memory: RAM in one `Uint8Array`, ROM windows, and MMIO regions.
 *
 * The CPU's fast path reads `ram` directly when a physical address is below `ramSize` and not in
 * an MMIO hole; everything else goes through {@link PhysicalMemory.read8} and friends, which
 * dispatch to ROM, MMIO or open bus (all-ones).
 *
 * Self-modifying code: `codePages[pa >>> 12]` is non-zero while the CPU holds decoded
 * instructions from that page; every write path calls `onCodeWrite(page)` when it is set, so the
 * decode cache can drop the page.
 *
 * Written pages: `writtenPages[pa >>> 12]` is set before anything can write the page (the write
 * methods here, {@link PhysicalMemory.noteWrite} for host writes around them, and the CPU when
 * it gives a TLB entry write permission), so a page never marked is still all zeros. The state
 * digest reads only marked pages: touching all of RAM costs a page fault per untouched 4 KiB.
 *
 * @module
 */

import type { AccessSize, MmioDevice, MmioObserver } from "./bus.ts";

interface MmioRegion {
  base: number;
  size: number;
  device: MmioDevice;
}

interface RomRegion {
  base: number;
  bytes: Uint8Array;
}

/** Options for {@link PhysicalMemory}. */
export interface MemoryOptions {
  /** RAM size in bytes (a multiple of 4 KiB). */
  size: number;
}

/**
 * Guest physical address space.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PhysicalMemory } from "./memory.ts";
 * const mem = new PhysicalMemory({ size: 1 << 20 });
 * mem.write32(0x1000, 0xdeadbeef);
 * assert.equal(mem.read32(0x1000), 0xdeadbeef);
 * ```
 */
export class PhysicalMemory {
  readonly ram: Uint8Array;
  readonly view: DataView;
  readonly ramSize: number;
  /** Per 4 KiB page: non-zero when the CPU caches decoded code from it. */
  readonly codePages: Uint8Array;
  /** Called on a write to a page with `codePages[page] !== 0`. Set by the CPU. */
  onCodeWrite: (page: number) => void = () => {};
  /** Per 4 KiB page of RAM: 1 once the page may have been written (see the module note). */
  readonly writtenPages: Uint8Array;
  /** Per 4 KiB page of RAM: 1 when the page is shadowed by ROM or MMIO (slow path). */
  readonly slowPages: Uint8Array;
  /** A20 gate: 0xFFFFFFFF when enabled, 0xFFEFFFFF when masked (port 0x92 / KBC). */
  a20Mask = 0xffffffff;

  /** Sees every access that reaches an MMIO device (not ROM or RAM), for the recorder. */
  mmioObserver: MmioObserver | null = null;

  #mmio: MmioRegion[] = [];
  #rom: RomRegion[] = [];

  constructor(options: MemoryOptions) {
    if (options.size <= 0 || options.size % 4096 !== 0 || options.size > 0xfec00000) {
      throw new RangeError(
        `memory size ${options.size} must be a positive multiple of 4 KiB below 0xFEC00000`,
      );
    }
    this.ramSize = options.size;
    this.ram = new Uint8Array(options.size);
    this.view = new DataView(this.ram.buffer);
    this.codePages = new Uint8Array(0x100000);
    this.slowPages = new Uint8Array(options.size >>> 12);
    this.writtenPages = new Uint8Array(options.size >>> 12);
  }

  /**
   * Records a host write of `n` bytes of RAM at `pa` done around the write methods (loaders,
   * device or hypervisor structures written through `ram`/`view`): marks the pages written and
   * tells the decode cache.
   */
  noteWrite(pa: number, n: number): void {
    if (n <= 0) return;
    const last = Math.min((pa + n - 1) >>> 12, this.writtenPages.length - 1);
    for (let p = pa >>> 12; p <= last; p++) {
      this.writtenPages[p] = 1;
      if (this.codePages[p] !== 0) this.onCodeWrite(p);
    }
  }

  /** Maps an MMIO device at [base, base+size). */
  mapMmio(base: number, size: number, device: MmioDevice): void {
    this.#mmio.push({ base: base >>> 0, size, device });
    this.#markSlow(base >>> 0, size);
  }

  /** Maps read-only bytes at `base` (writes are ignored, as on a ROM). */
  mapRom(base: number, bytes: Uint8Array): void {
    this.#rom.push({ base: base >>> 0, bytes });
    this.#markSlow(base >>> 0, bytes.length);
  }

  #markSlow(base: number, size: number): void {
    for (let p = base >>> 12; p <= (base + size - 1) >>> 12; p++) {
      if (p < this.slowPages.length) this.slowPages[p] = 1;
    }
  }

  /** True when `pa .. pa+n-1` is plain RAM (the CPU may use `ram`/`view` directly). */
  isPlainRam(pa: number, n: number): boolean {
    pa >>>= 0;
    return pa + n <= this.ramSize && this.slowPages[pa >>> 12] === 0 &&
      this.slowPages[(pa + n - 1) >>> 12] === 0;
  }

  #slowRead(pa: number, size: AccessSize): number {
    for (const r of this.#mmio) {
      if (pa >= r.base && pa - r.base < r.size) {
        this.mmioObserver?.beforeMmio?.(pa);
        const value = r.device.mmioRead(pa - r.base, size) >>> 0;
        if (this.mmioObserver) this.mmioObserver.onMmioRead(pa, size, value);
        return value;
      }
    }
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.#byte(pa + i) << (8 * i);
    return v >>> 0;
  }

  #byte(pa: number): number {
    pa >>>= 0;
    for (const r of this.#rom) {
      if (pa >= r.base && pa - r.base < r.bytes.length) return r.bytes[pa - r.base];
    }
    return pa < this.ramSize ? this.ram[pa] : 0xff;
  }

  #slowWrite(pa: number, size: AccessSize, value: number): void {
    for (const r of this.#mmio) {
      if (pa >= r.base && pa - r.base < r.size) {
        this.mmioObserver?.beforeMmio?.(pa);
        if (this.mmioObserver) this.mmioObserver.onMmioWrite(pa, size, value >>> 0);
        return r.device.mmioWrite(pa - r.base, size, value >>> 0);
      }
    }
    for (let i = 0; i < size; i++) {
      const a = (pa + i) >>> 0;
      let rom = false;
      for (const r of this.#rom) if (a >= r.base && a - r.base < r.bytes.length) rom = true;
      if (!rom && a < this.ramSize) {
        this.ram[a] = (value >>> (8 * i)) & 0xff;
        this.writtenPages[a >>> 12] = 1;
        if (this.codePages[a >>> 12] !== 0) this.onCodeWrite(a >>> 12);
      }
    }
  }

  read8(pa: number): number {
    pa = (pa & this.a20Mask) >>> 0;
    if (pa < this.ramSize && this.slowPages[pa >>> 12] === 0) return this.ram[pa];
    return this.#slowRead(pa, 1) & 0xff;
  }

  read16(pa: number): number {
    pa = (pa & this.a20Mask) >>> 0;
    if (this.isPlainRam(pa, 2)) return this.view.getUint16(pa, true);
    if ((pa & 0xfff) === 0xfff) return this.read8(pa) | (this.read8(pa + 1) << 8);
    return this.#slowRead(pa, 2) & 0xffff;
  }

  read32(pa: number): number {
    pa = (pa & this.a20Mask) >>> 0;
    if (this.isPlainRam(pa, 4)) return this.view.getUint32(pa, true);
    if ((pa & 0xfff) > 0xffc) return (this.read16(pa) | (this.read16(pa + 2) << 16)) >>> 0;
    return this.#slowRead(pa, 4);
  }

  write8(pa: number, value: number): void {
    pa = (pa & this.a20Mask) >>> 0;
    if (pa < this.ramSize && this.slowPages[pa >>> 12] === 0) {
      this.ram[pa] = value;
      this.writtenPages[pa >>> 12] = 1;
      if (this.codePages[pa >>> 12] !== 0) this.onCodeWrite(pa >>> 12);
      return;
    }
    this.#slowWrite(pa, 1, value & 0xff);
  }

  write16(pa: number, value: number): void {
    pa = (pa & this.a20Mask) >>> 0;
    if (this.isPlainRam(pa, 2)) {
      this.view.setUint16(pa, value, true);
      this.writtenPages[pa >>> 12] = this.writtenPages[(pa + 1) >>> 12] = 1;
      if (this.codePages[pa >>> 12] !== 0) this.onCodeWrite(pa >>> 12);
      if (this.codePages[(pa + 1) >>> 12] !== 0) this.onCodeWrite((pa + 1) >>> 12);
      return;
    }
    if ((pa & 0xfff) === 0xfff) {
      this.write8(pa, value);
      this.write8(pa + 1, value >>> 8);
      return;
    }
    this.#slowWrite(pa, 2, value & 0xffff);
  }

  write32(pa: number, value: number): void {
    pa = (pa & this.a20Mask) >>> 0;
    if (this.isPlainRam(pa, 4)) {
      this.view.setUint32(pa, value >>> 0, true);
      this.writtenPages[pa >>> 12] = this.writtenPages[(pa + 3) >>> 12] = 1;
      if (this.codePages[pa >>> 12] !== 0) this.onCodeWrite(pa >>> 12);
      if (this.codePages[(pa + 3) >>> 12] !== 0) this.onCodeWrite((pa + 3) >>> 12);
      return;
    }
    if ((pa & 0xfff) > 0xffc) {
      this.write16(pa, value);
      this.write16(pa + 2, value >>> 16);
      return;
    }
    this.#slowWrite(pa, 4, value >>> 0);
  }

  /** Copies `bytes` into RAM at `pa` (loaders). Throws if it does not fit. */
  load(pa: number, bytes: Uint8Array): void {
    if (pa < 0 || pa + bytes.length > this.ramSize) {
      throw new RangeError(
        `image segment at 0x${pa.toString(16)}+0x${bytes.length.toString(16)} does not fit in ${
          this.ramSize >>> 20
        } MiB of RAM`,
      );
    }
    this.ram.set(bytes, pa);
    this.noteWrite(pa, bytes.length);
  }
}
