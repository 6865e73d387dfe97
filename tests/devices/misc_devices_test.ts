import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { DebugConsole, DebugExit, PostPorts } from "../../core/devices/debug_ports.ts";
import { FwCfg, FwCfgKey } from "../../core/devices/fw_cfg.ts";
import { KeyboardController } from "../../core/devices/kbc.ts";
import { A20_OFF, A20_ON, SystemControlPort } from "../../core/devices/system_control.ts";
import { debugExitStatus } from "../../core/exit_status.ts";
import { PhysicalMemory } from "../../core/memory.ts";

function kbcSetup() {
  const memory = new PhysicalMemory({ size: 4 << 20 });
  const irqs: Array<[number, boolean]> = [];
  let resets = 0;
  const kbc = new KeyboardController(
    memory,
    { setIrq: (n, l) => irqs.push([n, l]) },
    () => resets++,
  );
  return { memory, kbc, irqs, resets: () => resets };
}

Deno.test("8042: self test, command byte, keyboard reset reply, IRQ1 on output", () => {
  const { kbc, irqs } = kbcSetup();
  assertEquals(kbc.portRead(0x64, 1) & 0x15, 0x14); // SYS, unlocked, OBF clear
  kbc.portWrite(0x64, 1, 0xaa);
  assertEquals(kbc.portRead(0x64, 1) & 0x09, 0x09); // OBF, last write was a command
  assertEquals(kbc.portRead(0x60, 1), 0x55);
  kbc.portWrite(0x64, 1, 0x20);
  assertEquals(kbc.portRead(0x60, 1), 0x45);
  kbc.portWrite(0x64, 1, 0x60);
  kbc.portWrite(0x60, 1, 0x44); // keyboard interrupt off
  kbc.portWrite(0x64, 1, 0x20);
  assertEquals(kbc.portRead(0x60, 1), 0x44);
  assertEquals(irqs.filter(([n, l]) => n === 1 && l).length, 2); // 0x55 and first 0x45
  kbc.portWrite(0x60, 1, 0xff);
  assertEquals([kbc.portRead(0x60, 1), kbc.portRead(0x60, 1)], [0xfa, 0xaa]);
  kbc.portWrite(0x60, 1, 0xf2);
  assertEquals([0, 1, 2].map(() => kbc.portRead(0x60, 1)), [0xfa, 0xab, 0x83]);
});

Deno.test("8042: output port A20 (0xD1) and reset pulse (0xFE)", () => {
  const { memory, kbc, resets } = kbcSetup();
  kbc.portWrite(0x64, 1, 0xd1);
  kbc.portWrite(0x60, 1, 0xdd); // A20 off, reset line inactive
  assertEquals(memory.a20Mask, A20_OFF);
  kbc.portWrite(0x64, 1, 0xd0);
  assertEquals(kbc.portRead(0x60, 1) & 0x03, 0x01);
  kbc.portWrite(0x64, 1, 0xd1);
  kbc.portWrite(0x60, 1, 0xdf);
  assertEquals(memory.a20Mask, A20_ON);
  assertEquals(resets(), 0);
  kbc.portWrite(0x64, 1, 0xfe);
  assertEquals(resets(), 1);
  kbc.portWrite(0x64, 1, 0xff); // pulse no line
  assertEquals(resets(), 1);
});

Deno.test("Port 0x92: A20 gate, fast reset on 0->1 of bit 0, A20 wraps addresses", () => {
  const memory = new PhysicalMemory({ size: 4 << 20 });
  let resets = 0;
  const p = new SystemControlPort(memory, () => resets++);
  memory.write8(0x000123, 0x11);
  memory.write8(0x100123, 0x22);
  p.portWrite(0x92, 1, 0x00);
  assertEquals(p.portRead(0x92, 1) & 2, 0);
  assertEquals(memory.read8(0x100123), 0x11); // bit 20 masked
  p.portWrite(0x92, 1, 0x02);
  assertEquals(memory.read8(0x100123), 0x22);
  p.portWrite(0x92, 1, 0x03);
  p.portWrite(0x92, 1, 0x03);
  assertEquals(resets, 1);
});

Deno.test("POST ports: last value, de-duplicated history, read-back latch", () => {
  const post = new PostPorts();
  assertEquals(post.last, -1);
  post.portWrite(0x80, 1, 0x10);
  post.portWrite(0x80, 1, 0x10);
  post.portWrite(0x190, 1, 0x10);
  post.portWrite(0x80, 1, 0x20);
  assertEquals(post.history, [[0x80, 0x10], [0x190, 0x10], [0x80, 0x20]]);
  assertEquals(post.last, 0x20);
  assertEquals(post.portRead(0x190, 1), 0x10);
  const copy = new PostPorts();
  copy.loadState(JSON.parse(JSON.stringify(post.saveState())));
  assertEquals(copy.portRead(0x80, 1), 0x20);
});

Deno.test("debugcon 0xE9 and isa-debug-exit status (v << 1) | 1", () => {
  const out: number[] = [];
  const con = new DebugConsole((b) => out.push(b));
  con.portWrite(0xe9, 1, 0x4f);
  assertEquals([out, con.portRead(0xe9, 1)], [[0x4f], 0xe9]);
  const seen: number[] = [];
  const exit = new DebugExit((v) => seen.push(v));
  exit.portWrite(0xf4, 1, 0x00);
  exit.portWrite(0xf4, 2, 0x1234);
  exit.portWrite(0xf4, 4, 0x31);
  assertEquals(seen, [0, 0x1234, 0x31]);
  assertEquals(seen.map(debugExitStatus), [1, 0x69, 0x63]);
});

Deno.test("fw_cfg: signature, ID, RAM size (u64 LE), CPU count, absent key reads 0", () => {
  const fw = new FwCfg({ ramBytes: 3 * 1024 ** 3, cpus: 1 });
  const readItem = (key: number, n: number) => {
    fw.portWrite(0x510, 2, key);
    return Array.from({ length: n }, () => fw.portRead(0x511, 1));
  };
  assertEquals(String.fromCharCode(...readItem(FwCfgKey.signature, 4)), "QEMU");
  assertEquals(readItem(FwCfgKey.id, 4), [1, 0, 0, 0]);
  assertEquals(readItem(FwCfgKey.ramSize, 8), [0, 0, 0, 0xc0, 0, 0, 0, 0]);
  assertEquals(readItem(FwCfgKey.nbCpus, 3), [1, 0, 0]); // past the end: 0
  assertEquals(readItem(0x1234, 2), [0, 0]);
});
