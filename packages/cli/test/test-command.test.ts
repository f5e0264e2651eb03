/**
 * `vela test` gives the run a private TMPDIR and removes it afterwards, whatever the tests left
 * there, and says how much disk is free. Runs left gigabytes of domains and volumes in /tmp
 * before, until a later run's guest stalled on a full disk.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "../src/paths.js";

test("vela test runs in a private TMPDIR and leaves nothing behind", () => {
  const dir = mkdtempSync(join(tmpdir(), "vela-cli-test-"));
  const report = join(dir, "tmpdir.txt");
  const fixture = join(dir, "leaves-files.test.mjs");
  // A test that leaves a tree of files in its temp dir, as a careless storage test would.
  writeFileSync(
    fixture,
    `import { test } from "node:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
test("leaves files", () => {
  writeFileSync(${JSON.stringify(report)}, tmpdir());
  const d = mkdtempSync(join(tmpdir(), "vela-sd-"));
  mkdirSync(join(d, "images"));
  writeFileSync(join(d, "images", "volume"), Buffer.alloc(1 << 20, 1));
});
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Inside node --test the child would otherwise report to us instead of running on its own.
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, [join(ROOT, "packages/cli/dist/src/main.js"), "test", fixture], { cwd: ROOT, env, encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const used = readFileSync(report, "utf8");
  assert.match(used, /\/vt-[^/]+$/, "the run's TMPDIR is its own");
  assert.ok(used.startsWith(tmpdir()), "made under the caller's TMPDIR");
  assert.equal(existsSync(used), false, "and removed with everything in it");
  assert.match(r.stderr + r.stdout, /GiB free for .* before the tests/);
});

/** Whether the process is gone (or only a zombie waiting for its reaper). */
function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? true;
  } catch {
    return true;
  }
}

test("vela test ends though a test file leaves a child running, and kills the child", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vela-cli-test-"));
  const report = join(dir, "child.pid");
  const fixture = join(dir, "leaks-a-child.test.mjs");
  // As a node agent that was not ready in time used to be left: alive, its pipes open.
  writeFileSync(
    fixture,
    `import { test } from "node:test";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
test("leaks a child", () => {
  const c = spawn("sleep", ["600"], { stdio: ["ignore", "pipe", "pipe"] });
  writeFileSync(${JSON.stringify(report)}, String(c.pid));
});
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, [join(ROOT, "packages/cli/dist/src/main.js"), "test", fixture], { cwd: ROOT, env, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.error, undefined, `vela test did not end: ${String(r.error)}\n${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const pid = Number(readFileSync(report, "utf8"));
  const deadline = Date.now() + 10_000;
  while (!gone(pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  assert.ok(gone(pid), `the leaked child ${pid} still runs`);
  assert.match(r.stderr + r.stdout, /killed 1 process\(es\) the tests left running/);
});

test("vela test stops a PostgreSQL server that a killed test process left running", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vela-cli-test-"));
  const report = join(dir, "postmaster.txt");
  const fixture = join(dir, "killed-with-pg.test.mjs");
  const kit = join(ROOT, "packages/engine/dist/test/pg.js");
  // The engine's test kit starts its server, then the process dies before its exit handler runs.
  writeFileSync(
    fixture,
    `import { test } from "node:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pgServer } from ${JSON.stringify(kit)};
test("dies with a server running", () => {
  const s = pgServer();
  writeFileSync(${JSON.stringify(report)}, readFileSync(join(s.dataDir, "postmaster.pid"), "utf8").split("\\n")[0]);
  process.kill(process.pid, "SIGKILL");
});
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, [join(ROOT, "packages/cli/dist/src/main.js"), "test", fixture], { cwd: ROOT, env, encoding: "utf8", timeout: 120_000 });
  const pid = existsSync(report) ? Number(readFileSync(report, "utf8")) : 0;
  assert.ok(pid > 1, `no postmaster pid reported: ${r.stdout}${r.stderr}`);
  const deadline = Date.now() + 15_000;
  while (!gone(pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
  assert.ok(gone(pid), `postmaster ${pid} still running after vela test ended: ${r.stdout}${r.stderr}`);
});
