/** `pvreplay inspect big.pvt | head -1`: the command ends quietly when its reader goes away. */

import assert from "node:assert/strict";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const BIG = new URL("../../traces/reference/pvkernel-2.6.22-timer-native_p6.pvt", import.meta.url)
  .pathname;

Deno.test("inspect into a pipe closed after one line: status 0, no stack trace", async () => {
  const child = new Deno.Command("deno", {
    args: ["run", "--allow-read", CLI, "inspect", BIG],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    first += value;
  }
  await reader.cancel(); // as head(1) exits after its line
  const [status, err] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
  ]);
  assert.ok(first.split("\n")[0].length > 0);
  assert.equal(status.code, 0, err);
  assert.equal(err, "");
});
