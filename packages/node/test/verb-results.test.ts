/**
 * A real node's answers parse with the result schemas of the protocol's verb table (what the
 * engine's client is typed from): host, storage, task and VM verbs over JSON-RPC, on a local
 * pool with a volume, and a VM booting the test guest from it.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { BLANK_UUID, type VerbName, verbs } from "@vela/protocol";
import { type LocalPool, type NodeProc, setupLocalPool } from "./harness.js";
import { guestVm, startVirtNode, stopWithVms, waitFor, waitStatus } from "./virt-support.js";

let node: NodeProc | undefined;
let pool: LocalPool;
const seen = new Set<VerbName>();

before(async () => {
  node = await startVirtNode({ env: { VELA_LOG_LEVEL: "warn", VELA_DOMAIN_MONITOR_MS: "200" } });
  pool = await setupLocalPool(node);
});
after(async () => {
  await stopWithVms(node);
});

/** Calls a verb by its table name over JSON-RPC and checks the answer against its schema. */
async function call(name: VerbName, params: Record<string, unknown> = {}): Promise<unknown> {
  const def = verbs[name];
  const answer = await node!.json(def.json, params);
  const r = def.returns.safeParse(answer);
  assert.ok(r.success, `${def.json} answered ${JSON.stringify(answer).slice(0, 600)}: ${r.success ? "" : JSON.stringify(r.error.issues.slice(0, 3))}`);
  seen.add(name);
  return answer;
}

test("host verbs answer as declared", async () => {
  await call("ping");
  await call("getVdsCapabilities");
  await call("getVerbs");
  const stats = (await call("getVdsStats")) as { storageDomains?: Record<string, unknown> };
  assert.ok(stats.storageDomains, "getVdsStats reports the monitored domains");
});

test("storage domain, pool and SPM verbs answer as declared", async () => {
  const sd = { storagedomainID: pool.sdUUID };
  await call("connectStorageServer", { domainType: 4, storagepoolID: BLANK_UUID, connectionParams: [{ id: randomUUID(), connection: pool.dir }] });
  await call("getStorageDomainInfo", sd);
  await call("getStorageDomainStats", sd);
  await call("getStorageDomainsList", {});
  await call("getStoragePoolInfo", { storagepoolID: pool.spUUID });
  await call("getSpmStatus", { storagepoolID: pool.spUUID });
  await call("getPoolHostsStatus", { storagepoolID: pool.spUUID });
  await call("setSpmPriority", { storagepoolID: pool.spUUID, priority: 50 });
});

test("volume, image, task and VM verbs answer as declared", async () => {
  const img = randomUUID();
  const vol = randomUUID();
  const at = { storagedomainID: pool.sdUUID, storagepoolID: pool.spUUID, imageID: img };
  const taskID = (await call("createVolume", {
    ...at,
    size: String(64 * 2 ** 20),
    volFormat: 4,
    preallocate: 2,
    diskType: "DATA",
    volumeID: vol,
  })) as string;
  await call("getTaskInfo", { taskID });
  await call("getAllTasksInfo");
  await call("getAllTasksStatuses");
  for (const deadline = Date.now() + 60_000; ; ) {
    const st = (await call("getTaskStatus", { taskID })) as { taskState: string; message: string };
    if (st.taskState === "finished") break;
    assert.ok(Date.now() < deadline, `createVolume task still ${st.taskState}: ${st.message}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await call("clearTask", { taskID });
  await call("getImagesList", { storagedomainID: pool.sdUUID });
  await call("getVolumesList", at);
  await call("getVolumeInfo", { ...at, volumeID: vol });
  const size = (await call("getVolumeSize", { ...at, volumeID: vol })) as { truesize: string };
  assert.ok(Number(size.truesize) > 0, `Volume.getSize answers the sizes: ${JSON.stringify(size)}`);
  await call("setVolumeDescription", { ...at, volumeID: vol, description: "verb results" });
  await call("prepareImage", { ...at, volumeID: vol });
  await call("teardownImage", { ...at, leafVolID: vol });

  const vmId = randomUUID();
  const drive = { poolID: pool.spUUID, domainID: pool.sdUUID, imageID: img, volumeID: vol };
  await call("create", { vmParams: guestVm(vmId, { display: "none", drives: [drive] }) });
  await waitStatus(node!, vmId, "Up", 90_000);
  await call("getVmStats", { vmID: vmId });
  await call("getAllVmStats");
  await call("list", { fullStatus: true });
  await call("list", {});
  // Console and control verbs (this VM has no display: the VNC ones are in the engine's console test).
  await call("getConsoleOutput", { vmID: vmId, maxBytes: 4096 });
  await call("setSerialTicket", { vmID: vmId, ticket: "a".repeat(43), ttl: 30 });
  await call("sendKeys", { vmID: vmId, keys: ["shift"] });
  await call("injectNmi", { vmID: vmId });
  await call("pause", { vmID: vmId });
  await call("cont", { vmID: vmId });
  await call("reset", { vmID: vmId });
  // A live snapshot: the new top made on the running volume, then the switch to it.
  const top = randomUUID();
  const topTask = (await node!.json("Volume.create", { ...at, size: String(64 * 2 ** 20), volFormat: 4, preallocate: 2, diskType: "DATA", volumeID: top, srcImgUUID: img, srcVolUUID: vol })) as string;
  await waitFor("the new top is created", async () => ((await node!.json("Task.getStatus", { taskID: topTask })) as { taskState: string }).taskState === "finished", 60_000);
  assert.equal(await call("snapshot", { vmID: vmId, snapDrives: [{ domainID: pool.sdUUID, imageID: img, volumeID: top, baseVolumeID: vol }] }), true);
  await call("destroy", { vmID: vmId });
});

test("network verbs answer as declared", async () => {
  await call("getNetworkCapabilities");
  await call("setupNetworks", {}); // nothing asked: nothing changes on this host
  await call("setSafeNetworkConfig");
});

test("the checks above cover each group of the table", () => {
  for (const k of ["ping", "getVdsStats", "getSpmStatus", "getTaskStatus", "getVolumeInfo", "getVolumeSize", "create", "getAllVmStats", "destroy"] as VerbName[]) {
    assert.ok(seen.has(k), `${k} was not checked`);
  }
});
