/**
 * The `vela up` supervisor against real child processes: a process that dies right after every
 * start is restarted with a doubling, capped delay (no restart storm), a process that ran for the
 * stable period restarts after the short delay again, one that never got ready is not restarted,
 * and stop() ends the process and any pending restart.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { backoffDelay, Supervised } from "../src/supervise.js";
import { until as kitUntil } from "@vela/testkit";

const dir = mkdtempSync(join(tmpdir(), "vela-supervise-"));

/** A child that says READY, lives `liveMs`, then exits 3. */
function script(name: string, liveMs: number, ready = true): string {
  const f = join(dir, `${name}.mjs`);
  writeFileSync(f, `${ready ? 'process.stdout.write("VELA-TEST-READY x=1\\n");' : ""} setTimeout(() => process.exit(3), ${liveMs});\n`);
  return f;
}

/** The kit's `until` for a synchronous check, polled often (restarts are timed to the backoff). */
const until = (what: string, fn: () => boolean, ms = 20_000) => kitUntil(what, () => (fn() ? true : undefined), ms, 20);

const delays = (log: string) => [...readFileSync(log, "utf8").matchAll(/starting it again in ([0-9.]+) s/g)].map((m) => Number(m[1]));

test("backoffDelay doubles from the initial delay and stops at the cap", () => {
  const b = { initialMs: 500, maxMs: 30_000, stableMs: 60_000 };
  assert.deepEqual([0, 1, 2, 3, 6, 7, 100].map((n) => backoffDelay(b, n)), [500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
});

test("a process that dies after every start is restarted with a doubling, capped delay", async () => {
  const log = join(dir, "storm.log");
  const s = new Supervised({ name: "storm", main: script("storm", 10), env: {}, logFile: log, backoff: { initialMs: 50, maxMs: 200, stableMs: 10_000 } });
  const t0 = Date.now();
  assert.match(await s.start(), /^VELA-TEST-READY/);
  await until("5 restarts", () => s.restarts >= 5);
  const took = Date.now() - t0;
  await s.stop();
  assert.deepEqual(delays(log).slice(0, 5), [0.05, 0.1, 0.2, 0.2, 0.2], readFileSync(log, "utf8"));
  assert.ok(took >= 50 + 100 + 200 + 200, `the restarts waited their delays (${took} ms)`);
});

test("after a stable run the delay starts from the initial one again", async () => {
  const log = join(dir, "stable.log");
  const s = new Supervised({ name: "stable", main: script("stable", 300), env: {}, logFile: log, backoff: { initialMs: 50, maxMs: 5000, stableMs: 200 } });
  await s.start();
  await until("3 restarts", () => s.restarts >= 3);
  await s.stop();
  assert.deepEqual(delays(log).slice(0, 3), [0.05, 0.05, 0.05], readFileSync(log, "utf8"));
});

test("a process that never gets ready fails its start and is not restarted", async () => {
  const log = join(dir, "never.log");
  const s = new Supervised({ name: "never", main: script("never", 10, false), env: {}, logFile: log });
  await assert.rejects(s.start(), /never exited \(3\) before it was ready/);
  assert.equal(s.restarts, 0);
  await s.stop();
});

test("stop() ends the process and cancels a pending restart", async () => {
  const log = join(dir, "stop.log");
  const s = new Supervised({ name: "stop", main: script("stop", 60_000), env: {}, logFile: log, backoff: { initialMs: 100, maxMs: 100, stableMs: 1000 } });
  await s.start();
  const pid = s.pid!;
  await s.stop();
  assert.throws(() => process.kill(pid, 0), "the process is gone");
  assert.equal(s.restarts, 0, "a stopped process is not restarted");
});

test("after quiesce() a process that exits (a signal to vela up's whole group) is neither restarted nor announced", async () => {
  const log = join(dir, "quiesce.log");
  const s = new Supervised({ name: "quiet", main: script("quiet", 60_000), env: {}, logFile: log, backoff: { initialMs: 10, maxMs: 10, stableMs: 1000 } });
  await s.start();
  const pid = s.pid!;
  s.quiesce();
  process.kill(pid, "SIGTERM");
  await until("the child is gone", () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
  await s.stop();
  assert.equal(s.restarts, 0, readFileSync(log, "utf8"));
  assert.doesNotMatch(readFileSync(log, "utf8"), /died/);
});
