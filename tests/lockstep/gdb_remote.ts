/**
 * A small GDB Remote Serial Protocol client for QEMU's gdbstub (TCP), plus a launcher that starts
 * `qemu-system-i386` halted with its stub listening.
 *
 * Only what the lockstep runner needs: packet framing with checksums and acks, `?`, `g`/`G`
 * (i386 layout), `m`/`M`, `s`, `c`, the 0x03 interrupt, `Z0`/`z0`, `qRcmd` (monitor commands) and `k`.
 *
 * @module
 */

/** Index of each register in the i386 `g` packet (the first 16 32-bit little-endian words). */
export const GdbReg = {
  eax: 0,
  ecx: 1,
  edx: 2,
  ebx: 3,
  esp: 4,
  ebp: 5,
  esi: 6,
  edi: 7,
  eip: 8,
  eflags: 9,
  cs: 10,
  ss: 11,
  ds: 12,
  es: 13,
  fs: 14,
  gs: 15,
} as const;

/** Number of 32-bit words of the `g` packet that are parsed. */
export const GDB_CORE_REGS = 16;

/** Hex digits from the end of the core words to st0 in the `g` reply (9 32-bit words). */
const FPU_TAIL_OFFSET = 9 * 8;

const enc = new TextEncoder();
const dec = new TextDecoder("latin1");

function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, "0");
}

/** Hex-encodes bytes as the protocol's binary-as-hex payloads. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += hex2(bytes[i]);
  return s;
}

/** Decodes a hex payload; throws naming the offending text on malformed input. */
export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new Error(`gdb: malformed hex payload ${JSON.stringify(s.slice(0, 40))}`);
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

/** Frames a payload as `$payload#xx` with the modulo-256 checksum. */
export function framePacket(payload: string): string {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) sum = (sum + payload.charCodeAt(i)) & 0xff;
  return `$${payload}#${hex2(sum)}`;
}

/**
 * GDB remote client over one TCP connection.
 *
 * @example
 * ```ts ignore
 * import { GdbRemote } from "./gdb_remote.ts";
 * const gdb = await GdbRemote.connect(1234);
 * const regs = await gdb.readRegisters();
 * await gdb.step();
 * gdb.close();
 * ```
 */
export class GdbRemote {
  #conn: Deno.Conn;
  #buf = "";
  #chunk = new Uint8Array(65536);
  #noAck = false;
  /** Words of the last `g` reply beyond the first 16 (kept so `G` writes them back unchanged). */
  #tail = "";

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Connects to a stub on 127.0.0.1:`port`, retrying while it starts up (up to `timeoutMs`). */
  static async connect(port: number, timeoutMs = 10000): Promise<GdbRemote> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.setNoDelay(true);
        const gdb = new GdbRemote(conn);
        // Some stubs expect an initial ack; QEMU ignores a stray '+'.
        await gdb.#write("+");
        return gdb;
      } catch (e) {
        if (Date.now() > until) {
          throw new Error(`gdb: cannot connect to 127.0.0.1:${port}: ${(e as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async #write(s: string): Promise<void> {
    const bytes = enc.encode(s);
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }

  async #fill(): Promise<void> {
    const n = await this.#conn.read(this.#chunk);
    if (n === null) throw new Error("gdb: connection closed by the stub");
    this.#buf += dec.decode(this.#chunk.subarray(0, n));
  }

  /** Reads one packet payload (acks it unless no-ack mode is on); skips acks and noise. */
  async #readPacket(): Promise<string> {
    for (;;) {
      const start = this.#buf.indexOf("$");
      if (start >= 0) {
        const hash = this.#buf.indexOf("#", start);
        if (hash >= 0 && this.#buf.length >= hash + 3) {
          const payload = this.#buf.slice(start + 1, hash);
          const sum = parseInt(this.#buf.slice(hash + 1, hash + 3), 16);
          this.#buf = this.#buf.slice(hash + 3);
          let mine = 0;
          for (let i = 0; i < payload.length; i++) mine = (mine + payload.charCodeAt(i)) & 0xff;
          if (mine !== sum) {
            if (this.#noAck) throw new Error("gdb: bad checksum in no-ack mode");
            await this.#write("-");
            continue;
          }
          if (!this.#noAck) await this.#write("+");
          return unescapeBinary(payload);
        }
      } else {
        this.#buf = "";
      }
      await this.#fill();
    }
  }

  /** Sends a packet and waits for the ack ('+'), resending on '-'. */
  async #sendPacket(payload: string): Promise<void> {
    const framed = framePacket(payload);
    for (let tries = 0; tries < 5; tries++) {
      await this.#write(framed);
      if (this.#noAck) return;
      for (;;) {
        while (this.#buf.length === 0) await this.#fill();
        const c = this.#buf[0];
        if (c === "+") {
          this.#buf = this.#buf.slice(1);
          return;
        }
        if (c === "-") {
          this.#buf = this.#buf.slice(1);
          break;
        }
        // A packet arrived before the ack (should not happen); leave it for #readPacket.
        if (c === "$") return;
        this.#buf = this.#buf.slice(1);
      }
    }
    throw new Error(`gdb: stub rejected packet ${JSON.stringify(payload.slice(0, 40))} 5 times`);
  }

  /** Sends `payload` and returns the reply payload. */
  async command(payload: string): Promise<string> {
    await this.#sendPacket(payload);
    return await this.#readPacket();
  }

  async #ok(payload: string): Promise<void> {
    const r = await this.command(payload);
    if (r !== "OK") throw new Error(`gdb: '${payload.slice(0, 40)}' failed: '${r}'`);
  }

  /** Switches off acks (QStartNoAckMode) when the stub supports it; returns whether it did. */
  async startNoAckMode(): Promise<boolean> {
    const r = await this.command("QStartNoAckMode");
    if (r === "OK") this.#noAck = true;
    return this.#noAck;
  }

  /** `?`: the current stop reason (e.g. `T05thread:01;`). */
  async haltReason(): Promise<string> {
    return await this.command("?");
  }

  /** `g`: EAX..EDI, EIP, EFLAGS, CS, SS, DS, ES, FS, GS as unsigned 32-bit values. */
  async readRegisters(): Promise<Uint32Array> {
    const r = await this.command("g");
    if (r.length < GDB_CORE_REGS * 8 || r[0] === "E") {
      throw new Error(`gdb: bad 'g' reply '${r.slice(0, 40)}'`);
    }
    const bytes = fromHex(r.slice(0, GDB_CORE_REGS * 8));
    this.#tail = r.slice(GDB_CORE_REGS * 8);
    const dv = new DataView(bytes.buffer);
    const out = new Uint32Array(GDB_CORE_REGS);
    for (let i = 0; i < GDB_CORE_REGS; i++) out[i] = dv.getUint32(i * 4, true);
    return out;
  }

  /**
   * The x87 registers of the last `g` reply. QEMU 7.2's i386 layout (gdb-xml/i386-32bit.xml)
   * puts fs_base, gs_base, k_gs_base, cr0, cr2, cr3, cr4, cr8 and efer after the 16 core words,
   * then st0-st7 (10 bytes each; QEMU sends the physical registers R0-R7, not ST(i)), then
   * fctrl, fstat, ftag, fiseg, fioff, foseg, fooff, fop as 32-bit words. `st[i]` is R(i) as
   * 20 hex digits, sign/exponent first.
   */
  lastFpu(): { st: string[]; fctrl: number; fstat: number; ftag: number } | null {
    const t = this.#tail.slice(FPU_TAIL_OFFSET);
    if (t.length < 160 + 24) return null;
    const st: string[] = [];
    for (let i = 0; i < 8; i++) {
      const b = fromHex(t.slice(i * 20, i * 20 + 20));
      st.push(Array.from(b).reverse().map((x) => x.toString(16).padStart(2, "0")).join(""));
    }
    const word = (k: number) =>
      new DataView(fromHex(t.slice(160 + k * 8, 168 + k * 8)).buffer).getUint32(0, true);
    return { st, fctrl: word(0), fstat: word(1), ftag: word(2) };
  }

  /** `G`: writes the 16 core registers (the FPU/SSE tail from the last `g` is written back). */
  async writeRegisters(regs: ArrayLike<number>): Promise<void> {
    if (this.#tail === "") await this.readRegisters();
    const bytes = new Uint8Array(GDB_CORE_REGS * 4);
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < GDB_CORE_REGS; i++) dv.setUint32(i * 4, regs[i] >>> 0, true);
    await this.#ok("G" + toHex(bytes) + this.#tail);
  }

  /** `m addr,len`: reads guest memory (linear addresses, through the guest's paging). */
  async readMemory(addr: number, len: number): Promise<Uint8Array> {
    const out = new Uint8Array(len);
    for (let off = 0; off < len;) {
      const n = Math.min(2048, len - off);
      const r = await this.command(`m${((addr + off) >>> 0).toString(16)},${n.toString(16)}`);
      if (r.length === 0 || r[0] === "E") {
        throw new Error(`gdb: cannot read ${n} bytes at 0x${(addr + off).toString(16)}: '${r}'`);
      }
      const got = fromHex(r);
      out.set(got, off);
      off += got.length;
    }
    return out;
  }

  /** `M addr,len:XX..`: writes guest memory. */
  async writeMemory(addr: number, bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length; off += 1024) {
      const part = bytes.subarray(off, Math.min(bytes.length, off + 1024));
      await this.#ok(
        `M${((addr + off) >>> 0).toString(16)},${part.length.toString(16)}:${toHex(part)}`,
      );
    }
  }

  /** `s`: executes one instruction; returns the stop reply. */
  async step(): Promise<string> {
    return await this.command("s");
  }

  /** `c`: continues until a breakpoint or other stop; returns the stop reply. */
  async cont(): Promise<string> {
    return await this.command("c");
  }

  /**
   * Sends the protocol's interrupt byte (0x03) outside any packet: a running target stops and
   * the pending `c` or `s` receives its stop reply.
   */
  async interrupt(): Promise<void> {
    await this.#write("\x03");
  }

  /** `Z0,addr,1`: inserts a software breakpoint. */
  async insertBreakpoint(addr: number): Promise<void> {
    await this.#ok(`Z0,${(addr >>> 0).toString(16)},1`);
  }

  /** `z0,addr,1`: removes a software breakpoint. */
  async removeBreakpoint(addr: number): Promise<void> {
    await this.#ok(`z0,${(addr >>> 0).toString(16)},1`);
  }

  /** Sets QEMU's single-step flags (`Qqemu.sstep`); 7 = step with IRQs and timers off. */
  async setSingleStepFlags(flags: number): Promise<void> {
    await this.#ok(`Qqemu.sstep=${flags.toString(16)}`);
  }

  /** `qRcmd`: runs a monitor command and returns its console output. */
  async monitor(cmd: string): Promise<string> {
    await this.#sendPacket("qRcmd," + toHex(enc.encode(cmd)));
    let text = "";
    for (;;) {
      const r = await this.#readPacket();
      if (r === "OK") return text;
      if (r.startsWith("O") && r !== "OK") text += dec.decode(fromHex(r.slice(1)));
      else if (r.startsWith("E") || r === "") {
        throw new Error(`gdb: monitor '${cmd}' failed: '${r}'`);
      } else text += dec.decode(fromHex(r));
    }
  }

  /** `k`: kills the target; the connection is closed afterwards. */
  async kill(): Promise<void> {
    try {
      await this.#write(framePacket("k"));
    } catch {
      // The stub may already have gone.
    }
    this.close();
  }

  /** Closes the connection (idempotent). */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

/** Undoes the `}`-escaping of binary replies (`}` followed by byte XOR 0x20). */
function unescapeBinary(s: string): string {
  if (s.indexOf("}") < 0) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "}" && i + 1 < s.length) {
      out += String.fromCharCode(s.charCodeAt(++i) ^ 0x20);
    } else out += s[i];
  }
  return out;
}

/** The general registers and segment state parsed from QEMU's `info registers`. */
export interface QemuSegment {
  sel: number;
  base: number;
  limit: number;
  /** QEMU's `flags` word: descriptor bits 8..23 of the high dword, in place (e.g. 0x00cf9b00). */
  flags: number;
}

/** System registers QEMU shows in `info registers` and the `g` packet does not carry. */
export interface QemuSystemState {
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
  gdtBase: number;
  gdtLimit: number;
  idtBase: number;
  idtLimit: number;
  /** ES CS SS DS FS GS LDT TR, in pvreplay's segment index order. */
  segs: QemuSegment[];
  cpl: number;
}

/** Parses QEMU's `info registers` text (i386 target). Throws naming a missing field. */
export function parseInfoRegisters(text: string): QemuSystemState {
  const num = (re: RegExp, what: string): number => {
    const m = text.match(re);
    if (!m) throw new Error(`gdb: 'info registers' has no ${what}`);
    return parseInt(m[1], 16) >>> 0;
  };
  const seg = (name: string): QemuSegment => {
    const m = text.match(
      new RegExp(`^${name}\\s*=([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)`, "m"),
    );
    if (!m) throw new Error(`gdb: 'info registers' has no ${name}`);
    return {
      sel: parseInt(m[1], 16),
      base: parseInt(m[2], 16) >>> 0,
      limit: parseInt(m[3], 16) >>> 0,
      flags: parseInt(m[4], 16) >>> 0,
    };
  };
  const table = (name: string): [number, number] => {
    const m = text.match(new RegExp(`^${name}=\\s*([0-9a-f]+) ([0-9a-f]+)`, "m"));
    if (!m) throw new Error(`gdb: 'info registers' has no ${name}`);
    return [parseInt(m[1], 16) >>> 0, parseInt(m[2], 16)];
  };
  const [gdtBase, gdtLimit] = table("GDT");
  const [idtBase, idtLimit] = table("IDT");
  return {
    cr0: num(/CR0=([0-9a-f]+)/, "CR0"),
    cr2: num(/CR2=([0-9a-f]+)/, "CR2"),
    cr3: num(/CR3=([0-9a-f]+)/, "CR3"),
    cr4: num(/CR4=([0-9a-f]+)/, "CR4"),
    gdtBase,
    gdtLimit,
    idtBase,
    idtLimit,
    segs: ["ES ", "CS ", "SS ", "DS ", "FS ", "GS ", "LDT", "TR "].map(seg),
    cpl: num(/CPL=([0-9a-f]+)/, "CPL"),
  };
}

/** A running QEMU with its gdb stub connected. */
export interface QemuSession {
  gdb: GdbRemote;
  child: Deno.ChildProcess;
  port: number;
  /** Kills QEMU (by its pid) and waits for it to exit. */
  close(): Promise<void>;
}

/** Options for {@link startQemu}. */
export interface QemuOptions {
  /** Multiboot ELF image passed with `-kernel`. */
  kernel: string;
  /** Guest RAM in MiB (default 64). */
  memMiB?: number;
  /** QEMU `-cpu` model (default pentium3). */
  cpu?: string;
  /** Extra arguments appended to the command line. */
  extraArgs?: string[];
}

/** The QEMU binary used by every verification tool. */
export const QEMU_BINARY = "qemu-system-i386";

/** True when `qemu-system-i386` can be run. */
export async function qemuAvailable(): Promise<boolean> {
  try {
    const out = await new Deno.Command(QEMU_BINARY, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

/** Finds a free TCP port on 127.0.0.1 by listening on port 0 and closing again. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Starts QEMU halted (`-S`) with its gdb stub on a free port and connects to it. Interrupts and
 * timers are disabled during single steps (`Qqemu.sstep=7`: SSTEP_ENABLE|NOIRQ|NOTIMER) so that a
 * step executes exactly one guest instruction.
 */
export async function startQemu(opts: QemuOptions): Promise<QemuSession> {
  const port = freePort();
  const args = [
    "-S",
    "-gdb",
    `tcp:127.0.0.1:${port}`,
    "-display",
    "none",
    "-serial",
    "none",
    "-monitor",
    "none",
    "-parallel",
    "none",
    "-accel",
    "tcg,thread=single",
    "-cpu",
    opts.cpu ?? "pentium3",
    "-m",
    String(opts.memMiB ?? 64),
    "-kernel",
    opts.kernel,
    "-no-reboot",
    "-device",
    "isa-debug-exit,iobase=0xf4,iosize=0x04",
    ...(opts.extraArgs ?? []),
  ];
  const child = new Deno.Command(QEMU_BINARY, {
    args,
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  })
    .spawn();
  let gdb: GdbRemote;
  try {
    gdb = await GdbRemote.connect(port);
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    const err = await child.output().then((o) => new TextDecoder().decode(o.stderr)).catch(() =>
      ""
    );
    throw new Error(`${(e as Error).message}\nqemu stderr: ${err}`);
  }
  await gdb.startNoAckMode();
  await gdb.setSingleStepFlags(7);
  let closed = false;
  return {
    gdb,
    child,
    port,
    async close() {
      if (closed) return;
      closed = true;
      gdb.close();
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
      await child.stderr.cancel().catch(() => {});
      await child.status;
    },
  };
}
