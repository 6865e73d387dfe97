/**
 * The written-pages invariant (core/memory.ts): a RAM page never marked is all zeros, whatever
 * wrote the others (CPU through the TLB, page-table A/D updates, loaders, backends writing
 * pvclock and para-state structures, snapshot restore). The final-state digest relies on it.
 */

import assert from "node:assert/strict";
import { Machine } from "../../core/machine.ts";
import { encodeSnapshot, restoreSnapshot } from "../../core/snapshot.ts";
import { Recorder } from "../../traces/session/recorder.ts";
import { openSession } from "../../traces/session/session.ts";
import { SCENARIOS, suiteCase } from "../../traces/session/suite.ts";
import { IMAGE_DIR } from "../../traces/format/guest_image.ts";

/** Pages holding a non-zero byte without being marked written. */
function unmarked(m: Machine): number[] {
  const { ram, writtenPages } = m.memory;
  const out: number[] = [];
  for (let page = 0; page < writtenPages.length; page++) {
    if (writtenPages[page] !== 0) continue;
    if (ram.subarray(page * 4096, page * 4096 + 4096).some((b) => b !== 0)) out.push(page);
  }
  return out;
}

const KERNEL = Deno.readFileSync(`${IMAGE_DIR}/pvkernel-2.6.22.elf`);

for (const backend of ["native", "kvm@2.6.22", "kvm"]) {
  Deno.test(`every page the scenarios write is marked (${backend})`, () => {
    for (const scenario of SCENARIOS) {
      const c = suiteCase("2.6.22", scenario);
      const s = openSession(
        { image: KERNEL, imageName: c.image, cmdline: c.cmdline, backend },
        new Recorder({ append() {} }),
      );
      s.run(400_000_000);
      assert.deepEqual(unmarked(s.machine), [], `${scenario} on ${backend}`);
      const marked = s.machine.memory.writtenPages.reduce((n, v) => n + v, 0);
      assert.ok(marked < s.machine.memory.writtenPages.length / 4, `${marked} pages marked`);
    }
  });
}

Deno.test("every page the CPU test kernels write is marked (real, v86, paging, tasks, ...)", () => {
  const dir = "guests/cputests/images";
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.endsWith(".elf") || e.name.startsWith("bench_")) continue;
    const m = new Machine({});
    m.bootMultiboot(Deno.readFileSync(`${dir}/${e.name}`), { file: e.name });
    m.run(50_000_000);
    assert.deepEqual(unmarked(m), [], e.name);
  }
});

Deno.test("a restored snapshot's pages are marked", () => {
  const m = new Machine({});
  m.bootMultiboot(KERNEL, { file: "pvkernel-2.6.22.elf", cmdline: "scenario=mmu" });
  m.run(3_000_000);
  const r = restoreSnapshot(encodeSnapshot(m));
  assert.deepEqual(unmarked(r), []);
});
