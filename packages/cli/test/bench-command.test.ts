/**
 * `vela bench` runs a benchmark as a user would, outside `vela test`: it must bring its own test CA
 * (agents speak mutual TLS only). Without one every benchmark died at start with "VELA_TEST_PKI is
 * not set" once TLS landed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "../src/paths.js";

test("vela bench runs a benchmark with its own test CA and passes it the arguments after --", () => {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // As a user's shell: no test run's CA, no test runner context.
  delete env.VELA_TEST_PKI;
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, [join(ROOT, "packages/cli/dist/src/main.js"), "bench", "create-volume", "--", "3"], {
    cwd: ROOT,
    env,
    encoding: "utf8",
    timeout: 240_000,
  });
  assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /createVolume-vela-node-api n=3 /, r.stdout);
  assert.match(r.stdout, /createVolume-ratio vela\/bare=[0-9.]+/, r.stdout);
});

test("vela bench refuses an unknown benchmark by name", () => {
  const r = spawnSync(process.execPath, [join(ROOT, "packages/cli/dist/src/main.js"), "bench", "no-such-bench"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /no benchmark no-such-bench/);
});
