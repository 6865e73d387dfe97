import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { Uart } from "../../core/devices/uart.ts";
import { advance, recordingIrq } from "./clock_util.ts";

const COM1 = 0x3f8;

function setup(input?: string, gate = true) {
  const clock = new VirtualClock();
  const irq = recordingIrq(clock);
  const out: number[] = [];
  const uart = new Uart({
    clock,
    irq,
    sink: (b) => out.push(b),
    input: input === undefined ? undefined : new TextEncoder().encode(input),
    gateIrqWithOut2: gate,
  });
  return { clock, irq, out, uart };
}

/** 115200 baud 8N1 with IRQs routed (OUT2) as Linux sets the port up. */
function init(uart: Uart, fcr = 0) {
  uart.portWrite(COM1 + 3, 1, 0x80);
  uart.portWrite(COM1 + 0, 1, 0x01);
  uart.portWrite(COM1 + 1, 1, 0x00);
  uart.portWrite(COM1 + 3, 1, 0x03);
  uart.portWrite(COM1 + 2, 1, fcr);
  uart.portWrite(COM1 + 4, 1, 0x0b); // DTR, RTS, OUT2
}

Deno.test("16550: THR bytes reach the sink; LSR reports THRE and TEMT", () => {
  const { out, uart } = setup();
  init(uart);
  for (const b of new TextEncoder().encode("hi\n")) uart.portWrite(COM1, 1, b);
  assertEquals(out, [0x68, 0x69, 0x0a]);
  assertEquals(uart.portRead(COM1 + 5, 1) & 0x61, 0x60);
});

Deno.test("16550: DLAB selects the divisor latch; scratch register holds a byte", () => {
  const { out, uart } = setup();
  uart.portWrite(COM1 + 3, 1, 0x83);
  uart.portWrite(COM1, 1, 0x34);
  uart.portWrite(COM1 + 1, 1, 0x12);
  assertEquals(uart.portRead(COM1, 1), 0x34);
  assertEquals(uart.portRead(COM1 + 1, 1), 0x12);
  assertEquals(out, []); // divisor writes are not transmitted
  uart.portWrite(COM1 + 3, 1, 0x03);
  assertEquals(uart.portRead(COM1 + 1, 1), 0x00); // IER
  uart.portWrite(COM1 + 7, 1, 0xa5);
  assertEquals(uart.portRead(COM1 + 7, 1), 0xa5);
});

Deno.test("16550: loopback mirrors MCR into MSR (Linux autoconfig) and THR into RBR", () => {
  const { out, uart } = setup();
  assertEquals(uart.portRead(COM1 + 6, 1) & 0xf0, 0xb0);
  uart.portWrite(COM1 + 4, 1, 0x10);
  uart.portRead(COM1 + 6, 1); // clear deltas
  uart.portWrite(COM1 + 4, 1, 0x1a); // loop, OUT2, RTS
  const msr = uart.portRead(COM1 + 6, 1);
  assertEquals(msr & 0xf0, 0x90);
  assertEquals(msr & 0x0f, 0x09); // DCTS and DDCD changed
  assertEquals(uart.portRead(COM1 + 6, 1) & 0x0f, 0); // deltas clear on read
  uart.portWrite(COM1, 1, 0x55);
  assertEquals(out, []);
  assertEquals(uart.portRead(COM1 + 5, 1) & 1, 1);
  assertEquals(uart.portRead(COM1, 1), 0x55);
  assertEquals(uart.portRead(COM1 + 5, 1) & 1, 0);
});

Deno.test("16550: THRE interrupt on ETBEI, cleared by IIR read, gated by OUT2", () => {
  const { irq, uart } = setup();
  init(uart);
  uart.portWrite(COM1 + 1, 1, 0x02);
  assertEquals(uart.portRead(COM1 + 2, 1), 0x02);
  assertEquals(uart.portRead(COM1 + 2, 1), 0x01); // cleared by the previous read
  assertEquals(irq.log.map(([, n, l]) => [n, l]), [[4, true], [4, false]]);
  uart.portWrite(COM1, 1, 0x41); // a transmitted byte re-signals THRE as a fresh edge
  assertEquals(irq.rising(4).length, 2);
  uart.portWrite(COM1 + 4, 1, 0x03); // OUT2 off: line released though THRE pending
  assertEquals(irq.log[irq.log.length - 1][2], false);
  assertEquals(uart.portRead(COM1 + 2, 1), 0x02);
});

Deno.test("16550: scripted input arrives one character time apart (115200 8N1 = 10 bits)", () => {
  const { clock, uart } = setup("ab");
  init(uart);
  const charInsns = clock.nanosToInsns(10 * 1e9 / 115200);
  advance(clock, clock.icount + charInsns + 1);
  assertEquals(uart.portRead(COM1 + 5, 1) & 1, 1);
  assertEquals(uart.portRead(COM1, 1), 0x61);
  assertEquals(uart.portRead(COM1 + 5, 1) & 1, 0);
  advance(clock, clock.icount + charInsns + 1);
  assertEquals(uart.portRead(COM1, 1), 0x62);
});

Deno.test("16550 FIFO: trigger-level RDA interrupt, then character timeout for the rest", () => {
  const { clock, irq, uart } = setup("abcdef");
  init(uart, 0x47); // FIFO on, clear RX, trigger 4
  uart.portWrite(COM1 + 1, 1, 0x01); // ERBFI
  const charInsns = clock.nanosToInsns(10 * 1e9 / 115200);
  advance(clock, clock.icount + 4 * charInsns + 10);
  assertEquals(uart.portRead(COM1 + 2, 1), 0xc4); // RDA, FIFOs enabled
  ok(irq.rising(4).length === 1);
  let got = "";
  for (let i = 0; i < 4; i++) got += String.fromCharCode(uart.portRead(COM1, 1));
  assertEquals(got, "abcd");
  advance(clock, clock.icount + 2 * charInsns + 10); // "ef" arrive: below the trigger
  assertEquals(uart.portRead(COM1 + 2, 1), 0xc1);
  advance(clock, clock.icount + 4 * charInsns + 10);
  assertEquals(uart.portRead(COM1 + 2, 1), 0xcc); // character timeout
  got = String.fromCharCode(uart.portRead(COM1, 1), uart.portRead(COM1, 1));
  assertEquals(got, "ef");
  assertEquals(uart.portRead(COM1 + 2, 1), 0xc1);
});

Deno.test("16550: perfect flow control - no byte is lost when the guest reads late", () => {
  const text = "The quick brown fox jumps over the lazy dog";
  const { clock, uart } = setup(text);
  init(uart, 0x07);
  advance(clock, 50_000_000); // far longer than the whole string takes on the line
  let got = "";
  for (let i = 0; i < 100 && got.length < text.length; i++) {
    advance(clock, clock.icount + 100_000);
    while (uart.portRead(COM1 + 5, 1) & 1) got += String.fromCharCode(uart.portRead(COM1, 1));
  }
  assertEquals(got, text);
  assertEquals(uart.portRead(COM1 + 5, 1) & 0x02, 0); // no overrun
});

Deno.test("16550: state round-trips mid-stream and input continues identically", () => {
  const a = setup("0123456789");
  init(a.uart, 0x01);
  advance(a.clock, 300_000);
  const state = JSON.parse(JSON.stringify(a.uart.saveState()));
  const b = setup();
  b.clock.icount = a.clock.icount;
  b.uart.loadState(state);
  const drain = (s: ReturnType<typeof setup>) => {
    let got = "";
    for (let t = 1; t <= 40; t++) {
      advance(s.clock, 300_000 + t * 50_000);
      while (s.uart.portRead(COM1 + 5, 1) & 1) {
        got += `${s.clock.icount}:${s.uart.portRead(COM1, 1)} `;
      }
    }
    return got;
  };
  const ga = drain(a);
  assertEquals(drain(b), ga);
  ok(ga.split(" ").length > 5);
});
