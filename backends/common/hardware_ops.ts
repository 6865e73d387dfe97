/**
 * Derivation of canonical operations from hardware events: the single, table-driven place that
 * says how a bare-hardware guest's privileged instructions and device accesses map onto
 * paravirt_ops-level operations (docs/canonical-ops.md). Used by every backend whose guests run
 * unmodified privileged code (native, KVM).
 *
 * Three tables:
 * - {@link EXIT_RULES}: one CPU exit -> one operation (`cli` -> `irq_disable`).
 * - {@link PORT_RULES}: port accesses, some through small device decoders (PIT, CMOS, KBC).
 * - {@link SEQUENCE_RULES}: operations that span several exits (`sti; hlt` -> `safe_halt`).
 *   Events that may open a sequence are held back until it completes or breaks; {@link
 *   HardwareOpDeriver.flush} releases them.
 *
 * @module
 */

import { ExitKind } from "../../core/cpu/hooks.ts";
import type { StateKeyName } from "../../vocabulary/event.ts";
import { daysFromCivil } from "../../core/civil_date.ts";
import { ShutdownReason, TimerMode } from "../../vocabulary/canonical_ops.ts";
import type { HwSource } from "../model.ts";

/**
 * One hardware event. Exits: `kind` = ExitKind and a, b, c as in hooks.ts. Port I/O: a = port,
 * b = size, c = value. MMIO: a = physical address, b = size, c = value.
 */
export interface HwEvent {
  source: HwSource;
  kind: number;
  a: number;
  b: number;
  c: number;
  icount: number;
  eip: number;
}

/** The canonical side of an event. */
export interface Derived {
  op: string | null;
  opArgs: number[];
  /** Architectural state the event writes, with the value after it. */
  state: Array<[StateKeyName, number]>;
}

/** What the deriver may ask the machine (read-only). */
export interface DeriverEnv {
  /** Virtual nanoseconds now. */
  nowNs(): number;
  /** First opcode byte at the current instruction after prefixes, or -1 if unreadable. */
  opcode(): number;
  /** Reads a 32-bit little-endian value at a linear address, or null if unmapped. */
  readLinear32(lin: number): number | null;
  gdtrBase(): number;
  /** Current EAX and EDX (RDTSC high half, CPUID results), EBX, ECX. */
  reg(index: number): number;
  /** Local-APIC timer input clock (Hz). */
  apicBusHz: number;
}

const NONE: Derived = { op: null, opArgs: [], state: [] };
const op = (
  name: string,
  opArgs: number[] = [],
  state: Array<[StateKeyName, number]> = [],
): Derived => ({ op: name, opArgs, state });

/** CR4.PGE (SDM Vol.3 2.5). */
const CR4_PGE = 0x80;
/** CR0.TS (SDM Vol.3 2.5). */
const CR0_TS = 0x8;
/** 8254 PIT input clock, Hz (docs/abi/native.md §3.5). */
export const PIT_HZ = 1_193_182;
/** Local APIC base (docs/abi/native.md §3.7) and the timer registers (docs/abi/native.md §3.5). */
export const APIC_BASE = 0xfee0_0000;
const APIC_LVTT = 0x320;
const APIC_TMICT = 0x380;
const APIC_TDCR = 0x3e0;
const EAX = 0, ECX = 1, EDX = 2, EBX = 3;

/** Serializable decoder state (PIT, CMOS, APIC timer, last CR3/CR4). */
export interface DeriverState {
  cr3: number;
  cr4: number;
  /** PIT channel 0: access mode (1 lsb, 2 msb, 3 lsb/msb), operating mode, flip-flop, low. */
  pitAccess: number;
  pitMode: number;
  pitHighNext: boolean;
  pitLow: number;
  cmosIndex: number;
  /** Last value read from CMOS registers 0..9, 0x0B and 0x32 (-1 = not read). */
  cmos: number[];
  apicLvtt: number;
  apicDivide: number;
}

/** The part of {@link DeriverState} that belongs to one CPU (its CRs, its local APIC's timer). */
export type CpuLocalState = Pick<DeriverState, "cr3" | "cr4" | "apicLvtt" | "apicDivide">;

/** {@link CpuLocalState} at power-on (an AP before its first instruction). */
export function cpuLocalAtReset(cr3 = 0, cr4 = 0): CpuLocalState {
  return { cr3, cr4, apicLvtt: 0x10000, apicDivide: 0 };
}

/** What rules may use: the environment, decoder state and the device decoders. */
export interface RuleContext {
  readonly env: DeriverEnv;
  state: DeriverState;
  ldtOf(selector: number): number[];
  pitControl(v: number): Derived;
  pitData(v: number): Derived;
  cmosSelect(v: number): Derived;
  cmosRead(v: number): Derived;
}

type ExitRule = (e: HwEvent, d: RuleContext) => Derived;
type PortRule = {
  port: number;
  source: "in" | "out";
  derive: (e: HwEvent, d: RuleContext) => Derived;
};

const crReadOps = ["read_cr0", null, "read_cr2", "read_cr3", "read_cr4"];

/** One CPU exit -> canonical operation (docs/canonical-ops.md, "native derivation"). */
export const EXIT_RULES: Readonly<Record<number, ExitRule>> = {
  [ExitKind.cli]: () => op("irq_disable", [], [["IF", 0]]),
  [ExitKind.sti]: () => op("irq_enable", [], [["IF", 1]]),
  // The 2.6.20 native templates: restore_fl = `push %eax; popf`, iret = `iret` (docs/abi/native.md §2).
  // Only IF changes are reported by the CPU, so these are seen only when they flip IF.
  [ExitKind.ifChange]: (e, d) => {
    const opc = d.env.opcode();
    const flags = e.a ? 0x200 : 0;
    const name = opc === 0x9d ? "restore_fl" : opc === 0xcf ? "iret" : null;
    return { op: name, opArgs: name ? [flags] : [], state: [["IF", e.a ? 1 : 0]] };
  },
  [ExitKind.hlt]: () => op("halt", [], [["HALTED", 1]]),
  [ExitKind.crWrite]: (e, d) => {
    const v = e.b >>> 0;
    switch (e.a) {
      case 0:
        return op("write_cr0", [v], [["CR0", v], ["TS", (v & CR0_TS) ? 1 : 0]]);
      case 3: {
        // Reloading the same page directory is how native code flushes user TLB entries
        // (docs/abi/native.md §3.3).
        const same = v === d.state.cr3;
        d.state.cr3 = v;
        return same ? op("flush_tlb_user", [], [["CR3", v]]) : op("write_cr3", [v], [["CR3", v]]);
      }
      case 4:
        d.state.cr4 = v;
        return op("write_cr4", [v], [["CR4", v]]);
      default:
        return { op: null, opArgs: [], state: e.a === 2 ? [["CR2", v]] : [] };
    }
  },
  [ExitKind.crRead]: (e) => {
    const name = crReadOps[e.a] ?? null;
    return name ? op(name, [e.b >>> 0]) : NONE;
  },
  [ExitKind.rdmsr]: (e) => op("read_msr", [e.a >>> 0, e.b >>> 0, e.c >>> 0]),
  [ExitKind.wrmsr]: (e) => op("write_msr", [e.a >>> 0, e.b >>> 0, e.c >>> 0]),
  [ExitKind.cpuid]: (e, d) =>
    op("cpuid", [
      e.a >>> 0,
      e.b >>> 0,
      d.env.reg(EAX),
      d.env.reg(EBX),
      d.env.reg(ECX),
      d.env.reg(EDX),
    ]),
  [ExitKind.invlpg]: (e) => op("flush_tlb_single", [e.a >>> 0]),
  [ExitKind.lgdt]: (e) => op("load_gdt", [e.a >>> 0, e.b >>> 0]),
  [ExitKind.lidt]: (e) => op("load_idt", [e.a >>> 0, e.b >>> 0]),
  [ExitKind.lldt]: (e, d) => op("set_ldt", d.ldtOf(e.a & 0xffff)),
  [ExitKind.ltr]: (e) => op("load_tr_desc", [e.a & 0xffff]),
  [ExitKind.clts]: () => op("clts", [], [["TS", 0]]),
  [ExitKind.wbinvd]: () => op("wbinvd"),
  [ExitKind.invd]: () => NONE,
  [ExitKind.rdtsc]: (e, d) => op("read_tsc", [e.a >>> 0, d.env.reg(EDX)]),
  // Port I/O is derived from the bus observer (PORT_RULES), which also sees string I/O.
  [ExitKind.ioIn]: () => NONE,
  [ExitKind.ioOut]: () => NONE,
  [ExitKind.drWrite]: (e) => op("set_debugreg", [e.a, e.b >>> 0]),
  [ExitKind.sysenter]: () => NONE,
  [ExitKind.sysexit]: () => NONE,
  [ExitKind.lmsw]: () => NONE,
  [ExitKind.shutdown]: () => op("shutdown", [ShutdownReason.crash], [["HALTED", 1]]),
};

/** Port accesses -> canonical operation (docs/abi/native.md §2, §3.5, §3.6, §3.8). */
export const PORT_RULES: readonly PortRule[] = [
  // io_delay is `outb %al,$0x80` (docs/abi/native.md §2).
  { port: 0x80, source: "out", derive: () => op("io_delay") },
  { port: 0x43, source: "out", derive: (e, d) => d.pitControl(e.c) },
  { port: 0x40, source: "out", derive: (e, d) => d.pitData(e.c) },
  { port: 0x70, source: "out", derive: (e, d) => d.cmosSelect(e.c) },
  { port: 0x71, source: "in", derive: (e, d) => d.cmosRead(e.c) },
  // Keyboard-controller pulse-reset command 0xFE resets the PC (8042 command set).
  {
    port: 0x64,
    source: "out",
    derive: (e) => (e.c === 0xfe ? op("shutdown", [ShutdownReason.reboot]) : NONE),
  },
  // PIIX reset-control register: bit 2 starts a reset (Intel 82371 datasheet, port 0xCF9).
  {
    port: 0xcf9,
    source: "out",
    derive: (e) => (e.c & 4 ? op("shutdown", [ShutdownReason.reboot]) : NONE),
  },
];

/**
 * Index into PORT_RULES by (port * 2 + is-out), -1 for none: a port access (the densest event
 * kind) finds its rule with one typed-array load instead of a hash lookup.
 */
const PORT_RULE_INDEX = new Int8Array(0x10000 * 2).fill(-1);
PORT_RULES.forEach((r, i) => PORT_RULE_INDEX[r.port * 2 + (r.source === "out" ? 1 : 0)] = i);

/** Whether a port access has a rule (a canonical meaning or decoder state). */
export function hasPortRule(port: number, dir: "in" | "out"): boolean {
  return PORT_RULE_INDEX[port * 2 + (dir === "out" ? 1 : 0)] >= 0;
}

/** A canonical operation spread over several consecutive events. */
export interface SequenceRule {
  op: string;
  /** The exit that opens the sequence: `start` is asked only about this kind of exit. */
  opens: ExitKind;
  start(e: HwEvent, d: RuleContext): boolean;
  /** Events allowed between start and end (they keep their ABI record, lose their op). */
  middle(e: HwEvent, start: HwEvent, d: RuleContext): boolean;
  end(e: HwEvent, start: HwEvent, d: RuleContext): boolean;
}

const isExit = (e: HwEvent, k: number) => e.source === "exit" && e.kind === k;
/** The next instruction after a one-byte `sti` (FB), with nothing recorded in between. */
const rightAfterSti = (e: HwEvent, s: HwEvent) => e.eip === s.eip + 1 && e.icount === s.icount + 1;

/** Multi-event derivations (docs/abi/native.md §2 native templates, §5.3 global flush). */
export const SEQUENCE_RULES: readonly SequenceRule[] = [
  {
    // safe_halt is `sti; hlt`; the STI shadow makes the pair atomic (docs/abi/native.md §3.2).
    op: "safe_halt",
    opens: ExitKind.sti,
    start: () => true,
    middle: () => false,
    end: (e, s) => isExit(e, ExitKind.hlt) && rightAfterSti(e, s),
  },
  {
    // irq_enable_sysexit is `sti; sysexit` (docs/abi/native.md §2).
    op: "irq_enable_sysexit",
    opens: ExitKind.sti,
    start: () => true,
    middle: () => false,
    end: (e, s) => isExit(e, ExitKind.sysexit) && rightAfterSti(e, s),
  },
  {
    // __flush_tlb_global: clear CR4.PGE, reload CR3, set PGE again (docs/abi/native.md §3.3 "toggle
    // CR4.PGE"); reads of CR3/CR4 and the CR3 reload in between belong to it.
    op: "flush_tlb_kernel",
    opens: ExitKind.crWrite,
    start: (e, d) => e.a === 4 && (e.b & CR4_PGE) === 0 && (d.state.cr4 & CR4_PGE) !== 0,
    middle: (e, _s, d) =>
      isExit(e, ExitKind.crRead) ||
      (isExit(e, ExitKind.crWrite) && e.a === 3 && e.b >>> 0 === d.state.cr3),
    end: (e) => isExit(e, ExitKind.crWrite) && e.a === 4 && (e.b & CR4_PGE) !== 0,
  },
];

/**
 * Whether an exit kind opens some sequence: most events (port I/O) skip the rule loop with one
 * array load.
 */
const OPENS_SEQUENCE: readonly boolean[] = SEQUENCE_RULES.reduce((a: boolean[], r) => {
  a[r.opens] = true;
  return a;
}, []);

/** An event waiting for a sequence to complete. */
export interface Held<T> {
  hw: HwEvent;
  derived: Derived;
  payload: T;
}

/** Longest sequence held back before giving up (flush_tlb_kernel: 5 events). */
const MAX_HELD = 8;

/**
 * Applies the rule tables to a stream of hardware events and hands each event, with its derived
 * canonical operation, to `emit` in the original order.
 */
export class HardwareOpDeriver<T> implements RuleContext {
  readonly env: DeriverEnv;
  state: DeriverState;
  #emit: (payload: T, derived: Derived) => void;
  #held: Held<T>[] = [];
  #candidates: SequenceRule[] = [];

  #refine: (e: HwEvent, d: Derived) => Derived;

  /**
   * `refine` lets a backend give its own meaning to an event after the tables ran (KVM: a
   * write to the wall-clock MSR is `get_wallclock`).
   */
  constructor(
    env: DeriverEnv,
    emit: (payload: T, derived: Derived) => void,
    refine: (e: HwEvent, d: Derived) => Derived = (_e, d) => d,
    cr3 = 0,
    cr4 = 0,
  ) {
    this.env = env;
    this.#emit = emit;
    this.#refine = refine;
    this.state = {
      ...cpuLocalAtReset(cr3, cr4),
      pitAccess: 3,
      pitMode: 0,
      pitHighNext: false,
      pitLow: 0,
      cmosIndex: 0,
      cmos: new Array(CMOS_SLOTS).fill(-1),
    };
  }

  /** Derives the single-event operation for `e` (updating decoder state). */
  derive(e: HwEvent): Derived {
    return this.#refine(e, this.#table(e));
  }

  #table(e: HwEvent): Derived {
    if (e.source === "exit") return EXIT_RULES[e.kind]?.(e, this) ?? NONE;
    if (e.source === "in" || e.source === "out") {
      // Out-of-range ports read undefined, i.e. no rule.
      const i = PORT_RULE_INDEX[e.a * 2 + (e.source === "out" ? 1 : 0)] ?? -1;
      return i >= 0 ? PORT_RULES[i].derive(e, this) : NONE;
    }
    return this.#apic(e);
  }

  /**
   * Feeds one event; it is emitted now or when its sequence resolves. `e` is not kept (held
   * events keep a copy), so the caller may refill it for the next event.
   */
  push(e: HwEvent, payload: T): void {
    // Sequence tests look at decoder state before this event updates it.
    // Most events start no sequence: test before allocating the candidate list.
    let starts: SequenceRule[] | null = null;
    if (this.#held.length === 0 && e.source === "exit" && OPENS_SEQUENCE[e.kind] === true) {
      for (const r of SEQUENCE_RULES) {
        if (r.opens === e.kind && r.start(e, this)) (starts ??= []).push(r);
      }
    }
    if (this.#held.length) {
      const start = this.#held[0].hw;
      const done = this.#candidates.find((r) => r.end(e, start, this));
      if (done) {
        const derived = this.derive(e);
        for (const h of this.#held) this.#emit(h.payload, { ...h.derived, op: null, opArgs: [] });
        this.#held = [];
        this.#candidates = [];
        this.#emit(payload, { ...derived, op: done.op, opArgs: [] });
        return;
      }
      const going = this.#candidates.filter((r) => r.middle(e, start, this));
      if (going.length && this.#held.length < MAX_HELD) {
        this.#candidates = going;
        this.#held.push({ hw: { ...e }, derived: this.derive(e), payload });
        return;
      }
      this.flush();
      return this.push(e, payload);
    }
    const derived = this.derive(e);
    if (starts !== null) {
      this.#candidates = starts;
      this.#held.push({ hw: { ...e }, derived, payload });
      return;
    }
    this.#emit(payload, derived);
  }

  /** Emits held events with their single-event derivations. */
  flush(): void {
    const held = this.#held;
    this.#held = [];
    this.#candidates = [];
    for (const h of held) this.#emit(h.payload, h.derived);
  }

  /** True while events are held back. */
  get holding(): boolean {
    return this.#held.length > 0;
  }

  /** set_ldt arguments from an LDT selector: [base, entries] from its GDT descriptor. */
  ldtOf(selector: number): number[] {
    if ((selector & ~7) === 0) return [0, 0];
    const lin = (this.env.gdtrBase() + (selector & ~7)) >>> 0;
    const lo = this.env.readLinear32(lin);
    const hi = this.env.readLinear32(lin + 4);
    if (lo === null || hi === null) return [0, 0];
    // Descriptor layout: SDM Vol.3 3.4.5.
    const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff00_0000)) >>> 0;
    let limit = (lo & 0xffff) | (hi & 0xf_0000);
    if (hi & 0x80_0000) limit = limit * 4096 + 0xfff;
    return [base, Math.floor((limit + 1) / 8)];
  }

  // 8254 control word (port 0x43): SC bits 7-6, RW bits 5-4, mode bits 3-1, BCD bit 0.
  pitControl(v: number): Derived {
    const channel = v >>> 6, access = (v >>> 4) & 3;
    if (channel !== 0 || access === 0) return NONE; // other channels, latch or read-back
    this.state.pitAccess = access;
    this.state.pitMode = (v >>> 1) & 7;
    this.state.pitHighNext = false;
    return NONE;
  }

  pitData(v: number): Derived {
    const s = this.state;
    let count: number;
    if (s.pitAccess === 3 && !s.pitHighNext) {
      s.pitLow = v & 0xff;
      s.pitHighNext = true;
      return NONE;
    }
    if (s.pitAccess === 3) {
      count = s.pitLow | ((v & 0xff) << 8);
      s.pitHighNext = false;
    } else count = s.pitAccess === 1 ? v & 0xff : (v & 0xff) << 8;
    // A count of 0 means 65536 (8254 datasheet). Modes 2/3 (and aliases 6/7) repeat.
    if (count === 0) count = 0x10000;
    const periodic = (s.pitMode & 3) === 2 || (s.pitMode & 3) === 3;
    return this.#timer(periodic, Math.round(count * 1e9 / PIT_HZ));
  }

  #timer(periodic: boolean, ns: number): Derived {
    const mode = periodic ? TimerMode.periodic : TimerMode.oneshot;
    return op("set_timer", [mode, ns], [["TIMER", ns === 0 ? 0 : this.env.nowNs() + ns]]);
  }

  cmosSelect(v: number): Derived {
    this.state.cmosIndex = v & 0x7f; // bit 7 is the NMI mask
    return NONE;
  }

  cmosRead(v: number): Derived {
    const idx = this.state.cmosIndex;
    const slot = cmosSlot(idx);
    if (slot < 0) return NONE;
    this.state.cmos[slot] = v & 0xff;
    // The year is the last field a clock read needs; derive the time it completes.
    if (idx !== 9) return NONE;
    const sec = cmosEpochSeconds(this.state.cmos);
    return sec === null ? NONE : op("get_wallclock", [sec, 0]);
  }

  #apic(e: HwEvent): Derived {
    const off = e.a - APIC_BASE;
    if (off < 0 || off >= 0x1000) return NONE;
    if (e.source === "mmio_read") return op("apic_read", [off, e.c >>> 0]);
    const v = e.c >>> 0;
    if (off === APIC_LVTT) this.state.apicLvtt = v;
    if (off === APIC_TDCR) this.state.apicDivide = v;
    if (off !== APIC_TMICT) return op("apic_write", [off, v]);
    // Divide configuration bits 3,1,0: 0b111 = 1, else 2^(n+1) (SDM Vol.3 10.5.4).
    const d = this.state.apicDivide;
    const n = ((d >>> 1) & 4) | (d & 3);
    const divisor = n === 7 ? 1 : 2 ** (n + 1);
    const periodic = (this.state.apicLvtt & 0x20000) !== 0; // LVT timer mode bit 17
    return this.#timer(periodic, v === 0 ? 0 : Math.round(v * divisor * 1e9 / this.env.apicBusHz));
  }
}

// CMOS registers tracked: 0 sec, 2 min, 4 hour, 6 weekday, 7 day, 8 month, 9 year (slots 0..9),
// 0x0B status B (slot 10), 0x32 century (slot 11). MC146818 register map.
const CMOS_SLOTS = 12;
function cmosSlot(idx: number): number {
  return idx <= 9 ? idx : idx === 0x0b ? 10 : idx === 0x32 ? 11 : -1;
}

/**
 * Seconds since 1970 from the last values read from the RTC, or null if a field is missing.
 * Status B (if read) selects binary (DM, bit 2) and 24-hour (bit 1) formats; unread, the PC
 * BIOS convention (BCD, 24-hour) is assumed. Two-digit years < 70 are 20xx unless the century
 * register was read.
 */
export function cmosEpochSeconds(r: readonly number[]): number | null {
  for (const i of [0, 2, 4, 7, 8, 9]) if (r[i] < 0) return null;
  const statusB = r[10] < 0 ? 0x02 : r[10];
  const bin = (statusB & 4) !== 0;
  const dec = (v: number) => (bin ? v : (v >>> 4) * 10 + (v & 15));
  let hour = dec(r[4] & 0x7f);
  if (!(statusB & 2)) hour = (hour % 12) + ((r[4] & 0x80) ? 12 : 0);
  const yy = dec(r[9]);
  const year = r[11] >= 0 ? dec(r[11]) * 100 + yy : yy < 70 ? 2000 + yy : 1900 + yy;
  return daysFromCivil(year, dec(r[8]), dec(r[7])) * 86400 + hour * 3600 + dec(r[2]) * 60 +
    dec(r[0]);
}
