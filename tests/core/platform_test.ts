import assert from "node:assert/strict";
import { Machine } from "../../core/machine.ts";
import { MachinePlatform } from "../../core/platform.ts";
import { headerFromJson, headerToJson } from "../../traces/format/header.ts";

Deno.test("platform: reservations answer overlaps by linear range and GDT index", () => {
  const p = new MachinePlatform(new Machine({ memMiB: 4 }));
  p.reserveLinear("xen hole", 0xfc000000, 0x1_0000_0000);
  p.reserveGdt("xen gdt", 0xe000 / 8, 16);
  assert.equal(p.linearReservation(0xfbfff000, 0x1000), null);
  assert.equal(p.linearReservation(0xfbfff000, 0x1001)?.owner, "xen hole");
  assert.equal(p.gdtReservation(0xe008 / 8)?.owner, "xen gdt");
  assert.equal(p.gdtReservation(1), null);
});

Deno.test("platform: a bounce through an absent code selector fails and leaves state unchanged", () => {
  const m = new Machine({ memMiB: 4 });
  m.enterProtectedMode({ eip: 0x1000, eax: 0, ebx: 0, esp: 0x8000, gdtBase: 0, gdtLimit: 0 });
  const p = new MachinePlatform(m);
  const before = { eip: m.cpu.eip, esp: m.cpu.regs[4] };
  assert.equal(p.bounce({ cs: 0x19, eip: 0x2000, errorCode: -1, maskIf: false }), false);
  assert.deepEqual({ eip: m.cpu.eip, esp: m.cpu.regs[4] }, before);
});

Deno.test("header: boot protocol round-trips and is absent for multiboot", () => {
  const h = {
    toolVersion: "0.1.0",
    guest: { name: "g", sha256: "0".repeat(64), cmdline: "" },
    backend: { name: "native", profile: "p6" },
    machine: { memMiB: 32, ips: 1e8, tscHz: 1e8, apicHz: 1e8, epoch: 0, serialInput: "" },
    cpu: { cpuid: [] },
    seed: 0,
    quirks: [],
  };
  assert.equal("boot" in headerToJson(h), false);
  assert.equal(headerFromJson(headerToJson({ ...h, boot: "xen" })).boot, "xen");
  assert.throws(() => headerFromJson({ ...headerToJson(h), boot: "pxe" }), /boot/);
});
