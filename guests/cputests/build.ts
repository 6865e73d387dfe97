/**
 * Builds the CPU test kernels reproducibly (fixed flags, no build ids, no timestamps, paths
 * mapped away) into guests/cputests/images/<name>.elf, and with --expect runs each under QEMU and
 * records its serial output (<name>.expected) and exit status (manifest.json).
 *
 *   deno run -A guests/cputests/build.ts            # build all
 *   deno run -A guests/cputests/build.ts --expect   # build, then record QEMU's results
 *   deno run -A guests/cputests/build.ts pm_exceptions paging   # only these
 *
 * Every kernel except `harness` is `src/<name>.c` (+ `src/<name>.S` if present) linked with
 * common/start.S and common/lib.c at 1 MiB. `harness` is assembly with its own fixed layout.
 *
 * @module
 */

import { parseArgs } from "node:util";

const DIR = new URL(".", import.meta.url).pathname;
const SRC = `${DIR}src/`;
const OUT = `${DIR}images/`;

/** Every kernel, in the order the tests run them. */
export const KERNELS = [
  "harness",
  "pm_exceptions",
  "real_mode",
  "rings",
  "tasks",
  "v86",
  "paging",
  "double_fault",
  "triple_fault",
  "single_step",
  "x87",
  "bench_int",
  "bench_mem",
  "bench_str",
] as const;

/** Kernels that exist only as benchmarks (no expected output recorded, long-running). */
export const BENCH_KERNELS = ["bench_int", "bench_mem", "bench_str"];

const CFLAGS = [
  "-m32",
  "-march=i386",
  "-ffreestanding",
  "-fno-pic",
  "-fno-pie",
  "-fno-stack-protector",
  "-fno-asynchronous-unwind-tables",
  "-fno-builtin",
  "-mno-sse",
  "-mno-mmx",
  "-mno-80387",
  "-nostdlib",
  "-O2",
  "-Wall",
  "-Werror",
  `-ffile-prefix-map=${DIR}=.`,
  `-I${DIR}common`,
];

async function sh(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr);
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${err}`);
  }
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Builds one kernel; returns the image path. */
export async function buildKernel(name: string, tmp: string): Promise<string> {
  const out = `${OUT}${name}.elf`;
  const ldFlags = ["-m", "elf_i386", "--build-id=none", "-nostdlib", "--no-warn-rwx-segments"];
  if (name === "harness") {
    await sh("gcc", [...CFLAGS, "-c", "-o", `${tmp}/harness.o`, `${SRC}harness.S`]);
    await sh("ld", [...ldFlags, "-T", `${SRC}harness.ld`, "-o", out, `${tmp}/harness.o`]);
    return out;
  }
  const sources = [
    `${DIR}common/start.S`,
    `${DIR}common/lib.c`,
    `${DIR}common/pm.c`,
    `${DIR}common/isr.S`,
    `${SRC}${name}.c`,
  ];
  if (exists(`${SRC}${name}.S`)) sources.push(`${SRC}${name}.S`);
  const objs: string[] = [];
  for (const [i, src] of sources.entries()) {
    objs.push(`${tmp}/${name}_${i}.o`);
    await sh("gcc", [...CFLAGS, "-c", "-o", objs[i], src]);
  }
  await sh("ld", [...ldFlags, "-T", `${DIR}common/link.ld`, "-o", out, ...objs]);
  return out;
}

/** Result of running an image under QEMU (serial output and process exit status). */
export interface QemuRun {
  serial: Uint8Array;
  status: number;
}

/** Runs `image` under QEMU with COM1 on stdout; kills it after `timeoutMs`. */
export async function runUnderQemu(image: string, timeoutMs = 20000): Promise<QemuRun> {
  const child = new Deno.Command("qemu-system-i386", {
    args: [
      "-kernel",
      image,
      "-serial",
      "stdio",
      "-display",
      "none",
      "-monitor",
      "none",
      "-parallel",
      "none",
      "-accel",
      "tcg,thread=single",
      "-cpu",
      "pentium3",
      "-m",
      "64",
      "-device",
      "isa-debug-exit,iobase=0xf4,iosize=0x04",
      "-no-reboot",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  return { serial: out.stdout, status: out.code };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { expect: { type: "boolean" } },
    allowPositionals: true,
  });
  const names = positionals.length ? positionals : [...KERNELS];
  const tmp = Deno.makeTempDirSync({ prefix: "cputests" });
  const manifestPath = `${OUT}manifest.json`;
  const manifest: Record<string, { status: number }> = exists(manifestPath)
    ? JSON.parse(Deno.readTextFileSync(manifestPath))
    : {};
  try {
    for (const name of names) {
      if (!(KERNELS as readonly string[]).includes(name)) {
        throw new Error(`unknown kernel '${name}'`);
      }
      const image = await buildKernel(name, tmp);
      console.log(`built ${image}`);
      if (values.expect && name !== "harness" && !BENCH_KERNELS.includes(name)) {
        const r = await runUnderQemu(image);
        Deno.writeFileSync(`${OUT}${name}.expected`, r.serial);
        manifest[name] = { status: r.status };
        console.log(`  qemu: exit status ${r.status}, ${r.serial.length} bytes of serial output`);
      }
    }
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
  const sorted = Object.fromEntries(Object.keys(manifest).sort().map((k) => [k, manifest[k]]));
  Deno.writeTextFileSync(manifestPath, JSON.stringify(sorted, null, 2) + "\n");
}
