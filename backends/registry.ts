/**
 * The backend registry: turns a spec such as `kvm@2.6.25` into a backend, and lists every backend
 * with its version profiles. A new backend registers here (see docs/backends.md).
 *
 * @module
 */

import type { Backend, BackendSpec } from "./backend.ts";
import { createKvmBackend, KVM_VERSIONS } from "./kvm/backend.ts";
import { createLguestBackend, LGUEST_VERSIONS } from "./lguest/backend.ts";
import { createNativeBackend, NATIVE_VERSIONS } from "./native/backend.ts";
import { createVmiBackend, VMI_VERSIONS } from "./vmi/backend.ts";
import { createXenBackend, XEN_VERSIONS } from "./xen/backend.ts";

interface RegistryEntry {
  versions: readonly string[];
  defaultVersion: string;
  create(version: string, tweak?: ProfileTweak): Backend;
}

/**
 * Profile fields overridden for one run (e.g. `{ signature: false }` on kvm): a what-if on the
 * backend's version profile, used by `matrix --profile-tweak` to inject a deliberate regression.
 * The session records it in the trace header's quirks, so a tweaked trace never passes for a
 * plain one.
 */
export type ProfileTweak = Record<string, string | number | boolean>;

const REGISTRY: ReadonlyMap<string, RegistryEntry> = new Map<string, RegistryEntry>([
  ["native", { ...NATIVE_VERSIONS, create: createNativeBackend }],
  ["kvm", { ...KVM_VERSIONS, create: createKvmBackend }],
  ["vmi", { ...VMI_VERSIONS, create: createVmiBackend }],
  ["xen", { ...XEN_VERSIONS, create: createXenBackend }],
  ["lguest", { ...LGUEST_VERSIONS, create: createLguestBackend }],
]);

/**
 * Lists every backend with its versions, default first-class.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listBackends } from "./registry.ts";
 * assert.ok(listBackends().some((b) => b.name === "kvm"));
 * ```
 */
export function listBackends(): Array<
  { name: string; versions: string[]; defaultVersion: string }
> {
  return [...REGISTRY].map(([name, e]) => ({
    name,
    versions: [...e.versions],
    defaultVersion: e.defaultVersion,
  }));
}

function validList(): string {
  return listBackends().map((b) => `${b.name}@{${b.versions.join(",")}}`).join(" ");
}

/**
 * Parses `name` or `name@version`; the version defaults to the backend's default profile.
 * Throws naming the valid backends and versions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBackendSpec } from "./registry.ts";
 * const s = parseBackendSpec("kvm@2.6.25");
 * assert.deepEqual(s, { name: "kvm", version: "2.6.25" });
 * ```
 */
export function parseBackendSpec(spec: string): BackendSpec {
  const m = /^([a-z][a-z0-9_]*)(?:@([0-9A-Za-z._-]+))?$/.exec(spec.trim());
  if (!m) {
    throw new Error(
      `backend spec "${spec}" is not of the form name[@version]; valid: ${validList()}`,
    );
  }
  const entry = REGISTRY.get(m[1]);
  if (!entry) throw new Error(`unknown backend "${m[1]}" in "${spec}"; valid: ${validList()}`);
  const version = m[2] ?? entry.defaultVersion;
  if (!entry.versions.includes(version)) {
    throw new Error(
      `backend ${m[1]} has no version "${version}"; valid: ${entry.versions.join(", ")}`,
    );
  }
  return { name: m[1], version };
}

/**
 * Creates a backend from a spec string or a parsed spec.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createBackend } from "./registry.ts";
 * const kvm = createBackend("kvm");
 * assert.equal(kvm.version, "2.6.25");
 * ```
 */
export function createBackend(spec: string | BackendSpec, tweak?: ProfileTweak): Backend {
  const s = typeof spec === "string" ? parseBackendSpec(spec) : parseBackendSpec(
    `${spec.name}@${spec.version}`,
  );
  return REGISTRY.get(s.name)!.create(s.version, tweak);
}
