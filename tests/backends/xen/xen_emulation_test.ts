/**
 * What the Xen backend checks and emulates for a ring-1 kernel, unit by unit
 * (docs/abi/xen.md §4.1, §8): Xen's descriptor check, the forced-emulation CPUID, the PTE
 * stores the writable-page-tables assist decodes, the privileged instructions it emulates.
 */

import assert from "node:assert/strict";
import { checkDescriptor } from "../../../backends/xen/descriptors.ts";
import {
  decodePrivileged,
  decodeStore,
  isForcedCpuid,
  xenCpuid,
} from "../../../backends/xen/emulate.ts";
import { XEN_PROFILES } from "../../../backends/xen/profiles.ts";

Deno.test("check_descriptor: DPL 0 raised to 1, flat limits truncated at the M2P's end", () => {
  // Linux's __KERNEL_CS: base 0, limit 0xfffff pages, DPL 0, code.
  const [lo, hi] = checkDescriptor(0x0000ffff, 0x00cf9a00)!;
  assert.equal((hi >>> 13) & 3, 1);
  const limit = ((hi & 0xf0000) | (lo & 0xffff)) >>> 0;
  assert.equal((limit + 1) * 4096, 0xfc400000);
  // Already below: unchanged. Not present: accepted as is.
  assert.deepEqual(checkDescriptor(0x0000ffff, 0x0040ba00), [0x0000ffff, 0x0040ba00]);
  assert.deepEqual(checkDescriptor(0x12345678, 0x00001200), [0x12345678, 0x00001200]);
  // Byte-granular segment reaching into the hole cannot be truncated: refused.
  assert.equal(checkDescriptor(0x0000ffff, 0xfc4fb238), null); // 1 MiB at 0xfc380000
  // A base inside the hole is refused.
  assert.equal(checkDescriptor(0x0000ffff, 0xfdcfb200), null);
});

Deno.test("check_descriptor: only call gates among system descriptors", () => {
  assert.equal(checkDescriptor(0x00000067, 0x00008900), null); // 32-bit TSS
  assert.equal(checkDescriptor(0x00000000, 0x00008200), null); // LDT
  assert.equal(checkDescriptor(0x00600000, 0x0000ee00), null); // interrupt gate
  const gate = checkDescriptor(0x00601234, 0x0000ec00)!; // call gate to 0x60, RPL 0
  assert.equal(gate[0] >>> 16, 0x61);
  assert.equal(checkDescriptor(0xe0081234, 0x0000ec00), null); // to Xen's ring-0 CS
});

Deno.test("forced CPUID: Xen's leaf-1 masks, its leaves from 3.0.3", () => {
  const out = new Int32Array(4);
  xenCpuid(XEN_PROFILES["3.1"], 1, 0, out);
  for (const bit of [1, 2, 3, 11, 12, 13]) assert.equal(out[3] & (1 << bit), 0, `bit ${bit}`);
  assert.ok(out[3] & (1 << 4)); // TSC stays
  xenCpuid(XEN_PROFILES["3.2"], 0x40000000, 0, out);
  assert.deepEqual([...out], [0x40000002, 0x566e6558, 0x65584d4d, 0x4d4d566e]);
  xenCpuid(XEN_PROFILES["3.2"], 0x40000001, 0, out);
  assert.equal(out[0], 0x30002);
  xenCpuid(XEN_PROFILES["3.0.2"], 0x40000000, 0, out);
  assert.notEqual(out[1], 0x566e6558);
  assert.ok(isForcedCpuid([0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2]));
  assert.ok(!isForcedCpuid([0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0x0b]));
});

Deno.test("writable page tables decode the PTE stores gcc emits", () => {
  const regs = new Int32Array([0x1000, 0, 0x12345067, 0x00400000, 0, 0, 8, 0]);
  // mov %edx,(%ebx)
  assert.deepEqual(decodeStore([0x89, 0x13], regs), { ea: 0x400000, value: 0x12345067, length: 2 });
  // mov %edx,0x10(%ebx,%esi,4)
  assert.deepEqual(decodeStore([0x89, 0x54, 0xb3, 0x10], regs), {
    ea: 0x400030,
    value: 0x12345067,
    length: 4,
  });
  // movl $0,0x400ffc
  assert.deepEqual(decodeStore([0xc7, 0x05, 0xfc, 0x0f, 0x40, 0x00, 0, 0, 0, 0], regs), {
    ea: 0x400ffc,
    value: 0,
    length: 10,
  });
  assert.equal(decodeStore([0x88, 0x13], regs), null); // a byte store: reflected
  assert.equal(decodeStore([0x89, 0xd3], regs), null); // register to register
});

Deno.test("ring-1 privileged instructions Xen emulates: WBINVD and CLTS only", () => {
  assert.deepEqual(decodePrivileged([0x0f, 0x09]), { name: "wbinvd", length: 2 });
  assert.deepEqual(decodePrivileged([0x0f, 0x06]), { name: "clts", length: 2 });
  assert.equal(decodePrivileged([0xfa]), null); // cli: reflected
  assert.equal(decodePrivileged([0x0f, 0x22, 0xd8]), null); // mov %eax,%cr3
});
