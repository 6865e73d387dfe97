/**
 * Known-answer tests of the x87 FPU (core/cpu/x87/): rounding and precision control, denormals,
 * NaN propagation, masked and unmasked exceptions, stack faults, integer and BCD conversions,
 * comparisons, FXAM, partial remainders, transcendental results, and the FNSTENV/FNSAVE/FXSAVE
 * images. Expected values are exact (computed with rational arithmetic) or the SDM's defined
 * responses.
 */

import assert from "node:assert/strict";
import { run32, type TestMachine } from "../machine.ts";
import { fxrstor, fxsave } from "../../../core/cpu/x87_control.ts";

const DATA = 0x20000;

/** Runs `src` (then HLT) with 32-bit words `words` at DATA. */
function fpu(src: string, words: number[] = [], setup?: (m: TestMachine) => void): TestMachine {
  return run32(`${src}\n hlt`, (m) => {
    words.forEach((w, i) => m.mem.write32(DATA + i * 4, w));
    setup?.(m);
  });
}

/** The m80 at `addr` as "SEXP:SIGNIFICAND" hex. */
function x80(m: TestMachine, addr: number): string {
  const hi = m.mem.read32(addr + 4) >>> 0, lo = m.mem.read32(addr) >>> 0;
  return `${m.mem.read16(addr + 8).toString(16).padStart(4, "0")}:${
    hi.toString(16).padStart(8, "0")
  }${lo.toString(16).padStart(8, "0")}`;
}

const sw = (m: TestMachine) => m.cpu.fpuSw;

Deno.test("x87: 1/3 under each precision and rounding control", () => {
  const cases: Array<[number, string]> = [
    [0x37f, "3ffd:aaaaaaaaaaaaaaab"], // nearest, 64 bits
    [0x27f, "3ffd:aaaaaaaaaaaaa800"], // nearest, 53 bits
    [0x07f, "3ffd:aaaaab0000000000"], // nearest, 24 bits
    [0xb7f, "3ffd:aaaaaaaaaaaaaaab"], // up
    [0x77f, "3ffd:aaaaaaaaaaaaaaaa"], // down
    [0xf7f, "3ffd:aaaaaaaaaaaaaaaa"], // chop
  ];
  for (const [cw, want] of cases) {
    const m = fpu(
      `fninit\n fldcw [0x20010]\n fld1\n fidiv dword ptr [0x20000]\n fnstsw [0x20040]\n fstp tbyte ptr [0x20020]`,
      [3, 0, 0, 0, cw],
    );
    const fsw = m.mem.read16(DATA + 0x40);
    assert.equal(x80(m, DATA + 0x20), want, `cw ${cw.toString(16)}`);
    assert.equal(fsw & 0x3f, 0x20, "PE only");
    // C1 tells whether the result was rounded up (SDM Vol.1 8.1.3.3).
    assert.equal((fsw >> 9) & 1, /[b]0*$/.test(want) ? 1 : 0, `C1, cw ${cw.toString(16)}`);
  }
});

Deno.test("x87: denormals load exactly (DE), tiny inexact results underflow", () => {
  let m = fpu(`fninit\n fld dword ptr [0x20000]\n fstp tbyte ptr [0x20010]`, [1]);
  assert.equal(x80(m, DATA + 0x10), "3f6a:8000000000000000"); // 2^-149 normalized
  assert.equal(sw(m) & 0x3f, 0x02, "DE");
  // 2^-16382 * 0.75 is an exact extended denormal: no underflow while UE is masked.
  m = fpu(
    `fninit\n fld tbyte ptr [0x20000]\n fld tbyte ptr [0x20010]\n fmulp\n fstp tbyte ptr [0x20020]`,
    [0, 0x80000000, 1, 0, 0, 0xc0000000, 0x3ffe],
  );
  assert.equal(x80(m, DATA + 0x20), "0000:6000000000000000");
  assert.equal(sw(m) & 0x3f, 0);
  // 2^-16382 / 3 is tiny and inexact: UE and PE.
  m = fpu(
    `fninit\n fld tbyte ptr [0x20000]\n fidiv dword ptr [0x20010]\n fstp tbyte ptr [0x20020]`,
    [0, 0x80000000, 1, 0, 3],
  );
  assert.equal(x80(m, DATA + 0x20), "0000:2aaaaaaaaaaaaaab");
  assert.equal(sw(m) & 0x3f, 0x30);
});

Deno.test("x87: overflow gives infinity, or the largest finite value when chopping", () => {
  const src = (cw: number) =>
    `fninit\n mov word ptr [0x20030], ${cw}\n fldcw [0x20030]\n fld tbyte ptr [0x20000]\n` +
    ` fadd st, st\n fstp tbyte ptr [0x20010]`;
  const max = [0xffffffff, 0xffffffff, 0x7ffe];
  let m = fpu(src(0x37f), max);
  assert.equal(x80(m, DATA + 0x10), "7fff:8000000000000000");
  assert.equal(sw(m) & 0x3f, 0x28, "OE PE");
  m = fpu(src(0xf7f), max);
  assert.equal(x80(m, DATA + 0x10), "7ffe:ffffffffffffffff");
  // Unmasked OE: the result is delivered with the exponent re-biased by 24576.
  m = fpu(src(0x377), max);
  assert.equal(x80(m, DATA + 0x10), "1fff:ffffffffffffffff");
  assert.ok(sw(m) & 0x80, "ES");
});

Deno.test("x87: NaN propagation and invalid operations", () => {
  const qnan = [0, 0xc0000000, 0x7fff], snanBig = [0, 0xa0000000, 0x7fff];
  let m = fpu(
    `fninit\n fld tbyte ptr [0x20000]\n fld tbyte ptr [0x20010]\n faddp\n fstp tbyte ptr [0x20020]`,
    [...qnan, 0, ...snanBig],
  );
  // QNaN wins over an SNaN (x87 rule); the SNaN raises IE.
  assert.equal(x80(m, DATA + 0x20), "7fff:c000000000000000");
  assert.equal(sw(m) & 0x3f, 0x01);
  m = fpu(
    `fninit\n fld tbyte ptr [0x20010]\n fld tbyte ptr [0x20000]\n fmulp\n fstp tbyte ptr [0x20020]`,
    [0, 0xc0000001, 0xffff, 0, 0, 0xd0000000, 0x7fff],
  );
  assert.equal(x80(m, DATA + 0x20), "7fff:d000000000000000", "larger significand");
  m = fpu(`fninit\n fldz\n fldz\n fdivp\n fstp tbyte ptr [0x20020]`);
  assert.equal(x80(m, DATA + 0x20), "ffff:c000000000000000", "0/0 is the indefinite");
  assert.equal(sw(m) & 0x3f, 0x01);
  m = fpu(`fninit\n fld1\n fldz\n fdivp\n fstp tbyte ptr [0x20020]`);
  assert.equal(x80(m, DATA + 0x20), "7fff:8000000000000000");
  assert.equal(sw(m) & 0x3f, 0x04, "ZE");
  // An unnormal (exponent set, integer bit clear) is an unsupported encoding.
  m = fpu(
    `fninit\n fld tbyte ptr [0x20000]\n fld1\n faddp\n fstp tbyte ptr [0x20020]`,
    [0, 0x40000000, 0x3fff],
  );
  assert.equal(x80(m, DATA + 0x20), "ffff:c000000000000000");
});

Deno.test("x87: an unmasked exception keeps the destination and raises #MF at the next FWAIT", () => {
  const m = fpu(
    `mov eax, cr0\n or eax, 0x20\n mov cr0, eax\n fninit\n mov word ptr [0x20030], 0x37b\n` +
      ` fldcw [0x20030]\n fld1\n fldz\n fdivp st(1), st\n fnstsw [0x20040]\n fwait\n nop`,
  );
  assert.equal(m.mem.read16(DATA + 0x40) & 0xb8ff, 0xb084, "ZE ES B, TOP 6: nothing popped");
  assert.equal(m.cpu.fpuView.getUint16(7 * 10 + 8, true), 0x3fff, "ST(1) = 1.0 kept");
  assert.ok(m.events.some((e) => e[0] === "trap" && e[2] === 16), "#MF delivered");
});

Deno.test("x87: stack underflow and overflow (SF, C1) with masked responses", () => {
  let m = fpu(`fninit\n fadd st, st(1)\n fstp tbyte ptr [0x20020]`);
  assert.equal(sw(m) & 0x2ff, 0x41, "IE SF, C1 = 0");
  assert.equal(x80(m, DATA + 0x20), "ffff:c000000000000000");
  m = fpu(`fninit\n${" fld1\n".repeat(9)} fnstsw [0x20040]\n fstp tbyte ptr [0x20020]`);
  assert.equal(m.mem.read16(DATA + 0x40) & 0x2ff, 0x241, "IE SF, C1 = 1");
  assert.equal(x80(m, DATA + 0x20), "ffff:c000000000000000");
});

Deno.test("x87: integer stores round in the rounding mode; out of range is the indefinite", () => {
  const st = (cw: number) =>
    fpu(
      `fninit\n fldcw [0x20010]\n fld qword ptr [0x20000]\n fist dword ptr [0x20020]\n` +
        ` fistp word ptr [0x20024]`,
      [0, 0xc0040000, 0, 0, cw], // -2.5
    );
  assert.equal(st(0x37f).mem.read32(DATA + 0x20) | 0, -2);
  assert.equal(st(0x77f).mem.read32(DATA + 0x20) | 0, -3);
  assert.equal(st(0xb7f).mem.read32(DATA + 0x20) | 0, -2);
  assert.equal(st(0xf7f).mem.read16(DATA + 0x24), 0xfffe);
  const m = fpu(`fninit\n fild qword ptr [0x20000]\n fistp dword ptr [0x20020]`, [0, 1]);
  assert.equal(m.mem.read32(DATA + 0x20) >>> 0, 0x80000000);
  assert.equal(sw(m) & 0x3f, 0x01);
});

Deno.test("x87: FBLD and FBSTP round-trip 18 BCD digits; FILD m64 is exact", () => {
  const bcd = [0x78563412, 0x56341290, 0x8078]; // digits 785634129078563412, sign byte 0x80
  const m = fpu(
    `fninit\n fbld tbyte ptr [0x20000]\n fld st(0)\n fbstp tbyte ptr [0x20010]\n` +
      ` fistp qword ptr [0x20020]`,
    bcd,
  );
  for (let i = 0; i < 10; i++) assert.equal(m.mem.read8(DATA + 0x10 + i), m.mem.read8(DATA + i));
  const v = (BigInt(m.mem.read32(DATA + 0x24)) << 32n) | BigInt(m.mem.read32(DATA + 0x20) >>> 0);
  assert.equal(BigInt.asIntN(64, v), -785634129078563412n);
});

Deno.test("x87: constants follow the rounding control", () => {
  const m = (cw: number) =>
    fpu(
      `fninit\n fldcw [0x20000]\n fldpi\n fstp tbyte ptr [0x20010]\n fldl2t\n fstp tbyte ptr [0x20020]`,
      [cw],
    );
  assert.equal(x80(m(0x37f), DATA + 0x10), "4000:c90fdaa22168c235");
  assert.equal(x80(m(0x77f), DATA + 0x10), "4000:c90fdaa22168c234");
  assert.equal(x80(m(0xb7f), DATA + 0x20), "4000:d49a784bcd1b8aff");
  assert.equal(x80(m(0x37f), DATA + 0x20), "4000:d49a784bcd1b8afe");
});

Deno.test("x87: comparisons, FCOMI, FXAM classes, FPREM quotient bits", () => {
  let m = fpu(
    `fninit\n fld1\n fldz\n fcom st(1)\n fnstsw [0x20000]\n fcomi st, st(1)\n pushfd\n pop eax`,
  );
  assert.equal(m.mem.read16(DATA) & 0x4700, 0x0100, "0 < 1: C0");
  assert.equal(m.cpu.regs[0] & 0x8d5, 0x01, "CF only, OF SF AF cleared");
  m = fpu(`fninit\n fld tbyte ptr [0x20000]\n fld1\n fucomip st, st(1)\n pushfd\n pop eax`, [
    0,
    0xc0000000,
    0x7fff,
  ]);
  assert.equal(m.cpu.regs[0] & 0x45, 0x45, "unordered: ZF PF CF");
  assert.equal(sw(m) & 1, 0, "FUCOMI: a QNaN is not invalid");
  const fxam = (words: number[]) => {
    const r = fpu(`fninit\n fld tbyte ptr [0x20000]\n fxam\n fnstsw ax`, words);
    return r.cpu.regs[0] & 0x4700;
  };
  assert.equal(fxam([0, 0x80000000, 0x3fff]), 0x0400, "normal");
  assert.equal(fxam([0, 0, 0x8000]), 0x4200, "-0: C3, C1 sign");
  assert.equal(fxam([1, 0, 0]), 0x4400, "denormal");
  assert.equal(fxam([0, 0x80000000, 0x7fff]), 0x0500, "infinity");
  assert.equal(fxam([0, 0xc0000000, 0x7fff]), 0x0100, "NaN");
  assert.equal(fxam([0, 0x40000000, 0x3fff]), 0x0000, "unsupported");
  m = fpu(
    `fninit\n fild dword ptr [0x20000]\n fild dword ptr [0x20004]\n fprem\n fnstsw [0x20040]\n fstp tbyte ptr [0x20010]`,
    [2, 7],
  );
  assert.equal(x80(m, DATA + 0x10), "3fff:8000000000000000", "7 rem 2 = 1");
  assert.equal(m.mem.read16(DATA + 0x40) & 0x4700, 0x4200, "q = 3: C3 = q1, C1 = q0");
  m = fpu(
    `fninit\n fild dword ptr [0x20000]\n fild dword ptr [0x20004]\n fprem1\n fnstsw [0x20040]\n fstp tbyte ptr [0x20010]`,
    [2, 7],
  );
  assert.equal(x80(m, DATA + 0x10), "bfff:8000000000000000", "7 rem1 2 = -1 (q = 4)");
  assert.equal(m.mem.read16(DATA + 0x40) & 0x4700, 0x0100, "q = 4: C0 = q2");
});

Deno.test("x87: square root, FRNDINT, FSCALE, FXTRACT", () => {
  let m = fpu(`fninit\n fild dword ptr [0x20000]\n fsqrt\n fstp tbyte ptr [0x20010]`, [2]);
  assert.equal(x80(m, DATA + 0x10), "3fff:b504f333f9de6484");
  m = fpu(
    `fninit\n fldcw [0x20004]\n fld qword ptr [0x20008]\n frndint\n fistp dword ptr [0x20010]`,
    [0, 0x77f, 0, 0x40040000],
  );
  assert.equal(m.mem.read32(DATA + 0x10), 2, "2.5 rounded down");
  m = fpu(`fninit\n fild dword ptr [0x20000]\n fld1\n fscale\n fstp tbyte ptr [0x20010]`, [-3]);
  assert.equal(x80(m, DATA + 0x10), "3ffc:8000000000000000", "2^-3");
  m = fpu(
    `fninit\n fild dword ptr [0x20000]\n fxtract\n fstp tbyte ptr [0x20010]\n fstp tbyte ptr [0x20020]`,
    [-12],
  );
  assert.equal(x80(m, DATA + 0x10), "bfff:c000000000000000", "significand -1.5");
  assert.equal(x80(m, DATA + 0x20), "4000:c000000000000000", "exponent 3");
});

Deno.test("x87: transcendental results are correctly rounded", () => {
  let m = fpu(`fninit\n fld1\n fld1\n fpatan\n fstp tbyte ptr [0x20010]`);
  assert.equal(x80(m, DATA + 0x10), "3ffe:c90fdaa22168c235", "atan2(1, 1) = pi/4");
  m = fpu(`fninit\n fld qword ptr [0x20000]\n f2xm1\n fstp tbyte ptr [0x20010]`, [0, 0x3fe00000]);
  assert.equal(x80(m, DATA + 0x10), "3ffd:d413cccfe7799211", "2^0.5 - 1");
  assert.equal(sw(m) & 0x3f, 0x20);
  m = fpu(`fninit\n fld1\n fild dword ptr [0x20000]\n fyl2x\n fstp tbyte ptr [0x20010]`, [8]);
  assert.equal(x80(m, DATA + 0x10), "4000:c000000000000000", "log2(8) = 3 exactly");
  assert.equal(sw(m) & 0x3f, 0);
  m = fpu(
    `fninit\n fldz\n fsincos\n fstp tbyte ptr [0x20010]\n fstp tbyte ptr [0x20020]\n fld tbyte ptr [0x20030]\n fsin\n fnstsw ax`,
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80000000, 0x403f],
  );
  assert.equal(x80(m, DATA + 0x10), "3fff:8000000000000000", "cos 0");
  assert.equal(x80(m, DATA + 0x20), "0000:0000000000000000", "sin 0");
  assert.equal(m.cpu.regs[0] & 0x400, 0x400, "2^64 is out of range: C2");
});

Deno.test("x87: FNSTENV tags, FNSAVE/FRSTOR round trip, FXSAVE/FXRSTOR image", () => {
  let m = fpu(`fninit\n fld1\n fldz\n fld tbyte ptr [0x20000]\n fnstenv [0x20100]`, [
    0,
    0xc0000000,
    0x7fff,
  ]);
  assert.equal(m.mem.read16(DATA + 0x108), 0x1bff, "R7 valid, R6 zero, R5 special, rest empty");
  assert.equal(m.mem.read16(DATA + 0x104) & 0x3800, 0x2800, "TOP = 5");
  m = fpu(
    `fninit\n fld1\n fldpi\n fnsave [0x20100]\n fnstsw [0x20200]\n frstor [0x20100]\n` +
      ` fstp tbyte ptr [0x20010]\n fstp tbyte ptr [0x20020]`,
  );
  assert.equal(m.mem.read16(DATA + 0x200), 0, "FNSAVE reinitialises");
  assert.equal(x80(m, DATA + 0x10), "4000:c90fdaa22168c235");
  assert.equal(x80(m, DATA + 0x20), "3fff:8000000000000000");
  assert.equal(x80(m, DATA + 0x11c), "4000:c90fdaa22168c235", "ST(0) right after the 28-byte env");
  // FXSAVE/FXRSTOR (CPUID does not report FXSR on this CPU model: driven directly).
  m = fpu(`fninit\n fld1\n fldz`);
  const c = m.cpu;
  c.eaSeg = 3;
  c.eaOff = 0x20400;
  fxsave(c);
  assert.equal(m.mem.read16(0x20400), 0x37f);
  assert.equal(m.mem.read16(0x20402) & 0x3800, 0x3000);
  assert.equal(m.mem.read8(0x20404), 0xc0, "abridged tags: R6, R7");
  assert.equal(x80(m, 0x20420), "0000:0000000000000000");
  assert.equal(x80(m, 0x20430), "3fff:8000000000000000");
  c.fpuTw = 0xffff;
  c.fpuSw = 0;
  fxrstor(c);
  assert.equal(c.fpuTw, 0x1fff, "R7 valid, R6 zero");
  assert.equal((c.fpuSw >> 11) & 7, 6);
  c.eaOff = 0x20408;
  assert.throws(() => fxsave(c), "misaligned: #GP");
});
