/**
 * Execution-mode tests of the CPU (real, protected, v86 mode, gates, privilege changes).
 *
 * Why this file is long: the cases share one assembler fixture and its descriptor helpers; each
 * test is a few lines of guest code and its expected state.
 */

import assert from "node:assert/strict";
import {
  assemble,
  descriptor,
  gate,
  makeMachine,
  protectedMode,
  realMode,
  setIdt,
  type TestMachine,
} from "./machine.ts";
import { ExitKind, TrapKind } from "../../core/cpu/hooks.ts";

const BASE = 0x10000;

/** 32-bit flat protected-mode machine running `src` at 0x10000 (handlers via `.org`). */
function pm(src: string, extra: [number, number][] = [], setup?: (m: TestMachine) => void) {
  const m = makeMachine();
  m.mem.load(BASE, assemble(src, 32, BASE));
  protectedMode(m, BASE, extra);
  setup?.(m);
  return m;
}

function traps(m: TestMachine): number[][] {
  return m.events.filter((e) => e[0] === "trap").map((e) => e.slice(1) as number[]);
}

Deno.test("real mode: INT n through the IVT, IRET restores IF", () => {
  const m = makeMachine();
  m.mem.load(
    0x7c00,
    assemble(
      `
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word ptr [0x21*4], offset handler
    mov word ptr [0x21*4+2], 0
    sti
    int 0x21
    mov cx, 0x55
    hlt
  handler:
    mov bx, 0x1234
    pushf
    pop dx
    iret`,
      16,
      0x7c00,
    ),
  );
  realMode(m.cpu, 0, 0x7c00);
  assert.equal(m.cpu.run(1000), "idle");
  const r = m.cpu.regs;
  assert.equal(r[3] & 0xffff, 0x1234);
  assert.equal(r[1] & 0xffff, 0x55);
  assert.equal(r[2] & 0x200, 0, "IF cleared inside the handler");
  assert.equal(m.cpu.getEflags() & 0x200, 0x200);
  assert.equal(r[4] & 0xffff, 0x7000);
  assert.deepEqual(traps(m)[0].slice(0, 3), [TrapKind.software, 0x21, -1]);
});

Deno.test("real mode: #DE from DIV vectors through IVT entry 0 with IP of the DIV", () => {
  const m = makeMachine();
  m.mem.load(
    0x7c00,
    assemble(
      `
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word ptr [0], offset handler
    mov word ptr [2], 0
    xor bl, bl
  fault:
    div bl
    hlt
  handler:
    pop si
    hlt`,
      16,
      0x7c00,
    ),
  );
  realMode(m.cpu, 0, 0x7c00);
  m.cpu.run(1000);
  const tr = traps(m);
  assert.equal(tr[0][1], 0);
  assert.equal(m.cpu.regs[6] & 0xffff, tr[0][3]);
  assert.equal(m.cpu.regs[6] & 0xffff, 0x7c00 + 0x17);
});

function gpHandlerSrc(body: string): string {
  return `${body}
    hlt
  .org 0x100
    pop ebx        # error code
    pop ecx        # faulting EIP
    hlt`;
}

function withHandlers(m: TestMachine, vectors: number[]) {
  for (const v of vectors) setIdt(m, v, gate(0x08, BASE + 0x100, 0x8e));
}

Deno.test("protected mode: #GP(selector) on loading a non-data descriptor into DS", () => {
  const m = pm(gpHandlerSrc(`mov ax, 0x80\n mov ds, ax`), [], (m) => withHandlers(m, [13]));
  m.cpu.run(100);
  assert.equal(m.cpu.regs[3], 0x80);
  assert.equal(m.cpu.regs[1], BASE + 4);
  assert.equal(m.cpu.segSel[3], 0x10, "DS unchanged");
});

Deno.test("protected mode: #GP(sel) beyond the GDT limit, #NP and #SS for not-present", () => {
  let m = pm(gpHandlerSrc(`mov ax, 0x2000\n mov es, ax`), [], (m) => withHandlers(m, [13]));
  m.cpu.run(100);
  assert.equal(m.cpu.regs[3], 0x2000);
  // 0x30: not-present data segment.
  const np = descriptor(0, 0xfffff, 0x12);
  m = pm(gpHandlerSrc(`mov ax, 0x30\n mov es, ax`), [np], (m) => withHandlers(m, [11]));
  m.cpu.run(100);
  assert.equal(m.cpu.regs[3], 0x30);
  assert.equal(traps(m)[0][1], 11);
  m = pm(gpHandlerSrc(`mov ax, 0x30\n mov ss, ax`), [np], (m) => withHandlers(m, [12]));
  m.cpu.run(100);
  assert.equal(m.cpu.regs[3], 0x30);
  assert.equal(traps(m)[0][1], 12);
});

Deno.test("protected mode: segment limit violation gives #GP(0), stack limit #SS(0)", () => {
  const small = descriptor(0x50000, 0xff, 0x92, 4);
  let m = pm(
    gpHandlerSrc(`mov ax, 0x30\n mov ds, ax\n mov eax, [0xfe]`),
    [small],
    (m) => withHandlers(m, [13]),
  );
  m.cpu.run(100);
  assert.equal(traps(m)[0][1], 13);
  assert.equal(m.cpu.regs[3], 0);
  assert.equal(m.cpu.regs[1], BASE + 6);
  m = pm(gpHandlerSrc(`mov eax, [ebp]`), [small], (m) => {
    withHandlers(m, [12]);
    m.cpu.segLimit[2] = 0xff; // shrink SS
    m.cpu.updateMode();
    m.cpu.regs[5] = 0x100;
  });
  m.cpu.segLimit[2] = 0xff;
  m.cpu.run(1);
  assert.equal(traps(m)[0][1], 12);
});

Deno.test("protected mode: #UD for LOCK on a register operand and for UD2", () => {
  const m = pm(
    gpHandlerSrc(`.byte 0xf0, 0x01, 0xc0`),
    [],
    (m) => setIdt(m, 6, gate(0x08, BASE + 0x100, 0x8e)),
  );
  m.cpu.run(3);
  assert.equal(traps(m)[0][1], 6);
  assert.equal(traps(m)[0][3], BASE);
});

/** Enters ring 3 at `ring3` (label) via IRET, with user stack at 0x70000. */
const TO_RING3 = `
    push 0x23
    push 0x70000
    pushfd
    push 0x1b
    push offset ring3
    iretd`;

Deno.test("interrupt gate from ring 3 switches to the TSS ring-0 stack", () => {
  const m = pm(
    `${TO_RING3}
  ring3:
    mov eax, 0x11
    int 0x80
    mov edx, 0x99
    hlt
  .org 0x100
    mov esi, esp
    mov edi, [esp+12]   # old ESP
    mov ebx, [esp+16]   # old SS
    mov ecx, [esp+4]    # old CS
    iretd`,
    [],
    (m) => setIdt(m, 0x80, gate(0x08, BASE + 0x100, 0xee)),
  );
  m.cpu.run(100);
  const r = m.cpu.regs;
  assert.equal(r[6], 0x80000 - 20, "handler stack = ESP0 minus the 5-dword frame");
  assert.equal(r[7], 0x70000);
  assert.equal(r[3], 0x23);
  assert.equal(r[1], 0x1b);
  // Back in ring 3: HLT is privileged -> #GP, which has no handler -> #DF... (vector 13 empty)
  assert.equal(m.cpu.cpl, 3);
  assert.equal(r[2], 0x99);
});

Deno.test("INT n from ring 3 through a DPL-0 gate is #GP(vector*8+2)", () => {
  const m = pm(
    `${TO_RING3}
  ring3:
    int 0x81
  .org 0x100
    pop ebx
    pop ecx
    mov eax, 0x77
    jmp .`,
    [],
    (m) => {
      setIdt(m, 0x81, gate(0x08, BASE + 0x200, 0x8e));
      setIdt(m, 13, gate(0x08, BASE + 0x100, 0x8e));
    },
  );
  m.cpu.run(100);
  assert.equal(m.cpu.regs[3], 0x81 * 8 + 2);
  assert.equal(m.cpu.regs[0], 0x77);
});

Deno.test("call gate from ring 3 to ring 0 copies parameters onto the inner stack", () => {
  const callGate = gate(0x08, BASE + 0x100, 0xec, 2);
  const m = pm(
    `${TO_RING3}
  ring3:
    push 0xaaaa
    push 0xbbbb
    lcall 0x30, 0
    mov edx, 0x42
    hlt
  .org 0x100
    mov esi, [esp+8]    # param 1 (0xbbbb, last pushed)
    mov edi, [esp+12]   # param 2
    mov ebx, [esp+20]   # caller SS
    mov ecx, esp
    lret 8`,
    [callGate],
  );
  m.cpu.run(100);
  const r = m.cpu.regs;
  assert.equal(r[6], 0xbbbb);
  assert.equal(r[7], 0xaaaa);
  assert.equal(r[3], 0x23);
  assert.equal(r[1], 0x80000 - 24);
  assert.equal(r[2], 0x42);
  assert.equal(r[4], 0x70000, "RET imm releases the parameters on the outer stack");
  assert.equal(m.cpu.cpl, 3);
});

function tss(m: TestMachine, at: number, eip: number, esp: number, flags = 2) {
  m.mem.write32(at + 0x20, eip);
  m.mem.write32(at + 0x24, flags);
  m.mem.write32(at + 0x38, esp);
  m.mem.write32(at + 0x48, 0x10);
  m.mem.write32(at + 0x4c, 0x08);
  m.mem.write32(at + 0x50, 0x10);
  m.mem.write32(at + 0x54, 0x10);
  m.mem.write32(at + 0x58, 0x10);
  m.mem.write32(at + 0x5c, 0x10);
}

Deno.test("task switch: CALL to a TSS sets NT and the back link, IRET returns", () => {
  const task2 = descriptor(0x5000, 0x67, 0x89, 0);
  const m = pm(
    `
    mov eax, 1
    lcall 0x30, 0
    mov ecx, 0x33
    hlt
  .org 0x100
    pushfd
    pop dword ptr [0x8000]   # registers belong to the task: report through memory
    mov dword ptr [0x8004], 0x22
    iretd`,
    [task2],
    (m) => tss(m, 0x5000, BASE + 0x100, 0x60000),
  );
  m.cpu.run(100);
  const r = m.cpu.regs;
  assert.equal(m.mem.read32(0x8000) & 0x4000, 0x4000, "NT set in the called task");
  assert.equal(m.mem.read32(0x8004), 0x22);
  assert.equal(r[0], 1, "EAX restored from the old TSS");
  assert.equal(r[1], 0x33);
  assert.equal(m.cpu.segSel[7], 0x28);
  assert.equal(m.mem.read16(0x5000), 0x28, "back link");
  assert.equal((m.mem.read32(0x1000 + 0x30 + 4) >>> 8) & 0xf, 9, "task 2 no longer busy");
  assert.equal((m.mem.read32(0x1000 + 0x28 + 4) >>> 8) & 0xf, 0xb, "task 1 busy again");
  assert.equal(m.cpu.cr0 & 8, 8, "CR0.TS");
  assert.equal(m.mem.read32(0x3000 + 0x28), 1, "EAX saved in the old TSS");
});

Deno.test("task switch: JMP to a TSS and INT through a task gate", () => {
  const task2 = descriptor(0x5000, 0x67, 0x89, 0);
  let m = pm(
    `
    ljmp 0x30, 0
  .org 0x100
    mov edx, 0x44
    hlt`,
    [task2],
    (m) => tss(m, 0x5000, BASE + 0x100, 0x60000),
  );
  m.cpu.run(100);
  assert.equal(m.cpu.regs[2], 0x44);
  assert.equal(m.cpu.getEflags() & 0x4000, 0, "JMP does not set NT");
  assert.equal((m.mem.read32(0x1000 + 0x28 + 4) >>> 8) & 0xf, 9, "old task not busy");
  m = pm(
    `
    int 0x40
    mov ecx, 0x66
    hlt
  .org 0x100
    mov dword ptr [0x8004], 0x55
    iretd`,
    [task2],
    (m) => {
      tss(m, 0x5000, BASE + 0x100, 0x60000);
      setIdt(m, 0x40, gate(0x30, 0, 0x85));
    },
  );
  m.cpu.run(100);
  assert.equal(m.mem.read32(0x8004), 0x55);
  assert.equal(m.cpu.regs[1], 0x66);
});

Deno.test("v86: IRET enters v86, CLI with IOPL 0 is #GP to the monitor, INT n via IDT", () => {
  const m = pm(
    `
    push 0          # GS
    push 0          # FS
    push 0          # DS
    push 0          # ES
    push 0x2000     # SS
    push 0x100      # SP
    push 0x20002    # EFLAGS: VM, IOPL 0
    push 0x1000     # CS
    push 0          # IP
    iretd
  .org 0x100
    pop ebx          # error code
    pop ecx          # EIP
    pop edx          # CS
    pop esi          # EFLAGS
    mov edi, [esp+4] # SS
    hlt`,
    [],
    (m) => {
      withHandlers(m, [13]);
      m.mem.load(0x10000, assemble(`mov ax, 0x1234\n cli`, 16, 0)); // v86 code at 1000:0000
    },
  );
  // The v86 code overlays the protected-mode entry; place the PM entry elsewhere.
  m.mem.load(
    0x30000,
    assemble(
      `
    push 0
    push 0
    push 0
    push 0
    push 0x2000
    push 0x100
    push 0x20002
    push 0x1000
    push 0
    iretd`,
      32,
      0x30000,
    ),
  );
  m.cpu.eip = 0x30000;
  m.mem.load(
    0x10100,
    assemble(
      `
    pop ebx
    pop ecx
    pop edx
    pop esi
    mov edi, [esp+4]
    hlt`,
      32,
      0x10100,
    ),
  );
  m.cpu.run(100);
  const r = m.cpu.regs;
  assert.equal(r[3], 0);
  assert.equal(r[1], 3, "IP of the CLI");
  assert.equal(r[2], 0x1000);
  assert.equal(r[6] & 0x20000, 0x20000, "VM in the pushed EFLAGS");
  assert.equal(r[7], 0x2000);
  assert.equal(r[0] & 0xffff, 0x1234);
  assert.equal(m.cpu.getEflags() & 0x20000, 0);
});

Deno.test("paging: #PF error codes, CR2, accessed/dirty bits, WP and PSE/PGE", () => {
  // Page directory at 0x100000: entry 0 = 4 MiB PSE identity page (supervisor, writable);
  // entry 1 -> page table at 0x101000 mapping 0x400000 read-only user page -> 0x200000.
  const m = pm(
    `
    mov eax, 0x100000
    mov cr3, eax
    mov eax, cr4
    or eax, 0x90
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80010000
    mov cr0, eax
    mov eax, [0x400010]      # read: sets A
    mov dword ptr [0x400020], 5   # supervisor write to RO page with WP=1 -> #PF
    hlt
  .org 0x100
    pop ebx
    pop ecx
    mov edx, cr2
    hlt`,
    [],
    (m) => {
      withHandlers(m, [14]);
      m.mem.write32(0x100000, 0x00000083 | 0x100); // PSE, RW, P, G
      m.mem.write32(0x100004, 0x101000 | 0x7);
      m.mem.write32(0x101000, 0x200000 | 0x5); // user, RO, P
      m.mem.write32(0x200010, 0xcafe);
    },
  );
  m.cpu.run(100);
  const r = m.cpu.regs;
  assert.equal(r[0], 0xcafe);
  assert.equal(r[3], 0x3, "P|W, supervisor");
  assert.equal(r[2], 0x400020);
  assert.equal(m.cpu.cr2, 0x400020);
  assert.equal(m.mem.read32(0x101000) & 0x60, 0x20, "A set, D clear");
  assert.equal(m.mem.read32(0x100000) & 0x20, 0x20, "PDE A set");
  assert.equal(m.cpu.translate(0x400010), 0x200010);
  assert.equal(m.cpu.translate(0x800000), -1);
  assert.equal(m.cpu.readLinear32(0x400010), 0xcafe);
});

Deno.test("paging: user access to a supervisor page and a not-present page", () => {
  const m = pm(
    `
    mov eax, 0x100000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    ${TO_RING3}
  ring3:
    mov ax, 0x23       # the IRET to ring 3 nulled DS (DPL 0 < CPL 3)
    mov ds, ax
    mov eax, [0x1000]
  .org 0x100
    pop ebx
    mov edx, cr2
    mov esi, 1
    hlt`,
    [],
    (m) => {
      withHandlers(m, [14]);
      m.mem.write32(0x100000, 0x101000 | 7);
      for (let i = 0; i < 1024; i++) {
        m.mem.write32(0x101000 + i * 4, (i << 12) | (i >= 0x10 ? 7 : 3));
      }
    },
  );
  m.cpu.run(200);
  assert.equal(m.cpu.regs[3], 0x5, "P|U read");
  assert.equal(m.cpu.regs[2], 0x1000);
});

Deno.test("#DF when #GP delivery hits a not-present gate; triple fault shuts down", () => {
  let m = pm(gpHandlerSrc(`mov ax, 0x80\n mov ds, ax`), [], (m) => {
    setIdt(m, 13, gate(0x08, BASE + 0x100, 0x0e)); // not present -> #NP -> #DF
    setIdt(m, 8, gate(0x08, BASE + 0x100, 0x8e));
  });
  m.cpu.run(100);
  assert.deepEqual(traps(m).map((t) => t[1]), [13, 8]);
  assert.equal(m.cpu.regs[3], 0, "#DF error code 0");
  m = pm(gpHandlerSrc(`mov ax, 0x80\n mov ds, ax`), [], (m) => {
    m.cpu.idtrLimit = 0; // nothing deliverable
  });
  assert.equal(m.cpu.run(100), "shutdown");
  assert.equal(m.cpu.shutdownVector, 8);
  const ex = m.events.find((e) => e[0] === "exit" && e[1] === ExitKind.shutdown);
  assert.ok(ex);
});

Deno.test("TF single-step traps after each instruction with DR6.BS", () => {
  const m = pm(
    `
    pushfd
    or dword ptr [esp], 0x100
    popfd
    nop
    nop
    hlt
  .org 0x100
    inc esi
    iretd`,
    [],
    (m) => setIdt(m, 1, gate(0x08, BASE + 0x100, 0x8e)),
  );
  m.cpu.run(40);
  const dbs = traps(m).filter((t) => t[1] === 1);
  assert.deepEqual(dbs.slice(0, 3).map((t) => t[3]), [BASE + 10, BASE + 11, BASE + 12]);
  assert.equal(m.cpu.dr[6] & 0x4000, 0x4000);
});

Deno.test("STI and MOV SS shadows delay a pending interrupt by one instruction", () => {
  const m = pm(
    `
    sti
    mov eax, 1
    mov ebx, 2
    hlt
  .org 0x100
    mov ecx, eax
    mov edx, ebx
    iretd`,
    [],
    (m) => setIdt(m, 0x30, gate(0x08, BASE + 0x100, 0x8e)),
  );
  m.pic.pending.push(0x30);
  m.cpu.run(20);
  assert.equal(m.cpu.regs[1], 1, "interrupt taken after the instruction following STI");
  assert.equal(m.cpu.regs[2], 0);
  const m2 = pm(
    `
    mov ax, 0x10
    mov ss, ax
    mov eax, 1
    mov ebx, 2
    hlt
  .org 0x100
    mov ecx, eax
    mov edx, ebx
    iretd`,
    [],
    (m) => setIdt(m, 0x30, gate(0x08, BASE + 0x100, 0x8e)),
  );
  m2.cpu.setEflags(0x202);
  m2.cpu.run(2); // executes mov ax
  m2.pic.pending.push(0x30);
  m2.cpu.run(20);
  assert.equal(m2.cpu.regs[1], 1);
});

Deno.test("HLT with IF=1 skips virtual time to the next deadline and wakes on the interrupt", () => {
  const m = pm(
    `
    sti
    hlt
    mov edx, 5
    hlt
  .org 0x100
    mov ecx, 7
    iretd`,
    [],
    (m) => setIdt(m, 0x30, gate(0x08, BASE + 0x100, 0x8e)),
  );
  m.clock.schedule(1_000_000, () => m.pic.pending.push(0x30));
  assert.equal(m.cpu.run(10_000_000), "idle");
  assert.equal(m.cpu.regs[1], 7);
  assert.equal(m.cpu.regs[2], 5);
  assert.ok(m.clock.icount >= 1_000_000 && m.clock.icount < 1_000_010);
});

Deno.test("SYSENTER/SYSEXIT and the MSRs", () => {
  const m = pm(`
    mov ecx, 0x174
    mov eax, 0x08
    xor edx, edx
    wrmsr
    mov ecx, 0x175
    mov eax, 0x80000
    wrmsr
    mov ecx, 0x176
    mov eax, offset kernel
    wrmsr
    mov ecx, 0x70000
    mov edx, offset user
    sysexit
  user:
    mov esi, 1
    sysenter
  kernel:
    mov edi, esp
    mov ecx, 0x1b
    rdmsr
    hlt`);
  m.cpu.run(100);
  assert.equal(m.cpu.regs[6], 1);
  assert.equal(m.cpu.regs[7], 0x80000);
  assert.equal(m.cpu.regs[0] >>> 0, 0xfee00900);
  assert.equal(m.cpu.cpl, 0);
});

Deno.test("I/O bitmap: ring 3 port access allowed by the TSS bitmap, denied otherwise", () => {
  const seen: number[] = [];
  const m = pm(
    `${TO_RING3}
  ring3:
    mov al, 0x41
    out 0xe9, al
    out 0xea, al
  .org 0x100
    pop ebx
    hlt`,
    [],
    (m) => {
      withHandlers(m, [13]);
      m.io.register(0xe9, 2, { portRead: () => 0, portWrite: (p, _s, v) => seen.push(p, v) });
      for (let i = 0; i < 0x2000; i++) m.mem.write8(0x3000 + 104 + i, 0xff);
      m.mem.write8(0x3000 + 104 + (0xe9 >> 3), 0xff & ~(1 << (0xe9 & 7)));
    },
  );
  m.cpu.run(100);
  assert.deepEqual(seen, [0xe9, 0x41]);
  assert.equal(traps(m).at(-1)![1], 13);
});
