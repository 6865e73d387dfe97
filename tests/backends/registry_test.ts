import { assert, assertEquals, assertThrows } from "./assert.ts";
import { createBackend, listBackends, parseBackendSpec } from "../../backends/registry.ts";

Deno.test("parseBackendSpec accepts name and name@version, defaulting the version", () => {
  assertEquals(parseBackendSpec("kvm@2.6.25"), { name: "kvm", version: "2.6.25" });
  assertEquals(parseBackendSpec("kvm"), { name: "kvm", version: "2.6.25" });
  assertEquals(parseBackendSpec("native"), { name: "native", version: "p6" });
  assertEquals(parseBackendSpec(" kvm@2.6.33 "), { name: "kvm", version: "2.6.33" });
});

Deno.test("parseBackendSpec errors list the valid names and versions", () => {
  const unknown = assertThrows(() => parseBackendSpec("xenn@3.1"));
  assert(/unknown backend "xenn"/.test(unknown.message), unknown.message);
  assert(
    /kvm@\{2\.6\.20,2\.6\.22,2\.6\.25,2\.6\.33,2\.6\.35,6\.1\}/.test(unknown.message),
    unknown.message,
  );
  assert(/native@\{p6\}/.test(unknown.message), unknown.message);
  const badVersion = assertThrows(() => parseBackendSpec("kvm@2.6.99"));
  assert(/kvm has no version "2\.6\.99"; valid: 2\.6\.20, 2\.6\.22/.test(badVersion.message));
  const malformed = assertThrows(() => parseBackendSpec("kvm@"));
  assert(/not of the form name\[@version\]/.test(malformed.message), malformed.message);
  assertThrows(() => parseBackendSpec(""));
});

Deno.test("createBackend builds each listed profile with its name and version", () => {
  for (const b of listBackends()) {
    assert(b.versions.includes(b.defaultVersion));
    for (const v of b.versions) {
      const be = createBackend(`${b.name}@${v}`);
      assertEquals([be.name, be.version], [b.name, v]);
      const d = be.describe();
      assertEquals([d.name, d.version], [b.name, v]);
      assert(d.calls.length > 0);
    }
  }
  assertEquals(createBackend({ name: "kvm", version: "2.6.22" }).version, "2.6.22");
});

Deno.test("backends refuse use before attach and double attach", () => {
  const kvm = createBackend("kvm");
  const e = assertThrows(() => kvm.onExit(0, 0, 0, 0));
  assert(/used before attach/.test(e.message));
});
