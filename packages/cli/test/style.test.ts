/**
 * Style and architecture checks over the whole tree (Firecracker keeps such tests beside its
 * functional ones): the engine and the node share only the protocol package, the protocol does
 * no I/O, and the linter reports no error.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "../src/paths.js";

function sources(pkg: string): string[] {
  const dir = join(ROOT, "packages", pkg, "src");
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts")).map((f) => join(dir, f));
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:import|export)[^'"]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? m[2]!);
}

test("the engine never imports node code, and the node never imports engine code", () => {
  const bad: string[] = [];
  for (const [pkg, other] of [
    ["engine", "node"],
    ["node", "engine"],
  ] as const) {
    for (const f of sources(pkg)) {
      for (const spec of importsOf(f)) {
        if (spec.startsWith(`@vela/${other}`) || spec.includes(`packages/${other}/`) || spec.includes(`../${other}/`)) bad.push(`${f}: ${spec}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

test("the protocol package does no I/O", () => {
  const io = /^(node:)?(fs|child_process|net|http|https|dgram|fs\/promises)$/;
  const bad = sources("protocol").flatMap((f) => importsOf(f).filter((s) => io.test(s)).map((s) => `${f}: ${s}`));
  assert.deepEqual(bad, []);
});
test("biome lint finds no error", () => {
  const r = spawnSync(join(ROOT, "node_modules/.bin/biome"), ["lint", "--diagnostic-level=error", "packages", "test", "bench"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`.slice(-4000));
});
