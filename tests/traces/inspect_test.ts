import assert from "node:assert/strict";
import { inspectCommand } from "../../cli/inspect.ts";
import { memoryIo } from "../../cli/io.ts";
import type { TraceEvent } from "../../vocabulary/event.ts";
import { parseFilter, parseRange, selects, StatsCollector } from "../../traces/analysis/inspect.ts";
import { fromJsonl, toJsonl } from "../../traces/format/jsonl.ts";
import { readTrace } from "../../traces/format/reader.ts";
import { parseElf } from "../../core/loaders/elf.ts";
import { sha256Hex } from "../../traces/format/guest_image.ts";
import { PROJECT_IMAGE_DIR } from "../../traces/format/guest_image.ts";
import { encodeTrace, TraceWriter } from "../../traces/format/writer.ts";
import { syntheticEvents, testHeader } from "./synthetic.ts";

function ev(
  seq: number,
  icount: number,
  kind: TraceEvent["kind"],
  name: string,
  op: string | null = null,
): TraceEvent {
  return {
    seq,
    icount,
    vcpu: 0,
    kind,
    nr: -1,
    name,
    args: [],
    ret: null,
    vector: null,
    errorCode: null,
    cr2: null,
    eip: 0xc0100010,
    op,
    opArgs: [],
    state: [],
  };
}

Deno.test("stats: counts, shares and icount gaps per name and per op", () => {
  const s = new StatsCollector();
  const events = [
    ev(0, 100, "io", "out"),
    ev(1, 110, "exit", "cli", "irq_disable"),
    ev(2, 130, "io", "out"),
    ev(3, 200, "io", "out"),
    ev(4, 260, "exit", "cli", "irq_disable"),
  ];
  for (const e of events) s.add(e);
  const r = s.result();
  assert.equal(r.events, 5);
  assert.equal(r.firstIcount, 100);
  assert.equal(r.lastIcount, 260);
  assert.deepStrictEqual(r.byName[0], {
    key: "io:out",
    count: 3,
    share: 60,
    gapMin: 30,
    gapMean: 50,
    gapMax: 70,
  });
  assert.deepStrictEqual(r.byOp, [{
    key: "irq_disable",
    count: 2,
    share: 40,
    gapMin: 150,
    gapMean: 150,
    gapMax: 150,
  }]);
  const one = new StatsCollector();
  one.add(events[0]);
  assert.equal(one.result().byName[0].gapMean, null);
});

Deno.test("filters and ranges", () => {
  const f = parseFilter("kind=exit,name=CR_WRITE");
  parseFilter("name=cli", f);
  const cr = { ...ev(5, 0, "exit", "CR_WRITE"), nr: 4 };
  assert.ok(selects(cr, null, f));
  assert.ok(selects(ev(5, 0, "exit", "cli"), null, f));
  assert.ok(!selects(ev(5, 0, "io", "cli"), null, f));
  assert.ok(selects(cr, null, parseFilter("nr=0x4")));
  assert.ok(!selects(cr, parseRange("6.."), new Map()));
  assert.ok(selects(cr, parseRange("..5"), new Map()));
  assert.deepStrictEqual(parseRange("0x10..20"), { from: 16, to: 20 });
  assert.throws(() => parseRange("5..1"), RangeError);
  assert.throws(() => parseFilter("colour=red"), /bad filter/);
  assert.throws(() => parseFilter("kind=banana"), /kinds are/);
});

Deno.test("JSON Lines export/import is lossless, including truncation records", () => {
  const events = [...syntheticEvents(500, 8)];
  const t = readTrace(encodeTrace(testHeader(), events, { finalDigest: "abcd" }));
  const text = toJsonl(t);
  const back = fromJsonl(text);
  assert.deepStrictEqual(back.events, events);
  assert.deepStrictEqual(back.header, t.header);
  assert.deepStrictEqual(back.footer, t.footer);
  assert.equal(toJsonl(back), text);
  const first = JSON.parse(text.split("\n")[1]);
  for (
    const k of [
      "seq",
      "icount",
      "kind",
      "backend",
      "nr",
      "name",
      "args",
      "ret",
      "vector",
      "error_code",
      "eip",
      "op",
    ]
  ) {
    assert.ok(k in first, k);
  }
  const cut = toJsonl({
    ...t,
    footer: null,
    truncation: { reason: "x", validEvents: 1, byteOffset: 9, aborted: false },
  });
  assert.equal(fromJsonl(cut).truncation?.byteOffset, 9);
  const lines = text.split("\n");
  lines[3] = lines[3].replace('"kind":"', '"kind":"bogus');
  assert.throws(() => fromJsonl(lines.join("\n")), /line 4: trace event seq 2: kind/);
  assert.throws(() => fromJsonl('{"type":"event"}'), /line 1: the first line must be the header/);
});

Deno.test("inspect CLI: dump, JSON, stats side by side, header, truncated exit 3", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const a = `${dir}/a.pvt`, b = `${dir}/b.pvt`, syms = `${dir}/syms.txt`;
    Deno.writeFileSync(
      a,
      encodeTrace(testHeader(), syntheticEvents(2000, 1), { finalDigest: "01" }),
    );
    const w = TraceWriter.create(b, testHeader({ backend: { name: "kvm", profile: "2.6.22" } }));
    for (const e of syntheticEvents(700, 2)) w.append(e);
    w.flush();
    w.abort("SIGINT");
    Deno.writeTextFileSync(
      syms,
      "c01f0a00 T serial_putc\nc0101000 t irq_entry\n         U undefined_sym\n",
    );

    let io = memoryIo();
    assert.equal(await inspectCommand([a, "--range", "3..5", "--symbols", syms], io), 0);
    const rows = io.stdout().trim().split("\n");
    assert.equal(rows.length, 4);
    assert.match(rows[1], /^\s+3\s/);
    assert.match(io.stdout(), /<serial_putc\+0x/);

    io = memoryIo();
    assert.equal(await inspectCommand([a, "--json", "--filter", "op=write_cr3"], io), 0);
    const lines = io.stdout().trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.length > 2);
    assert.ok(
      lines.slice(0, -1).every((l) =>
        l.type === "event" && l.op === "write_cr3" && l.backend === "xen"
      ),
    );
    assert.equal(lines[lines.length - 1].type, "footer");

    io = memoryIo();
    assert.equal(await inspectCommand([a, b, "--stats"], io), 3);
    assert.match(io.stdout(), /io:in/);
    assert.match(io.stdout(), /a\.pvt: 2000 events/);
    assert.match(io.stdout(), /b\.pvt: 700 events/);
    assert.match(
      io.stderr(),
      /b\.pvt: truncated at byte \d+: aborted: SIGINT \(700 events readable\)/,
    );

    io = memoryIo();
    assert.equal(await inspectCommand([b, "--stats", "--json"], io), 3);
    const st = JSON.parse(io.stdout());
    assert.equal(st.events, 700);
    assert.equal(st.by_name.reduce((n: number, r: { count: number }) => n + r.count, 0), 700);

    io = memoryIo();
    assert.equal(await inspectCommand([b, "--header"], io), 0);
    assert.match(io.stdout(), /backend:\s+kvm 2\.6\.22/);

    // Corruption: a flipped payload byte in the second chunk.
    const bytes = Deno.readFileSync(a);
    bytes[bytes.length - 200] ^= 0xff;
    Deno.writeFileSync(a, bytes);
    io = memoryIo();
    assert.equal(await inspectCommand([a, "--json"], io), 3);
    const out = io.stdout().trim().split("\n");
    assert.equal(JSON.parse(out[out.length - 1]).type, "error");
    assert.match(io.stderr(), /corrupt: trace format error at byte \d+/);

    assert.equal(await inspectCommand([`${dir}/missing.pvt`], memoryIo()), 2);
    assert.equal(await inspectCommand([a, "--bogus"], memoryIo()), 2);
    assert.equal(await inspectCommand(["--help"], memoryIo()), 0);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("inspect names EIPs from the recorded guest image; --symbols overrides", async () => {
  const name = "pvkernel-2.6.22.elf";
  const image = Deno.readFileSync(new URL(name, PROJECT_IMAGE_DIR));
  const start = parseElf(image, name).symbols.find((s) => s.name === "start_kernel")!;
  const events = [
    { ...ev(0, 10, "exit", "cli", "irq_disable"), eip: start.value + 0x12 },
    { ...ev(1, 20, "io", "out"), eip: 0x10 }, // below every symbol
  ];
  const dir = Deno.makeTempDirSync();
  try {
    const guest = { name, sha256: sha256Hex(image), cmdline: "" };
    const file = `${dir}/t.pvt`, other = `${dir}/o.pvt`, syms = `${dir}/syms.txt`;
    Deno.writeFileSync(file, encodeTrace(testHeader({ guest }), events, { finalDigest: "00" }));
    const rebuilt = { ...guest, sha256: "cd".repeat(32) }; // same name, another build
    Deno.writeFileSync(
      other,
      encodeTrace(testHeader({ guest: rebuilt }), events, { finalDigest: "00" }),
    );
    Deno.writeTextFileSync(syms, `${(start.value + 0x10).toString(16)} T from_nm\n`);

    let io = memoryIo();
    assert.equal(await inspectCommand([file], io), 0);
    const rows = io.stdout().trim().split("\n");
    assert.match(rows[1], /<start_kernel\+0x12> /);
    assert.doesNotMatch(rows[2], /</);
    assert.equal(io.stderr(), "");

    io = memoryIo();
    assert.equal(await inspectCommand([file, "--symbols", syms], io), 0);
    assert.match(io.stdout(), /<from_nm\+0x2> /);
    assert.doesNotMatch(io.stdout(), /start_kernel/);

    io = memoryIo();
    assert.equal(await inspectCommand([other], io), 0);
    assert.doesNotMatch(io.stdout(), /</);

    io = memoryIo();
    assert.equal(await inspectCommand([file, "--json"], io), 0); // JSON Lines keep §8's schema
    assert.doesNotMatch(io.stdout(), /start_kernel/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
