/**
 * The node's one command runner: a command run to a marker is killed there (a QEMU probe), one
 * that never prints it is killed at its timeout, and a long-lived helper starts with its argv.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CommandError, run, runUntil, startDaemon } from "../src/exec.js";

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

test("runUntil resolves at the marker and kills the command", async () => {
  const started = Date.now();
  const r = await runUntil(["sh", "-c", "echo booting; echo READY-42 >&2; exec sleep 30"], "READY-42", { timeoutMs: 20_000 });
  assert.equal(r.seen, true, `tail: ${r.tail}`);
  assert.match(r.tail, /booting/);
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms: the command was not killed at the marker`);
});

test("runUntil gives up at the timeout, and says the marker was not seen", async () => {
  const started = Date.now();
  const r = await runUntil(["sh", "-c", "echo still-going; exec sleep 30"], "NEVER", { timeoutMs: 300 });
  assert.equal(r.seen, false);
  assert.match(r.tail, /still-going/);
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
});

test("run kills a command at its timeout with a CommandError naming the signal", async () => {
  const err = await run(["sleep", "30"], { timeoutMs: 200 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof CommandError, String(err));
  assert.equal(err.signal, "SIGKILL");
});

test("startDaemon starts a long-lived helper its caller then stops", async () => {
  const proc = startDaemon(["sleep", "30"]);
  assert.ok(proc.pid, "no pid");
  const exited = new Promise<void>((res) => proc.once("exit", () => res()));
  proc.kill("SIGTERM");
  await exited;
  assert.ok(gone(proc.pid!), "still running after SIGTERM");
});
