/**
 * switchMaster in a pool of two hosts: the SPM (host 1) moves the master to another domain and
 * keeps its role; host 2, still connected through the old master until it is refreshed, finds
 * that domain's SPM lease free and contends by itself — it must not become a second SPM on a
 * domain that is no longer the master. After refreshStoragePool to the new master, host 2 sees
 * host 1 as the SPM there, and host 1's writes go on.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { checkFileDomain } from "../src/storage/domain/check.js";
import { parseDomainMd } from "../src/storage/metadata.js";
import { type NodeProc, startNode, waitTask } from "./harness.js";
import { BLANK_UUID as BLANK } from "@vela/protocol";
import { until } from "./wait.js";

const MiB = 2 ** 20;
type Resp = { status: { code: number; message: string } } & Record<string, unknown>;

const sp = randomUUID();
const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), "vela-switch-")));
const doms = [randomUUID(), randomUUID()];
const ddir = (i: number) => join(dirs[i], doms[i]);
const mdOf = (i: number) => parseDomainMd(readFileSync(join(ddir(i), "dom_md/metadata"), "utf8")).md;
let h1: NodeProc;
let h2: NodeProc;

async function ok(r: Promise<Resp>, what: string): Promise<Resp> {
  const res = await r;
  assert.equal(res.status.code, 0, `${what}: ${res.status.message}`);
  return res;
}

async function task(n: NodeProc, r: Promise<Resp>, what: string): Promise<void> {
  const id = (await ok(r, what)).uuid as string;
  const st = await waitTask(n, id, 90_000);
  assert.equal(st.taskResult, "success", `${what}: ${st.message}`);
}

async function spmStatus(n: NodeProc): Promise<{ spmStatus: string; spmId: number; spmLver: number }> {
  return (await ok(n.xml("getSpmStatus", sp), "getSpmStatus")).spm_st as never;
}

before(async () => {
  // Host 1 has the higher priority, so host 2 never contends while host 1's lease is alive.
  h1 = await startNode({ env: { VELA_LOG_LEVEL: "info", VELA_NODE_SPM_PRIORITY: "9" } });
  h2 = await startNode({ env: { VELA_LOG_LEVEL: "info", VELA_NODE_SPM_PRIORITY: "5" } });
  for (const n of [h1, h2]) for (const d of dirs) await ok(n.xml("connectStorageServer", 4, BLANK, [{ id: randomUUID(), connection: d }]), "connectStorageServer");
  for (const [i, sd] of doms.entries()) await ok(h1.xml("createStorageDomain", 4, sd, `switch${i}`, dirs[i], 1, 5), "createStorageDomain");
  await ok(h1.xml("createStoragePool", 0, sp, "switch pool", doms[0], [doms[0]], 1, "", 1, 5, 10, 3), "createStoragePool");
  await ok(h1.xml("connectStoragePool", sp, 1, "", doms[0], 1), "connect host 1");
  await task(h1, h1.xml("spmStart", sp, -1, "-1", 0, false), "spmStart");
  await ok(h2.xml("connectStoragePool", sp, 2, "", doms[0], 1), "connect host 2");
  await ok(h1.xml("attachStorageDomain", doms[1], sp), "attach");
  await ok(h1.xml("activateStorageDomain", doms[1], sp), "activate");
});
after(async () => {
  await h2?.stop();
  await h1?.stop();
});

test("a host left on the old master does not become a second SPM; refreshed, it sees the SPM on the new master", async () => {
  const lver = (await spmStatus(h1)).spmLver;
  assert.deepEqual([(await spmStatus(h2)).spmStatus, (await spmStatus(h2)).spmId], ["Free", 1]);
  const seen = h2.output().length;

  await task(h1, h1.xml("switchMaster", sp, doms[0], doms[1], 2), "switchMaster");
  assert.deepEqual([mdOf(1).ROLE, mdOf(1).POOL_SPM_ID, mdOf(0).ROLE], ["Master", "1", "Regular"]);
  assert.equal((await spmStatus(h1)).spmStatus, "SPM", "host 1 kept the role");

  // Host 2 still reads the old master: its SPM lease is free now, so host 2 contends there. The
  // attempt must end without the role (the domain is no longer the master) and without a write.
  const outcome = await until("host 2 to contend on the old master", () => /SPM contention lost|elected SPM/.exec(h2.output().slice(seen))?.[0]);
  assert.equal(outcome, "SPM contention lost");
  assert.notEqual((await spmStatus(h2)).spmStatus, "SPM");
  const old = mdOf(0);
  assert.equal(old.ROLE, "Regular");
  assert.ok(!("POOL_SPM_ID" in old) && !("POOL_SPM_LVER" in old), "nothing written on the old master");

  // The engine's refresh re-points host 2 to the new master, where host 1 holds the lease.
  await ok(h2.xml("refreshStoragePool", sp, doms[1], 2), "refresh host 2");
  const st2 = await spmStatus(h2);
  assert.deepEqual([st2.spmStatus, st2.spmId, st2.spmLver], ["Free", 1, lver]);
  const hs = (await ok(h2.xml("getPoolHostsStatus", sp), "getPoolHostsStatus")).hostsStatus as { hosts: { hostId: number; state: string; live: boolean }[] };
  await until("host 2 to see host 1 live as SPM in the new master's ids", async () => {
    const cur = (await ok(h2.xml("getPoolHostsStatus", sp), "getPoolHostsStatus")).hostsStatus as typeof hs;
    return cur.hosts.some((h) => h.hostId === 1 && h.live && h.state === "spm") ? true : undefined;
  });
  await task(h1, h1.xml("createVolume", doms[0], sp, randomUUID(), 8 * MiB, 4, 2, "DATA", randomUUID(), "", BLANK, BLANK), "a write after the switch");
  assert.equal((await spmStatus(h2)).spmStatus, "Free");
  for (const i of [0, 1]) assert.deepEqual((await checkFileDomain(ddir(i))).problems, [], `domain ${i}`);
});
