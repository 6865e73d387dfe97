/**
 * The Ctrl-C convention of every long command (cli/interrupt.ts) on a real process: the first
 * SIGINT only asks the work to stop (the process lives on until the work notices), the second
 * exits at once with EXIT_INTERRUPTED.
 */

import assert from "node:assert/strict";
import { EXIT_INTERRUPTED } from "../../core/exit_status.ts";

const GUARD = new URL("../../cli/interrupt.ts", import.meta.url).href;

Deno.test("first SIGINT requests a stop, the second exits at once with 130", async () => {
  // Work that never notices the request: only the second Ctrl-C can end it.
  const script = `
    import { SigintGuard } from ${JSON.stringify(GUARD)};
    let calls = 0;
    const guard = new SigintGuard("t", () => calls++);
    console.log("ready");
    for (;;) {
      await new Promise((r) => setTimeout(r, 10));
      if (guard.interrupted && calls === 1) console.log("requested");
      if (guard.interrupted) calls = 2;
    }
  `;
  const child = new Deno.Command("deno", {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const waitFor = async (text: string) => {
    while (!out.includes(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
  };
  await waitFor("ready");
  child.kill("SIGINT");
  await waitFor("requested");
  assert.match(out, /requested/, "the first SIGINT reached the callback and the poll");
  const t0 = performance.now();
  child.kill("SIGINT");
  const status = await child.status;
  await reader.cancel();
  const err = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
  assert.equal(status.code, EXIT_INTERRUPTED, err);
  assert.ok(performance.now() - t0 < 1000);
  assert.match(err, /t: interrupted; stopping \(Ctrl-C again to exit at once\)/);
});
