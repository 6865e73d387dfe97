/**
 * The error every loader throws for a bad image: it names the file and what is wrong.
 *
 * @module
 */

/**
 * A kernel, firmware or snapshot image that cannot be used.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ImageError } from "./image_error.ts";
 * const e = new ImageError("kernel.elf", "not an ELF file (bad magic)");
 * assert.equal(e.message, "kernel.elf: not an ELF file (bad magic)");
 * ```
 */
export class ImageError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
    this.name = "ImageError";
  }
}
