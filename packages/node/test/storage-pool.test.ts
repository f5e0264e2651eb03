/**
 * Pool verbs that move or remove the master role, through a real node: switchMaster (master/ and
 * the pool keys move to another active domain, MASTER_VERSION goes up, the SPM keeps its role
 * with the lease moved to the new master), reconstructMaster (the master domain is lost; the pool is rebuilt on a surviving
 * domain), refreshStoragePool, destroyStoragePool (every domain is a plain domain again), plus
 * revertTask's refusals and copyImage's progress in getTaskInfo. Every domain ends checked clean.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { checkFileDomain } from "../src/storage/domain/check.js";
import { parseDomainMd } from "../src/storage/metadata.js";
import { type NodeProc, startNode, waitTask } from "./harness.js";
import { BLANK_UUID as BLANK } from "@vela/protocol";

const MiB = 2 ** 20;
type Resp = { status: { code: number; message: string } } & Record<string, unknown>;

let node: NodeProc;
const sp = randomUUID();
const doms = [0, 1, 2].map(() => ({ sd: randomUUID(), dir: mkdtempSync(join(tmpdir(), "vela-pool-sd-")) }));
const ddir = (i: number) => join(doms[i].dir, doms[i].sd);
const mdOf = (i: number) => parseDomainMd(readFileSync(join(ddir(i), "dom_md/metadata"), "utf8")).md;

async function ok(r: Promise<Resp>, what: string): Promise<Resp> {
  const res = await r;
  assert.equal(res.status.code, 0, `${what}: ${res.status.message}`);
  return res;
}

async function task(r: Promise<Resp>, what: string): Promise<string> {
  const id = (await ok(r, what)).uuid as string;
  const st = await waitTask(node, id, 90_000);
  assert.equal(st.taskResult, "success", `${what}: ${st.message}`);
  return id;
}

async function becomeSpm(): Promise<void> {
  await task(node.xml("spmStart", sp, -1, "-1", 0, false), "spmStart");
  assert.equal(((await node.xml("getSpmStatus", sp)).spm_st as { spmStatus: string }).spmStatus, "SPM");
}

async function createVolume(i: number): Promise<void> {
  await task(node.xml("createVolume", doms[i].sd, sp, randomUUID(), 64 * MiB, 4, 2, "DATA", randomUUID(), "", BLANK, BLANK), "createVolume");
}

async function assertClean(i: number): Promise<void> {
  assert.deepEqual((await checkFileDomain(ddir(i))).problems, [], `domain ${i}`);
}

before(async () => {
  node = await startNode({ env: { VELA_LOG_LEVEL: "warn" } });
  for (const [i, d] of doms.entries()) {
    await ok(node.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: d.dir }]), "connect");
    await ok(node.xml("createStorageDomain", 4, d.sd, `dom${i}`, d.dir, 1, 5), "createStorageDomain");
  }
  await ok(node.xml("createStoragePool", 0, sp, "switch pool", doms[0].sd, [doms[0].sd], 1, "", 1, 5, 10, 3), "createStoragePool");
  await ok(node.xml("connectStoragePool", sp, 1, "", doms[0].sd, 1), "connectStoragePool");
  await becomeSpm();
  for (const i of [1, 2]) {
    await ok(node.xml("attachStorageDomain", doms[i].sd, sp), "attach");
    await ok(node.xml("activateStorageDomain", doms[i].sd, sp), "activate");
  }
});
after(async () => {
  await node?.stop();
});

test("refreshStoragePool accepts the current master and version, refuses a wrong version", async () => {
  await ok(node.xml("refreshStoragePool", sp, doms[0].sd, 1), "refresh");
  assert.equal((await node.xml("refreshStoragePool", sp, doms[0].sd, 5)).status.code, 324);
  assert.equal((await node.xml("refreshStoragePool", sp, doms[1].sd, 1)).status.code, 656, "the SPM does not move the master by refresh");
});

test("copyImage reports its progress in getTaskInfo while it runs", async () => {
  const img = randomUUID();
  const vol = randomUUID();
  await task(node.xml("createVolume", doms[1].sd, sp, img, 512 * MiB, 4, 2, "DATA", vol, "", BLANK, BLANK), "source");
  execFileSync("qemu-io", ["-f", "qcow2", "-c", `write -P 0x3c 0 ${384 * MiB}`, join(ddir(1), "images", img, vol)], { stdio: "ignore" });
  const id = (await ok(node.xml("copyImage", doms[1].sd, sp, "", img, vol, randomUUID(), randomUUID(), "", BLANK, 8, 5, 2), "copyImage")).uuid as string;
  const seen = new Set<number>();
  for (;;) {
    const info = (await node.json("Task.getInfo", { taskID: id })) as { verb: string; progress: number };
    assert.equal(info.verb, "copyImage");
    seen.add(info.progress);
    const st = (await node.json("Task.getStatus", { taskID: id })) as { taskState: string; taskResult: string };
    if (st.taskState === "finished") {
      assert.equal(st.taskResult, "success");
      break;
    }
    await new Promise((r) => setTimeout(r, 15));
  }
  assert.equal(((await node.json("Task.getInfo", { taskID: id })) as { progress: number }).progress, 100);
  assert.ok([...seen].some((p) => p > 0 && p < 100), `an intermediate progress was reported (saw ${[...seen].join(",")})`);
});

test("revertTask refuses unknown and finished tasks", async () => {
  assert.equal((await node.xml("revertTask", randomUUID())).status.code, 401);
  const done = (await ok(node.xml("createVolume", doms[0].sd, sp, randomUUID(), MiB, 4, 2, "DATA", randomUUID(), "", BLANK, BLANK), "create")).uuid as string;
  await waitTask(node, done);
  assert.equal((await node.xml("revertTask", done)).status.code, 410);
});

/** The owner in a safelease record (offset 0 of dom_md/leases), or null when free. */
function leaseOwner(i: number): string | null {
  const tag = readFileSync(join(ddir(i), "dom_md/leases")).subarray(0, 32).toString("latin1");
  return tag.startsWith("------FREE------") ? null : tag.slice(0, 16).replace(/-+$/, "");
}

test("switchMaster moves master/, the pool keys and the SPM lease to another active domain; the SPM keeps its role", async () => {
  await createVolume(0);
  const before0 = mdOf(0);
  const owner = leaseOwner(0);
  assert.match(owner ?? "", /^h1\./, "the SPM holds the old master's lease");
  const bad = await node.xml("switchMaster", sp, doms[0].sd, doms[1].sd, 1);
  assert.equal(bad.status.code, 324, "the master version must go up");
  await task(node.xml("switchMaster", sp, doms[0].sd, doms[1].sd, 2), "switchMaster");
  const m1 = mdOf(1);
  assert.deepEqual([m1.ROLE, m1.MASTER_VERSION, m1.POOL_DOMAINS, m1.POOL_DESCRIPTION, m1.POOL_UUID], ["Master", "2", before0.POOL_DOMAINS, "switch pool", sp]);
  assert.equal(m1.LEASETIMESEC, "5", "the pool's lease settings moved too");
  const m0 = mdOf(0);
  assert.equal(m0.ROLE, "Regular");
  assert.equal(m0.POOL_UUID, sp, "the old master stays a member");
  for (const k of ["POOL_DOMAINS", "POOL_SPM_ID", "POOL_SPM_LVER", "MASTER_VERSION", "POOL_DESCRIPTION"]) assert.ok(!(k in m0), `${k} left on the old master`);
  assert.ok(existsSync(join(ddir(1), "master/tasks")) && existsSync(join(ddir(1), "master/vms")));
  assert.ok(!existsSync(join(ddir(0), "master")));
  const info = (await ok(node.xml("getStoragePoolInfo", sp), "getStoragePoolInfo")).info as Record<string, unknown>;
  assert.equal(info.master_uuid, doms[1].sd);
  assert.equal(info.master_ver, 2);
  // The role moved with the lease (as VDSM does): no spmStart, same LVER, the old lease freed.
  assert.equal(leaseOwner(1), owner, "the SPM holds the new master's lease");
  assert.equal(leaseOwner(0), null, "the old master's lease is free");
  assert.deepEqual([m1.POOL_SPM_ID, m1.POOL_SPM_LVER], ["1", before0.POOL_SPM_LVER]);
  const st = (await ok(node.xml("getSpmStatus", sp), "getSpmStatus")).spm_st as { spmStatus: string; spmLver: number; spmId: number };
  assert.deepEqual([st.spmStatus, Number(st.spmLver), Number(st.spmId)], ["SPM", Number(before0.POOL_SPM_LVER), 1]);
  assert.equal(info.lver, Number(before0.POOL_SPM_LVER));
  // The pool's services followed: the mailbox on the new master answers, the SPM side runs there.
  const hs = (await ok(node.xml("getPoolHostsStatus", sp), "getPoolHostsStatus")).hostsStatus as { role: string; mailbox: { spmMonitor: boolean } };
  assert.deepEqual([hs.role, hs.mailbox.spmMonitor], ["SPM", true]);
  const ping = await ok(node.xml("sendMailboxRequest", sp, "ping", BLANK, BLANK, 0, 20_000), "mailbox ping through the new master");
  assert.ok(ping.mailboxReply, "a reply");
  assert.ok(readFileSync(join(ddir(1), "dom_md/inbox")).some((b) => b !== 0), "the new master's inbox is in use");
  // Writes go on at once, fenced against the new master's metadata; an spmStart is a no-op.
  await createVolume(0);
  await createVolume(1);
  await becomeSpm();
  assert.equal(mdOf(1).POOL_SPM_LVER, before0.POOL_SPM_LVER);
  await createVolume(0);
  await createVolume(1);
  for (const i of [0, 1, 2]) await assertClean(i);
});

test("reconstructMaster rebuilds the pool on a surviving domain when the master is lost", async () => {
  await ok(node.xml("spmStop", sp), "spmStop");
  // The master's storage is gone for good.
  rmSync(ddir(1), { recursive: true, force: true });
  const dict = { [doms[0].sd]: "active", [doms[1].sd]: "active", [doms[2].sd]: "attached" };
  assert.notEqual((await node.xml("reconstructMaster", sp, "rebuilt", doms[2].sd, { [doms[0].sd]: "active" }, 3, "", 1, 5, 10, 3, 1)).status.code, 0, "master not in the list");
  await ok(node.xml("reconstructMaster", sp, "rebuilt", doms[2].sd, dict, 3, "", 1, 5, 10, 3, 1), "reconstructMaster");
  const m2 = mdOf(2);
  assert.deepEqual([m2.ROLE, m2.MASTER_VERSION, m2.POOL_DESCRIPTION, m2.POOL_SPM_ID], ["Master", "3", "rebuilt", "-1"]);
  assert.equal(m2.POOL_DOMAINS, `${doms[0].sd}:Active,${doms[1].sd}:Active,${doms[2].sd}:Active`);
  assert.equal((await node.xml("connectStoragePool", sp, 1, "", doms[2].sd, 2)).status.code, 324, "the old version is refused");
  await ok(node.xml("connectStoragePool", sp, 1, "", doms[2].sd, 3), "connect to the rebuilt pool");
  await becomeSpm();
  await createVolume(0);
  await createVolume(2);
  // A surviving master of a higher version is never overridden by a reconstruct.
  assert.equal((await node.xml("reconstructMaster", sp, "again", doms[0].sd, dict, 2, "", 1, 5, 10, 3, 1)).status.code, 656, "not while SPM");
  for (const i of [0, 2]) await assertClean(i);
});

test("destroyStoragePool leaves every domain a plain domain and disconnects the pool", async () => {
  assert.notEqual((await node.xml("destroyStoragePool", sp, 7, "")).status.code, 0, "another host's id");
  await ok(node.xml("destroyStoragePool", sp, 1, ""), "destroyStoragePool");
  for (const i of [0, 2]) {
    const md = mdOf(i);
    assert.equal(md.ROLE, "Regular");
    assert.equal(md.POOL_UUID, "");
    assert.ok(!("POOL_DOMAINS" in md) && !("MASTER_VERSION" in md));
    assert.ok(!existsSync(join(ddir(i), "master")));
    await assertClean(i);
  }
  assert.equal((await node.xml("getSpmStatus", sp)).status.code, 309, "the pool is not connected any more");
  // The domains can make a new pool.
  const sp2 = randomUUID();
  await ok(node.xml("createStoragePool", 0, sp2, "again", doms[0].sd, [doms[0].sd, doms[2].sd], 1, "", 1, 5, 10, 3), "a new pool");
});
