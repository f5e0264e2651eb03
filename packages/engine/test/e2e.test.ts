/**
 * End to end with a real node agent (real storage domain files, real QEMU under TCG): add a local
 * storage domain through the host, attach it (pool, SPM), create and delete disks, run a VM on
 * them and stop it — every status taken from what the node reports.
 */
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Engine, firstDcId, hostUp, items, type Node, qemuOf, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "e2e-token";
let eng: Engine;
let node: Node;
const storage = tempDir("vela-e2e-sd-");
const vmIds: string[] = [];

before(async () => {
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_VM_POLL_MS: "300" } });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "e2e-host", env: { VELA_NODE_ACCEL: "tcg" } });
});

after(async () => {
  // VMs outlive their node agent by design: stop any this test left behind.
  for (const id of vmIds) for (const pid of qemuOf(id)) process.kill(pid, "SIGKILL");
  await node?.stop();
  await eng?.stop();
});

interface Sd {
  id: string;
  name: string;
  status?: string;
  master?: string;
}
interface Disk {
  id: string;
  image_id: string;
  status: string;
  actual_size: string;
  provisioned_size: string;
}

test("storage domain → pool → disks → VM run and stop → removal", async () => {
  const h = await hostUp(eng);
  const dc = { id: await firstDcId(eng) };

  // Storage input is checked before it reaches the node.
  const sdBody = (over: Record<string, unknown>) => ({ name: "local", type: "data", host: { id: h.id }, storage: { type: "localfs", path: storage }, ...over });
  assert.equal((await eng.api("POST", "/storagedomains", { body: sdBody({ storage: { type: "nfs", path: "/export" } }) })).status, 400, "nfs needs an address");
  assert.equal((await eng.api("POST", "/storagedomains", { body: sdBody({ storage: { type: "posixfs", path: "/srv" } }) })).status, 400, "posixfs needs vfs_type");
  assert.equal((await eng.api("POST", "/storagedomains", { body: sdBody({ storage: { type: "localfs", path: "relative/dir" } }) })).status, 400);

  const added = await eng.api("POST", "/storagedomains", { body: sdBody({}) });
  assert.equal(added.status, 201, added.text);
  const sd = added.json as unknown as Sd;
  assert.equal(sd.status, "unattached");
  assert.ok(existsSync(join(storage, sd.id, "dom_md", "metadata")), "the node wrote the domain's metadata");
  assert.equal((await eng.api("POST", "/storagedomains", { body: sdBody({ storage: { type: "localfs", path: tempDir("vela-e2e-x-") } }) })).status, 409, "names are unique");

  const early = await eng.api("POST", "/disks", { body: { provisioned_size: 2 ** 20, format: "raw", storage_domains: { storage_domain: [{ id: sd.id }] } } });
  assert.equal(early.status, 409, `a disk needs an attached, active domain: ${early.text}`);

  const att = await eng.api("POST", `/datacenters/${dc.id}/storagedomains`, { body: { id: sd.id } });
  assert.equal(att.status, 201, att.text);
  assert.equal((att.json as unknown as Sd).status, "active");
  assert.equal((att.json as unknown as Sd).master, "true");
  assert.equal((await eng.get<{ status: string }>(`/datacenters/${dc.id}`)).status, "up");
  assert.equal((await eng.get<{ spm: { status: string } }>(`/hosts/${h.id}`)).spm.status, "spm");
  const second = await eng.post<Sd>("/storagedomains", sdBody({ name: "second", storage: { type: "localfs", path: tempDir("vela-e2e-sd2-") } }));
  const joined = await eng.api("POST", `/datacenters/${dc.id}/storagedomains`, { body: { id: second.id } });
  assert.equal(joined.status, 201, `a second data domain joins the pool: ${joined.text}`);
  assert.equal((joined.json as unknown as Sd).master, "false");

  // A thin qcow2 disk: 201 locked, ok once the SPM's task finished.
  const r = await eng.api("POST", "/disks", { body: { name: "root", provisioned_size: 2 ** 30, format: "cow", sparse: true, storage_domains: { storage_domain: [{ name: "local" }] } } });
  assert.equal(r.status, 201, r.text);
  const cow = r.json as unknown as Disk;
  assert.equal(cow.status, "locked");
  assert.notEqual(cow.image_id, cow.id, "disk id is the image, image_id the leaf volume");
  const cowOk = await until("cow disk ok", async () => {
    const d = await eng.get<Disk>(`/disks/${cow.id}`);
    return d.status === "ok" ? d : undefined;
  });
  assert.equal(cowOk.provisioned_size, String(2 ** 30));
  const cowLeaf = join(storage, sd.id, "images", cow.id, cow.image_id);
  assert.ok(existsSync(cowLeaf), cowLeaf);
  assert.ok(statSync(cowLeaf).blocks * 512 < 16 * 2 ** 20, "thin: nowhere near 1 GiB allocated");

  // A preallocated raw disk.
  const raw = await eng.post<Disk>("/disks", { name: "data", provisioned_size: 4 * 2 ** 20, format: "raw", sparse: false, storage_domains: { storage_domain: [{ id: sd.id }] } });
  await until("raw disk ok", async () => ((await eng.get<Disk>(`/disks/${raw.id}`)).status === "ok" ? true : undefined));
  const rawLeaf = join(storage, sd.id, "images", raw.id, raw.image_id);
  assert.equal(statSync(rawLeaf).size, 4 * 2 ** 20);

  const jobs = items<{ description: string; status: string }>((await eng.api("GET", "/jobs")).json, "job");
  assert.equal(jobs.find((j) => j.description === "Adding Disk root")?.status, "finished");

  // A VM with both disks.
  const vm = await eng.post<{ id: string; status: string }>("/vms", { name: "e2e-vm", cluster: { name: "Default" }, memory: 128 * 2 ** 20 });
  vmIds.push(vm.id);
  assert.equal((await eng.api("POST", `/vms/${vm.id}/diskattachments`, { body: { disk: { id: cow.id }, interface: "virtio", bootable: true, active: true } })).status, 201);
  assert.equal((await eng.api("POST", `/vms/${vm.id}/diskattachments`, { body: { disk: { id: raw.id }, interface: "virtio" } })).status, 201);
  assert.equal((await eng.api("POST", `/vms/${vm.id}/diskattachments`, { body: { disk: { id: raw.id } } })).status, 409, "attached twice");
  assert.equal(items((await eng.api("GET", `/vms/${vm.id}/diskattachments`)).json, "disk_attachment").length, 2);

  // oVirt's other way: a new disk inside the attachment is created and attached at once.
  const viaAtt = await eng.api("POST", `/vms/${vm.id}/diskattachments`, {
    body: { interface: "virtio", disk: { name: "extra", provisioned_size: 2 ** 20, format: "cow", storage_domains: { storage_domain: [{ id: sd.id }] } } },
  });
  assert.equal(viaAtt.status, 201, viaAtt.text);
  const extraId = ((viaAtt.json as { disk: { id: string } }).disk).id;
  await until("extra disk ok", async () => ((await eng.get<Disk>(`/disks/${extraId}`)).status === "ok" ? true : undefined));
  assert.equal((await eng.api("DELETE", `/vms/${vm.id}/diskattachments/${extraId}`)).status, 200, "detach");
  assert.equal((await eng.api("GET", `/disks/${extraId}`)).status, 200, "detaching keeps the disk");
  assert.equal((await eng.api("DELETE", `/disks/${extraId}`)).status, 200);

  const start = await eng.api("POST", `/vms/${vm.id}/start`, { body: {} });
  assert.equal(start.status, 200, start.text);
  assert.equal((start.json as { status: string }).status, "complete");
  const running = await until(
    "VM up (reported by the node)",
    async () => {
      const v = await eng.get<{ status: string; host?: { id: string } }>(`/vms/${vm.id}`);
      return v.status === "up" ? v : undefined;
    },
    60_000,
  );
  assert.equal(running.host?.id, h.id);
  assert.equal(qemuOf(vm.id).length, 1, "one QEMU runs the VM");
  const qemuPid = qemuOf(vm.id)[0];

  // The engine goes away and comes back: the VM keeps running and is recognised from the node's report.
  await eng.stop();
  eng = await startEngine({ home: eng.home, port: eng.port, env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_VM_POLL_MS: "300" } });
  assert.deepEqual(qemuOf(vm.id), [qemuPid], "the same QEMU process survived the engine restart");
  await new Promise((res) => setTimeout(res, 1000));
  const after = await eng.get<{ status: string; host?: { id: string } }>(`/vms/${vm.id}`);
  assert.equal(after.status, "up");
  assert.equal(after.host?.id, h.id);
  assert.equal((await eng.api("POST", `/vms/${vm.id}/start`, { body: {} })).status, 409, "already running");
  assert.equal((await eng.api("DELETE", `/disks/${raw.id}`)).status, 409, "a running VM's disk stays");
  assert.equal((await eng.api("DELETE", `/vms/${vm.id}`)).status, 409, "a running VM stays");
  assert.equal((await eng.api("PUT", `/vms/${vm.id}`, { body: { memory: 256 * 2 ** 20 } })).status, 409, "no hardware change while running");
  assert.equal((await eng.api("PUT", `/vms/${vm.id}`, { body: { description: "running" } })).status, 200, "a description can change any time");

  const stop = await eng.api("POST", `/vms/${vm.id}/stop`, { body: {} });
  assert.equal(stop.status, 200, stop.text);
  assert.equal((await eng.get<{ status: string; host?: unknown }>(`/vms/${vm.id}`)).status, "down");
  await until("QEMU gone", async () => (qemuOf(vm.id).length === 0 ? true : undefined), 10_000);
  await new Promise((res) => setTimeout(res, 900));
  assert.equal((await eng.get<{ status: string }>(`/vms/${vm.id}`)).status, "down", "the monitor agrees: the node no longer runs it");

  // Removal: a disk alone, then the VM with its remaining disk.
  assert.equal((await eng.api("DELETE", `/disks/${raw.id}`)).status, 200);
  assert.equal(existsSync(rawLeaf), false, "the raw volume is deleted");
  assert.equal(items((await eng.api("GET", `/vms/${vm.id}/diskattachments`)).json, "disk_attachment").length, 1);
  assert.equal((await eng.api("DELETE", `/vms/${vm.id}`)).status, 200);
  assert.equal(existsSync(cowLeaf), false, "removing the VM removed its disk's volume");
  assert.equal((await eng.api("GET", `/disks/${cow.id}`)).status, 404);

  // The node dies: the host is non_responsive and the data center loses its SPM.
  await node.kill();
  await until("host non_responsive", async () => ((await eng.get<{ status: string }>(`/hosts/${h.id}`)).status === "non_responsive" ? true : undefined), 15_000);
  await until("data center problematic", async () => ((await eng.get<{ status: string }>(`/datacenters/${dc.id}`)).status === "problematic" ? true : undefined), 10_000);
});
