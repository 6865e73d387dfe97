/**
 * The drawn structure holds: every import runs down the layers (or stays in its room), no cycle
 * joins files of different folders, and a file over 600 lines says at its top why it is long.
 * The layers are those of README.md "Architecture".
 */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), "../.."));

/** Layer of a product file (lower may not import higher), or null for files outside the product. */
const LAYERS: ReadonlyArray<[prefix: string, layer: number, room: string]> = [
  ["core/", 0, "core"],
  ["vocabulary/", 1, "vocabulary"],
  ["backends/", 2, "backends"],
  ["traces/format/", 2, "traces/format"],
  ["traces/analysis/", 3, "traces/analysis"],
  ["traces/session/", 4, "traces/session"],
  ["cli/", 5, "cli"],
  ["cli.ts", 5, "cli"],
  ["mod.ts", 6, "mod"],
];

function layerOf(path: string): { layer: number; room: string } | null {
  for (const [prefix, layer, room] of LAYERS) {
    if (path === prefix || path.startsWith(prefix)) return { layer, room };
  }
  return null;
}

function walk(dir: string, out: string[]): string[] {
  for (const e of Deno.readDirSync(join(ROOT, dir))) {
    const p = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory) {
      if (!["node_modules", "out", ".git"].includes(e.name)) walk(p, out);
    } else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

const FILES = walk("", []).sort();

/** Relative `.ts` imports of a file (static, dynamic and re-exports; JSDoc examples skipped). */
function importsOf(path: string): string[] {
  const text = Deno.readTextFileSync(join(ROOT, path)).replace(/\/\*\*[\s\S]*?\*\//g, "");
  const out: string[] = [];
  const re =
    /(?:^|\s)(?:import|export)\b[^"';]*?(?:from\s*)?["'](\.{1,2}\/[^"']+\.ts)["']|import\(\s*["'](\.{1,2}\/[^"']+\.ts)["']\s*\)/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2];
    out.push(relative(ROOT, normalize(join(ROOT, dirname(path), spec))));
  }
  return out;
}

const GRAPH = new Map(FILES.map((f) => [f, importsOf(f)]));

Deno.test("no import runs back up the layers", () => {
  const bad: string[] = [];
  for (const [from, targets] of GRAPH) {
    const a = layerOf(from);
    if (!a) continue;
    for (const to of targets) {
      const b = layerOf(to);
      if (!b) {
        bad.push(`${from} -> ${to} (outside the product)`);
      } else if (b.room !== a.room && b.layer >= a.layer) {
        bad.push(`${from} (${a.room}, layer ${a.layer}) -> ${to} (${b.room}, layer ${b.layer})`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("no import cycle joins files of different folders", () => {
  // Tarjan's strongly connected components over the whole tree (tests and benches included).
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>(), bad: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of GRAPH.get(v) ?? []) {
      if (!GRAPH.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (new Set(scc.map((f) => dirname(f))).size > 1) bad.push(scc.sort());
    }
  };
  for (const f of FILES) if (!index.has(f)) visit(f);
  assert.deepEqual(bad, []);
});

Deno.test("a file over 600 lines states at its top why", () => {
  const bad: string[] = [];
  for (const f of FILES) {
    const text = Deno.readTextFileSync(join(ROOT, f));
    const lines = text.split("\n").length;
    if (lines <= 600) continue;
    const top = text.split("\n").slice(0, 40).join("\n");
    if (!/Why this file is long:/.test(top)) bad.push(`${f}: ${lines} lines`);
  }
  assert.deepEqual(bad, []);
});

Deno.test("the layer test sees the tree: every product folder has files and imports", () => {
  for (const [prefix] of LAYERS) {
    assert.ok(FILES.some((f) => f.startsWith(prefix)), `${prefix} has no files`);
  }
  assert.ok(GRAPH.get("traces/session/session.ts")!.includes("core/machine.ts"));
});
