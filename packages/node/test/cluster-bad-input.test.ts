/**
 * Bad input to the SPM and mailbox verbs, with two real agents on one pool and self-election off
 * (the test drives spmStart by hand): each mistake gets a clear error with a stable code, and
 * changes nothing on storage.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { RpcError, startNode, waitTask } from "./harness.js";
import { Cluster, createParams } from "./cluster-support.js";

const c = new Cluster({ hosts: 2, leaseTimeSec: 4, renewSec: 1, auto: false });
before(async () => {
  await c.start();
  const [h1] = c.hosts;
  const t = (await h1!.node.json("StoragePool.spmStart", { storagepoolID: c.spUUID, prevID: -1, prevLver: "-1" })) as string;
  assert.equal((await waitTask(h1!.node, t)).taskResult, "success");
});
after(() => c.stop());

const rpcCode = (code: number, re?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof RpcError, String(e));
  assert.equal(e.code, code, e.message);
  if (re) assert.match(e.message, re);
  return true;
};
const md = () => readFileSync(join(c.domainDir, "dom_md/metadata"), "utf8");

test("spmStart on a pool this host is not connected to: StoragePoolUnknown (309)", async () => {
  const [h1] = c.hosts;
  await assert.rejects(h1!.node.json("StoragePool.spmStart", { storagepoolID: randomUUID(), prevID: -1, prevLver: "-1" }), rpcCode(309));
  const lone = await startNode({ env: { VELA_LOG_LEVEL: "warn", VELA_NODE_SPM_AUTO: "0" } });
  try {
    await assert.rejects(lone.json("StoragePool.spmStart", { storagepoolID: c.spUUID, prevID: -1, prevLver: "-1" }), rpcCode(309));
    await assert.rejects(lone.json("StoragePool.getHostsStatus", { storagepoolID: c.spUUID }), rpcCode(309));
    await assert.rejects(lone.json("StoragePool.mailboxRequest", { storagepoolID: c.spUUID, op: "ping" }), rpcCode(309));
  } finally {
    await lone.stop();
  }
});

test("metadata verbs on a host that is not SPM: SpmStatusError (654), nothing written", async () => {
  const [, h2] = c.hosts;
  const before = md();
  await assert.rejects(h2!.node.json("Volume.create", createParams(c, randomUUID(), randomUUID())), rpcCode(654, /not the SPM/));
  await assert.rejects(
    h2!.node.json("Volume.delete", { storagedomainID: c.sdUUID, storagepoolID: c.spUUID, imageID: randomUUID(), volumeID: [randomUUID()] }),
    rpcCode(654),
  );
  // spmStop on a host that is not SPM is a no-op, and leaves it refusing.
  await h2!.node.json("StoragePool.spmStop", { storagepoolID: c.spUUID });
  await assert.rejects(h2!.node.json("Volume.create", createParams(c, randomUUID(), randomUUID())), rpcCode(654));
  assert.equal(md(), before);
});

test("spmStart with a stale prevLVER: SpmParamsMismatch (652) naming the pool's real LVER", async () => {
  const [h1, h2] = c.hosts;
  const lver = (await c.spmStatus(h1!)).spmLver;
  // The role moves to host 2 (LVER + 1) behind the back of a caller that still knows the old LVER.
  await h1!.node.json("StoragePool.spmStop", { storagepoolID: c.spUUID });
  const t = (await h2!.node.json("StoragePool.spmStart", { storagepoolID: c.spUUID, prevID: 1, prevLver: String(lver) })) as string;
  assert.equal((await waitTask(h2!.node, t, 30_000)).taskResult, "success");
  assert.equal((await c.spmStatus(h2!)).spmLver, lver + 1);
  await h2!.node.json("StoragePool.spmStop", { storagepoolID: c.spUUID });
  const before = md();
  await assert.rejects(
    h1!.node.json("StoragePool.spmStart", { storagepoolID: c.spUUID, prevID: 1, prevLver: String(lver) }),
    rpcCode(652, new RegExp(`lver:${lver + 1} got request for previd:1 lver:${lver}`)),
  );
  assert.equal(md(), before, "a refused spmStart writes nothing");
  assert.equal((await c.spmStatus(h1!)).spmStatus, "Free");
  // With the current LVER it goes through, and bumps it.
  const t2 = (await h1!.node.json("StoragePool.spmStart", { storagepoolID: c.spUUID, prevID: 2, prevLver: String(lver + 1) })) as string;
  assert.equal((await waitTask(h1!.node, t2, 30_000)).taskResult, "success");
  assert.equal((await c.spmStatus(h1!)).spmLver, lver + 2);
});

test("spmStart while another host holds the lease: the task fails with AcquireLockFailure (651)", async () => {
  const [, h2] = c.hosts;
  const t = (await h2!.node.json("StoragePool.spmStart", { storagepoolID: c.spUUID, prevID: -1, prevLver: "-1" })) as string;
  const st = await waitTask(h2!.node, t, 40_000);
  const h1log = c.hosts[0]!.node.output().split("\n").filter((l) => /lease|fenc|SPM|safelease/.test(l)).slice(-25).join("\n");
  assert.equal(st.code, 651, `${st.message}\nhost 1:\n${h1log}`);
  assert.equal((await c.spmStatus(h2!)).spmStatus, "Free");
  assert.equal((await c.spms()).map((h) => h.hostID).join(), "1", `host 1:\n${h1log}`);
});

test("mailbox requests: bad parameters refused, a foreign domain ignored by the SPM, a missing volume answered with size 0", async () => {
  const [h1, h2] = c.hosts;
  const mbox = (params: Record<string, unknown>) => h2!.node.json("StoragePool.mailboxRequest", { storagepoolID: c.spUUID, ...params });
  await assert.rejects(mbox({ op: "xtnd" }), rpcCode(1000, /xtnd needs/));
  await assert.rejects(mbox({ op: "dance" }), rpcCode(1000));
  await assert.rejects(mbox({ op: "ping", timeoutMs: 0 }), rpcCode(1000));
  // A domain that is not in the pool: logged and left unanswered, so the sender times out.
  const before = ((await c.hostsStatus(h1!)) as { mailbox: { ignored: number } }).mailbox.ignored;
  await assert.rejects(mbox({ op: "xtnd", storagedomainID: randomUUID(), volumeID: randomUUID(), sizeMiB: 1024, timeoutMs: 1500 }), rpcCode(851));
  const afterIgnored = ((await c.hostsStatus(h1!)) as { mailbox: { ignored: number } }).mailbox.ignored;
  assert.ok(afterIgnored > before, "the SPM logged the refused request");
  // A volume that does not exist in a pool domain: answered, with size 0 (failure).
  const r = (await mbox({ op: "xtnd", storagedomainID: c.sdUUID, volumeID: randomUUID(), sizeMiB: 1024 })) as { op: string; sizeMiB: number };
  assert.deepEqual([r.op, r.sizeMiB], ["xtnd", 0]);
  // And a real one is granted.
  const img = randomUUID();
  const vol = randomUUID();
  const t = (await h1!.node.json("Volume.create", createParams(c, img, vol))) as string;
  assert.equal((await waitTask(h1!.node, t)).taskResult, "success");
  const ok = (await mbox({ op: "xtnd", storagedomainID: c.sdUUID, volumeID: vol, sizeMiB: 32 })) as { sizeMiB: number; elapsedMs: number };
  assert.equal(ok.sizeMiB, 32);
});

test("priority out of range and a host id already used by a live host are refused", async () => {
  const [h1] = c.hosts;
  await assert.rejects(h1!.node.json("StoragePool.setSpmPriority", { storagepoolID: c.spUUID, priority: 101 }), rpcCode(1000));
  await assert.rejects(h1!.node.json("StoragePool.setSpmPriority", { storagepoolID: c.spUUID, priority: -1 }), rpcCode(1000));
  const intruder = await startNode({ env: { VELA_LOG_LEVEL: "warn", VELA_NODE_SPM_AUTO: "0" } });
  try {
    await intruder.json("StoragePool.connectStorageServer", { domainType: 4, storagepoolID: "", connectionParams: [{ id: randomUUID(), connection: c.dir }] });
    await assert.rejects(
      intruder.json("StoragePool.connect", { storagepoolID: c.spUUID, hostID: 2, masterSdUUID: c.sdUUID, masterVersion: 1 }),
      rpcCode(302, /host id 2 is in use by live host/),
    );
    // Not connected: the pool is unknown to it afterwards.
    await assert.rejects(intruder.json("StoragePool.getSpmStatus", { storagepoolID: c.spUUID }), rpcCode(309));
  } finally {
    await intruder.stop();
  }
});
