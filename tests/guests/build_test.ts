/**
 * Rebuilds every guest image into a scratch directory and checks it is byte-identical
 * to the committed one in guests/images (and that SHA256SUMS matches).  Skipped, with
 * a message, when `gcc -m32` cannot compile.
 */
import assert from "node:assert/strict";
import { buildGuests, GUEST_TARGETS, sha256Hex } from "../../guests/build.ts";
import { needs } from "../requirements.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const IMAGES = `${ROOT}/guests/images`;

async function gccM32Works(): Promise<boolean> {
  try {
    const p = new Deno.Command("gcc", {
      args: ["-m32", "-ffreestanding", "-x", "c", "-S", "-o", "-", "-"],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode("int f(int x) { return x + 1; }\n"));
    await w.close();
    return (await p.status).success;
  } catch {
    return false;
  }
}

const HAVE_GCC = !needs("gcc -m32", await gccM32Works(), "tests/guests/build_test.ts");

Deno.test({
  name: "guest images rebuild byte-for-byte identical to guests/images",
  ignore: !HAVE_GCC,
  async fn() {
    // Inside the tree: the test task may only write below the project root.
    const scratch = await Deno.makeTempDir({ dir: `${ROOT}/guests`, prefix: ".build-test-" });
    try {
      const built = await buildGuests({
        outDir: `${scratch}/images`,
        workDir: `${scratch}/work`,
        root: ROOT,
      });
      assert.deepEqual(built.map((b) => b.name), GUEST_TARGETS.map((t) => t.name));
      for (const b of built) {
        const committed = await Deno.readFile(`${IMAGES}/${b.name}`);
        const fresh = await Deno.readFile(b.path);
        assert.equal(
          fresh.length,
          committed.length,
          `${b.name}: size differs from the committed image`,
        );
        assert.ok(
          fresh.every((x, i) => x === committed[i]),
          `${b.name}: rebuilt image differs from guests/images/${b.name} (run deno task guests)`,
        );
        assert.equal(b.sha256, await sha256Hex(committed));
      }
      assert.equal(
        await Deno.readTextFile(`${scratch}/images/SHA256SUMS`),
        await Deno.readTextFile(`${IMAGES}/SHA256SUMS`),
      );
    } finally {
      await Deno.remove(scratch, { recursive: true });
    }
  },
});

Deno.test("guest SHA256SUMS lists every target with its committed hash", async () => {
  const lines = (await Deno.readTextFile(`${IMAGES}/SHA256SUMS`)).trimEnd().split("\n");
  assert.deepEqual(lines.map((l) => l.split("  ")[1]), GUEST_TARGETS.map((t) => t.name));
  for (const l of lines) {
    const [hash, name] = l.split("  ");
    assert.equal(await sha256Hex(await Deno.readFile(`${IMAGES}/${name}`)), hash, name);
  }
});
