/**
 * Runs one Multiboot bench kernel on v86 (npm `v86`, an x86 emulator that compiles guest code to
 * WebAssembly) and prints `{"serial", "seconds", "halted"}` as JSON: the peer column of
 * bench/cpu_bench.ts. v86 boots Multiboot images without a BIOS and ends the run at the kernel's
 * isa-debug-exit write (port 0xf4), which it reports by throwing "HALT" from its run loop; this
 * process exists so that catching that throw needs a global handler nowhere else.
 *
 *   deno run -A bench/v86_runner.ts IMAGE.elf V86.wasm
 *
 * @module
 */

// deno-lint-ignore no-import-prefix
import { V86 } from "npm:v86@0.5.462";

const [image, wasm] = Deno.args;
if (!image || !wasm) {
  console.error("usage: v86_runner.ts IMAGE.elf V86.wasm");
  Deno.exit(2);
}
const bytes = Deno.readFileSync(image);
const wasmBytes = Deno.readFileSync(wasm);
let serial = "";
let finished = false;
const t0 = performance.now();
const finish = (halted: boolean) => {
  if (finished) return;
  finished = true;
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ serial, seconds, halted }));
  Deno.exit(0);
};
globalThis.addEventListener("error", (e) => {
  e.preventDefault();
  finish(e.error === "HALT");
});
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  finish(e.reason === "HALT");
});
const emulator = new V86({
  wasm_fn: (imports: WebAssembly.Imports) =>
    WebAssembly.instantiate(wasmBytes, imports).then((r) => r.instance.exports),
  memory_size: 64 << 20,
  multiboot: { buffer: bytes.buffer },
  autostart: true,
  disable_speaker: true,
  disable_keyboard: true,
  disable_mouse: true,
});
emulator.add_listener("serial0-output-byte", (b: number) => {
  serial += String.fromCharCode(b);
});
setTimeout(() => finish(false), 120_000);
