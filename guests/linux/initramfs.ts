/**
 * Builds pvreplay's busybox initramfs for the Debian i386 kernel (`guests/linux/fetch.sh`): a
 * newc cpio (`cpio.ts`) holding a static busybox at /bin/busybox, /init (`init.sh`), and the
 * mount points and console node the kernel and the script need. Byte-identical for the same
 * busybox binary: fixed member order, mtime 0, uid/gid 0.
 *
 * Usage: `deno run --allow-read --allow-write initramfs.ts BUSYBOX OUT.cpio`
 *
 * @example
 * ```ts
 * import { buildInitramfs } from "./initramfs.ts";
 * const cpio = buildInitramfs(new Uint8Array(16), "#!/bin/busybox sh\n");
 * console.assert(cpio.length > 0);
 * ```
 * @module
 */

import { type CpioEntry, writeCpio } from "./cpio.ts";

/** The archive for `busybox` (the static binary) and the `/init` script text. */
export function buildInitramfs(busybox: Uint8Array, init: string): Uint8Array {
  const entries: CpioEntry[] = [
    { kind: "dir", name: "bin" },
    { kind: "file", name: "bin/busybox", data: busybox, mode: 0o755 },
    { kind: "symlink", name: "bin/sh", target: "busybox" },
    { kind: "dir", name: "dev" },
    { kind: "char", name: "dev/console", major: 5, minor: 1 },
    { kind: "dir", name: "proc" },
    { kind: "dir", name: "sys" },
    { kind: "dir", name: "tmp", mode: 0o1777 },
    { kind: "file", name: "init", data: new TextEncoder().encode(init), mode: 0o755 },
  ];
  return writeCpio(entries);
}

if (import.meta.main) {
  const [busybox, out] = Deno.args;
  if (!busybox || !out) {
    console.error("usage: initramfs.ts BUSYBOX OUT.cpio");
    Deno.exit(2);
  }
  const init = Deno.readTextFileSync(new URL("./init.sh", import.meta.url));
  Deno.writeFileSync(out, buildInitramfs(Deno.readFileSync(busybox), init));
}
