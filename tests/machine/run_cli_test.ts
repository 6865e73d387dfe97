import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { runCommand } from "../../cli/run.ts";
import { EXIT_IMAGE_ERROR, EXIT_USAGE } from "../../core/exit_status.ts";
import { tickKernel } from "./fixture_kernel.ts";

async function withTemp<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "pvreplay-run-" });
  try {
    return await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Silences console.error (usage text, notes) while `f` runs. */
async function quiet<T>(f: () => Promise<T>): Promise<T> {
  const saved = console.error;
  console.error = () => {};
  try {
    return await f();
  } finally {
    console.error = saved;
  }
}

Deno.test("run CLI: usage errors exit 2", async () => {
  assertEquals(await quiet(() => runCommand(["--bogus"])), EXIT_USAGE);
  assertEquals(await quiet(() => runCommand([])), EXIT_USAGE);
  assertEquals(await quiet(() => runCommand(["--kernel", "a", "--bios", "b"])), EXIT_USAGE);
  assertEquals(await quiet(() => runCommand(["--kernel", "a", "--max-insns", "lots"])), EXIT_USAGE);
  assertEquals(await quiet(() => runCommand(["--kernel", "a", "--snapshot-at", "5"])), EXIT_USAGE);
  assertEquals(await quiet(() => runCommand(["--kernel", "a", "--mem", "0"])), EXIT_USAGE);
});

Deno.test("run CLI: unreadable or malformed images exit 4", async () => {
  await withTemp(async (dir) => {
    assertEquals(
      await quiet(() => runCommand(["--kernel", `${dir}/missing.elf`])),
      EXIT_IMAGE_ERROR,
    );
    await Deno.writeFile(`${dir}/junk.elf`, new Uint8Array(100));
    assertEquals(await quiet(() => runCommand(["--kernel", `${dir}/junk.elf`])), EXIT_IMAGE_ERROR);
    assertEquals(await quiet(() => runCommand(["--restore", `${dir}/junk.elf`])), EXIT_IMAGE_ERROR);
  });
});

Deno.test("run CLI: kernel to a serial file; snapshot + restore reproduce the straight run", async () => {
  const kernel = await tickKernel();
  await withTemp(async (dir) => {
    await Deno.writeFile(`${dir}/k.elf`, kernel);
    await Deno.writeTextFile(`${dir}/in.txt`, "xyz");
    const common = ["--kernel", `${dir}/k.elf`, "--serial-input", `@${dir}/in.txt`];
    const status = await runCommand([...common, "--serial", `${dir}/straight.txt`]);
    assertEquals(status, 7);
    const straight = await Deno.readTextFile(`${dir}/straight.txt`);
    assertEquals(straight, "xyz4567012345670123456701234567012345670");
    const s1 = await runCommand([
      ...common,
      "--serial",
      `${dir}/part1.txt`,
      "--snapshot-at",
      "2M",
      "--snapshot-out",
      `${dir}/at2M.snap`,
      "--max-insns",
      "2000000",
    ]);
    assertEquals(s1, 10); // budget exhausted exactly at the snapshot point
    const s2 = await runCommand(["--restore", `${dir}/at2M.snap`, "--serial", `${dir}/part2.txt`]);
    assertEquals(s2, 7);
    const joined = (await Deno.readTextFile(`${dir}/part1.txt`)) +
      (await Deno.readTextFile(`${dir}/part2.txt`));
    assertEquals(joined, straight);
    // Interpreter only: the same output and exit status.
    assertEquals(await runCommand([...common, "--serial", `${dir}/nojit.txt`, "--no-jit"]), 7);
    assertEquals(await Deno.readTextFile(`${dir}/nojit.txt`), straight);
  });
});
