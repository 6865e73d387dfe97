/**
 * Trace bundles: a directory holding a trace together with the guest image it needs (and the
 * guest's `nm` symbols when given), so that it replays anywhere, as `rr pack` makes an rr trace
 * directory self-contained. Layout (docs/trace-format.md §11):
 *
 * ```text
 * BUNDLE/
 *   bundle.json        manifest: format, version, the trace file, every file with its SHA-256
 *   trace.pvt          the trace, byte for byte as recorded
 *   images/NAME        the guest image the header names (its `guest.name`)
 *   symbols/NAME.nm    nm output of the guest kernel (only when packed with --symbols)
 * ```
 *
 * Opening a bundle checks every image and symbols file against the manifest and the image
 * against the trace header, so a damaged bundle is refused with the file named before anything
 * runs. The trace itself is not hashed: its chunks carry CRC-32s (§4) and a reader reports
 * damage to the byte.
 *
 * @module
 */

import { join } from "node:path";
import { ImageError } from "../../core/loaders/image_error.ts";
import { sha256Hex } from "./guest_image.ts";
import type { TraceHeader } from "./header.ts";

/** The manifest's file name inside a bundle directory. */
export const BUNDLE_MANIFEST = "bundle.json";
/** The `format` field of a manifest. */
export const BUNDLE_FORMAT = "pvreplay-bundle";
/** Manifest version this code writes and reads. */
export const BUNDLE_VERSION = 1;

/** One file of a bundle, relative to its directory. */
export interface BundleFile {
  path: string;
  /** What the file is: the trace, the guest image, or nm symbols of the guest. */
  role: "trace" | "guest" | "symbols";
  /** SHA-256, lower-case hex. */
  sha256: string;
}

/** `bundle.json`. */
export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  version: number;
  files: BundleFile[];
}

/** An opened, verified bundle: absolute paths of what it holds. */
export interface Bundle {
  dir: string;
  trace: string;
  /** Directory of the guest images (for symbol lookup by name). */
  imageDir: string;
  /** The guest image's path and bytes (hash-checked). */
  image: { path: string; bytes: Uint8Array };
  /** The nm symbols file, if the bundle has one. */
  symbols?: string;
}

/** What goes into a new bundle. */
export interface BundleContents {
  /** The trace's bytes and its header (for the guest image's name and hash). */
  trace: Uint8Array;
  header: Pick<TraceHeader, "guest">;
  /** Guest image bytes; must hash to `header.guest.sha256`. */
  image: Uint8Array;
  /** nm output of the guest kernel. */
  symbols?: Uint8Array;
}

/** True when `path` is a bundle directory (it holds a `bundle.json`). */
export function isBundle(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory && Deno.statSync(join(path, BUNDLE_MANIFEST)).isFile;
  } catch {
    return false;
  }
}

/**
 * Writes a bundle into `dir` (created; must not exist or be empty). Throws ImageError when the
 * image is not the one the header names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openBundle, writeBundle } from "./bundle.ts";
 * import { sha256Hex } from "./guest_image.ts";
 * const image = new Uint8Array([1, 2, 3]);
 * const dir = Deno.makeTempDirSync() + "/b";
 * writeBundle(dir, {
 *   trace: new Uint8Array([9]),
 *   header: { guest: { name: "k.elf", sha256: sha256Hex(image), cmdline: "" } },
 *   image,
 * });
 * const header = { guest: { name: "k.elf", sha256: sha256Hex(image), cmdline: "" } };
 * assert.deepEqual(openBundle(dir, header).image.bytes, image);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function writeBundle(dir: string, c: BundleContents): BundleManifest {
  const { name, sha256 } = c.header.guest;
  if (!/^[\w+-][\w.+-]*$/.test(name)) {
    throw new ImageError(name, "the trace header's guest name is not a plain file name");
  }
  if (sha256Hex(c.image) !== sha256) {
    throw new ImageError(name, `the image given is not the one recorded (SHA-256 ${sha256})`);
  }
  Deno.mkdirSync(dir, { recursive: true });
  if ([...Deno.readDirSync(dir)].length > 0) {
    throw new Deno.errors.AlreadyExists(`${dir} exists and is not empty`);
  }
  Deno.mkdirSync(join(dir, "images"));
  const files: BundleFile[] = [];
  const put = (path: string, role: BundleFile["role"], bytes: Uint8Array) => {
    Deno.writeFileSync(join(dir, path), bytes);
    files.push({ path, role, sha256: sha256Hex(bytes) });
  };
  put("trace.pvt", "trace", c.trace);
  put(`images/${name}`, "guest", c.image);
  if (c.symbols !== undefined) {
    Deno.mkdirSync(join(dir, "symbols"));
    put(`symbols/${name}.nm`, "symbols", c.symbols);
  }
  const manifest: BundleManifest = { format: BUNDLE_FORMAT, version: BUNDLE_VERSION, files };
  Deno.writeTextFileSync(join(dir, BUNDLE_MANIFEST), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

/** Reads and checks `bundle.json`; a bad manifest is an ImageError naming it. */
export function readManifest(dir: string): BundleManifest {
  const file = join(dir, BUNDLE_MANIFEST);
  let m: BundleManifest;
  try {
    m = JSON.parse(Deno.readTextFileSync(file));
  } catch (e) {
    throw new ImageError(file, `unreadable bundle manifest: ${(e as Error).message}`);
  }
  if (m?.format !== BUNDLE_FORMAT || m.version !== BUNDLE_VERSION || !Array.isArray(m.files)) {
    throw new ImageError(file, `not a ${BUNDLE_FORMAT} version ${BUNDLE_VERSION} manifest`);
  }
  for (const f of m.files) {
    // Paths stay inside the bundle: a manifest never makes a reader open files elsewhere.
    if (
      typeof f?.path !== "string" || typeof f.sha256 !== "string" ||
      !/^(trace\.pvt|images\/[\w+-][\w.+-]*|symbols\/[\w+-][\w.+-]*)$/.test(f.path)
    ) {
      throw new ImageError(file, `bad file entry ${JSON.stringify(f)}`);
    }
  }
  if (m.files.filter((f) => f.role === "trace").length !== 1) {
    throw new ImageError(file, "a bundle holds exactly one trace");
  }
  return m;
}

/** The trace file of a bundle (reads the manifest only). */
export function bundleTrace(dir: string): string {
  return join(dir, readManifest(dir).files.find((f) => f.role === "trace")!.path);
}

/**
 * Opens a bundle for a trace whose header is `header`: checks the SHA-256 of the guest image
 * and of the symbols file against the manifest, and the image against the header. Any mismatch
 * or missing file is an ImageError naming the file (exit status 4 in the CLI).
 */
export function openBundle(dir: string, header: Pick<TraceHeader, "guest">): Bundle {
  const m = readManifest(dir);
  const read = (f: BundleFile) => {
    const path = join(dir, f.path);
    let bytes;
    try {
      bytes = Deno.readFileSync(path);
    } catch (e) {
      throw new ImageError(path, `missing from the bundle: ${(e as Error).message}`);
    }
    const got = sha256Hex(bytes);
    if (got !== f.sha256) {
      throw new ImageError(
        path,
        `corrupt bundle file: SHA-256 ${got}, the manifest says ${f.sha256}`,
      );
    }
    return { path, bytes };
  };
  const guest = m.files.find((f) => f.role === "guest" && f.path === `images/${header.guest.name}`);
  if (guest === undefined) {
    throw new ImageError(join(dir, BUNDLE_MANIFEST), `no image ${header.guest.name} in the bundle`);
  }
  const image = read(guest);
  if (guest.sha256 !== header.guest.sha256) {
    throw new ImageError(
      image.path,
      `not the image the trace recorded (SHA-256 ${guest.sha256}, header ${header.guest.sha256})`,
    );
  }
  const syms = m.files.find((f) => f.role === "symbols");
  if (syms !== undefined) read(syms);
  return {
    dir,
    trace: bundleTrace(dir),
    imageDir: join(dir, "images"),
    image,
    ...(syms !== undefined ? { symbols: join(dir, syms.path) } : {}),
  };
}
