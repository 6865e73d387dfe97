/**
 * Reproducible build of the project's guest images: the paravirt_ops kernel in each
 * variant (`guests/kernel/`) and the KVM-ABI conformance guest (`guests/kvmabi/`).
 *
 * Byte-for-byte reproducibility comes from fixed compiler and linker flags, inputs in
 * sorted order, compilation run inside the source directory with bare file names (so
 * no host path reaches the objects), `--build-id=none`, and no debug information or
 * `.comment`/`.note` sections in the output.
 *
 * Run with `deno task guests` (writes `guests/images/*.elf` and `guests/images/SHA256SUMS`).
 *
 * @example
 * ```ts
 * import { buildGuests } from "./build.ts";
 * const images = await buildGuests({ outDir: "guests/images", workDir: "guests/.build" });
 * console.log(images.map((i) => `${i.name} ${i.sha256}`).join("\n"));
 * ```
 * @module
 */

/** One image to build: its file name, source directory and preprocessor defines. */
export interface GuestTarget {
  /** Output file name inside the images directory, e.g. `pvkernel-2.6.22.elf`. */
  name: string;
  /** Source directory relative to the repository root. */
  sourceDir: string;
  /** `-D` defines selecting the variant. */
  defines: readonly string[];
  /**
   * Optional source groups this target compiles: a file named `<feature>*.c|.S` in the
   * source directory (e.g. `xen.c`, `xen_head.S`) is built only into targets listing the
   * feature, so adding such files leaves every other image byte-identical.
   */
  features?: readonly string[];
  /** Linker script inside the source directory; `linker.ld` when omitted. */
  linkerScript?: string;
}

/** Prefixes of the optional source groups (see {@link GuestTarget.features}). */
export const OPTIONAL_SOURCE_GROUPS: readonly string[] = ["xen"];

/** A built image. */
export interface BuiltImage {
  name: string;
  path: string;
  sha256: string;
  size: number;
}

/** Options of {@link buildGuests}. */
export interface BuildOptions {
  /** Directory that receives the `.elf` images and `SHA256SUMS`. */
  outDir: string;
  /** Scratch directory for object files (one sub-directory per image). */
  workDir: string;
  /** Repository root; defaults to the parent of this file's directory. */
  root?: string;
  /** Progress output; silent when omitted. */
  log?: (line: string) => void;
}

/** Every image this script builds, in output order. */
export const GUEST_TARGETS: readonly GuestTarget[] = [
  { name: "pvkernel-2.6.20.elf", sourceDir: "guests/kernel", defines: ["VARIANT_2_6_20"] },
  { name: "pvkernel-2.6.21.elf", sourceDir: "guests/kernel", defines: ["VARIANT_2_6_21"] },
  {
    name: "pvkernel-2.6.21-vdso.elf",
    sourceDir: "guests/kernel",
    defines: ["VARIANT_2_6_21_VDSO"],
  },
  { name: "pvkernel-2.6.22.elf", sourceDir: "guests/kernel", defines: ["VARIANT_2_6_22"] },
  { name: "pvkernel-nopv.elf", sourceDir: "guests/kernel", defines: ["VARIANT_NOPV"] },
  {
    name: "pvkernel-2.6.23.elf",
    sourceDir: "guests/kernel",
    defines: ["VARIANT_2_6_23"],
    features: ["xen"],
    linkerScript: "linker_xen.ld",
  },
  {
    name: "pvkernel-2.6.24.elf",
    sourceDir: "guests/kernel",
    defines: ["VARIANT_2_6_24"],
    features: ["xen"],
    linkerScript: "linker_xen.ld",
  },
  {
    name: "pvkernel-2.6.21-vmi.elf",
    sourceDir: "guests/kernel",
    defines: ["VARIANT_2_6_21_VMI"],
  },
  { name: "kvmabi.elf", sourceDir: "guests/kvmabi", defines: [] },
  { name: "xenabi.elf", sourceDir: "guests/xenabi", defines: [] },
  { name: "vmiabi.elf", sourceDir: "guests/vmiabi", defines: [] },
  { name: "lguestabi.elf", sourceDir: "guests/lguestabi", defines: [] },
];

/** Compiler flags shared by every object (fixed: part of the reproducibility contract). */
export const CFLAGS: readonly string[] = [
  "-m32",
  "-march=i686",
  "-O2",
  "-ffreestanding",
  "-fno-pic",
  "-fno-pie",
  "-fno-stack-protector",
  "-fno-asynchronous-unwind-tables",
  "-fno-unwind-tables",
  "-fcf-protection=none",
  "-fno-ident",
  "-nostdlib",
  "-std=gnu11",
  "-Wall",
  "-Wextra",
  "-Wno-unused-parameter",
];

/** Linker flags; `-T <sourceDir>/linker.ld` and the sorted objects follow. */
export const LDFLAGS: readonly string[] = [
  "-m",
  "elf_i386",
  "--build-id=none",
  "-nostdlib",
  "-z",
  "noexecstack",
  "--no-warn-rwx-segments",
];

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`guest build: ${cmd} ${args.join(" ")} failed in ${cwd}:\n${text}`);
  }
  if (text.trim()) {
    throw new Error(`guest build: ${cmd} warned in ${cwd} (warnings are errors):\n${text}`);
  }
}

async function sourcesOf(dir: string, features: readonly string[]): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !(e.name.endsWith(".c") || e.name.endsWith(".S"))) continue;
    const group = OPTIONAL_SOURCE_GROUPS.find((g) => e.name.startsWith(g));
    if (group !== undefined && !features.includes(group)) continue;
    names.push(e.name);
  }
  // Byte order, independent of locale and directory order.
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Lower-case hex SHA-256 of `data`. */
export async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function absolute(path: string, root: string): string {
  return path.startsWith("/") ? path : `${root}/${path}`;
}

/** Build one target into `outDir`; returns its hash. */
export async function buildTarget(
  t: GuestTarget,
  opts: BuildOptions,
): Promise<BuiltImage> {
  const root = opts.root ?? new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const src = `${root}/${t.sourceDir}`;
  const work = `${absolute(opts.workDir, root)}/${t.name.replace(/\.elf$/, "")}`;
  const outDir = absolute(opts.outDir, root);
  await Deno.mkdir(work, { recursive: true });
  await Deno.mkdir(outDir, { recursive: true });
  const files = await sourcesOf(src, t.features ?? []);
  const objs = files.map((f) => `${work}/${f.replace(/\.[cS]$/, ".o")}`);
  const defs = t.defines.map((d) => `-D${d}`);
  // Two compilers at a time (the machine is shared); objects do not depend on the order.
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < files.length; i = next++) {
      await run("gcc", [...CFLAGS, ...defs, "-c", files[i], "-o", objs[i]], src);
    }
  };
  await Promise.all([worker(), worker()]);
  const out = `${outDir}/${t.name}`;
  await run("ld", [...LDFLAGS, "-T", t.linkerScript ?? "linker.ld", "-o", out, ...objs], src);
  const bytes = await Deno.readFile(out);
  const built = { name: t.name, path: out, sha256: await sha256Hex(bytes), size: bytes.length };
  opts.log?.(`${t.name}: ${built.size} bytes sha256 ${built.sha256}`);
  return built;
}

/** Build every target of {@link GUEST_TARGETS} and write `SHA256SUMS` next to the images. */
export async function buildGuests(opts: BuildOptions): Promise<BuiltImage[]> {
  const built: BuiltImage[] = [];
  for (const t of GUEST_TARGETS) built.push(await buildTarget(t, opts));
  const root = opts.root ?? new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const sums = built.map((b) => `${b.sha256}  ${b.name}\n`).join("");
  await Deno.writeTextFile(`${absolute(opts.outDir, root)}/SHA256SUMS`, sums);
  return built;
}

if (import.meta.main) {
  try {
    await buildGuests({
      outDir: "guests/images",
      workDir: "guests/.build",
      log: (l) => console.log(l),
    });
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(1);
  }
}
