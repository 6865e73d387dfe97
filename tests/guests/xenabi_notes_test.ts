/**
 * Reads guests/images/xenabi.elf the way a Xen 3.x domain builder does (PT_NOTE "Xen"
 * notes, elfnote.h type numbers) and checks what the loader relies on: the entry note
 * is the ELF entry, the hypercall page is a page-aligned, zero-filled 4 KiB inside the
 * loaded image, virtual = physical + VIRT_BASE - PADDR_OFFSET for every PT_LOAD, and the
 * version/loader strings Xen 3.1's libelf demands ("xen-3.0", "generic").
 */
import assert from "node:assert/strict";

const IMAGE = new URL("../../guests/images/xenabi.elf", import.meta.url);

interface Phdr {
  type: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
}

function phdrs(b: Uint8Array, v: DataView): Phdr[] {
  assert.deepEqual([...b.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], "ELF magic");
  assert.equal(b[4], 1, "ELFCLASS32");
  const phoff = v.getUint32(28, true);
  const phentsize = v.getUint16(42, true);
  const out: Phdr[] = [];
  for (let i = 0; i < v.getUint16(44, true); i++) {
    const o = phoff + i * phentsize;
    out.push({
      type: v.getUint32(o, true),
      offset: v.getUint32(o + 4, true),
      vaddr: v.getUint32(o + 8, true),
      paddr: v.getUint32(o + 12, true),
      filesz: v.getUint32(o + 16, true),
      memsz: v.getUint32(o + 20, true),
    });
  }
  return out;
}

function xenNotes(b: Uint8Array, v: DataView, ph: Phdr[]): Map<number, Uint8Array> {
  const notes = new Map<number, Uint8Array>();
  for (const p of ph.filter((p) => p.type === 4)) {
    for (let o = p.offset; o < p.offset + p.filesz;) {
      const namesz = v.getUint32(o, true), descsz = v.getUint32(o + 4, true);
      const type = v.getUint32(o + 8, true);
      const name = new TextDecoder().decode(b.subarray(o + 12, o + 12 + namesz));
      const desc = o + 12 + ((namesz + 3) & ~3);
      if (name === "Xen\0") notes.set(type, b.subarray(desc, desc + descsz));
      o = desc + ((descsz + 3) & ~3);
    }
  }
  return notes;
}

const str = (d: Uint8Array | undefined) => new TextDecoder().decode(d).replace(/\0$/, "");
const u32 = (d: Uint8Array | undefined) => {
  assert.ok(d && d.length === 4, "a 4-byte numeric note");
  return new DataView(d.buffer, d.byteOffset, 4).getUint32(0, true);
};

Deno.test("xenabi.elf carries the Xen ELF notes a 3.x domain builder reads", async () => {
  const b = await Deno.readFile(IMAGE);
  const v = new DataView(b.buffer);
  const ph = phdrs(b, v);
  const n = xenNotes(b, v, ph);
  for (const t of [1, 2, 3, 4, 5, 6, 8, 10]) assert.ok(n.has(t), `Xen note type ${t} present`);
  assert.equal(u32(n.get(1)), v.getUint32(24, true), "ENTRY note = e_entry");
  assert.equal(str(n.get(5)), "xen-3.0");
  assert.equal(str(n.get(8)), "generic");
  const base = u32(n.get(3)), poff = u32(n.get(4));
  assert.equal(base, 0xc0000000);
  const loads = ph.filter((p) => p.type === 1);
  assert.ok(loads.length > 0);
  for (const p of loads) assert.equal(p.vaddr, p.paddr + base - poff, "virt = paddr + base - off");
  const page = u32(n.get(2));
  assert.equal(page % 4096, 0, "hypercall page aligned");
  const seg = loads.find((p) => page >= p.vaddr && page + 4096 <= p.vaddr + p.filesz);
  assert.ok(seg, "hypercall page inside a loaded segment's file image");
  const at = seg.offset + (page - seg.vaddr);
  assert.ok(b.subarray(at, at + 4096).every((x) => x === 0), "page zero until Xen fills it");
  assert.ok(!loads.some((p) => p.vaddr + p.memsz > 0xfc000000), "image below the hypervisor hole");
});
