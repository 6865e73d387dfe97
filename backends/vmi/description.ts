/**
 * The static description of a VMI profile: every ROM call it offers with its arguments and
 * canonical operation (docs/abi/vmi.md §3), plus the two header entry points.
 *
 * @module
 */

import type { BackendDescription, CallDescription } from "../backend.ts";
import { Hdr, VMI_CALL_NAMES } from "./abi.ts";
import { VMI_ROUTINES } from "./calls.ts";
import type { VmiProfile } from "./profiles.ts";
import type { VmiRom } from "./rom.ts";

/** Describes `p` (its ROM `rom`). */
export function describeVmi(p: VmiProfile, rom: VmiRom): BackendDescription {
  const calls: CallDescription[] = [
    {
      kind: "hypercall",
      nr: Hdr.vmiInit,
      name: "vmi_init",
      args: [],
      ret: "EAX 0 = success",
      op: null,
      source: "docs/abi/vmi.md §1, §4",
    },
    {
      kind: "hypercall",
      nr: Hdr.getReloc,
      name: "get_reloc",
      args: [{ loc: "EAX", name: "call", unit: "number" }],
      ret: "EAX routine, DL type (NONE 0, CALL_REL 1, JUMP_REL 2, NOP 3)",
      op: null,
      source: "docs/abi/vmi.md §2",
    },
  ];
  for (const r of VMI_ROUTINES) {
    if (!rom.routines.has(r.nr)) continue;
    calls.push({
      kind: "hypercall",
      nr: r.nr,
      name: VMI_CALL_NAMES[r.nr],
      args: r.args,
      ret: r.ret,
      op: r.op,
      source: "docs/abi/vmi.md §3, §5",
    });
  }
  const top = `0x${(p.virtualTop >>> 0).toString(16)}`;
  return {
    name: "vmi",
    version: p.version,
    summary: `VMware VMI option ROM, API ${p.apiMajor}.${p.apiMinor}, ${calls.length - 2} calls, ` +
      `virtual_top ${top}`,
    discovery: `option ROM at 0x${p.romBase.toString(16)} (0xAA55, "cVmi", PCI 15ad:0801, ` +
      `license "${p.license}") found by scanning 0xC0000-0xDFFFF (docs/abi/vmi.md §1)`,
    convention: "near call into the ROM, regparm(3): EAX, EDX, ECX, stack; results EAX/EDX:EAX " +
      "(docs/abi/vmi.md §2)",
    calls,
  };
}
