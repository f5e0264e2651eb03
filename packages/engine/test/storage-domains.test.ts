/**
 * Storage domains through the REST API with a real node agent and real domain directories: a
 * second data domain attached to a running pool, deactivated, activated, detached, removed,
 * imported back from its directory (with its disk; an image written there behind the engine's back
 * is listed by `disks;unregistered` and registered) and finally formatted; the domain monitor's
 * verdict shown as the domain's status; and every refusal (wrong type, master, state, unknown
 * ids) leaves the engine and the storage as they were.
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Engine, firstDcId, hostUp, items, type Node, nodeRpc, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "sd-token";
const BLANK = "00000000-0000-0000-0000-000000000000";
let eng: Engine;
let node: Node;

before(async () => {
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300" } });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "sd-host", env: { VELA_DOMAIN_MONITOR_MS: "300" } });
});

after(async () => {
  await node?.stop();
  await eng?.stop();
});

interface Sd {
  id: string;
  name: string;
  status?: string;
  master?: string;
  external_status?: string;
  storage: { type: string; path: string };
}

function metadata(dir: string, sdId: string): Record<string, string> {
  const text = readFileSync(join(dir, sdId, "dom_md", "metadata"), "utf8").replace(/\0+$/, "");
  return Object.fromEntries(text.split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

test("a second domain: attach, deactivate, activate, detach, remove, import with its disk, monitor, format", async () => {
  const h = await hostUp(eng);
  const dc = { id: await firstDcId(eng) };
  const dirA = tempDir("vela-sd-a-");
  const dirB = tempDir("vela-sd-b-");
  const add = (name: string, path: string, type = "localfs", extra: Record<string, unknown> = {}) =>
    eng.api("POST", "/storagedomains", { body: { name, type: "data", host: { id: h.id }, storage: { type, path, ...extra } } });
  const inDc = async (sdId: string) => (await eng.api("GET", `/datacenters/${dc.id}/storagedomains/${sdId}`)).json as unknown as Sd;

  const a = (await add("master-a", dirA)).json as unknown as Sd;
  assert.equal((await eng.api("POST", `/datacenters/${dc.id}/storagedomains`, { body: { id: a.id } })).status, 201);
  const bRes = await add("second-b", dirB);
  assert.equal(bRes.status, 201, bRes.text);
  const b = bRes.json as unknown as Sd;

  // Unknown references are 404 and change nothing.
  assert.equal((await eng.api("POST", `/datacenters/${dc.id}/storagedomains`, { body: { id: "6b0f6f4e-1f1e-4d3a-9a59-6d0d8d1c0a11" } })).status, 404);
  assert.equal((await eng.api("POST", "/datacenters/6b0f6f4e-1f1e-4d3a-9a59-6d0d8d1c0a11/storagedomains", { body: { id: b.id } })).status, 404);
  assert.equal((await eng.api("POST", `/datacenters/${dc.id}/storagedomains/${b.id}/activate`, { body: {} })).status, 404, "not attached yet");

  // Attach the second domain: active, not master, in the pool's metadata.
  const att = await eng.api("POST", `/datacenters/${dc.id}/storagedomains`, { body: { id: b.id } });
  assert.equal(att.status, 201, att.text);
  assert.equal((att.json as unknown as Sd).status, "active");
  assert.equal((att.json as unknown as Sd).master, "false");
  assert.match(metadata(dirA, a.id).POOL_DOMAINS ?? "", new RegExp(`${b.id}:Active`));
  assert.equal(metadata(dirB, b.id).POOL_UUID, dc.id);
  assert.equal(items((await eng.api("GET", `/datacenters/${dc.id}/storagedomains`)).json, "storage_domain").length, 2);
  assert.equal((await eng.api("POST", `/datacenters/${dc.id}/storagedomains`, { body: { id: b.id } })).status, 409, "attached twice");
  const xml = await eng.api("GET", `/datacenters/${dc.id}/storagedomains/${b.id}`, { accept: "xml" });
  assert.match(xml.text, new RegExp(`<storage_domain href="/ovirt-engine/api/datacenters/${dc.id}/storagedomains/${b.id}" id="${b.id}">`));
  assert.match(xml.text, /<status>active<\/status>/);
  assert.match(xml.text, /<master>false<\/master>/);

  // A disk on it.
  const disk = await eng.post<{ id: string; image_id: string }>("/disks", { name: "on-b", provisioned_size: 2 ** 20, format: "cow", storage_domains: { storage_domain: [{ id: b.id }] } });
  await until("disk ok", async () => ((await eng.get<{ status: string }>(`/disks/${disk.id}`)).status === "ok" ? true : undefined));

  // The master cannot go to maintenance nor be detached.
  const deactMaster = await eng.api("POST", `/datacenters/${dc.id}/storagedomains/${a.id}/deactivate`, { body: {} });
  assert.equal(deactMaster.status, 409);
  assert.match(String(deactMaster.json?.detail), /master/);
  assert.equal((await eng.api("DELETE", `/datacenters/${dc.id}/storagedomains/${a.id}`)).status, 409);
  assert.equal((await eng.api("DELETE", `/datacenters/${dc.id}/storagedomains/${b.id}`)).status, 409, "an active domain is not detached");
  assert.equal((await eng.api("DELETE", `/storagedomains/${b.id}`)).status, 409, "an attached domain is not removed");

  // Maintenance: no new disks there; activate brings it back.
  const deact = await eng.api("POST", `/datacenters/${dc.id}/storagedomains/${b.id}/deactivate`, { body: {} });
  assert.equal(deact.status, 200, deact.text);
  assert.equal((deact.json as { status: string }).status, "complete");
  assert.equal((await inDc(b.id)).status, "maintenance");
  assert.match(metadata(dirA, a.id).POOL_DOMAINS ?? "", new RegExp(`${b.id}:Attached`));
  assert.equal((await eng.api("POST", `/datacenters/${dc.id}/storagedomains/${b.id}/deactivate`, { body: {} })).status, 409, "already in maintenance");
  assert.equal(
    (await eng.api("POST", "/disks", { body: { provisioned_size: 2 ** 20, storage_domains: { storage_domain: [{ id: b.id }] } } })).status,
    409,
    "no disk on a domain in maintenance",
  );
  assert.equal((await eng.api("POST", `/datacenters/${dc.id}/storagedomains/${b.id}/activate`, { body: {} })).status, 200);
  assert.equal((await inDc(b.id)).status, "active");
  assert.match(metadata(dirA, a.id).POOL_DOMAINS ?? "", new RegExp(`${b.id}:Active`));

  // The domain monitor: a domain whose directory disappears is inactive, and active when it is back.
  renameSync(join(dirB, b.id), join(dirB, "away"));
  try {
    await until("domain inactive", async () => ((await inDc(b.id)).status === "inactive" ? true : undefined), 15_000).catch(async (err) => {
      const stats = (await nodeRpc<{ storageDomains?: unknown }>(node, "Host.getStats", {})).result?.storageDomains;
      throw new Error(`${(err as Error).message}; node reports ${JSON.stringify(stats)}; engine log: ${eng.output().slice(-3000)}`);
    });
    assert.equal((await inDc(b.id)).external_status, "error");
  } finally {
    renameSync(join(dirB, "away"), join(dirB, b.id));
  }
  await until("domain active again", async () => ((await inDc(b.id)).status === "active" ? true : undefined), 15_000);

  // Detach: the engine forgets the domain's disks; their files stay.
  assert.equal((await eng.api("POST", `/datacenters/${dc.id}/storagedomains/${b.id}/deactivate`, { body: {} })).status, 200);
  const det = await eng.api("DELETE", `/datacenters/${dc.id}/storagedomains/${b.id}`);
  assert.equal(det.status, 200, det.text);
  assert.equal((await eng.get<Sd>(`/storagedomains/${b.id}`)).status, "unattached");
  assert.equal((await eng.api("GET", `/disks/${disk.id}`)).status, 404);
  assert.ok(existsSync(join(dirB, b.id, "images", disk.id, disk.image_id)), "the disk's volume stays on the domain");
  assert.equal(metadata(dirB, b.id).POOL_UUID, "");
  assert.doesNotMatch(metadata(dirA, a.id).POOL_DOMAINS ?? "", new RegExp(b.id));
  const notAttached = await eng.api("GET", `/storagedomains/${b.id}/disks;unregistered`);
  assert.equal(notAttached.status, 409, `unregistered disks of a detached domain: ${notAttached.text}`);
  assert.match(String(notAttached.json?.detail), /not attached/);

  // Remove without format: the engine forgets it, the directory stays; format needs a host.
  assert.equal((await eng.api("DELETE", `/storagedomains/${b.id}?format=true`)).status, 400);
  assert.equal((await eng.api("DELETE", `/storagedomains/${b.id}`)).status, 200);
  assert.equal((await eng.api("GET", `/storagedomains/${b.id}`)).status, 404);
  assert.ok(existsSync(join(dirB, b.id, "dom_md", "metadata")));

  // Import from the directory: id and name come from the domain's metadata; attach brings the disk back.
  const badImport = await eng.api("POST", "/storagedomains", { body: { import: true, type: "data", host: { id: h.id }, storage: { type: "localfs", path: tempDir("vela-sd-empty-") } } });
  assert.equal(badImport.status, 404, badImport.text);
  const imp = await eng.api("POST", "/storagedomains", { body: { import: true, type: "data", host: { id: h.id }, storage: { type: "localfs", path: dirB } } });
  assert.equal(imp.status, 201, imp.text);
  assert.equal((imp.json as unknown as Sd).id, b.id);
  assert.equal((imp.json as unknown as Sd).name, "second-b");
  assert.equal((imp.json as unknown as Sd).status, "unattached");
  // The API asks to try again while the data center is busy (an SPM election); a client does so.
  const reattach = await until("re-attach second-b", async () => {
    const r = await eng.api("POST", `/datacenters/${dc.id}/storagedomains`, { body: { name: "second-b" } });
    return r.status === 409 && /try again later/i.test(r.text) ? undefined : r;
  }, 60_000, 500);
  assert.equal(reattach.status, 201, reattach.text);
  const back = await eng.get<{ id: string; alias: string; image_id: string; status: string; storage_domains: { storage_domain: { id: string }[] } }>(`/disks/${disk.id}`);
  assert.equal(back.alias, "on-b");
  assert.equal(back.image_id, disk.image_id);
  assert.equal(back.status, "ok");
  assert.equal(back.storage_domains.storage_domain[0]?.id, b.id);

  // An image written on the file domain behind the engine's back: unregistered, then registered.
  const img = crypto.randomUUID();
  const created = await nodeRpc<string>(node, "Volume.create", {
    storagedomainID: b.id,
    storagepoolID: dc.id,
    imageID: img,
    size: 2 ** 20,
    volFormat: "COW",
    preallocate: "SPARSE",
    diskType: "DATA",
    volumeID: crypto.randomUUID(),
    desc: "plain text, not the engine's JSON",
    srcImgUUID: BLANK,
    srcVolUUID: BLANK,
  });
  assert.ok(created.result, JSON.stringify(created.error));
  await until("createVolume done", async () => ((await nodeRpc<{ taskState: string }>(node, "Task.getStatus", { taskID: created.result })).result?.taskState === "finished" ? true : undefined));
  const unreg = items<{ id: string; alias: string }>((await eng.api("GET", `/storagedomains/${b.id}/disks;unregistered`)).json, "disk");
  assert.deepEqual(unreg.map((d) => [d.id, d.alias]), [[img, "plain text, not the engine's JSON"]]);
  const reg = await eng.api("POST", `/storagedomains/${b.id}/disks/${img}/register`, { body: {} });
  assert.equal(reg.status, 200, reg.text);
  assert.equal((await eng.get<{ status: string }>(`/disks/${img}`)).status, "ok");
  assert.equal((await eng.api("POST", `/storagedomains/${b.id}/disks/${img}/register`, { body: {} })).status, 409, "registered twice");
  assert.equal((await eng.api("DELETE", `/disks/${img}`)).status, 200);

  // Format: detach, then remove with format through the host: the domain's directory is gone.
  assert.equal((await eng.api("DELETE", `/disks/${disk.id}`)).status, 200);
  assert.equal((await eng.api("POST", `/datacenters/${dc.id}/storagedomains/${b.id}/deactivate`, { body: {} })).status, 200);
  assert.equal((await eng.api("DELETE", `/datacenters/${dc.id}/storagedomains/${b.id}`)).status, 200);
  const rm = await eng.api("DELETE", `/storagedomains/${b.id}?host=sd-host&format=true`);
  assert.equal(rm.status, 200, rm.text);
  assert.equal(existsSync(join(dirB, b.id)), false, "formatted");

  const jobs = items<{ description: string; status: string }>((await eng.api("GET", "/jobs")).json, "job");
  for (const d of ["Attaching Storage Domain second-b", "Deactivating Storage Domain second-b", "Detaching Storage Domain second-b", "Removing Storage Domain second-b (format)"]) {
    assert.ok(jobs.some((j) => j.description.startsWith(d) && j.status === "finished"), `job ${d}`);
  }
});

test("a domain of another storage type than the pool's is refused and stays unattached", async () => {
  const h = items<{ id: string; status: string }>((await eng.api("GET", "/hosts")).json, "host")[0] as { id: string };
  const dc = { id: await firstDcId(eng) };
  // A POSIX domain on a tmpfs the node mounts: a real domain of another type than the localfs pool.
  const posix = await eng.api("POST", "/storagedomains", {
    body: { name: "posix-c", type: "data", host: { id: h.id }, storage: { type: "posixfs", path: `/vela-tmpfs-${process.pid}`, vfs_type: "tmpfs" } },
  });
  assert.equal(posix.status, 201, posix.text);
  const c = posix.json as unknown as Sd;
  const before = (await eng.api("GET", `/datacenters/${dc.id}/storagedomains`)).text;
  const r = await eng.api("POST", `/datacenters/${dc.id}/storagedomains`, { body: { id: c.id } });
  assert.equal(r.status, 409, r.text);
  assert.match(String(r.json?.detail), /storage type posixfs differs from the storage type localfs/);
  assert.equal((await eng.get<Sd>(`/storagedomains/${c.id}`)).status, "unattached");
  assert.equal((await eng.api("GET", `/datacenters/${dc.id}/storagedomains`)).text, before);
  assert.equal((await eng.api("DELETE", `/storagedomains/${c.id}?host=${h.id}&format=true`)).status, 200);
});
