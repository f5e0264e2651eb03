/**
 * Self-fencing of a frozen SPM: the SPM is stopped (SIGSTOP) with work in flight for longer than
 * its lease; another host takes over; when the old SPM is continued (SIGCONT) it writes nothing
 * (the audit log of metadata writes has no entry with its LVER after the takeover), reports it is
 * not SPM and refuses metadata verbs.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { checkFileDomain } from "../src/storage/domain/check.js";
import { readAudit } from "../src/storage/spm/fence.js";
import { Cluster, createParams, isRpcError, retryNet, sleep } from "./cluster-support.js";

// Host 1 has the highest priority, so it is the first SPM.
const c = new Cluster({ hosts: 3, leaseTimeSec: 10, renewSec: 2, priorities: [10, 5, 5] });
before(() => c.start());
after(() => c.stop());

test("an SPM frozen past its lease writes nothing when it wakes, and knows it is no longer SPM", async () => {
  const old = await c.waitSpm(40_000);
  assert.equal(old.hostID, 1, "the highest-priority host is elected first");
  const oldLver = (await c.spmStatus(old)).spmLver;

  // Work in flight at the moment of the freeze: a burst of creates, not waited for.
  const tasks: string[] = [];
  for (let i = 0; i < 12; i++) tasks.push((await old.node.json("Volume.create", createParams(c, randomUUID(), randomUUID()))) as string);
  c.freeze(old);
  const frozenAt = Date.now();

  const next = await c.waitSpm(60_000, old);
  const newLver = (await c.spmStatus(next)).spmLver;
  assert.equal(newLver, oldLver + 1);
  const takeoverAt = Math.min(...readAudit(c.masterDir).filter((e) => e.lver === newLver).map((e) => e.ts));
  assert.ok(takeoverAt - frozenAt >= 10_000, `takeover ${takeoverAt - frozenAt} ms after the freeze, inside the 10 s lease`);

  c.thaw(old);
  const wokeAt = Date.now();
  console.log(`cluster-freeze: SPM host ${old.hostID} frozen ${wokeAt - frozenAt} ms; host ${next.hostID} took over (LVER ${oldLver}->${newLver}) ${takeoverAt - frozenAt} ms after the freeze`);

  // The woken agent reports what is true, refuses metadata verbs, and its tasks did not succeed late.
  const st = await c.spmStatus(old).catch((err) => {
    throw new Error(`woken agent does not answer (${err}); exit ${old.node.proc.exitCode}/${old.node.proc.signalCode}:\n${old.node.output().slice(-3000)}`);
  });
  assert.deepEqual(st, { spmStatus: "Free", spmLver: newLver, spmId: next.hostID });
  await assert.rejects(retryNet(() => old.node.json("Volume.create", createParams(c, randomUUID(), randomUUID()))), (e) => isRpcError(e, 654));
  await sleep(3000); // let every queued job and timer of the old agent run
  let unfinished = 0;
  for (const id of tasks) {
    // Unknown (401): fenced in flight, and let go once the agent saw the newer SPM, which owns it.
    const t = (await old.node.json("Task.getStatus", { taskID: id }).catch((e: unknown) => {
      if (isRpcError(e, 401)) return { taskState: "handed over", taskResult: "", message: "" };
      throw e;
    })) as { taskState: string; taskResult: string; message: string };
    if (t.taskResult === "success") continue; // finished before the freeze
    unfinished++;
    assert.notEqual(t.taskState, "running", `task ${id} still running on the fenced agent: ${t.message}`);
  }
  console.log(`cluster-freeze: ${unfinished} of ${tasks.length} creates were in flight at the freeze and did not complete on the fenced agent`);

  // The audit: nothing written with the old LVER after the takeover (nor after waking).
  const audit = readAudit(c.masterDir);
  const stale = audit.filter((e) => e.lver === oldLver && (e.ts >= takeoverAt || e.ts >= wokeAt));
  assert.deepEqual(stale, [], "writes by the fenced SPM after the takeover");
  assert.ok(audit.some((e) => e.lver === oldLver && e.ts < frozenAt), "the old SPM's own writes are audited too");

  // The new SPM keeps working; what the old one left is for the new one to recover.
  const t = (await next.node.json("Volume.create", createParams(c, randomUUID(), randomUUID()))) as string;
  const { waitTask } = await import("./harness.js");
  assert.equal((await waitTask(next.node, t)).taskResult, "success");
  const report = await checkFileDomain(c.domainDir, { qemu: false });
  assert.deepEqual(report.problems, []);
});
