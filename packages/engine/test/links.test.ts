/**
 * Representations advertise only what exists: starting at the API root, every href the API
 * returns (links, references, actions) of every object type is followed. A link or reference
 * must answer GET with something other than 404; an action must be a POST route: probed with an
 * XML body whose root is not <action>, it answers 400 (every action checks its body's root
 * before it runs, so none runs here), never 404/405.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { addLocalDomain, type Engine, firstClusterId, firstDcId, hostUp, type Node, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "links-token";
const MiB = 2 ** 20;
const API = "/ovirt-engine/api";
let eng: Engine;
let node: Node;

before(async () => {
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300" } });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "links-host", env: { VELA_NODE_ACCEL: "tcg" } });
  const host = await hostUp(eng);
  const dcId = await firstDcId(eng);
  const clusterId = await firstClusterId(eng);
  // One object of each type the API returns: an attached and an unattached storage domain, a
  // disk, a VM with the disk attached, a snapshot (a job with steps) and a template.
  await addLocalDomain(eng, dcId, host.id, "links-a", tempDir("vela-links-a-"));
  await eng.post("/storagedomains", { name: "links-b", type: "data", host: { id: host.id }, storage: { type: "localfs", path: tempDir("vela-links-b-") } });
  const sd = (await eng.get<{ storage_domain: { id: string; name: string }[] }>("/storagedomains")).storage_domain.find((s) => s.name === "links-a");
  const disk = await eng.post<{ id: string }>("/disks", { name: "links-d", provisioned_size: 8 * MiB, format: "cow", storage_domains: { storage_domain: [{ id: sd?.id }] } });
  await until("disk ok", async () => ((await eng.get<{ status: string }>(`/disks/${disk.id}`)).status === "ok" ? true : undefined), 60_000);
  const vm = await eng.post<{ id: string }>("/vms", { name: "links-vm", cluster: { id: clusterId }, memory: 64 * MiB });
  const att = await eng.api("POST", `/vms/${vm.id}/diskattachments`, { body: { disk: { id: disk.id }, interface: "virtio", bootable: true } });
  assert.equal(att.status, 201, att.text);
  await eng.post(`/vms/${vm.id}/snapshots`, { description: "links-snap" });
  await until("snapshot ok", async () => {
    const s = (await eng.get<{ snapshot?: { snapshot_status: string }[] }>(`/vms/${vm.id}/snapshots`)).snapshot ?? [];
    return s.length >= 2 && s.every((x) => x.snapshot_status === "ok") ? true : undefined;
  }, 60_000);
  const t = await eng.api("POST", "/templates", { body: { name: "links-t", vm: { id: vm.id } } });
  assert.ok(t.status === 201 || t.status === 202, t.text);
  await until("template ok", async () => ((await eng.get<{ template?: { name: string; status: string }[] }>("/templates")).template?.find((x) => x.name === "links-t")?.status === "ok" ? true : undefined), 60_000);
});

after(async () => {
  await node?.stop();
  await eng?.stop();
});

interface Found {
  href: string;
  action: boolean;
  from: string;
}

/** Every href in a representation; those inside `actions` are actions. */
function hrefs(v: unknown, from: string, action = false, out: Found[] = []): Found[] {
  if (Array.isArray(v)) for (const x of v) hrefs(x, from, action, out);
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if (k === "href" && typeof x === "string") out.push({ href: x, action, from });
      else hrefs(x, from, action || k === "actions", out);
    }
  }
  return out;
}

test("every advertised link, reference and action of every object type exists", async () => {
  const seen = new Set<string>();
  const queue: Found[] = [{ href: API, action: false, from: "(root)" }];
  const dead: string[] = [];
  const kinds = new Set<string>();
  while (queue.length) {
    const f = queue.shift()!;
    // Search templates (`?search={query}`) are forms, not links.
    if (f.href.includes("{query}")) continue;
    const key = `${f.action ? "POST" : "GET"} ${f.href}`;
    if (seen.has(key)) continue;
    seen.add(key);
    assert.ok(f.href.startsWith(API), `${f.from} advertises ${f.href}, outside the API`);
    const path = f.href.slice(API.length);
    if (f.action) {
      const r = await eng.api("POST", path, { body: "<probe/>", type: "application/xml", accept: "json" });
      if (r.status === 404 || r.status === 405) dead.push(`action ${f.href} (from ${f.from}): ${r.status}`);
      else assert.ok(r.status === 400 && /expected <action>/.test(r.text), `action ${f.href} did not refuse a body that is not <action>: ${r.status} ${r.text.slice(0, 300)}`);
      continue;
    }
    const r = await eng.api("GET", path);
    if (r.status === 404 || r.status === 405) {
      dead.push(`link ${f.href} (from ${f.from}): ${r.status}`);
      continue;
    }
    // A link that exists but needs a running VM (console output, screenshot) answers a 409 fault.
    if (r.status === 409 && /not running/.test(r.text)) continue;
    assert.equal(r.status, 200, `GET ${f.href}: ${r.text.slice(0, 300)}`);
    for (const k of Object.keys(r.json ?? {})) kinds.add(k);
    queue.push(...hrefs(r.json, f.href));
  }
  assert.deepEqual(dead, [], `advertised but not served:\n${dead.join("\n")}`);
  // The walk reached every object type (the collections' member names).
  for (const k of ["data_center", "cluster", "host", "storage_domain", "disk", "vm", "template", "job", "step", "snapshot", "disk_attachment", "cpu_profile", "disk_profile", "scheduling_policy", "storage_connection"]) {
    assert.ok(kinds.has(k), `no ${k} reached (reached: ${[...kinds].sort().join(", ")})`);
  }
});

interface Named {
  id: string;
  name: string;
  href: string;
}

test("CPU and disk profiles, scheduling policies and storage connections come from the clusters and domains", async () => {
  const NOPE = "5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
  const list = async <T>(path: string, item: string): Promise<T[]> => {
    const r = await eng.api("GET", path);
    assert.equal(r.status, 200, `${path}: ${r.text.slice(0, 300)}`);
    return ((r.json as Record<string, unknown>)[item] as T[] | undefined) ?? [];
  };
  // One default CPU profile per cluster, named after it; the VM's cpu_profile is its cluster's.
  const clusters = await list<Named>("/clusters", "cluster");
  const cpu = await list<Named & { cluster: { id: string } }>("/cpuprofiles", "cpu_profile");
  assert.deepEqual(cpu.map((p) => `${p.name}|${p.cluster.id}`).sort(), clusters.map((c) => `${c.name}|${c.id}`).sort());
  const cl = clusters[0] as Named;
  const own = await list<Named>(`/clusters/${cl.id}/cpuprofiles`, "cpu_profile");
  assert.equal(own.length, 1);
  assert.equal((await eng.get<Named>(`/cpuprofiles/${own[0]?.id}`)).name, cl.name);
  const vm = (await list<{ name: string; cpu_profile: { id: string }; cluster: { id: string } }>("/vms", "vm")).find((v) => v.name === "links-vm");
  assert.equal(vm?.cpu_profile.id, cpu.find((p) => p.cluster.id === vm?.cluster.id)?.id);

  // One default disk profile per storage domain; a disk's disk_profile is its domain's.
  const sds = await list<Named & { storage: { path?: string } }>("/storagedomains", "storage_domain");
  const dp = await list<Named & { storage_domain: { id: string } }>("/diskprofiles", "disk_profile");
  assert.deepEqual(dp.map((p) => `${p.name}|${p.storage_domain.id}`).sort(), sds.map((d) => `${d.name}|${d.id}`).sort());
  const disk = (await list<{ name: string; disk_profile: { id: string }; storage_domains: { storage_domain: { id: string }[] } }>("/disks", "disk")).find((d) => d.name === "links-d");
  assert.equal(disk?.disk_profile.id, dp.find((p) => p.storage_domain.id === disk?.storage_domains.storage_domain[0]?.id)?.id);
  const sdA = sds.find((d) => d.name === "links-a") as Named;
  assert.equal((await list<Named>(`/storagedomains/${sdA.id}/diskprofiles`, "disk_profile"))[0]?.name, "links-a");

  // A new domain has its profile at once; removed, the profile goes with it.
  const host = (await list<{ id: string }>("/hosts", "host"))[0] as { id: string };
  const dir = tempDir("vela-links-c-");
  const c = await eng.post<Named>("/storagedomains", { name: "links-c", type: "data", host: { id: host.id }, storage: { type: "localfs", path: dir } });
  const cProfile = (await list<Named>(`/storagedomains/${c.id}/diskprofiles`, "disk_profile"))[0] as Named;
  assert.equal((await eng.get<Named>(`/diskprofiles/${cProfile.id}`)).name, "links-c");
  // Storage connections: each domain's, with its real path.
  const conns = await list<{ id: string; type: string; path?: string }>("/storageconnections", "storage_connection");
  assert.ok(conns.some((x) => x.path === dir && x.type === "localfs"), JSON.stringify(conns));
  const cConn = conns.find((x) => x.path === dir) as { id: string };
  assert.equal((await eng.get<{ path: string }>(`/storageconnections/${cConn.id}`)).path, dir);
  assert.equal((await eng.api("DELETE", `/storagedomains/${c.id}?host=${host.id}&format=true`)).status, 200);
  assert.equal((await eng.api("GET", `/diskprofiles/${cProfile.id}`)).status, 404);
  assert.equal((await eng.api("GET", `/storageconnections/${cConn.id}`)).status, 404);

  // The predefined scheduling policies; clusters use `none`.
  const pol = await list<Named>("/schedulingpolicies", "scheduling_policy");
  assert.ok(pol.some((p) => p.name === "none") && pol.some((p) => p.name === "evenly_distributed"), JSON.stringify(pol.map((p) => p.name)));
  const clusterPolicy = (await eng.get<{ scheduling_policy: { id: string } }>(`/clusters/${cl.id}`)).scheduling_policy.id;
  assert.equal((await eng.get<Named>(`/schedulingpolicies/${clusterPolicy}`)).name, "none");

  // The units of Vela's scheduler: its filters and its weight, read-only.
  const units = await list<Named & { type: string; enabled: string }>("/schedulingpolicyunits", "scheduling_policy_unit");
  assert.deepEqual(units.map((u) => `${u.name}|${u.type}|${u.enabled}`), ["PinToHost|filter|true", "HostUpInCluster|filter|true", "OptimalForEvenGuestDistribution|weight|true"]);
  assert.equal((await eng.get<Named>(`/schedulingpolicyunits/${units[0]?.id}`)).name, "PinToHost");
  const post = await eng.api("POST", "/schedulingpolicyunits", { body: { name: "mine" } });
  assert.ok(post.status === 404 || post.status === 405, `read-only: ${post.status} ${post.text.slice(0, 200)}`);
  const unitXml = await eng.api("GET", "/schedulingpolicyunits", { accept: "xml" });
  assert.match(unitXml.text, /<scheduling_policy_units>\s*<scheduling_policy_unit href="[^"]+" id="[^"]+">\s*<name>PinToHost<\/name>/);

  // A host's storage connection extensions (iSCSI credentials): none.
  assert.deepEqual(await list(`/hosts/${host.id}/storageconnectionextensions`, "storage_connection_extension"), []);

  // Unknown and malformed ids: 404 faults.
  for (const path of [
    `/cpuprofiles/${NOPE}`, "/cpuprofiles/x", `/clusters/${cl.id}/cpuprofiles/${NOPE}`, `/clusters/${NOPE}/cpuprofiles`,
    `/diskprofiles/${NOPE}`, `/storagedomains/${sdA.id}/diskprofiles/${NOPE}`, `/storagedomains/${NOPE}/diskprofiles`,
    `/schedulingpolicies/${NOPE}`, `/schedulingpolicyunits/${NOPE}`, "/schedulingpolicyunits/x", `/storageconnections/${NOPE}`, "/storageconnections/..%2Fetc", `/hosts/${NOPE}/storageconnectionextensions`,
  ]) {
    const r = await eng.api("GET", path);
    assert.equal(r.status, 404, `${path}: ${r.status} ${r.text.slice(0, 200)}`);
    assert.ok(r.json && "reason" in r.json, `${path}: a fault, not ${r.text.slice(0, 200)}`);
  }
});
