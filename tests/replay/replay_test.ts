/** Same-backend replay, altered-event detection, what-if replay and cross-backend replay. */

import assert from "node:assert/strict";
import type { TraceEvent } from "../../vocabulary/event.ts";
import { Recorder, ReplayChecker } from "../../traces/session/recorder.ts";
import { parseOverride, replayCross, replaySame } from "../../traces/session/replay.ts";
import { openSession } from "../../traces/session/session.ts";
import { IMAGE_DIR } from "../../traces/format/guest_image.ts";

const IMAGE = Deno.readFileSync(`${IMAGE_DIR}/pvkernel-2.6.22.elf`);

function record(cmdline: string, backend: string) {
  const events: TraceEvent[] = [];
  const s = openSession(
    { image: IMAGE, imageName: "pvkernel-2.6.22.elf", cmdline, backend },
    new Recorder({ append: (e) => events.push(e) }),
  );
  const result = s.run(400_000_000);
  return {
    events,
    header: s.header,
    result,
    serial: new TextDecoder().decode(Uint8Array.from(s.serial)),
  };
}

const boot = record("scenario=boot", "kvm");

Deno.test("replay on the recording backend reports zero divergences", () => {
  const r = replaySame(boot.header, boot.events, IMAGE);
  assert.equal(r.mismatch, null);
  assert.equal(r.checked, boot.events.length);
});

Deno.test("a trace with one event altered is caught at exactly that event, and replay stops there", () => {
  for (const pick of [0, 231, boot.events.length - 1]) {
    const altered = boot.events.map((e) => e.seq === pick ? { ...e, eip: (e.eip + 1) >>> 0 } : e);
    const r = replaySame(boot.header, altered, IMAGE);
    assert.ok(r.mismatch, `alteration at ${pick} not caught`);
    assert.equal(r.mismatch.seq, pick);
    assert.deepEqual(r.mismatch.fields, ["eip"]);
    // The guest ran no further than the instruction that produced the mismatching event (the
    // last one is the isa-debug-exit write, whose own stop comes first).
    const last = pick === boot.events.length - 1;
    assert.equal(r.result.reason, last ? "debug-exit" : "stopped", `pick ${pick}`);
    assert.equal(r.events, pick + 1, `pick ${pick}`);
  }
});

Deno.test("a recording cut short is reported as a missing event, an extra one as extra", () => {
  const c = new ReplayChecker(boot.events.slice(0, 3));
  for (const e of boot.events.slice(0, 4)) c.emit(e);
  assert.equal(c.mismatch?.seq, 3);
  assert.deepEqual(c.mismatch?.fields, ["(extra event)"]);
  const d = new ReplayChecker(boot.events.slice(0, 3));
  for (const e of boot.events.slice(0, 2)) d.emit(e);
  d.finish();
  assert.deepEqual(d.mismatch?.fields, ["(missing event)"]);
});

Deno.test("what-if: a KVM that answered 0 instead of -KVM_ENOSYS changes the guest's verdict", () => {
  const probe = boot.events.find((e) => e.kind === "hypercall" && e.name === "unknown");
  assert.ok(probe, "no unknown-number vmcall probe in the kvm boot trace");
  assert.equal(probe.ret, -1000 >>> 0);
  assert.match(boot.serial, /RESULT .*pass=1/);
  const r = replaySame(boot.header, boot.events, IMAGE, {
    overrides: [{ seq: probe.seq, ret: 0 }],
  });
  const serial = new TextDecoder().decode(Uint8Array.from(r.session.serial));
  assert.ok(r.mismatch, "the what-if run should leave the recording");
  assert.ok(r.mismatch.seq > probe.seq);
  assert.doesNotMatch(serial, /RESULT .*pass=1/);
});

Deno.test("parseOverride accepts SEQ.ret=VALUE and rejects anything else", () => {
  assert.deepEqual(parseOverride("12.ret=0x10"), { seq: 12, ret: 16 });
  assert.deepEqual(parseOverride("3.ret=-1000"), { seq: 3, ret: -1000 });
  assert.throws(() => parseOverride("12.eax=1"), /SEQ.ret=VALUE/);
  assert.throws(() => parseOverride("1.ret=0x1ffffffff"), /range/);
});

Deno.test("cross replay: native on itself has no divergence; kvm -> native flags the PV ABI", () => {
  const nat = record("scenario=boot", "native");
  assert.equal(replayCross(nat.header, nat.events, "native").divergences.length, 0);
  const r = replayCross(boot.header, boot.events, "native");
  assert.ok(r.operations > 0);
  const ops = new Set(r.divergences.map((d) => d.op));
  assert.ok(ops.has("cpuid"), `expected the KVM signature leaves to diverge: ${[...ops]}`);
});
