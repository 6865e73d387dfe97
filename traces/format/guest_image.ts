/**
 * The guest image a trace header names: its content hash and where the project keeps its bundled
 * images. Analysis (symbols) and sessions (record, replay) both locate images through this module.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Directory of the bundled guest images, relative to the project root. */
export const IMAGE_DIR = "guests/images";

/** The bundled guest images, located from this module so any working directory works. */
export const PROJECT_IMAGE_DIR: URL = new URL(`../../${IMAGE_DIR}/`, import.meta.url);

/**
 * SHA-256 of bytes, lower-case hex (the `guest.sha256` field of a trace header).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256Hex } from "./guest_image.ts";
 * assert.equal(
 *   sha256Hex(new Uint8Array()),
 *   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
 * );
 * ```
 */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
