/**
 * What the Ansible `ovirt.ovirt` modules and the Python SDK ask of an engine that has storage:
 * searches over disks as ovirt_disk writes them (`name="…" and Storage.name=… and vm_names=…`),
 * with the same requests (XML, search in the query) the SDK sends. Real engine, real node, a real
 * local storage domain; the client journeys themselves are recorded in docs/clients.md.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Engine, firstDcId, hostUp, items, type Node, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "client-modules-token";
let eng: Engine;
let node: Node;
let sdId: string;

before(async () => {
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300" } });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "client-modules-host" });
  const host = await hostUp(eng);
  const dcId = await firstDcId(eng);
  sdId = (await eng.post<{ id: string }>("/storagedomains", { name: "cm-sd", type: "data", host: { id: host.id }, storage: { type: "localfs", path: tempDir("vela-client-modules-") } })).id;
  await eng.post(`/datacenters/${dcId}/storagedomains`, { id: sdId });
});
after(async () => {
  await node?.stop();
  await eng?.stop();
});

const q = (s: string) => encodeURIComponent(s);
const diskNames = async (search: string): Promise<string[]> => {
  const r = await eng.api("GET", `/disks?search=${q(search)}`);
  assert.equal(r.status, 200, `${search}: ${r.text}`);
  return items<{ alias: string }>(r.json, "disk").map((d) => d.alias).sort();
};

test("disks searched as ovirt_disk does: by name, Storage.name and vm_names (the VMs a disk is attached to)", async () => {
  const vm = await eng.post<{ id: string }>("/vms", { name: "cm-vm", cluster: { name: "Default" }, template: { name: "Blank" }, memory: 64 * 2 ** 20 });
  const att = await eng.post<{ id: string }>(`/vms/${vm.id}/diskattachments`, {
    disk: { name: "cm_data", provisioned_size: 2 ** 20, format: "cow", storage_domains: { storage_domain: [{ name: "cm-sd" }] } },
    interface: "virtio",
    bootable: false,
  });
  await until("disk ok", async () => ((await eng.get<{ status: string }>(`/disks/${att.id}`)).status === "ok" ? true : undefined), 60_000);
  const floating = await eng.post<{ id: string }>("/disks", { name: "cm_floating", provisioned_size: 2 ** 20, format: "raw", storage_domains: { storage_domain: [{ id: sdId }] } });
  await until("floating disk ok", async () => ((await eng.get<{ status: string }>(`/disks/${floating.id}`)).status === "ok" ? true : undefined), 60_000);

  assert.deepEqual(await diskNames('name="cm_data" and Storage.name=cm-sd and vm_names=cm-vm'), ["cm_data"]);
  assert.deepEqual(await diskNames("vm_names=cm-vm"), ["cm_data"]);
  assert.deepEqual(await diskNames("vm_names=cm-*"), ["cm_data"]);
  assert.deepEqual(await diskNames("name=cm_* and vm_names=nosuchvm"), []);
  assert.deepEqual(await diskNames("name=cm_floating and Storage.name=cm-sd"), ["cm_floating"]);
  // XML, as the SDK asks for it
  const x = await eng.api("GET", `/disks?search=${q('name="cm_data" and vm_names=cm-vm')}`, { accept: "xml" });
  assert.equal(x.status, 200, x.text);
  assert.match(x.text, /<alias>cm_data<\/alias>/);
});
