/**
 * The deterministic PC: RAM, the port bus, the virtual clock, the chipset devices and the CPU.
 *
 * Devices and wiring (PC/AT conventions):
 *
 * | device | ports / address | IRQ |
 * |---|---|---|
 * | 8259A pair | 0x20-0x21, 0xA0-0xA1 | cascade on IRQ2 |
 * | 8254 PIT + port B | 0x40-0x43, 0x61 | IRQ0 |
 * | 8042 keyboard controller | 0x60, 0x64 | IRQ1, IRQ12 |
 * | MC146818 RTC/CMOS | 0x70-0x71 | IRQ8 |
 * | POST codes | 0x80, 0x190 | |
 * | system control port A | 0x92 | |
 * | debug console | 0xE9 | |
 * | isa-debug-exit | 0xF4-0xF7 | |
 * | 16550 UART (COM1) | 0x3F8-0x3FF | IRQ4 |
 * | fw_cfg | 0x510-0x511 | |
 * | local APIC (one per CPU) | 0xFEE00000 (4 KiB) | LINT0 = 8259A INTR (ExtINT) |
 * | 82093AA I/O APIC (`--smp` > 1 or `--ioapic`) | 0xFEC00000 | ISA IRQ n, IRQ0 on input 2 |
 *
 * With the I/O APIC the boot loaders also write MP spec 1.4 tables (core/loaders/mp_table.ts);
 * several CPUs run as core/smp.ts describes (docs/smp.md).
 *
 * The run ends on an isa-debug-exit write, a platform reset request (run ends with "reset"; the
 * machine does not reboot, like `qemu -no-reboot`), a triple fault, a backend's
 * {@link Machine.requestShutdown}, a stop request (a backend's `cpu.requestStop()`, e.g. an exit
 * its userspace cannot handle, or a replay's first mismatch: "stopped"), an idle CPU, or the
 * instruction budget. {@link Machine.runAsync} runs the same slices but yields to the host's
 * event loop between them, so a host can interrupt a long run (Ctrl-C).
 *
 * @module
 */

import { IoBus } from "./bus.ts";
import { DEFAULT_EPOCH, VirtualClock } from "./clock.ts";
import type { Cpu } from "./cpu/cpu.ts";
import { DebugConsole, DebugExit, PostPorts } from "./devices/debug_ports.ts";
import { FwCfg } from "./devices/fw_cfg.ts";
import { ApicBus } from "./devices/apic_bus.ts";
import { IsaInterruptLines, type PcInterruptRouter } from "./devices/interrupt_router.ts";
import { IoApic, IOAPIC_BASE } from "./devices/ioapic.ts";
import { KeyboardController } from "./devices/kbc.ts";
import { LAPIC_BASE, type LocalApic } from "./devices/lapic.ts";
import { Pic } from "./devices/pic.ts";
import { Pit } from "./devices/pit.ts";
import { Rtc } from "./devices/rtc.ts";
import type { ByteSink } from "./devices/stateful.ts";
import { A20_ON, SystemControlPort } from "./devices/system_control.ts";
import { Uart } from "./devices/uart.ts";
import {
  debugExitStatus,
  EXIT_BUDGET,
  EXIT_INTERRUPTED,
  EXIT_RESET,
  EXIT_STOPPED,
  EXIT_SUCCESS,
  EXIT_TRIPLE_FAULT,
} from "./exit_status.ts";
import { yieldToHost } from "./host_yield.ts";
import { parseElf, SymbolTable } from "./loaders/elf.ts";
import { ImageError } from "./loaders/image_error.ts";
import { PCI_CONFIG_ADDRESS, PciHostBridge } from "./devices/pci.ts";
import { type LinuxBoot, type LinuxBootOptions, loadLinux } from "./loaders/linux_boot.ts";
import { mapFirmware } from "./loaders/firmware.ts";
import {
  BOOT_CS,
  BOOT_DS,
  findMultibootHeader,
  loadMultiboot,
  type MultibootBoot,
  type ProtectedModeEntry,
} from "./loaders/multiboot.ts";
import { writeMpTables } from "./loaders/mp_table.ts";
import {
  CONFIG_DEFAULTS,
  type MachineConfig,
  type MachineState,
  type PendingStop,
  type ResolvedConfig,
} from "./machine_config.ts";
import { PhysicalMemory } from "./memory.ts";
import type { RunOptions, RunReason, RunResult } from "./run_result.ts";
import { createCpuSlot, LocalApicWindow, MAX_CPUS, Processors } from "./smp.ts";

export type { RunOptions, RunReason, RunResult } from "./run_result.ts";
export type { MachineConfig, MachineState, ResolvedConfig } from "./machine_config.ts";

/** Default RAM size: 128 MiB, QEMU's default (`-m`) for the pc machine. */
export const DEFAULT_MEM_MIB = 128;
/** Largest RAM: everything below the I/O APIC / local APIC window at 0xFEC00000. */
export const MAX_MEM_MIB = 0xfec00000 / 1048576;
const SLICE = 4_000_000;
/**
 * Slice of {@link Machine.runAsync}: small enough that the host sees a signal within a few tens
 * of milliseconds of guest progress at the emulator's speed (tens of MIPS).
 */
const ASYNC_SLICE = 1 << 20;

/**
 * A PC with one CPU or several.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Machine } from "./machine.ts";
 * const out: number[] = [];
 * const m = new Machine({ memMiB: 4, serialOut: (b) => out.push(b) });
 * // mov dx,0x3f8; mov al,'A'; out dx,al; mov al,0x10; out 0xf4,al  (at the reset vector)
 * m.memory.mapRom(0xfffffff0, new Uint8Array([0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xb0, 0x10, 0xe6, 0xf4]));
 * const r = m.run(100);
 * assert.equal(r.reason, "debug-exit");
 * assert.equal(r.exitCode, 0x21);
 * assert.equal(out[0], 0x41);
 * ```
 */
export class Machine {
  readonly config: ResolvedConfig;
  readonly memory: PhysicalMemory;
  readonly io: IoBus = new IoBus();
  readonly clock: VirtualClock;
  readonly pic: Pic = new Pic();
  readonly pit: Pit;
  readonly uart: Uart;
  readonly rtc: Rtc;
  /** The BSP's local APIC and interrupt router. */
  readonly lapic: LocalApic;
  readonly router: PcInterruptRouter;
  readonly apicBus: ApicBus = new ApicBus();
  readonly ioapic: IoApic | null;
  /** The CPUs and their round-robin, when there are several. */
  readonly processors: Processors | null = null;
  readonly kbc: KeyboardController;
  readonly port92: SystemControlPort;
  readonly post: PostPorts = new PostPorts();
  readonly debugcon: DebugConsole;
  readonly debugExit: DebugExit;
  readonly fwCfg: FwCfg;
  /** PCI configuration mechanism #1 with the 440FX host bridge (core/devices/pci.ts). */
  readonly pci: PciHostBridge;
  /** The bootstrap processor (APIC ID 0). */
  readonly cpu: Cpu;
  /** Every CPU, by APIC ID. */
  readonly cpus: readonly Cpu[];
  /** Symbols of the loaded ELF kernel, if any. */
  symbols: SymbolTable | null = null;
  /** The firmware image mapped with {@link loadFirmware} (kept for snapshots). */
  firmware: Uint8Array | null = null;
  #stop: PendingStop | null = null;
  readonly #serialOut: ByteSink | undefined;

  constructor(config: MachineConfig = {}) {
    this.config = {
      memMiB: config.memMiB ?? DEFAULT_MEM_MIB,
      epoch: config.epoch ?? DEFAULT_EPOCH,
      ips: config.ips ?? 100_000_000,
      tscHz: config.tscHz ?? config.ips ?? 100_000_000,
      apicHz: config.apicHz ?? 100_000_000,
      cpus: config.cpus ?? 1,
      ioapic: config.ioapic ?? (config.cpus ?? 1) > 1,
    };
    const c = this.config;
    if (!Number.isInteger(c.cpus) || c.cpus < 1 || c.cpus > MAX_CPUS) {
      throw new RangeError(`CPU count ${c.cpus} must be an integer from 1 to ${MAX_CPUS}`);
    }
    if (c.cpus > 1 && !c.ioapic) throw new RangeError("several CPUs need the I/O APIC");
    if (!Number.isInteger(c.memMiB) || c.memMiB < 1 || c.memMiB > MAX_MEM_MIB) {
      throw new RangeError(
        `memory size ${c.memMiB} MiB must be an integer from 1 to ${MAX_MEM_MIB}`,
      );
    }
    for (const k of ["ips", "tscHz", "apicHz"] as const) {
      if (!Number.isInteger(c[k]) || c[k] <= 0) {
        throw new RangeError(`${k} must be a positive integer, got ${c[k]}`);
      }
    }
    const ramBytes = c.memMiB * 1048576;
    this.memory = new PhysicalMemory({ size: ramBytes });
    this.clock = new VirtualClock({ ips: c.ips, tscHz: c.tscHz });
    const clock = this.clock;
    this.ioapic = c.ioapic ? new IoApic(this.apicBus, c.cpus) : null;
    const irq = this.ioapic ? new IsaInterruptLines(this.pic, this.ioapic) : this.pic;
    this.pit = new Pit(clock, irq);
    const input = typeof config.serialInput === "string"
      ? new TextEncoder().encode(config.serialInput)
      : config.serialInput;
    this.uart = new Uart({ clock, irq, sink: config.serialOut, input });
    this.#serialOut = config.serialOut;
    this.rtc = new Rtc({ clock, irq, epoch: c.epoch, ramBytes });
    const reset = () => this.#requestStop({ reason: "reset", exitCode: EXIT_RESET });
    this.kbc = new KeyboardController(this.memory, irq, reset);
    this.port92 = new SystemControlPort(this.memory, reset);
    this.debugcon = new DebugConsole(config.debugconOut ?? (() => {}));
    this.debugExit = new DebugExit((v) =>
      this.#requestStop({ reason: "debug-exit", exitCode: debugExitStatus(v), value: v })
    );
    this.fwCfg = new FwCfg({ ramBytes, cpus: c.cpus });
    this.pci = new PciHostBridge();

    const io = this.io;
    io.register(0x20, 2, this.pic);
    io.register(0xa0, 2, this.pic);
    io.register(0x40, 4, this.pit);
    io.register(0x61, 1, this.pit);
    io.register(0x60, 1, this.kbc);
    io.register(0x64, 1, this.kbc);
    io.register(0x70, 2, this.rtc);
    io.register(0x80, 1, this.post);
    io.register(0x190, 1, this.post);
    io.register(0x92, 1, this.port92);
    io.register(0xe9, 1, this.debugcon);
    io.register(0xf4, 4, this.debugExit);
    io.register(0x3f8, 8, this.uart);
    io.register(0x510, 2, this.fwCfg);
    io.register(PCI_CONFIG_ADDRESS, 8, this.pci);

    const wiring = {
      memory: this.memory,
      io,
      clock,
      pic: this.pic,
      bus: this.apicBus,
      apicHz: c.apicHz,
      hooks: config.hooks,
      onStartup: (i: number, mode: number, v: number) => this.processors?.startup(i, mode, v),
    };
    const slots = Array.from({ length: c.cpus }, (_, i) => createCpuSlot(i, wiring));
    ({ cpu: this.cpu, lapic: this.lapic, router: this.router } = slots[0]);
    this.cpus = slots.map((s) => s.cpu);
    if (c.cpus > 1) this.processors = new Processors(slots, clock);
    const processors = this.processors;
    this.memory.mapMmio(
      LAPIC_BASE,
      0x1000,
      processors ? new LocalApicWindow(processors) : this.lapic,
    );
    if (this.ioapic) this.memory.mapMmio(IOAPIC_BASE, 0x1000, this.ioapic);
  }

  /** The CPU executing now (the BSP but while an AP takes its turn). */
  get currentCpu(): Cpu {
    return this.processors?.currentSlot.cpu ?? this.cpu;
  }

  /** The tables firmware leaves for the kernel: MP tables when there is an I/O APIC. */
  #firmwareTables(): void {
    const { cpus } = this.config;
    if (this.ioapic) {
      writeMpTables(this.memory, {
        cpus,
        ioapicId: cpus,
        ioapicBase: IOAPIC_BASE,
        lapicBase: LAPIC_BASE,
      });
    }
  }

  #requestStop(stop: PendingStop): void {
    if (this.#stop) return; // the first request wins
    this.#stop = stop;
    this.currentCpu.requestStop();
  }

  /**
   * Ends the current run with reason "shutdown" (guest power-off through a hypervisor ABI or
   * ACPI). `exitCode` defaults to success.
   */
  requestShutdown(exitCode = EXIT_SUCCESS): void {
    this.#requestStop({ reason: "shutdown", exitCode });
  }

  /**
   * One byte of a paravirtual console (Xen's console ring, lguest's virtio console): it goes
   * where COM1 output goes, so `--serial` shows it as `xl console` would.
   */
  consoleWrite(byte: number): void {
    this.#serialOut?.(byte & 0xff);
  }

  /**
   * Puts the CPU into 32-bit flat protected mode (Multiboot 0.6.96 §3.2): CS = BOOT_CS and the
   * data segments = BOOT_DS (or `entry.cs`/`entry.ds`), base 0, limit 4 GiB; CR0.PE = 1, PG = 0;
   * EFLAGS = 2 (IF = 0, VM = 0); A20 enabled; GDTR = the boot GDT; EAX, EBX, ESI, ESP from
   * `entry`, other GPRs 0.
   */
  enterProtectedMode(entry: ProtectedModeEntry): void {
    const cpu = this.cpu;
    cpu.regs.fill(0);
    cpu.regs[0] = entry.eax | 0;
    cpu.regs[3] = entry.ebx | 0;
    cpu.regs[4] = entry.esp | 0;
    cpu.regs[6] = (entry.esi ?? 0) | 0;
    cpu.cr0 = 0x00000011; // PE, ET; caches enabled (CD = NW = 0) as firmware leaves them
    for (let i = 0; i < 6; i++) {
      const code = i === 1;
      cpu.segSel[i] = code ? entry.cs ?? BOOT_CS : entry.ds ?? BOOT_DS;
      cpu.segBase[i] = 0;
      cpu.segLimit[i] = -1; // 0xFFFFFFFF
      cpu.segAttr[i] = code ? 0xc09b : 0xc093;
    }
    cpu.gdtrBase = entry.gdtBase;
    cpu.gdtrLimit = entry.gdtLimit;
    cpu.cpl = 0;
    cpu.halted = false;
    cpu.setEflags(0x2);
    cpu.eip = entry.eip >>> 0;
    this.memory.a20Mask = A20_ON;
    cpu.updateMode();
  }

  /**
   * Leaves the 8259A pair and the PIT as a PC BIOS does before it boots a kernel (SeaBIOS
   * `pic_setup`/`timer_setup`): PIC vectors 0x08/0x70 with all lines masked but IRQ0 and the
   * cascade, PIT channel 0 in mode 2 with count 65536 (18.2 Hz). Used for Multiboot boots,
   * which skip firmware.
   */
  firmwareDefaults(): void {
    const io = this.io;
    for (
      const [port, v] of [[0x20, 0x11], [0x21, 0x08], [0x21, 0x04], [0x21, 0x01], [0x21, 0xfa]]
    ) {
      io.write(port, 1, v);
    }
    for (
      const [port, v] of [[0xa0, 0x11], [0xa1, 0x70], [0xa1, 0x02], [0xa1, 0x01], [0xa1, 0xff]]
    ) {
      io.write(port, 1, v);
    }
    io.write(0x43, 1, 0x34);
    io.write(0x40, 1, 0);
    io.write(0x40, 1, 0);
  }

  /**
   * Loads a Multiboot kernel, applies firmware defaults and the Multiboot entry state.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Machine } from "./machine.ts";
   * const m = new Machine({ memMiB: 8 });
   * // m.bootMultiboot(await Deno.readFile("kernel.elf"), { file: "kernel.elf", cmdline: "" });
   * assert.equal(m.cpu.eip, 0xfff0);
   * ```
   */
  bootMultiboot(
    bytes: Uint8Array,
    options: { file?: string; cmdline?: string } = {},
  ): MultibootBoot {
    const boot = loadMultiboot(this.memory, bytes, options);
    if (boot.elf) this.symbols = new SymbolTable(boot.elf.symbols);
    this.#firmwareTables();
    this.firmwareDefaults();
    this.enterProtectedMode(boot.entry);
    return boot;
  }

  /**
   * Loads a Linux kernel (bzImage or vmlinux) and its initrd by the 32-bit boot protocol
   * (`core/loaders/linux_boot.ts`), applies firmware defaults and enters it, as QEMU's
   * `-kernel/-initrd/-append`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Machine } from "./machine.ts";
   * const m = new Machine({ memMiB: 128 });
   * // m.bootLinux(await Deno.readFile("vmlinuz"), { cmdline: "console=ttyS0" });
   * assert.equal(m.cpu.eip, 0xfff0);
   * ```
   */
  bootLinux(bytes: Uint8Array, options: LinuxBootOptions = {}): LinuxBoot {
    const boot = loadLinux(this.memory, bytes, options);
    if (boot.format === "vmlinux") {
      this.symbols = new SymbolTable(parseElf(bytes, options.file ?? "<kernel>").symbols);
    }
    this.#firmwareTables();
    this.firmwareDefaults();
    this.enterProtectedMode(boot.entry);
    return boot;
  }

  /**
   * Boots `bytes` the way its format asks: a Multiboot header in the first 8 KiB makes it a
   * Multiboot kernel, anything else goes to {@link bootLinux} (bzImage or vmlinux), as QEMU's
   * `-kernel` tells them apart. An initrd needs a Linux kernel.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Machine } from "./machine.ts";
   * const m = new Machine({ memMiB: 8 });
   * try {
   *   m.bootKernel(new Uint8Array(64), { file: "junk" });
   * } catch (e) {
   *   assert.ok((e as Error).message.startsWith("junk:"));
   * }
   * ```
   */
  bootKernel(bytes: Uint8Array, options: LinuxBootOptions = {}): "multiboot" | "linux" {
    const file = options.file ?? "<kernel>";
    if (findMultibootHeader(bytes, file)) {
      if (options.initrd) {
        throw new ImageError(file, "is a Multiboot kernel; --initrd needs a Linux kernel");
      }
      this.bootMultiboot(bytes, { file, cmdline: options.cmdline });
      return "multiboot";
    }
    this.bootLinux(bytes, options);
    return "linux";
  }

  /** Maps a raw firmware image (`--bios`); the CPU starts at its reset vector F000:FFF0. */
  loadFirmware(bytes: Uint8Array, file: string): void {
    mapFirmware(this.memory, bytes, file);
    this.firmware = bytes.slice();
  }

  /**
   * Runs up to `maxInsns` instructions (counted on the virtual clock).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Machine } from "./machine.ts";
   * const m = new Machine({ memMiB: 2 });
   * m.memory.mapRom(0xfffffff0, new Uint8Array([0xfa, 0xf4])); // cli; hlt
   * assert.equal(m.run(1000).reason, "idle");
   * ```
   */
  run(maxInsns: number, options: RunOptions = {}): RunResult {
    const start = this.clock.icount;
    const end = start + Math.max(0, Math.floor(maxInsns));
    const every = options.progressEvery ?? SLICE;
    let reason: RunReason | null = null;
    while (reason === null) reason = this.#slice(end, every, options);
    return this.#result(reason, start);
  }

  /**
   * {@link run}, yielding to the host event loop after every slice (default 1 M instructions) so
   * that signal handlers and timers run (`options.interrupted` is polled after each slice). The
   * guest sees exactly what {@link run} gives it: slice boundaries are not guest-visible.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Machine } from "./machine.ts";
   * const m = new Machine({ memMiB: 2 });
   * m.memory.mapRom(0xfffffff0, new Uint8Array([0xeb, 0xfe])); // jmp $
   * const r = await m.runAsync(10_000, { progressEvery: 100, interrupted: () => true });
   * assert.equal(r.reason, "interrupted");
   * assert.equal(r.instructions, 100);
   * ```
   */
  async runAsync(maxInsns: number, options: RunOptions = {}): Promise<RunResult> {
    const start = this.clock.icount;
    const end = start + Math.max(0, Math.floor(maxInsns));
    const every = options.progressEvery ?? ASYNC_SLICE;
    let reason: RunReason | null = null;
    while (reason === null) {
      reason = this.#slice(end, every, options);
      if (reason === null) await yieldToHost();
    }
    return this.#result(reason, start);
  }

  /** One slice of at most `every` instructions; the run's end reason, or null to go on. */
  #slice(end: number, every: number, options: RunOptions): RunReason | null {
    const clock = this.clock;
    if (this.#stop) return this.#stop.reason;
    const left = end - clock.icount;
    if (left <= 0) return "budget";
    const before = clock.icount;
    const r = (this.processors ?? this.cpu).run(Math.min(left, every));
    options.onProgress?.(clock.icount);
    const stop = this.#stop as PendingStop | null; // set by devices during cpu.run
    if (stop) return stop.reason;
    if (r === "shutdown") return "triple-fault";
    if (r === "idle") return "idle";
    // A stop nobody on the machine asked for: a backend's (its VM stops) or the host's.
    if (r === "stop") return "stopped";
    if (clock.icount === before) return "budget";
    return options.interrupted?.() ? "interrupted" : null;
  }

  #result(reason: RunReason, start: number): RunResult {
    const stop = this.#stop;
    this.#stop = null;
    const result: RunResult = {
      reason,
      exitCode: EXIT_SUCCESS,
      instructions: this.clock.icount - start,
      post: this.post.last,
    };
    if (stop) {
      result.exitCode = stop.exitCode;
      if (stop.value !== undefined) result.debugExitValue = stop.value;
    } else if (reason === "triple-fault") {
      result.exitCode = EXIT_TRIPLE_FAULT;
      result.shutdownVector = this.cpu.shutdownVector;
    } else if (reason === "budget") {
      result.exitCode = EXIT_BUDGET;
    } else if (reason === "stopped") {
      result.exitCode = EXIT_STOPPED;
    } else if (reason === "interrupted") {
      result.exitCode = EXIT_INTERRUPTED;
    }
    return result;
  }

  /** Complete state except RAM and firmware bytes (JSON-serialisable). */
  saveState(): MachineState {
    return {
      config: { ...this.config },
      icount: this.clock.icount,
      tscOffset: this.clock.tscOffset.toString(),
      a20Mask: this.memory.a20Mask,
      cpu: this.cpu.saveState(),
      pic: this.pic.saveState(),
      pit: this.pit.saveState(),
      uart: this.uart.saveState(),
      rtc: this.rtc.saveState(),
      lapic: this.lapic.saveState(),
      kbc: this.kbc.saveState(),
      port92: this.port92.saveState(),
      post: this.post.saveState(),
      fwCfg: this.fwCfg.saveState(),
      pci: this.pci.saveState(),
      ...(this.ioapic ? { ioapic: this.ioapic.saveState() } : {}),
      ...(this.processors ? { smp: this.processors.saveState() } : {}),
      stop: this.#stop ? { ...this.#stop } : null,
    };
  }

  /**
   * Restores {@link saveState} output into a machine built with the same configuration. Clock
   * events are dropped and every device re-arms its own from its saved deadlines.
   */
  loadState(s: MachineState): void {
    for (const k of Object.keys(this.config) as Array<keyof ResolvedConfig>) {
      if (this.config[k] !== (s.config[k] ?? CONFIG_DEFAULTS[k])) {
        throw new Error(
          `snapshot was taken with ${k} = ${s.config[k]}, machine has ${this.config[k]}`,
        );
      }
    }
    const clock = this.clock;
    clock.clearEvents();
    clock.icount = s.icount;
    clock.tscOffset = BigInt(s.tscOffset);
    this.memory.a20Mask = s.a20Mask;
    this.pic.loadState(s.pic);
    this.pit.loadState(s.pit);
    this.uart.loadState(s.uart);
    this.rtc.loadState(s.rtc);
    this.lapic.loadState(s.lapic);
    this.kbc.loadState(s.kbc);
    this.port92.loadState(s.port92);
    this.post.loadState(s.post);
    this.fwCfg.loadState(s.fwCfg);
    this.pci.loadState(s.pci ?? new PciHostBridge().saveState());
    if (s.ioapic) this.ioapic?.loadState(s.ioapic);
    if (s.smp) this.processors?.loadState(s.smp);
    this.#stop = s.stop ? { ...s.stop } : null;
    this.cpu.loadState(s.cpu);
  }
}
