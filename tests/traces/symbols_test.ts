import assert from "node:assert/strict";
import { diffCommand } from "../../cli/diff.ts";
import { parseElf } from "../../core/loaders/elf.ts";
import { memoryIo } from "../../cli/io.ts";
import { makeEvent, type TraceEvent } from "../../vocabulary/event.ts";
import { sha256Hex } from "../../traces/format/guest_image.ts";
import { guestSymbolizer, parseNmSymbols } from "../../traces/analysis/symbols.ts";
import { PROJECT_IMAGE_DIR } from "../../traces/format/guest_image.ts";
import { encodeTrace } from "../../traces/format/writer.ts";
import { buildElf } from "../loaders/elf_fixture.ts";
import { testHeader } from "./synthetic.ts";

/** A small kernel image: two sized functions, an assembly label and a data object. */
const KERNEL = buildElf({
  entry: 0xc0100000,
  segments: [{ paddr: 0x100000, vaddr: 0xc0100000, data: new Uint8Array(0x300) }],
  symbols: [
    { name: "startup_32", value: 0xc0100000, size: 0x40 },
    { name: "serial_putc", value: 0xc0100100, size: 0x20 },
    { name: "idle_loop", value: 0xc0100200, type: 0 },
    { name: "jiffies", value: 0xc0100280, size: 4, type: 1 },
  ],
});

const guest = (name: string, bytes: Uint8Array) => ({
  guest: { name, sha256: sha256Hex(bytes), cmdline: "" },
});

function withDirs<T>(f: (a: string, b: string) => T): T {
  const a = Deno.makeTempDirSync(), b = Deno.makeTempDirSync();
  try {
    return f(a, b);
  } finally {
    Deno.removeSync(a, { recursive: true });
    Deno.removeSync(b, { recursive: true });
  }
}

Deno.test("guest symbols: ELF symbol table of the image with the recorded SHA-256", () => {
  withDirs((dir) => {
    Deno.writeFileSync(`${dir}/k.elf`, KERNEL);
    const sym = guestSymbolizer(guest("k.elf", KERNEL), { imageDirs: [dir] });
    assert.ok(sym);
    assert.equal(sym(0xc0100000), "startup_32");
    assert.equal(sym(0xc010003f), "startup_32+0x3f");
    assert.equal(sym(0xc0100050), null); // past startup_32's st_size, before serial_putc
    assert.equal(sym(0xc0100104 | 0), "serial_putc+0x4"); // EIPs arrive in either signedness
    assert.equal(sym(0xc0100290), "idle_loop+0x90"); // unsized label; the data object is skipped
    assert.equal(sym(0xc00fffff), null);
    // A URL directory (with or without the trailing slash) works the same.
    const url = new URL(`file://${dir}`);
    assert.equal(
      guestSymbolizer(guest("k.elf", KERNEL), { imageDirs: [url] })?.(0xc0100001),
      "startup_32+0x1",
    );
  });
});

Deno.test("guest symbols: a different build, a path or a non-ELF image give none", () => {
  withDirs((a, b) => {
    const other = buildElf({
      entry: 0xc0100000,
      segments: [{ paddr: 0x100000, vaddr: 0xc0100000, data: new Uint8Array(16) }],
      symbols: [{ name: "other_build", value: 0xc0100000, size: 16 }],
    });
    Deno.writeFileSync(`${a}/k.elf`, other);
    Deno.writeFileSync(`${b}/k.elf`, KERNEL);
    // Directories in order; the first holds another build of the same name: skipped.
    assert.equal(
      guestSymbolizer(guest("k.elf", KERNEL), { imageDirs: [a, b] })?.(0xc0100000),
      "startup_32",
    );
    assert.equal(guestSymbolizer(guest("k.elf", KERNEL), { imageDirs: [a] }), null);
    // A header naming a path is never followed, even to a matching image.
    assert.equal(
      guestSymbolizer(guest(`../${b.split("/").pop()}/k.elf`, KERNEL), { imageDirs: [a] }),
      null,
    );
    // A flat binary image has no symbols; neither has an ELF without a symbol table.
    const flat = new Uint8Array([0xfa, 0xf4]);
    Deno.writeFileSync(`${a}/flat.bin`, flat);
    assert.equal(guestSymbolizer(guest("flat.bin", flat), { imageDirs: [a] }), null);
    const stripped = buildElf({
      entry: 0x100000,
      segments: [{ paddr: 0x100000, data: new Uint8Array(4) }],
    });
    Deno.writeFileSync(`${a}/stripped.elf`, stripped);
    assert.equal(guestSymbolizer(guest("stripped.elf", stripped), { imageDirs: [a] }), null);
  });
});

Deno.test("guest symbols: a matching image that cannot be parsed or an unreadable file is a warning", () => {
  withDirs((dir) => {
    const broken = KERNEL.slice(0, 40); // ELF magic, cut inside the ELF header
    Deno.writeFileSync(`${dir}/k.elf`, broken);
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    assert.equal(guestSymbolizer(guest("k.elf", broken), { imageDirs: [dir], warn }), null);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /k\.elf: too short for an ELF header/);
    // An unreadable file (here a directory) is one too; a missing file is not worth one (most
    // traces' images are elsewhere).
    Deno.mkdirSync(`${dir}/d.elf`);
    assert.equal(guestSymbolizer(guest("d.elf", broken), { imageDirs: [dir], warn }), null);
    assert.equal(warnings.length, 2);
    assert.match(warnings[1], /d\.elf: /);
    assert.equal(guestSymbolizer(guest("absent.elf", broken), { imageDirs: [dir], warn }), null);
    assert.equal(warnings.length, 2);
  });
});

Deno.test("guest symbols: the project's images by default, from any working directory", () => {
  const name = "pvkernel-2.6.22.elf";
  const image = Deno.readFileSync(new URL(name, PROJECT_IMAGE_DIR));
  const start = parseElf(image, name).symbols.find((s) => s.name === "start_kernel");
  assert.ok(start && start.size > 0x10);
  const cwd = Deno.cwd(), tmp = Deno.makeTempDirSync();
  Deno.chdir(tmp);
  try {
    assert.equal(guestSymbolizer(guest(name, image))?.(start.value + 0x10), "start_kernel+0x10");
  } finally {
    Deno.chdir(cwd);
    Deno.removeSync(tmp, { recursive: true });
  }
});

Deno.test("nm symbols: text symbols only, nearest at or below, aliases by name", () => {
  const sym = parseNmSymbols(
    "c0100000 T a\nc0100100 t b\nc0100100 W a_alias_of_b\nc0200000 D data\n         U ext\n",
  );
  assert.equal(sym(0xc0100000), "a");
  assert.equal(sym(0xc01000ff), "a+0xff");
  assert.equal(sym(0xc0100100), "a_alias_of_b");
  assert.equal(sym(0xc0300000 | 0), "a_alias_of_b+0x1fff00"); // nm has no sizes: no upper bound
  assert.equal(sym(0x1000), null);
  assert.throws(() => parseNmSymbols("c0100000 T a\ngarbage here now\n"), /symbols line 2/);
});

Deno.test("diff reports name EIPs from each trace's guest image", async () => {
  const name = "pvkernel-2.6.22.elf";
  const image = Deno.readFileSync(new URL(name, PROJECT_IMAGE_DIR));
  const start = parseElf(image, name).symbols.find((s) => s.name === "start_kernel")!;
  const header = testHeader({ guest: { name, sha256: sha256Hex(image), cmdline: "" } });
  const cr3 = (pgd: number): TraceEvent => ({
    ...makeEvent({
      icount: 5,
      kind: "exit",
      name: "mov_cr3",
      eip: start.value + 0x12,
      op: "write_cr3",
      opArgs: [pgd],
    }),
    seq: 0,
  });
  const dir = Deno.makeTempDirSync();
  try {
    const a = `${dir}/a.pvt`, b = `${dir}/b.pvt`;
    Deno.writeFileSync(a, encodeTrace(header, [cr3(0x1000)], { finalDigest: "00" }));
    Deno.writeFileSync(b, encodeTrace(header, [cr3(0x2000)], { finalDigest: "00" }));
    const io = memoryIo();
    assert.equal(await diffCommand([a, b], io), 1);
    assert.match(io.stdout(), /first divergence: arguments write_cr3/);
    assert.match(
      io.stdout(),
      / {2}A: seq 0 icount 5 eip 0x[0-9a-f]+ <start_kernel\+0x12> write_cr3/,
    );
    assert.equal(io.stderr(), "");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
