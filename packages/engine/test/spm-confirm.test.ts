/**
 * The engine confirms the SPM role with the host before it sends pool work there. Its record can
 * be stale between two polls: an agent restarted faster than a poll (or one that lost the role) is
 * still recorded as SPM. Work sent to it then was refused by the node and came back as a failed
 * request (the roll-forward tests never reached their fault point). Now such a request is answered
 * 409 "try again later" before anything is sent, and nothing changes.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { addLocalDomain, type Engine, firstDcId, hostUp, type Node, nodeCall, nodeRpc, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "spm-confirm-token";
const MiB = 2 ** 20;
let eng: Engine;
let node: Node;
let sd = "";
let dcId = "";

before(async () => {
  // One host poll at start only: the engine's SPM record changes only through its own commands,
  // so the test decides when it goes stale.
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "600000" } });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "confirm-host" });
  const h = await hostUp(eng);
  dcId = await firstDcId(eng);
  sd = await addLocalDomain(eng, dcId, h.id, "confirm-sd", tempDir("vela-spm-confirm-"));
});

after(async () => {
  await node?.stop();
  await eng?.stop();
});

interface Disk {
  id: string;
  status: string;
}

const spmStatus = async () => (await nodeRpc<{ spmStatus?: string }>(node, "StoragePool.getSpmStatus", { storagepoolID: dcId })).result?.spmStatus;

test("pool work for a host that no longer holds the SPM role is refused with 409, and nothing changes", async () => {
  const d = await eng.post<Disk>("/disks", { name: "confirm-disk", provisioned_size: 8 * MiB, format: "cow", storage_domains: { storage_domain: [{ id: sd }] } });
  await until("disk ok", async () => ((await eng.get<Disk>(`/disks/${d.id}`)).status === "ok" ? true : undefined));
  const disksBefore = (await eng.api("GET", "/disks")).text;

  // The role goes behind the engine's back (as when an agent restarts between two polls).
  await nodeCall(node, "StoragePool.spmStop", { storagepoolID: dcId });
  assert.notEqual(await spmStatus(), "SPM");

  const del = await eng.api("DELETE", `/disks/${d.id}`);
  assert.equal(del.status, 409, `a delete sent while the SPM is being re-elected: ${del.status} ${del.text}`);
  assert.match(del.text, /try again later/);
  const add = await eng.api("POST", "/disks", { body: { name: "refused", provisioned_size: 8 * MiB, format: "cow", storage_domains: { storage_domain: [{ id: sd }] } } });
  assert.equal(add.status, 409, `an add sent while the SPM is being re-elected: ${add.status} ${add.text}`);
  assert.equal((await eng.api("GET", "/disks")).text, disksBefore, "the refused requests changed nothing");
  assert.equal((await eng.get<Disk>(`/disks/${d.id}`)).status, "ok");
});
