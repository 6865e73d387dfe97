/**
 * Small in-memory test machines for CPU tests: RAM, an I/O bus, a virtual clock and a trivial
 * interrupt controller, plus helpers to assemble code with GNU as and to build descriptors.
 *
 * @module
 */

import { Cpu } from "../../core/cpu/cpu.ts";
import { type CpuHooks, NATIVE_HOOKS } from "../../core/cpu/hooks.ts";
import { PhysicalMemory } from "../../core/memory.ts";
import { type InterruptController, IoBus } from "../../core/bus.ts";
import { VirtualClock } from "../../core/clock.ts";

/** An interrupt controller with a queue of vectors raised by the test. */
export class TestPic implements InterruptController {
  pending: number[] = [];
  hasInterrupt(): boolean {
    return this.pending.length > 0;
  }
  acknowledge(): number {
    return this.pending.shift() ?? 0xff;
  }
}

/** A recorded hook call. */
export type HookEvent = [string, ...number[]];

export interface TestMachine {
  cpu: Cpu;
  mem: PhysicalMemory;
  io: IoBus;
  clock: VirtualClock;
  pic: TestPic;
  events: HookEvent[];
}

/** Hooks that record every trap and exit (otherwise native). */
export function recordingHooks(events: HookEvent[]): CpuHooks {
  return {
    ...NATIVE_HOOKS,
    onTrap: (kind, vector, err, eip, cr2) => events.push(["trap", kind, vector, err, eip, cr2]),
    onExit: (kind, a, b, c) => events.push(["exit", kind, a, b, c]),
  };
}

/** A machine with `mb` MiB of RAM (default 4), CPU in real mode at 0000:0000 unless moved. */
/**
 * The translator's compile threshold in test machines: lower than the production one
 * (core/cpu/jit.ts THRESHOLD), so that short test loops are translated.
 */
export const JIT_THRESHOLD = 40;

export function makeMachine(mb = 4): TestMachine {
  const mem = new PhysicalMemory({ size: mb << 20 });
  const io = new IoBus();
  const clock = new VirtualClock();
  const pic = new TestPic();
  const events: HookEvent[] = [];
  const cpu = new Cpu({ memory: mem, io, clock, intr: pic, hooks: recordingHooks(events) });
  if (cpu.jit !== null) cpu.jit.threshold = JIT_THRESHOLD;
  return { cpu, mem, io, clock, pic, events };
}

/** Points the CPU at real-mode CS:IP with flat 64K segments. */
export function realMode(cpu: Cpu, cs: number, ip: number): void {
  for (let i = 0; i < 6; i++) {
    cpu.segSel[i] = i === 1 ? cs : 0;
    cpu.segBase[i] = i === 1 ? cs << 4 : 0;
    cpu.segLimit[i] = 0xffff;
  }
  cpu.eip = ip;
  cpu.updateMode();
}

const asCache = new Map<string, Uint8Array>();

/** Assembles Intel-syntax source with GNU as (`bits` 16 or 32) at origin `org`; returns the bytes. */
export function assemble(src: string, bits: 16 | 32 = 32, org = 0): Uint8Array {
  const key = `${bits}:${org}:${src}`;
  const hit = asCache.get(key);
  if (hit) return hit;
  const dir = Deno.makeTempDirSync({ prefix: "pvcpu" });
  try {
    const text = `.intel_syntax noprefix\n.code${bits}\n.org 0\n${src}\n`;
    Deno.writeTextFileSync(`${dir}/a.s`, text);
    run("as", ["--32", "-o", `${dir}/a.o`, `${dir}/a.s`]);
    run("ld", [
      "-m",
      "elf_i386",
      "-Ttext",
      `0x${org.toString(16)}`,
      "--oformat",
      "binary",
      "-e",
      "0",
      "-o",
      `${dir}/a.bin`,
      `${dir}/a.o`,
    ]);
    const out = Deno.readFileSync(`${dir}/a.bin`);
    asCache.set(key, out);
    return out;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * Assembles many independent 32-bit snippets (each under 64 bytes, origin 0x10000) with a single
 * `as` run: snippet i is placed at offset i*64 and cut out again.
 */
export function assembleMany(srcs: string[]): Uint8Array[] {
  const todo = [...new Set(srcs.filter((s) => !asCache.has(`32:${0x10000}:${s}`)))];
  if (todo.length) {
    const body = todo.map((s, i) => `.org ${i * 64}\n${s}\n`).join("");
    const all = assemble(`${body}.org ${todo.length * 64}`, 32, 0x10000);
    todo.forEach((s, i) => {
      let end = i * 64 + 64;
      while (end > i * 64 && all[end - 1] === 0) end--; // .org pads with zeros
      asCache.set(`32:${0x10000}:${s}`, all.slice(i * 64, Math.max(end, i * 64 + 1)));
    });
  }
  return srcs.map((s) => asCache.get(`32:${0x10000}:${s}`)!);
}

function run(cmd: string, args: string[]): void {
  const r = new Deno.Command(cmd, { args, stderr: "piped" }).outputSync();
  if (!r.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(r.stderr)}`);
}

/** A segment descriptor as [low, high] dwords. `type` includes S (0x10) and DPL bits: access byte. */
export function descriptor(
  base: number,
  limit: number,
  access: number,
  flags = 0xc,
): [number, number] {
  if (limit > 0xfffff) {
    limit = limit >>> 12;
    flags |= 8;
  }
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = ((base >>> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | (flags << 20) |
    (base & 0xff000000);
  return [lo >>> 0, hi >>> 0];
}

/** A gate descriptor (call/interrupt/trap/task gate). */
export function gate(sel: number, off: number, access: number, params = 0): [number, number] {
  return [
    ((sel << 16) | (off & 0xffff)) >>> 0,
    ((off & 0xffff0000) | (access << 8) | params) >>> 0,
  ];
}

/** Writes descriptors at `base`. */
export function writeTable(mem: PhysicalMemory, base: number, entries: [number, number][]): void {
  entries.forEach(([lo, hi], i) => {
    mem.write32(base + i * 8, lo);
    mem.write32(base + i * 8 + 4, hi);
  });
}

/**
 * Standard flat protected-mode setup: GDT at 0x1000 with null, code0 (0x08), data0 (0x10),
 * code3 (0x1b), data3 (0x23), TSS (0x28) at 0x3000, plus any `extra` descriptors from 0x30 on;
 * IDT at 0x2000 (256 entries, empty). The CPU is put at CPL 0 with CS=0x08, SS=DS=ES=0x10,
 * ESP = 0x90000, EIP = `eip`.
 */
export function protectedMode(m: TestMachine, eip: number, extra: [number, number][] = []): void {
  const { cpu, mem } = m;
  writeTable(mem, 0x1000, [
    [0, 0],
    descriptor(0, 0xffffffff, 0x9a),
    descriptor(0, 0xffffffff, 0x92),
    descriptor(0, 0xffffffff, 0xfa),
    descriptor(0, 0xffffffff, 0xf2),
    descriptor(0x3000, 0x67 + 0x2000 / 8 + 1, 0x8b, 0), // busy, as after LTR
    ...extra,
  ]);
  mem.write32(0x3000 + 4, 0x80000); // ESP0
  mem.write32(0x3000 + 8, 0x10); // SS0
  mem.write16(0x3000 + 102, 104); // I/O map base right after the TSS
  cpu.gdtrBase = 0x1000;
  cpu.gdtrLimit = 0x1000 - 1;
  cpu.idtrBase = 0x2000;
  cpu.idtrLimit = 0x7ff;
  cpu.cr0 |= 1;
  cpu.updateMode();
  loadSel(cpu, 1, 0x08);
  for (const i of [0, 2, 3, 4, 5]) loadSel(cpu, i, 0x10);
  loadSel(cpu, 7, 0x28);
  cpu.cpl = 0;
  cpu.regs[4] = 0x90000;
  cpu.eip = eip;
  cpu.updateMode();
}

/** Loads a segment cache straight from the GDT (test setup, no checks). */
export function loadSel(cpu: Cpu, i: number, sel: number): void {
  const lo = cpu.memory.read32(cpu.gdtrBase + (sel & ~7));
  const hi = cpu.memory.read32(cpu.gdtrBase + (sel & ~7) + 4);
  cpu.segSel[i] = sel;
  cpu.segBase[i] = (lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000);
  let limit = (hi & 0xf0000) | (lo & 0xffff);
  if (hi & 0x800000) limit = (limit << 12) | 0xfff;
  cpu.segLimit[i] = limit;
  cpu.segAttr[i] = (hi >>> 8) & 0xf0ff;
}

/** Installs an IDT gate at vector `v` (IDT at cpu.idtrBase). */
export function setIdt(m: TestMachine, v: number, g: [number, number]): void {
  m.mem.write32(m.cpu.idtrBase + v * 8, g[0]);
  m.mem.write32(m.cpu.idtrBase + v * 8 + 4, g[1]);
}

/** Runs 32-bit code at 0x10000 in flat protected mode until HLT; returns the machine. */
export function run32(src: string, setup?: (m: TestMachine) => void, budget = 100000): TestMachine {
  const m = makeMachine();
  m.mem.load(0x10000, assemble(src, 32, 0x10000));
  protectedMode(m, 0x10000);
  setup?.(m);
  m.cpu.run(budget);
  return m;
}
