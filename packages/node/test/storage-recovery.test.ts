/**
 * Crash recovery of SPM tasks: a node killed (VELA_TEST_FAULTS, kill -9 semantics) in the middle
 * of createVolume leaves its task and recovery stack in master/tasks; the next SPM rolls it back
 * and the domain checks clean. Uses a 5 s lease so the restarted agent's takeover is quick.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { checkFileDomain } from "../src/storage/domain/check.js";
import { parseVolumeMd } from "../src/storage/metadata.js";
import { type NodeProc, rejoinPool, startNode, waitExit, waitTask } from "./harness.js";
import { BLANK_UUID as BLANK } from "@vela/protocol";

const nodes: NodeProc[] = [];
after(async () => {
  for (const n of nodes) await n.kill("SIGKILL").catch(() => {});
});

async function ok<T extends { status: { code: number; message: string } }>(p: Promise<T>, what: string): Promise<T> {
  const r = await p;
  assert.equal(r.status.code, 0, `${what}: ${r.status.message}`);
  return r;
}

/** A node that dies at `fault`, SPM of a fresh pool on a new local domain (5 s lease). */
async function faultyPool(fault: string): Promise<{ runDir: string; p: { dir: string; sd: string; sp: string }; a: NodeProc }> {
  const runDir = mkdtempSync(join(tmpdir(), "vela-rec-run-"));
  const dir = mkdtempSync(join(tmpdir(), "vela-rec-sd-"));
  const p = { dir, sd: randomUUID(), sp: randomUUID() };
  const a = await startNode({ runDir, env: { VELA_LOG_LEVEL: "warn", VELA_TEST_FAULTS: fault } });
  nodes.push(a);
  await ok(a.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: dir }]), "connect");
  await ok(a.xml("createStorageDomain", 4, p.sd, "recovery", dir, 1, 5), "createStorageDomain");
  await ok(a.xml("createStoragePool", 0, p.sp, "recovery pool", p.sd, [p.sd], 1, "", 1, 5, 10, 3), "createStoragePool");
  await rejoinPool(a, p);
  return { runDir, p, a };
}

test("createVolume killed after the data file is made is rolled back by the next SPM", async () => {
  const { runDir, p, a } = await faultyPool("createVolume.afterCreate");

  const img = randomUUID();
  const vol = randomUUID();
  const r = await a.xml("createVolume", p.sd, p.sp, img, 2 ** 30, 4, 2, "DATA", vol, "doomed", BLANK, BLANK);
  assert.equal(r.status.code, 0);
  const taskId = r.uuid as string;
  await waitExit(a, 10_000);

  // What the crash left: an ILLEGAL volume and the task with its stack on the master domain.
  const domainDir = join(p.dir, p.sd);
  const volPath = join(domainDir, "images", img, vol);
  assert.ok(existsSync(volPath), "data file made before the crash");
  assert.equal(parseVolumeMd(readFileSync(`${volPath}.meta`, "utf8")).LEGALITY, "ILLEGAL");
  const taskFile = join(domainDir, "master/tasks", taskId, `${taskId}.task`);
  const saved = readFileSync(taskFile, "utf8");
  assert.match(saved, /^state = running$/m);
  assert.match(saved, /^recover\.1 = .*volume\.removeFiles/m);
  assert.ok(!(await checkFileDomain(domainDir)).ok, "the checker sees the half-made volume");

  // The agent comes back (same run dir, no fault) and takes the SPM role again.
  const b = await startNode({ runDir, env: { VELA_LOG_LEVEL: "warn" } });
  nodes.push(b);
  await rejoinPool(b, p);
  const st = (await b.json("Task.getStatus", { taskID: taskId })) as { taskState: string; taskResult: string; code: number };
  assert.equal(st.taskState, "finished");
  assert.equal(st.taskResult, "cleanSuccess", "rolled back");
  assert.notEqual(st.code, 0);
  assert.ok(!existsSync(volPath) && !existsSync(`${volPath}.meta`) && !existsSync(`${volPath}.lease`));
  assert.ok(!existsSync(join(domainDir, "images", img)), "the image dir it made is gone too");
  assert.deepEqual((await checkFileDomain(domainDir)).problems, []);

  await ok(b.xml("clearTask", taskId), "clearTask");
  assert.ok(!existsSync(join(domainDir, "master/tasks", taskId)), "a cleared task leaves nothing on the master domain");
  // The same request now succeeds.
  const again = await ok(b.xml("createVolume", p.sd, p.sp, img, 2 ** 30, 4, 2, "DATA", vol, "second try", BLANK, BLANK), "createVolume again");
  assert.equal((await waitTask(b, again.uuid as string)).taskResult, "success");
  assert.deepEqual((await checkFileDomain(domainDir)).problems, []);
  await b.stop();
});

test("deleteImage killed after the rename is finished by the next SPM (roll-forward)", async () => {
  const { runDir, p, a } = await faultyPool("deleteImage.afterRename");
  const img = randomUUID();
  const vol = randomUUID();
  const c = await ok(a.xml("createVolume", p.sd, p.sp, img, 2 ** 26, 4, 2, "DATA", vol, "", BLANK, BLANK), "createVolume");
  assert.equal((await waitTask(a, c.uuid as string)).taskResult, "success");

  const d = await ok(a.xml("deleteImage", p.sd, p.sp, img), "deleteImage");
  await waitExit(a, 10_000);
  const domainDir = join(p.dir, p.sd);
  assert.ok(!existsSync(join(domainDir, "images", img)), "renamed away before the crash");
  assert.ok(existsSync(join(domainDir, "images", `_remove_me_${img}`, vol)), "data still there under _remove_me_");

  const b = await startNode({ runDir, env: { VELA_LOG_LEVEL: "warn" } });
  nodes.push(b);
  await rejoinPool(b, p);
  assert.ok(!existsSync(join(domainDir, "images", `_remove_me_${img}`)), "the next SPM finished the delete");
  const st = (await b.json("Task.getStatus", { taskID: d.uuid })) as { taskState: string; taskResult: string };
  assert.equal(st.taskState, "finished");
  assert.deepEqual((await checkFileDomain(domainDir)).problems, []);
  await b.stop();
});
