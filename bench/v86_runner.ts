/**
 * Runs one guest on v86 (npm `v86`, an x86 emulator that compiles guest code to WebAssembly) and
 * prints its result as JSON: the peer column of bench/cpu_bench.ts and bench/linux_boot_bench.ts.
 *
 * Multiboot mode prints `{"serial", "seconds", "halted"}`: v86 boots Multiboot images without a
 * BIOS and ends the run at the kernel's isa-debug-exit write (port 0xf4), which it reports by
 * throwing "HALT" from its run loop; this process exists so that catching that throw needs a global
 * handler nowhere else.
 *
 * Linux mode (`--linux`) boots a bzImage with an initrd and a command line. v86 loads the kernel as
 * an option ROM that the BIOS runs, so it needs a SeaBIOS and a VGA BIOS image (the npm package
 * ships neither). Its port 0xf4 handler exists only for Multiboot, so the run ends at the line
 * `--end` names; it prints `{"serial", "seconds", "halted", "marks", "markInstructions", "instructions"}`,
 * where `marks` maps each `--mark` line to the seconds at which it was printed,
 * `markInstructions` to the instructions retired by then, and `instructions` is
 * v86's instruction counter (a u32 in its wasm memory, sampled often enough to count its wraps).
 *
 *   deno run -A bench/v86_runner.ts IMAGE.elf V86.wasm
 *   deno run -A bench/v86_runner.ts --linux --wasm V86.wasm --bios BIOS --vga-bios VGABIOS \
 *     --bzimage VMLINUZ --initrd INITRD --cmdline CMDLINE --mem-mib N --mark LINE --end LINE \
 *     [--timeout SECONDS]
 *
 * @module
 */

import { parseArgs } from "node:util";
// deno-lint-ignore no-import-prefix
import { V86 } from "npm:v86@0.5.462";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    linux: { type: "boolean" },
    wasm: { type: "string" },
    bios: { type: "string" },
    "vga-bios": { type: "string" },
    bzimage: { type: "string" },
    initrd: { type: "string" },
    cmdline: { type: "string", default: "" },
    "mem-mib": { type: "string", default: "128" },
    mark: { type: "string", multiple: true, default: [] },
    end: { type: "string" },
    timeout: { type: "string", default: "120" },
  },
});
const linux = values.linux === true;
const wasm = linux ? values.wasm : positionals[1];
const image = linux ? values.bzimage : positionals[0];
if (!image || !wasm || (linux && (!values.bios || !values["vga-bios"] || !values.initrd))) {
  console.error("usage: see the module comment of bench/v86_runner.ts");
  Deno.exit(2);
}
const bytes = Deno.readFileSync(image);
const wasmBytes = Deno.readFileSync(wasm);
let serial = "";
let line = "";
let finished = false;
const marks: Record<string, number> = {};
const markInstructions: Record<string, number> = {};
// v86's counter is a u32: summing the deltas between samples (mod 2^32) counts past its wraps as
// long as fewer than 2^32 instructions run between two samples (the sample interval is 100 ms).
let instructions = 0;
let lastCounter = 0;
const t0 = performance.now();
const seconds = () => (performance.now() - t0) / 1000;
// deno-lint-ignore prefer-const
let emulator: InstanceType<typeof V86>;
const sampleCounter = () => {
  const now = emulator?.get_instruction_counter() ?? 0;
  instructions += (now - lastCounter) >>> 0;
  lastCounter = now;
};
const finish = (halted: boolean) => {
  if (finished) return;
  finished = true;
  const s = seconds();
  sampleCounter();
  console.log(JSON.stringify(
    linux
      ? { serial, seconds: s, halted, marks, markInstructions, instructions }
      : { serial, seconds: s, halted },
  ));
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
const buffer = (path: string) => ({ buffer: Deno.readFileSync(path).buffer });
emulator = new V86({
  wasm_fn: (imports: WebAssembly.Imports) =>
    WebAssembly.instantiate(wasmBytes, imports).then((r) => r.instance.exports),
  memory_size: (linux ? Number(values["mem-mib"]) : 64) << 20,
  ...(linux
    ? {
      bios: buffer(values.bios!),
      vga_bios: buffer(values["vga-bios"]!),
      bzimage: { buffer: bytes.buffer },
      initrd: buffer(values.initrd!),
      cmdline: values.cmdline,
      fastboot: true,
    }
    : { multiboot: { buffer: bytes.buffer } }),
  autostart: true,
  disable_speaker: true,
  disable_keyboard: true,
  disable_mouse: true,
});
emulator.add_listener("serial0-output-byte", (b: number) => {
  serial += String.fromCharCode(b);
  if (b !== 10) {
    line += String.fromCharCode(b);
    return;
  }
  for (const m of values.mark) {
    if (m in marks || !line.includes(m)) continue;
    marks[m] = seconds();
    sampleCounter();
    markInstructions[m] = instructions;
  }
  const done = values.end !== undefined && line.includes(values.end);
  line = "";
  if (done) finish(true);
});
if (linux) setInterval(sampleCounter, 100);
setTimeout(() => finish(false), Number(values.timeout) * 1000);
