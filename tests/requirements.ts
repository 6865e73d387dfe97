/**
 * Host tools some tests need (QEMU, gcc -m32, Chromium). Without them a test is skipped with a
 * message, except under CI (`CI=true`, set by .ci/run), where a missing tool fails the test file:
 * CI must not pass by skipping its differential layer.
 *
 * @module
 */

/**
 * Returns the `ignore` value for tests that need `tool`: false when `available`; true (skip,
 * with a warning) when not, unless CI=true, which throws instead.
 */
export function needs(tool: string, available: boolean, file: string): boolean {
  if (available) return false;
  if (Deno.env.get("CI") === "true") {
    throw new Error(`${file}: ${tool} is required under CI=true but is not usable`);
  }
  console.warn(`SKIP ${file}: ${tool} is not usable`);
  return true;
}

/** Debian's headless-capable Chromium, for the matrix HTML tests (installed by .ci/run). */
export const CHROMIUM: string | undefined = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
  .find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
