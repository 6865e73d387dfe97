/**
 * Linux boot to userspace: Debian 12's i386 kernel with pvreplay's busybox initramfs
 * (guests/linux/fetch.sh, out/linux/), from power-on to the first line `/init` prints
 * ("pvreplay-init: userspace up") and to its isa-debug-exit, on pvreplay (`native`, no
 * recording) and on QEMU TCG with the same kernel, initrd, command line and memory, in the same
 * run, one after the other. pvreplay's MIPS is instructions retired per second of wall time.
 * QEMU's time includes its start-up (about 0.1 s).
 *
 *   deno run -A bench/linux_boot_bench.ts [--qemu-only] [--pvreplay-only]
 *
 * Each side runs once (a full boot is over a minute on pvreplay; the machine is shared).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Machine } from "../core/machine.ts";

const DIR = new URL("../out/linux/", import.meta.url).pathname;
const CMDLINE = "console=ttyS0";
const MARK = "pvreplay-init: userspace up";
const MEM_MIB = 128;

/** Wall-clock seconds to the userspace line and to the end of the run. */
interface Timing {
  userspace: number;
  end: number;
  /** Instructions retired at the userspace line and at the end (pvreplay only). */
  icountUserspace?: number;
  icountEnd?: number;
  exit: string;
}

function pvreplay(kernel: Uint8Array, initrd: Uint8Array): Timing {
  let line = "";
  let userspace = -1;
  let icountUserspace = -1;
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
    line = "";
  };
  const m = new Machine({ memMiB: MEM_MIB, serialOut });
  m.bootKernel(kernel, { file: "vmlinuz", cmdline: CMDLINE, initrd });
  const r = m.run(12_000_000_000);
  const end = (performance.now() - t0) / 1000;
  return {
    userspace,
    end,
    icountUserspace,
    icountEnd: m.clock.icount,
    exit: `${r.reason} ${r.exitCode}`,
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
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    text += decoder.decode(chunk, { stream: true });
    if (userspace < 0 && text.includes(MARK)) userspace = (performance.now() - t0) / 1000;
  }
  const status = await child.status;
  return { userspace, end: (performance.now() - t0) / 1000, exit: `status ${status.code}` };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { "qemu-only": { type: "boolean" }, "pvreplay-only": { type: "boolean" } },
  });
  const kernel = Deno.readFileSync(`${DIR}vmlinuz`);
  const initrd = Deno.readFileSync(`${DIR}initrd.cpio`);
  const rows: Array<[string, Timing]> = [];
  if (!values["qemu-only"]) rows.push(["pvreplay (native)", pvreplay(kernel, initrd)]);
  if (!values["pvreplay-only"]) rows.push(["QEMU TCG", await qemu()]);
  console.log("| run | to userspace s | to exit s | instructions to userspace | MIPS | exit |");
  console.log("|---|---:|---:|---:|---:|---|");
  for (const [name, t] of rows) {
    const mips = t.icountEnd ? (t.icountEnd / t.end / 1e6).toFixed(1) : "-";
    console.log(
      `| ${name} | ${t.userspace.toFixed(2)} | ${t.end.toFixed(2)} | ${
        t.icountUserspace ?? "-"
      } | ${mips} | ${t.exit} |`,
    );
  }
  if (rows.length === 2) {
    console.log(
      `\npvreplay / QEMU to userspace: ${
        (rows[0][1].userspace / rows[1][1].userspace).toFixed(2)
      }x`,
    );
  }
}
