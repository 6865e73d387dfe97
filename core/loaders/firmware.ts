/**
 * Raw firmware images (`--bios FILE`), mapped as `qemu-system-i386 -bios` does
 * (QEMU `hw/i386/x86.c` `x86_bios_rom_init`): the whole image read-only at the top of the 4 GiB
 * space, ending at 0xFFFFFFFF, and its last 128 KiB (or all of it if smaller) also just below
 * 1 MiB (the ISA BIOS window ending at 0xFFFFF). The CPU's reset vector F000:FFF0 (linear
 * 0xFFFFFFF0) lands in the image's last 16 bytes. As QEMU, the size must be a non-zero multiple
 * of 64 KiB.
 *
 * @module
 */

import type { PhysicalMemory } from "../memory.ts";
import { ImageError } from "./image_error.ts";

/** Largest ISA-window copy (QEMU: `isa_bios_size = MIN(bios_size, 128 * KiB)`). */
const ISA_BIOS_MAX = 128 * 1024;
/** Largest image accepted: 16 MiB (the top-of-4-GiB flash window on PC chipsets). */
const BIOS_MAX = 16 << 20;

/** Where a firmware image was mapped. */
export interface FirmwareMapping {
  /** Physical base of the full image (4 GiB - size). */
  highBase: number;
  /** Physical base of the ISA-window copy (1 MiB - isaSize). */
  isaBase: number;
  size: number;
}

/**
 * Maps `bytes` as the system firmware.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mapFirmware } from "./firmware.ts";
 * import { PhysicalMemory } from "../memory.ts";
 * const mem = new PhysicalMemory({ size: 2 << 20 });
 * const rom = new Uint8Array(65536);
 * rom[0xfff0] = 0xea; // jmp far at the reset vector
 * const m = mapFirmware(mem, rom, "bios.bin");
 * assert.equal(m.highBase, 0xffff0000);
 * assert.equal(mem.read8(0xfffffff0), 0xea);
 * assert.equal(mem.read8(0xffff0), 0xea);
 * ```
 */
export function mapFirmware(
  memory: PhysicalMemory,
  bytes: Uint8Array,
  file: string,
): FirmwareMapping {
  const size = bytes.length;
  if (size === 0 || size % 65536 !== 0 || size > BIOS_MAX) {
    throw new ImageError(
      file,
      `firmware size ${size} must be a non-zero multiple of 64 KiB up to 16 MiB`,
    );
  }
  const image = bytes.slice();
  const highBase = (0x100000000 - size) >>> 0;
  memory.mapRom(highBase, image);
  const isaSize = Math.min(size, ISA_BIOS_MAX);
  const isaBase = 0x100000 - isaSize;
  memory.mapRom(isaBase, image.subarray(size - isaSize));
  return { highBase, isaBase, size };
}
