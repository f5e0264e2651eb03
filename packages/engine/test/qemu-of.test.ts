/**
 * The tests' QEMU finder kills what it finds in `after` hooks, so it must find only the VM asked
 * for: a test file whose VM was never made once passed "none" and killed every test QEMU on the
 * box (all carry `cache=none`), failing an unrelated file's shutdown test in CI.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { qemuOf, until } from "./support.js";

test("qemuOf finds a QEMU by its VM's UUID only, never by a word every QEMU carries", async (t) => {
  const vmId = randomUUID();
  const stand = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "--", "-drive", "file=/x.qcow2,cache=none", "-uuid", vmId, "-display", "none"], {
    argv0: "qemu-system-x86_64",
    stdio: "ignore",
  });
  t.after(() => stand.kill("SIGKILL"));
  const pid = stand.pid ?? 0;
  await until("the process to carry its command line", () => (qemuOf(vmId).includes(pid) ? true : undefined), 10_000);
  for (const loose of ["none", "", undefined, vmId.slice(0, 8), "cache=none"]) {
    assert.equal(qemuOf(loose).includes(pid), false, `qemuOf(${JSON.stringify(loose)}) must not find a QEMU of VM ${vmId}`);
  }
  assert.deepEqual(qemuOf(randomUUID()), [], "another VM's UUID finds nothing");
});
