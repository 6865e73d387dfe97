/**
 * A writer for the "new ASCII" (newc, magic 070701) cpio format the Linux kernel unpacks as an
 * initramfs (Documentation/driver-api/early-userspace/buffer-format.rst): a 110-byte header of
 * thirteen 8-digit hex fields, the NUL-terminated name padded so header + name is a multiple of
 * 4, the data padded to 4, and a final `TRAILER!!!` entry.
 *
 * Reproducible by construction: entries in the caller's order, inode numbers counted from 1,
 * every mtime, uid and gid fixed (0 unless given), no host metadata read.
 *
 * @module
 */

/** One archive member. */
export type CpioEntry =
  | { kind: "dir"; name: string; mode?: number }
  | { kind: "file"; name: string; data: Uint8Array; mode?: number }
  | { kind: "symlink"; name: string; target: string }
  | { kind: "char"; name: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const hex8 = (v: number) => (v >>> 0).toString(16).padStart(8, "0");
const pad4 = (n: number) => (4 - (n % 4)) % 4;

/**
 * Writes a newc archive of `entries` (parents before children, as the kernel creates them in
 * order) followed by the trailer. `mtime` (seconds since 1970) is stamped on every member.
 *
 * @example
 * ```ts
 * import { writeCpio } from "./cpio.ts";
 * const a = writeCpio([{ kind: "file", name: "init", data: new TextEncoder().encode("x") }]);
 * console.assert(new TextDecoder().decode(a.subarray(0, 6)) === "070701");
 * ```
 */
export function writeCpio(entries: readonly CpioEntry[], mtime = 0): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  let ino = 1;
  const member = (
    name: string,
    mode: number,
    data: Uint8Array,
    nlink: number,
    rdev: [number, number],
    inode: number,
  ) => {
    if (name.length === 0 || name.startsWith("/") || name.includes("\0")) {
      throw new Error(`cpio: bad member name "${name}" (relative, non-empty, no NUL)`);
    }
    const nameBytes = enc.encode(name + "\0");
    const fields = [
      inode,
      mode,
      0,
      0,
      nlink,
      mtime,
      data.length,
      0,
      0,
      rdev[0],
      rdev[1],
      nameBytes.length,
      0,
    ];
    const header = enc.encode("070701" + fields.map(hex8).join(""));
    parts.push(header, nameBytes, new Uint8Array(pad4(header.length + nameBytes.length)));
    parts.push(data, new Uint8Array(pad4(data.length)));
  };
  for (const e of entries) {
    switch (e.kind) {
      case "dir":
        member(e.name, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0), 2, [0, 0], ino++);
        break;
      case "file":
        member(e.name, S_IFREG | (e.mode ?? 0o644), e.data, 1, [0, 0], ino++);
        break;
      case "symlink":
        member(e.name, S_IFLNK | 0o777, enc.encode(e.target), 1, [0, 0], ino++);
        break;
      case "char":
        member(
          e.name,
          S_IFCHR | (e.mode ?? 0o600),
          new Uint8Array(0),
          1,
          [e.major, e.minor],
          ino++,
        );
        break;
    }
  }
  member("TRAILER!!!", 0, new Uint8Array(0), 1, [0, 0], 0);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
