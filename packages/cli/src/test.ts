/**
 * `vela test`: builds the test guest (cached outside the repo), then runs every compiled test
 * file with node's own test runner, whose summary lines CI reads.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { GUEST_SCRIPT, ROOT } from "./paths.js";
import { step } from "./progress.js";

function testFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".test.js"))
    .map((e) => join((e as { parentPath?: string; path?: string }).parentPath ?? (e as { path?: string }).path ?? dir, e.name))
    .sort();
}

export function allTestFiles(): string[] {
  return [
    ...["protocol", "node", "engine", "cli"].flatMap((p) => testFiles(join(ROOT, "packages", p, "dist/test"))),
    ...testFiles(join(ROOT, "test/dist/src")),
  ];
}

export function testCommand(args: string[]): number {
  if (existsSync(GUEST_SCRIPT)) {
    step("preparing the test guest (cached after the first run)");
    const r = spawnSync("bash", [GUEST_SCRIPT], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (r.status !== 0) {
      step("could not build the test guest");
      return 1;
    }
    process.env.VELA_GUEST_DIR = r.stdout.trim().split("\n").pop();
  }
  const files = args.length ? args : allTestFiles();
  if (files.length === 0) {
    step("no test files found (did the build run?)");
    return 1;
  }
  const concurrency = process.env.VELA_TEST_CONCURRENCY ?? "2";
  const r = spawnSync(process.execPath, ["--test", `--test-concurrency=${concurrency}`, ...files], { stdio: "inherit", cwd: ROOT });
  return r.status ?? 1;
}
