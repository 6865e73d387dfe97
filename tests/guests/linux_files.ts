/**
 * Where guests/linux/fetch.sh leaves Debian's kernel and the busybox initramfs (out/linux/,
 * never committed), for the real-Linux tests.
 *
 * @module
 */

/** out/linux/ of this checkout. */
export const LINUX_DIR = new URL("../../out/linux/", import.meta.url).pathname;

function have(file: string): boolean {
  try {
    return Deno.statSync(file).isFile;
  } catch {
    return false;
  }
}

/** True when vmlinuz and initrd.cpio are there. */
export function linuxFetched(): boolean {
  return have(`${LINUX_DIR}vmlinuz`) && have(`${LINUX_DIR}initrd.cpio`);
}
