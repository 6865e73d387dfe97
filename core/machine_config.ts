/**
 * The machine's configuration and saved-state shapes (core/machine.ts builds the machine).
 *
 * @module
 */

import type { CpuSnapshot } from "./cpu/cpu.ts";
import type { CpuHooks } from "./cpu/hooks.ts";
import type { PostState } from "./devices/debug_ports.ts";
import type { FwCfgState } from "./devices/fw_cfg.ts";
import type { IoApicState } from "./devices/ioapic.ts";
import type { KbcState } from "./devices/kbc.ts";
import type { LapicState } from "./devices/lapic.ts";
import type { PciState } from "./devices/pci.ts";
import type { PicState } from "./devices/pic.ts";
import type { PitState } from "./devices/pit.ts";
import type { RtcState } from "./devices/rtc.ts";
import type { ByteSink } from "./devices/stateful.ts";
import type { SystemControlState } from "./devices/system_control.ts";
import type { UartState } from "./devices/uart.ts";
import type { RunReason } from "./run_result.ts";
import type { SmpState } from "./smp.ts";

/** Machine configuration. Every field has a deterministic default. */
export interface MachineConfig {
  /** RAM size in MiB (default 128, as QEMU). */
  memMiB?: number;
  /** COM1 output (default: discarded). */
  serialOut?: ByteSink;
  /** Scripted COM1 input (see `core/devices/uart.ts` for its timing). */
  serialInput?: Uint8Array | string;
  /** Port 0xE9 output (default: discarded). */
  debugconOut?: ByteSink;
  /** RTC wall time at virtual time 0, seconds since 1970 (default 2007-03-09 00:00:00 UTC). */
  epoch?: number;
  /** Instructions per virtual second (default 100 M). */
  ips?: number;
  /** TSC frequency (default = ips). */
  tscHz?: number;
  /** Local-APIC timer bus clock (default 100 MHz). */
  apicHz?: number;
  /** CPU hooks (a backend); default bare hardware. */
  hooks?: CpuHooks;
  /** CPUs (default 1; more add the I/O APIC and MP tables: docs/smp.md). */
  cpus?: number;
  /** An I/O APIC and MP tables with one CPU too (default: only with more than one CPU). */
  ioapic?: boolean;
}

/** Complete machine state except RAM (see `core/snapshot.ts`). */
export interface MachineState {
  config: ResolvedConfig;
  icount: number;
  tscOffset: string;
  a20Mask: number;
  cpu: CpuSnapshot;
  pic: PicState;
  pit: PitState;
  uart: UartState;
  rtc: RtcState;
  lapic: LapicState;
  kbc: KbcState;
  port92: SystemControlState;
  post: PostState;
  fwCfg: FwCfgState;
  /** Absent in snapshots taken before the PCI host bridge existed (it then starts at reset). */
  pci?: PciState;
  /** Present when the machine has an I/O APIC / several CPUs. */
  ioapic?: IoApicState;
  smp?: SmpState;
  stop: PendingStop | null;
}

/** The configuration values that shape the machine (no sinks, hooks or input). */
export interface ResolvedConfig {
  memMiB: number;
  epoch: number;
  ips: number;
  tscHz: number;
  apicHz: number;
  cpus: number;
  ioapic: boolean;
}

/** Config values of snapshots taken before they existed. */
export const CONFIG_DEFAULTS: Partial<ResolvedConfig> = { cpus: 1, ioapic: false };

export interface PendingStop {
  reason: RunReason;
  exitCode: number;
  value?: number;
}
