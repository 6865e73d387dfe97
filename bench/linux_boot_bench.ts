/**
 * Linux boot to userspace: Debian 12's i386 kernel with pvreplay's busybox initramfs
 * (guests/linux/fetch.sh, out/linux/), from power-on to the first line `/init` prints
 * ("pvreplay-init: userspace up") and to its last ("pvreplay-init: done", just before its
 * isa-debug-exit), with the same kernel, initrd, command line and memory, in the same run, one
 * after the other, on:
 *
 * - `jit`: pvreplay (`native`, no recording) with the translator on;
 * - `interp`: the same with the translator off (`pvreplay run --no-jit`), stopped after
 *   `--interp-limit` seconds (a partial run reports the instructions it reached and its MIPS);
 * - `qemu`: QEMU TCG (`-cpu pentium3`); its time includes its start-up (about 0.1 s);
 * - `v86`: v86 0.5.462 (npm, WebAssembly), run by bench/v86_runner.ts under SeaBIOS (QEMU's
 *   `bios.bin` and `vgabios-stdvga.bin` unless `--bios`/`--vga-bios` say otherwise; the npm
 *   package ships no BIOS). Its time starts at the emulator's construction (wasm compile and the
 *   BIOS included, Deno's start-up not) and its instruction count includes the BIOS.
 *
 * MIPS is instructions retired to the `done` line per second of wall time. Ratios are each run's
 * time over the translator's in this run.
 *
 *   deno run -A bench/linux_boot_bench.ts [--only jit,interp,qemu,v86] [--interp-limit SECONDS]
 *
 * Each column runs once (a full boot is over a minute on pvreplay; the machine is shared).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Machine } from "../core/machine.ts";
import { translatorDefault } from "../core/cpu/cpu.ts";

const DIR = new URL("../out/linux/", import.meta.url).pathname;
const CMDLINE = "console=ttyS0";
const MARK = "pvreplay-init: userspace up";
const DONE = "pvreplay-init: done";
const MEM_MIB = 128;
const COLUMNS = ["jit", "interp", "qemu", "v86"] as const;
type Column = typeof COLUMNS[number];

/** Wall-clock seconds to the userspace and `done` lines (-1: not reached). */
interface Timing {
  userspace: number;
  done: number;
  /** Wall seconds the run took, to its exit or to the limit that stopped it. */
  seconds: number;
  /** Instructions retired at the userspace line and in the whole run (if the emulator says). */
  icountUserspace?: number;
  icountEnd?: number;
  exit: string;
  /** The init script's `RESULT ... pass=N` verdict line, so a fast but wrong boot shows. */
  result?: string;
}

/** The `RESULT` line of a serial log, without its `RESULT scenario=userspace ` prefix. */
function verdict(serial: string): string | undefined {
  return serial.match(/RESULT scenario=userspace (.*)/)?.[1]?.trim();
}

function pvreplay(kernel: Uint8Array, initrd: Uint8Array, jit: boolean, limitS: number): Timing {
  let line = "";
  let userspace = -1;
  let done = -1;
  let icountUserspace = -1;
  let result: string | undefined;
  const t0 = performance.now();
  const serialOut = (b: number) => {
    if (b !== 10) {
      line += String.fromCharCode(b);
      return;
    }
    if (userspace < 0 && line.includes(MARK)) {
      userspace = (performance.now() - t0) / 1000;
      icountUserspace = m.clock.icount;
    }
    if (done < 0 && line.includes(DONE)) done = (performance.now() - t0) / 1000;
    result ??= verdict(line);
    line = "";
  };
  // The CPU takes the translator setting at construction (as `pvreplay run --no-jit` does it).
  const before = translatorDefault(jit);
  let m: Machine;
  try {
    m = new Machine({ memMiB: MEM_MIB, serialOut });
  } finally {
    translatorDefault(before);
  }
  m.bootKernel(kernel, { file: "vmlinuz", cmdline: CMDLINE, initrd });
  const deadline = t0 + limitS * 1000;
  // Polled between slices (1 M instructions), so the limit stops the run within milliseconds.
  const r = m.run(12_000_000_000, { interrupted: () => performance.now() > deadline });
  return {
    userspace,
    done,
    seconds: (performance.now() - t0) / 1000,
    icountUserspace: icountUserspace < 0 ? undefined : icountUserspace,
    icountEnd: m.clock.icount,
    exit: `${r.reason} ${r.exitCode ?? ""}`.trim(),
    result,
  };
}

async function qemu(): Promise<Timing> {
  const t0 = performance.now();
  const child = new Deno.Command("qemu-system-i386", {
    args: [
      "-accel",
      "tcg",
      "-cpu",
      "pentium3",
      "-m",
      String(MEM_MIB),
      "-kernel",
      `${DIR}vmlinuz`,
      "-initrd",
      `${DIR}initrd.cpio`,
      "-append",
      CMDLINE,
      "-serial",
      "stdio",
      "-display",
      "none",
      "-monitor",
      "none",
      "-device",
      "isa-debug-exit,iobase=0xf4,iosize=0x04",
      "-no-reboot",
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let userspace = -1;
  let done = -1;
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    text += decoder.decode(chunk, { stream: true });
    const now = (performance.now() - t0) / 1000;
    if (userspace < 0 && text.includes(MARK)) userspace = now;
    if (done < 0 && text.includes(DONE)) done = now;
  }
  const status = await child.status;
  return {
    userspace,
    done,
    seconds: (performance.now() - t0) / 1000,
    exit: `status ${status.code}`,
    result: verdict(text),
  };
}

async function v86(bios: string, vgaBios: string, limitS: number): Promise<Timing> {
  const deno = Deno.execPath();
  const runner = new URL("./v86_runner.ts", import.meta.url).pathname;
  // Fetch the npm package into Deno's cache, then find the wasm next to it (as bench/cpu_bench.ts).
  const cache = await new Deno.Command(deno, { args: ["cache", runner], stderr: "null" }).output();
  if (!cache.success) return { userspace: -1, done: -1, seconds: 0, exit: "v86 unavailable" };
  const info = await new Deno.Command(deno, { args: ["info", "--json"] }).output();
  const npmCache = JSON.parse(new TextDecoder().decode(info.stdout)).npmCache as string;
  const wasm = `${npmCache}/registry.npmjs.org/v86/0.5.462/build/v86.wasm`;
  const r = await new Deno.Command(deno, {
    args: [
      "run",
      "--allow-read",
      runner,
      "--linux",
      ...["--wasm", wasm, "--bios", bios, "--vga-bios", vgaBios],
      ...["--bzimage", `${DIR}vmlinuz`, "--initrd", `${DIR}initrd.cpio`, "--cmdline", CMDLINE],
      ...["--mem-mib", String(MEM_MIB), "--mark", MARK, "--end", DONE],
      ...["--timeout", String(limitS)],
    ],
    stderr: "null",
  }).output();
  const last = new TextDecoder().decode(r.stdout).trim().split("\n").at(-1);
  if (!r.success || !last) return { userspace: -1, done: -1, seconds: 0, exit: "v86 failed" };
  const out = JSON.parse(last);
  // Kept for reading when v86 does not get there: its serial log says how far the kernel came.
  Deno.writeTextFileSync("/tmp/linux_boot_bench_v86_serial.txt", out.serial);
  return {
    userspace: out.marks[MARK] ?? -1,
    done: out.halted ? out.seconds : -1,
    seconds: out.seconds,
    icountUserspace: out.markInstructions[MARK],
    icountEnd: out.instructions,
    exit: out.halted ? "done line" : "timeout",
    result: verdict(out.serial),
  };
}

const fmt = (s: number) => (s < 0 ? "-" : s.toFixed(2));

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      only: { type: "string", default: COLUMNS.join(",") },
      "interp-limit": { type: "string", default: "900" },
      bios: { type: "string", default: "/usr/share/seabios/bios.bin" },
      "vga-bios": { type: "string", default: "/usr/share/seabios/vgabios-stdvga.bin" },
    },
  });
  const only = values.only.split(",").map((s) => s.trim()) as Column[];
  const unknown = only.filter((c) => !COLUMNS.includes(c));
  if (unknown.length > 0) {
    console.error(`--only: unknown ${unknown.join(",")} (columns: ${COLUMNS.join(",")})`);
    Deno.exit(2);
  }
  const limitS = Number(values["interp-limit"]);
  const kernel = Deno.readFileSync(`${DIR}vmlinuz`);
  const initrd = Deno.readFileSync(`${DIR}initrd.cpio`);
  const names: Record<Column, string> = {
    jit: "pvreplay, translator",
    interp: "pvreplay, interpreter",
    qemu: "QEMU TCG",
    v86: "v86 (wasm)",
  };
  const rows: Array<[Column, Timing]> = [];
  // The fixed order runs the translator first, so the ratios have their denominator even when a
  // slow column is stopped by hand.
  for (const c of COLUMNS.filter((c) => only.includes(c))) {
    const t = c === "jit"
      ? pvreplay(kernel, initrd, true, 3600)
      : c === "interp"
      ? pvreplay(kernel, initrd, false, limitS)
      : c === "qemu"
      ? await qemu()
      : await v86(values.bios, values["vga-bios"], 600);
    rows.push([c, t]);
    console.error(`${names[c]}: ${JSON.stringify(t)}`);
  }
  const jit = rows.find(([c]) => c === "jit")?.[1];
  const ratio = (a: number, b: number | undefined) =>
    a < 0 || b === undefined || b < 0 ? "-" : `${(a / b).toFixed(2)}x`;
  console.log(`load average: ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(
    "| run | to userspace s | to done s | userspace / translator | done / translator |" +
      " instructions to userspace | instructions | MIPS | exit | verdict |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
  for (const [c, t] of rows) {
    // A run stopped before `done` gives its MIPS over the time it ran.
    const mips = t.icountEnd ? (t.icountEnd / t.seconds / 1e6).toFixed(1) : "-";
    console.log(
      `| ${names[c]} | ${fmt(t.userspace)} | ${fmt(t.done)} | ${
        ratio(t.userspace, jit?.userspace)
      } | ${ratio(t.done, jit?.done)} | ${t.icountUserspace ?? "-"} | ${
        t.icountEnd ?? "-"
      } | ${mips} | ${t.exit} (${fmt(t.seconds)} s) | ${t.result ?? "-"} |`,
    );
  }
}
