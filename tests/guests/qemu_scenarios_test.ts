/**
 * Runs every committed guest image x scenario under QEMU TCG (the reference oracle)
 * and checks the RESULT line and the isa-debug-exit status.  Skipped, with a message,
 * when qemu-system-i386 is not installed.
 *
 * Exit statuses: the guest writes v to port 0xf4 and QEMU exits with (v << 1) | 1:
 * 1 = pass, 3 = fail, 5 = kernel panic, 7 = kvmabi found no KVM; 0 = reset with -no-reboot.
 */
import assert from "node:assert/strict";
import { needs } from "../requirements.ts";

const IMAGES = new URL("../../guests/images/", import.meta.url).pathname;
const QEMU = "qemu-system-i386";
// Generous bounds so a loaded CI machine does not time out a passing guest.
const TIMEOUT_MS = 60_000;
/**
 * Virtual time from the instruction count (1 ns per instruction, no sleeping, no alignment to
 * host time), as pvreplay's: on host time a loaded machine stretched the `timer` scenario's
 * 100 ms PIT wait to 166 ms and the guest counted 11 ticks for 10 (a failed CI run). The guest
 * sees a fixed-speed CPU; its verdict no longer depends on the host's load.
 */
const ICOUNT = ["-icount", "shift=0,align=off,sleep=off"];

async function qemuAvailable(): Promise<boolean> {
  try {
    const out = await new Deno.Command(QEMU, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

const HAVE_QEMU = !needs(QEMU, await qemuAvailable(), "tests/guests/qemu_scenarios_test.ts");

interface Run {
  code: number;
  timedOut: boolean;
  output: string;
}

async function runQemu(
  image: string,
  append: string,
  timeoutMs = TIMEOUT_MS,
  extra: string[] = ICOUNT,
): Promise<Run> {
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, timeoutMs);
  const args = [
    ...extra,
    "-accel",
    "tcg",
    "-cpu",
    "pentium3", // has SEP, APIC, PGE, TSC
    "-m",
    "64",
    "-kernel",
    `${IMAGES}${image}`,
    "-append",
    append,
    "-serial",
    "stdio",
    "-display",
    "none",
    "-monitor",
    "none",
    "-device",
    "isa-debug-exit,iobase=0xf4,iosize=0x04",
    "-no-reboot",
  ];
  try {
    const out = await new Deno.Command(QEMU, {
      args,
      stdout: "piped",
      stderr: "piped",
      signal: ac.signal,
    })
      .output();
    return { code: out.code, timedOut, output: new TextDecoder().decode(out.stdout) };
  } finally {
    clearTimeout(timer);
  }
}

/** Parse "RESULT k=v k=v ..." into a map; undefined when there is no RESULT line. */
function parseResult(output: string): Map<string, string> | undefined {
  const line = output.split(/\r?\n/).find((l) => l.startsWith("RESULT "));
  if (!line) return undefined;
  const m = new Map<string, string>();
  for (const kv of line.slice(7).trim().split(/\s+/)) {
    const i = kv.indexOf("=");
    if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return m;
}

interface Case {
  image: string;
  append: string;
  exit: number;
  /** Expected RESULT fields (subset); undefined = no RESULT line expected. */
  result?: Record<string, string>;
  /** A line that must appear in the output. */
  contains?: string;
  timeoutMs?: number;
  expectTimeout?: boolean;
}

const VARIANTS = ["2.6.20", "2.6.21", "2.6.21-vdso", "2.6.22", "2.6.23", "2.6.24", "nopv"] as const;
type Variant = typeof VARIANTS[number];
const PARAVIRT = (v: Variant) => v !== "nopv";
/** docs/abi/native.md §4 seeds/004: vDSO default per variant. */
const VDSO_DEFAULT: Record<Variant, string> = {
  "2.6.20": "0",
  "2.6.21": "0",
  "2.6.21-vdso": "1",
  "2.6.22": "1",
  "2.6.23": "1",
  "2.6.24": "1",
  nopv: "1",
};
const COMPAT: Record<Variant, boolean> = {
  "2.6.20": false,
  "2.6.21": false,
  "2.6.21-vdso": true,
  "2.6.22": true,
  "2.6.23": true,
  "2.6.24": true,
  nopv: true,
};

/**
 * Expected syscall RESULT under QEMU (native, SEP present) — the vDSO table of
 * guests/README.md.  oldglibc works only when a user-readable vDSO sits at 0xffffe000
 * and the process got a sysenter return address (vdso on).
 */
function syscallExpect(v: Variant, vdso: string, reserve: number): Record<string, string> {
  const on = vdso === "1";
  let sysinfo = "0x00000000";
  if (on) {
    if (COMPAT[v]) sysinfo = reserve ? `0x${(0xffffe400 - reserve).toString(16)}` : "0xffffe400";
    else sysinfo = "0xb7fff400";
  }
  let oldglibc: string;
  if (COMPAT[v] && reserve === 0) oldglibc = on ? "ok" : "#PF@0x00000000";
  else oldglibc = "#PF@0xffffe400";
  return {
    pass: "1",
    vdso,
    sysinfo,
    int80: "ok",
    newglibc: on ? "vdso-sysenter" : "int80-fallback",
    oldglibc,
  };
}

const CASES: Case[] = [];
for (const v of VARIANTS) {
  const image = `pvkernel-${v}.elf`;
  const common = { backend: "native", pass: "1" };
  CASES.push(
    {
      image,
      append: "",
      exit: 1,
      result: {
        scenario: "boot",
        ...common,
        variant: v,
        paravirt: PARAVIRT(v) ? "1" : "0",
        missing: "0",
        cpu_ops: "8/8",
        vdso: VDSO_DEFAULT[v],
        compat_vdso: COMPAT[v] ? "1" : "0",
        vdso_fixmap: "0xffffe000",
      },
    },
    {
      image,
      append: "scenario=irq",
      exit: 1,
      result: { scenario: "irq", ...common, held_while_disabled: "2", delivered_on_enable: "2" },
    },
    {
      image,
      append: "scenario=timer",
      exit: 1,
      result: {
        scenario: "timer",
        ...common,
        ticks: "10",
        oneshot: "3",
        lapic: "yes",
        lapic_ticks: "10",
        lapic_oneshot: "1",
      },
    },
    {
      image,
      append: "scenario=clock",
      exit: 1,
      result: { scenario: "clock", ...common, monotonic: "1", rate: "ok", wall: "plausible" },
    },
    {
      image,
      append: "scenario=mmu",
      exit: 1,
      result: { scenario: "mmu", ...common, failures: "0", faults: "1", lazy_batch: "8" },
    },
    {
      image,
      append: "scenario=syscall",
      exit: 1,
      result: { scenario: "syscall", backend: "native", ...syscallExpect(v, VDSO_DEFAULT[v], 0) },
    },
    {
      image,
      append: `scenario=syscall vdso=${VDSO_DEFAULT[v] === "1" ? "0" : "1"}`,
      exit: 1,
      result: {
        scenario: "syscall",
        backend: "native",
        ...syscallExpect(v, VDSO_DEFAULT[v] === "1" ? "0" : "1", 0),
      },
    },
    {
      image,
      append: "scenario=halt",
      exit: 1,
      result: {
        scenario: "halt",
        ...common,
        safe_halt_if0: "woke",
        halt_if1: "woke",
        halt_if0: PARAVIRT(v) ? "woke" : "not-run",
        halt_is_safe_halt: PARAVIRT(v) ? "1" : "0",
        if_after_halt_if0: PARAVIRT(v) ? "1" : "0",
      },
    },
    {
      image,
      append: "scenario=shutdown",
      exit: 1,
      result: { scenario: "shutdown", ...common, method: "poweroff" },
    },
  );
}
CASES.push(
  // 2.6.22 relocates the compat vDSO below a reserved top: old glibc breaks (docs/abi/native.md §4).
  {
    image: "pvkernel-2.6.22.elf",
    append: "scenario=syscall reservetop=0x400000",
    exit: 1,
    result: { scenario: "syscall", backend: "native", ...syscallExpect("2.6.22", "1", 0x400000) },
  },
  {
    image: "pvkernel-2.6.21.elf",
    append: "scenario=syscall vdso=1 reservetop=0x400000",
    exit: 1,
    result: { scenario: "syscall", backend: "native", ...syscallExpect("2.6.21", "1", 0x400000) },
  },
  // A fixed compat vDSO cannot coexist with a reserved top: reserve_top_address BUGs.
  {
    image: "pvkernel-2.6.21-vdso.elf",
    append: "scenario=syscall reservetop=0x400000",
    exit: 5,
    contains: "Kernel panic: BUG: reserve_top_address(0x400000) with COMPAT_VDSO",
  },
  {
    image: "pvkernel-2.6.22.elf",
    append: "scenario=shutdown reboot=1",
    exit: 0,
    result: { scenario: "shutdown", pass: "1", method: "reboot-kbc" },
  },
  {
    image: "pvkernel-nopv.elf",
    append: "scenario=shutdown reboot=92",
    exit: 0,
    result: { scenario: "shutdown", pass: "1", method: "reboot-port92" },
  },
  // Non-PARAVIRT halt() with IF=0 is a bare hlt: the machine never wakes.
  {
    image: "pvkernel-nopv.elf",
    append: "scenario=halt halt_if0=1",
    exit: -1,
    contains: "halt: executing hlt with IF=0 (non-PARAVIRT): this never wakes",
    timeoutMs: 10_000,
    expectTimeout: true,
  },
  {
    image: "pvkernel-2.6.22.elf",
    append: "scenario=nosuch",
    exit: 3,
    result: { scenario: "nosuch", pass: "0", error: "unknown-scenario" },
  },
  // QEMU TCG has no KVM signature: the conformance guest reports "nothing to test".
  {
    image: "kvmabi.elf",
    append: "",
    exit: 7,
    result: { guest: "kvmabi", pass: "0", skip: "1", signature: "absent" },
  },
);

async function check(c: Case): Promise<void> {
  const run = await runQemu(c.image, c.append, c.timeoutMs);
  const where = `${c.image} -append "${c.append}"\n--- output ---\n${run.output}`;
  if (c.expectTimeout) {
    assert.ok(run.timedOut, `expected a hang: ${where}`);
  } else {
    assert.ok(!run.timedOut, `timed out: ${where}`);
    assert.equal(run.code, c.exit, `exit status: ${where}`);
  }
  if (c.contains) assert.ok(run.output.includes(c.contains), `missing "${c.contains}": ${where}`);
  const result = parseResult(run.output);
  if (c.result) {
    assert.ok(result, `no RESULT line: ${where}`);
    for (const [k, v] of Object.entries(c.result)) {
      assert.equal(result.get(k), v, `RESULT ${k}: ${where}`);
    }
  } else {
    assert.equal(result, undefined, `unexpected RESULT line: ${where}`);
  }
}

for (const c of CASES) {
  Deno.test({
    name: `guest ${c.image} ${c.append || "scenario=boot (default)"}`,
    ignore: !HAVE_QEMU,
    fn: () => check(c),
  });
}

// Under ICOUNT QEMU's TSC advances one tick per instruction, as pvreplay's does: the per-call
// cost becomes an instruction count and must repeat exactly.
Deno.test({
  name: "guest syscall cost under QEMU -icount is deterministic instruction counts",
  ignore: !HAVE_QEMU,
  async fn() {
    const costs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const run = await runQemu("pvkernel-2.6.22.elf", "scenario=syscall", TIMEOUT_MS);
      assert.equal(run.code, 1, run.output);
      const line = run.output.split(/\r?\n/).find((l) => l.startsWith("INFO syscall-cost:"));
      assert.ok(line, run.output);
      const m = line.match(/int80=(\d+) vsyscall=(\d+) \(sysenter\)/);
      assert.ok(m, line);
      for (const n of [Number(m[1]), Number(m[2])]) assert.ok(n >= 20 && n <= 1000, line);
      costs.push(line);
    }
    assert.equal(costs[0], costs[1]);
  },
});

Deno.test({
  name: "guest RESULT parser reads key=value pairs and ignores other lines",
  fn() {
    const r = parseResult("boot\nRESULT scenario=timer backend=native pass=1 ticks=10\nexit");
    assert.equal(r?.get("ticks"), "10");
    assert.equal(r?.get("backend"), "native");
    assert.equal(parseResult("no result here"), undefined);
  },
});
