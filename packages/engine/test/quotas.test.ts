/**
 * oVirt quotas through the API, on a real engine and node with a local data domain: the default
 * quota every data center gets; quotas and their cluster and storage limits in JSON and XML; the
 * usage they report (running VMs' vCPUs and memory, disks' provisioned GiB), released when a VM
 * stops or a disk goes; the data center's quota mode — enabled refuses past the hard limit (409,
 * nothing changed) and warns past the soft limit and the limit, audit lets everything through
 * with an event, disabled checks nothing; a user needing QuotaConsumer on a quota to consume from
 * it; and each class of bad input answered with a fault that changes nothing. Two small VMs are
 * started (no guest boots: they sit in the firmware).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { addLocalDomain, type Engine, hostUp, items, type Node, qemuOf, type Res, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "quota-token";
const GiB = 2 ** 30;
const MiB = 2 ** 20;
let eng: Engine;
let node: Node;
let dc = "";
let cluster = "";
let sd = "";
let hostId = "";
const vms: string[] = [];

type J = Record<string, unknown>;

const base = () => `/datacenters/${dc}/quotas`;

async function must(method: string, path: string, body?: unknown): Promise<J> {
  const r = await eng.api(method, path, body === undefined ? {} : { body: body as object });
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.text}`);
  return r.json ?? {};
}

/** A fault of the expected status with oVirt's shape. */
function fault(r: Res, status: number, what: string): void {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
  assert.ok(r.json?.reason && r.json?.detail, `${what}: an oVirt fault (${r.text})`);
}

async function events(code: number): Promise<string[]> {
  return items<{ code: string; description: string }>(await eng.get("/events"), "event")
    .filter((e) => Number(e.code) === code)
    .map((e) => e.description);
}

async function setMode(mode: string): Promise<void> {
  await must("PUT", `/datacenters/${dc}`, { quota_mode: mode });
}

async function addQuota(name: string, extra: J = {}): Promise<string> {
  return String((await must("POST", base(), { name, ...extra })).id);
}

async function clusterLimit(q: string, id: string): Promise<J> {
  return eng.get(`${base()}/${q}/quotaclusterlimits/${id}`);
}

async function storageLimit(q: string, id: string): Promise<J> {
  return eng.get(`${base()}/${q}/quotastoragelimits/${id}`);
}

async function addVm(name: string, quota: string, memMiB: number): Promise<string> {
  const id = String((await must("POST", "/vms", { name, cluster: { id: cluster }, memory: memMiB * MiB, quota: { id: quota } })).id);
  vms.push(id);
  return id;
}

async function status(vm: string): Promise<string> {
  return String((await eng.get(`/vms/${vm}`)).status);
}

async function waitStatus(vm: string, want: string): Promise<void> {
  await until(`VM ${vm} ${want}`, async () => ((await status(vm)) === want ? true : undefined), 60_000, 200);
}

async function diskOk(id: string): Promise<void> {
  await until(`disk ${id} ok`, async () => ((await eng.get(`/disks/${id}`)).status === "ok" ? true : undefined), 60_000, 200);
}

function diskBody(name: string, gib: number, quota?: string): J {
  return { name, provisioned_size: gib * GiB, format: "cow", sparse: true, storage_domains: { storage_domain: [{ id: sd }] }, ...(quota ? { quota: { id: quota } } : {}) };
}

before(async () => {
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_VM_POLL_MS: "300" } });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "quota-host", env: { VELA_NODE_ACCEL: "tcg" } });
  const host = await hostUp(eng);
  hostId = host.id;
  dc = items<{ id: string }>(await eng.get("/datacenters"), "data_center")[0]?.id ?? "";
  cluster = items<{ id: string }>(await eng.get("/clusters"), "cluster")[0]?.id ?? "";
  sd = await addLocalDomain(eng, dc, host.id, "quota-data", tempDir("vela-quota-sd-"));
});

after(async () => {
  for (const id of vms) for (const pid of qemuOf(id)) process.kill(pid, "SIGKILL");
  await node?.stop();
  await eng?.stop();
});

describe("quotas", () => {
  let q = "";

  test("every data center has its default quota, global and unlimited; quota_mode is shown and set", async () => {
    const d = await eng.get<J>(`/datacenters/${dc}`);
    assert.equal(d.quota_mode, "disabled");
    assert.ok((d.link as { rel: string }[]).some((l) => l.rel === "quotas"), "the data center links its quotas");
    const list = items<J>(await eng.get(base()), "quota");
    assert.deepEqual(list.map((x) => x.name), ["Default"]);
    const def = list[0] as J;
    assert.deepEqual([def.cluster_soft_limit_pct, def.cluster_hard_limit_pct, def.storage_soft_limit_pct, def.storage_hard_limit_pct].map(String), ["80", "20", "80", "20"]);
    const cl = items<J>(await eng.get(`${base()}/${def.id}/quotaclusterlimits`), "quota_cluster_limit");
    assert.equal(cl.length, 1);
    assert.equal(cl[0]?.id, def.id, "a global limit has the quota's id");
    assert.deepEqual([cl[0]?.vcpu_limit, cl[0]?.memory_limit].map(String), ["-1", "-1"]);
    const st = items<J>(await eng.get(`${base()}/${def.id}/quotastoragelimits`), "quota_storage_limit");
    assert.equal(String(st[0]?.limit), "-1");
    // a new data center gets its own
    const other = await must("POST", "/datacenters", { name: "quota-other", quota_mode: "audit" });
    assert.equal(other.quota_mode, "audit", "set on add");
    const theirs = items<J>(await eng.get(`/datacenters/${other.id}/quotas`), "quota");
    assert.deepEqual(theirs.map((x) => x.name), ["Default"]);
    await setMode("audit");
    assert.equal((await eng.get<J>(`/datacenters/${dc}`)).quota_mode, "audit");
    await setMode("disabled");
  });

  test("a quota and its limits in JSON and XML: add, read, update", async () => {
    const x = await eng.api("POST", base(), { body: "<quota><name>team</name><description>the team's</description><cluster_soft_limit_pct>50</cluster_soft_limit_pct><cluster_hard_limit_pct>20</cluster_hard_limit_pct><storage_soft_limit_pct>50</storage_soft_limit_pct><storage_hard_limit_pct>20</storage_hard_limit_pct></quota>", accept: "xml" });
    assert.equal(x.status, 201, x.text);
    assert.match(x.text, /<quota href="\/ovirt-engine\/api\/datacenters\/[-0-9a-f]+\/quotas\/[-0-9a-f]+" id="[-0-9a-f]+">/);
    assert.match(x.text, /<cluster_soft_limit_pct>50<\/cluster_soft_limit_pct>/);
    assert.match(x.text, /<link href="[^"]+\/quotaclusterlimits" rel="quotaclusterlimits"\/>/);
    q = /<quota href="[^"]+" id="([-0-9a-f]+)">/.exec(x.text)?.[1] ?? "";
    // a global cluster limit: 2 vCPUs, 0.25 GiB (hard at +20 %: 2.4 vCPUs, 0.3 GiB)
    const cl = await eng.api("POST", `${base()}/${q}/quotaclusterlimits`, { body: "<quota_cluster_limit><vcpu_limit>2</vcpu_limit><memory_limit>0.25</memory_limit></quota_cluster_limit>", accept: "xml" });
    assert.equal(cl.status, 201, cl.text);
    assert.match(cl.text, /<memory_limit>0.25<\/memory_limit>/);
    assert.match(cl.text, /<vcpu_usage>0<\/vcpu_usage>/);
    // storage: 10 GiB on the domain (soft 5, hard 12)
    const sl = await must("POST", `${base()}/${q}/quotastoragelimits`, { limit: 10, storage_domain: { id: sd } });
    assert.equal(sl.id, sd, "a domain's limit has the domain's id");
    assert.deepEqual([String(sl.limit), String(sl.usage)], ["10", "0"]);
    const put = await must("PUT", `${base()}/${q}`, { description: "renamed", name: "team" });
    assert.equal(put.description, "renamed");
    const xml = await eng.api("GET", `${base()}/${q}/quotastoragelimits`, { accept: "xml" });
    assert.match(xml.text, /<quota_storage_limits>\s*<quota_storage_limit href="[^"]+quotastoragelimits\/[-0-9a-f]+" id="[-0-9a-f]+">[\s\S]*<limit>10<\/limit>/);
  });

  test("each class of bad input is a fault that changes nothing", async () => {
    const before = JSON.stringify([await eng.get(base()), await eng.get(`${base()}/${q}/quotaclusterlimits`), await eng.get(`${base()}/${q}/quotastoragelimits`), (await eng.get<J>(`/datacenters/${dc}`)).quota_mode]);
    const otherDc = String(items<J>(await eng.get("/datacenters"), "data_center").find((d) => d.name === "quota-other")?.id);
    const otherQuota = String(items<J>(await eng.get(`/datacenters/${otherDc}/quotas`), "quota")[0]?.id);
    const def = String(items<J>(await eng.get(base()), "quota").find((x) => x.name === "Default")?.id);
    const cases: [string, number, string, string, unknown?][] = [
      ["a quota id that is no UUID", 404, "GET", `${base()}/not-a-uuid`],
      ["an unknown quota", 404, "GET", `${base()}/00000000-0000-4000-8000-000000000001`],
      ["a quota through another data center's path", 404, "GET", `/datacenters/${otherDc}/quotas/${q}`],
      ["an unknown limit", 404, "GET", `${base()}/${q}/quotaclusterlimits/00000000-0000-4000-8000-000000000001`],
      ["a negative soft %", 400, "POST", base(), { name: "bad", cluster_soft_limit_pct: -1 }],
      ["a soft % above 100", 400, "PUT", `${base()}/${q}`, { storage_soft_limit_pct: 101 }],
      ["a % that is no number", 400, "POST", base(), { name: "bad", cluster_hard_limit_pct: "lots" }],
      ["a quota without a name", 400, "POST", base(), { description: "x" }],
      ["a name in use", 409, "POST", base(), { name: "team" }],
      ["a vCPU limit below -1", 400, "POST", `${base()}/${q}/quotaclusterlimits`, { vcpu_limit: -2 }],
      ["an oversized memory limit", 400, "POST", `${base()}/${q}/quotaclusterlimits`, { memory_limit: 1e12 }],
      ["a negative memory limit other than -1", 400, "POST", `${base()}/${q}/quotaclusterlimits`, { memory_limit: -0.5 }],
      ["an oversized storage limit", 400, "POST", `${base()}/${q}/quotastoragelimits`, { limit: 2 ** 40 }],
      ["a storage limit that is no number", 400, "POST", `${base()}/${q}/quotastoragelimits`, { limit: "many" }],
      ["a limit for another data center's domain", 400, "POST", `/datacenters/${otherDc}/quotas/${otherQuota}/quotastoragelimits`, { limit: 1, storage_domain: { id: sd } }],
      ["a limit for another data center's cluster", 400, "POST", `/datacenters/${otherDc}/quotas/${otherQuota}/quotaclusterlimits`, { vcpu_limit: 1, cluster: { id: cluster } }],
      ["a per-cluster limit beside a global one", 409, "POST", `${base()}/${q}/quotaclusterlimits`, { vcpu_limit: 1, cluster: { id: cluster } }],
      ["an unknown cluster", 404, "POST", `${base()}/${q}/quotaclusterlimits`, { vcpu_limit: 1, cluster: { id: "00000000-0000-4000-8000-000000000002" } }],
      ["removing the default quota", 409, "DELETE", `${base()}/${def}`],
      ["an unknown quota mode", 400, "PUT", `/datacenters/${dc}`, { quota_mode: "strict" }],
      ["a new data center with an unknown quota mode", 400, "POST", "/datacenters", { name: "quota-bad-dc", quota_mode: "hard" }],
      ["a VM with another data center's quota", 400, "POST", "/vms", { name: "quota-bad-vm", cluster: { id: cluster }, quota: { id: otherQuota } }],
      ["a VM with a quota id that is no UUID", 400, "POST", "/vms", { name: "quota-bad-vm", cluster: { id: cluster }, quota: { id: "q1" } }],
      ["a disk with an unknown quota", 400, "POST", "/disks", diskBody("quota-bad-disk", 1, "00000000-0000-4000-8000-000000000003")],
    ];
    for (const [what, st, method, path, body] of cases) fault(await eng.api(method, path, body === undefined ? {} : { body: body as object }), st, what);
    const now = JSON.stringify([await eng.get(base()), await eng.get(`${base()}/${q}/quotaclusterlimits`), await eng.get(`${base()}/${q}/quotastoragelimits`), (await eng.get<J>(`/datacenters/${dc}`)).quota_mode]);
    assert.equal(now, before, "no quota, limit or mode changed");
    assert.ok(!items<J>(await eng.get("/datacenters"), "data_center").some((d) => d.name === "quota-bad-dc"), "no data center was added");
    const names = items<J>(await eng.get("/vms"), "vm").map((v) => v.name);
    assert.ok(!names.includes("quota-bad-vm"), "no VM was added");
    assert.ok(!items<J>(await eng.get("/disks"), "disk").some((d) => d.name === "quota-bad-disk"), "no disk was added");
  });

  test("storage: usage in GiB, warnings past the soft limit and the limit, refusal past the hard limit, release on removal", async () => {
    await setMode("enabled");
    const add = (name: string, gib: number) => eng.api("POST", "/disks", { body: diskBody(name, gib, q) });
    const a = await add("quota-a", 4);
    assert.equal(a.status, 201, a.text);
    assert.equal((a.json?.quota as J | undefined)?.id, q, "the disk names its quota");
    assert.equal(String((await storageLimit(q, sd)).usage), "4");
    const soft0 = (await events(100_030)).length;
    const b = await add("quota-b", 2);
    assert.equal(b.status, 201, b.text);
    assert.equal((await events(100_030)).length, soft0 + 1, "past the soft limit (5 of 10 GiB): a warning");
    const lim0 = (await events(100_031)).length;
    const c = await add("quota-c", 5);
    assert.equal(c.status, 201, c.text);
    assert.equal((await events(100_031)).length, lim0 + 1, "past the limit, within the grace (11 of 12 GiB): a warning");
    const disks0 = items<J>(await eng.get("/disks"), "disk").length;
    const hard0 = (await events(100_032)).length;
    const d = await add("quota-d", 2);
    fault(d, 409, "past the hard limit (13 of 12 GiB)");
    assert.match(String(d.json?.detail), /quota team/);
    assert.equal(items<J>(await eng.get("/disks"), "disk").length, disks0, "no disk was added");
    assert.equal((await events(100_032)).length, hard0 + 1, "the refusal is recorded");
    assert.equal(String((await storageLimit(q, sd)).usage), "11");
    // growing a disk consumes its growth
    const bId = String(b.json?.id);
    await diskOk(bId);
    fault(await eng.api("PUT", `/disks/${bId}`, { body: { provisioned_size: 4 * GiB } }), 409, "growing past the hard limit");
    assert.equal(Number((await eng.get<J>(`/disks/${bId}`)).provisioned_size), 2 * GiB, "the disk kept its size");
    const grow = await eng.api("PUT", `/disks/${bId}`, { body: { provisioned_size: 3 * GiB } });
    assert.equal(grow.status, 200, grow.text);
    assert.equal(String((await storageLimit(q, sd)).usage), "12");
    // removal releases
    const cId = String(c.json?.id);
    await diskOk(cId);
    assert.equal((await eng.api("DELETE", `/disks/${cId}`)).status, 200);
    await until("usage after removal", async () => (String((await storageLimit(q, sd)).usage) === "7" ? true : undefined), 30_000, 200);
    // audit: past the hard limit allowed, with an event
    await setMode("audit");
    const audit0 = (await events(100_033)).length;
    const e = await add("quota-e", 8);
    assert.equal(e.status, 201, e.text);
    assert.equal((await events(100_033)).length, audit0 + 1, "audit mode records the excess");
    // disabled: nothing checked, nothing recorded
    await setMode("disabled");
    const counts = async () => (await Promise.all([100_030, 100_031, 100_032, 100_033].map(events))).map((x) => x.length);
    const c0 = await counts();
    const f = await add("quota-f", 50);
    assert.equal(f.status, 201, f.text);
    assert.deepEqual(await counts(), c0, "disabled records nothing");
    assert.equal(String((await storageLimit(q, sd)).usage), "65");
  });

  test("two consumers at once: what the first check lets through counts for the second before the node has done it", async () => {
    const race = await addQuota("race", { storage_soft_limit_pct: 100, storage_hard_limit_pct: 0 });
    await must("POST", `${base()}/${race}/quotastoragelimits`, { limit: 10, storage_domain: { id: sd } });
    const ids: string[] = [];
    for (const n of ["quota-race-1", "quota-race-2"]) ids.push(String((await must("POST", "/disks", diskBody(n, 2, race))).id));
    for (const id of ids) await diskOk(id);
    await setMode("enabled");
    // each growth (+4 GiB) fits alone (8 of 10), both do not (12): the node extends the first
    // while the second is checked
    const both = await Promise.all(ids.map((id) => eng.api("PUT", `/disks/${id}`, { body: { provisioned_size: 6 * GiB } })));
    assert.deepEqual(both.map((r) => r.status).sort(), [200, 409], both.map((r) => `${r.status} ${r.text.slice(0, 200)}`).join(" | "));
    assert.equal(String((await storageLimit(race, sd)).usage), "8");
    // the grant ended with the command: counted once, not twice
    const third = await eng.api("POST", "/disks", { body: diskBody("quota-race-3", 2, race) });
    assert.equal(third.status, 201, third.text);
    assert.equal(String((await storageLimit(race, sd)).usage), "10");
    await setMode("disabled");
  });

  test("VMs: running vCPUs and memory are the usage; enabled refuses past the hard limit, audit allows; stopping releases", async () => {
    await setMode("enabled");
    const a = await addVm("quota-vm-a", q, 128);
    assert.equal(((await eng.get<J>(`/vms/${a}`)).quota as J).id, q);
    const b = await addVm("quota-vm-b", q, 192);
    assert.equal((await eng.api("POST", `/vms/${a}/start`, { body: {} })).status, 200);
    await waitStatus(a, "up");
    const use = await clusterLimit(q, q);
    assert.deepEqual([String(use.vcpu_usage), String(use.memory_usage)], ["1", "0.125"]);
    // b: 2 vCPUs, 0.3125 GiB of 0.25 (hard 0.3): refused, nothing started
    const hard0 = (await events(100_032)).length;
    fault(await eng.api("POST", `/vms/${b}/start`, { body: {} }), 409, "start past the hard limit");
    assert.equal(await status(b), "down");
    assert.equal(qemuOf(b).length, 0, "no QEMU was started");
    assert.equal((await events(100_032)).length, hard0 + 1);
    await setMode("audit");
    const audit0 = (await events(100_033)).length;
    assert.equal((await eng.api("POST", `/vms/${b}/start`, { body: {} })).status, 200);
    assert.equal((await events(100_033)).length, audit0 + 1, "audit mode lets it run, with an event");
    await waitStatus(b, "up");
    const both = await clusterLimit(q, q);
    assert.deepEqual([String(both.vcpu_usage), String(both.memory_usage)], ["2", "0.313"]);
    for (const v of [a, b]) assert.equal((await eng.api("POST", `/vms/${v}/stop`, { body: {} })).status, 200);
    for (const v of [a, b]) await waitStatus(v, "down");
    const none = await clusterLimit(q, q);
    assert.deepEqual([String(none.vcpu_usage), String(none.memory_usage)], ["0", "0"]);
    await setMode("disabled");
  });

  test("a VM from a template with disks consumes their GiB: refused past the hard limit, added within it", async () => {
    await setMode("disabled");
    const src = await addVm("quota-src", q, 64);
    const att = await eng.api("POST", `/vms/${src}/diskattachments`, { body: { disk: diskBody("quota-src-disk", 2), interface: "virtio", bootable: true } });
    assert.equal(att.status, 201, att.text);
    await diskOk(String((att.json?.disk as J | undefined)?.id));
    const t = await eng.api("POST", "/templates", { body: { name: "quota-tpl", vm: { id: src } } });
    assert.equal(t.status, 201, t.text);
    const tpl = String(t.json?.id);
    await until("template ok", async () => ((await eng.get<J>(`/templates/${tpl}`)).status === "ok" ? true : undefined), 60_000, 200);
    const small = await addQuota("small", { storage_hard_limit_pct: 0 });
    await must("POST", `${base()}/${small}/quotastoragelimits`, { limit: 1 });
    await setMode("enabled");
    const body = { name: "quota-from-tpl", cluster: { id: cluster }, template: { id: tpl }, quota: { id: small } };
    fault(await eng.api("POST", "/vms", { body }), 409, "a VM whose template disks exceed the quota");
    assert.ok(!items<J>(await eng.get("/vms"), "vm").some((v) => v.name === "quota-from-tpl"), "no VM was added");
    assert.equal(String((await storageLimit(small, small)).usage), "0");
    // the same target again replaces the limit
    await must("POST", `${base()}/${small}/quotastoragelimits`, { limit: 2 });
    const ok = await eng.api("POST", "/vms", { body });
    assert.equal(ok.status, 201, ok.text);
    vms.push(String(ok.json?.id));
    assert.equal(String((await storageLimit(small, small)).usage), "2", "the VM's disk consumes from its quota");
    await waitStatus(String(ok.json?.id), "down");
    await setMode("disabled");
  });

  test("PUT moves a VM or a disk to another quota of its data center, checked like a consumption", async () => {
    await setMode("enabled");
    const move = await addQuota("move");
    const disk = items<J>(await eng.get("/disks"), "disk").find((d) => d.name === "quota-b") as J;
    const vm = vms[0] as string;
    // no storage limit on "move" yet: nothing may be consumed from it
    fault(await eng.api("PUT", `/disks/${disk.id}`, { body: { quota: { id: move } } }), 409, "a disk moved to a quota without room");
    assert.equal(((await eng.get<J>(`/disks/${disk.id}`)).quota as J).id, q, "the disk kept its quota");
    const otherDc = String(items<J>(await eng.get("/datacenters"), "data_center").find((d) => d.name === "quota-other")?.id);
    const otherQuota = String(items<J>(await eng.get(`/datacenters/${otherDc}/quotas`), "quota")[0]?.id);
    fault(await eng.api("PUT", `/vms/${vm}`, { body: { quota: { id: otherQuota } } }), 400, "a VM moved to another data center's quota");
    fault(await eng.api("PUT", `/disks/${disk.id}`, { body: { quota: { id: "00000000-0000-4000-8000-000000000004" } } }), 400, "a disk moved to an unknown quota");
    assert.equal(((await eng.get<J>(`/vms/${vm}`)).quota as J).id, q, "the VM kept its quota");
    await must("POST", `${base()}/${move}/quotastoragelimits`, { limit: 100 });
    const moved = await eng.api("PUT", `/disks/${disk.id}`, { body: { quota: { id: move } } });
    assert.equal(moved.status, 200, moved.text);
    assert.equal((moved.json?.quota as J | undefined)?.id, move);
    assert.equal(String((await storageLimit(move, move)).usage), "3", "the moved disk counts in its new quota");
    assert.equal((await eng.api("PUT", `/vms/${vm}`, { body: { quota: { id: move } } })).status, 200);
    const xml = await eng.api("GET", `/vms/${vm}`, { accept: "xml" });
    assert.match(xml.text, new RegExp(`<quota id="${move}"/>`), "the VM names its quota by id in XML");
    await setMode("disabled");
  });

  test("copy, move and snapshots consume storage: warnings past the soft limit, 409 past the hard limit with nothing changed, audit allows with an event", async () => {
    await setMode("disabled");
    const sd2 = await addLocalDomain(eng, dc, hostId, "quota-data-2", tempDir("vela-quota-sd2-"));
    // hard at the limit itself: soft 50 %, no grace; 5 GiB on the first domain, 3 on the second
    const cms = await addQuota("cms", { storage_soft_limit_pct: 50, storage_hard_limit_pct: 0 });
    await must("POST", `${base()}/${cms}/quotastoragelimits`, { limit: 5, storage_domain: { id: sd } });
    await must("POST", `${base()}/${cms}/quotastoragelimits`, { limit: 3, storage_domain: { id: sd2 } });
    const vm = await addVm("quota-cms-vm", cms, 64);
    const att = await eng.api("POST", `/vms/${vm}/diskattachments`, { body: { disk: diskBody("quota-cms-a", 2, cms), interface: "virtio", bootable: true } });
    assert.equal(att.status, 201, att.text);
    const disk = String((att.json?.disk as J | undefined)?.id);
    await diskOk(disk);
    const usage = async (domain: string) => String((await storageLimit(cms, domain)).usage);
    const diskCount = async () => items<J>(await eng.get("/disks"), "disk").length;
    const snapshots = async () => items<J>(await eng.get(`/vms/${vm}/snapshots`), "snapshot").length;
    const domainOf = async () => String(((await eng.get<{ storage_domains: { storage_domain: J[] } }>(`/disks/${disk}`)).storage_domains.storage_domain[0] as J).id);
    const copy = () => eng.api("POST", `/disks/${disk}/copy`, { body: { storage_domain: { id: sd }, disk: { name: "quota-cms-copy" }, async: false } });
    const move = (to: string) => eng.api("POST", `/disks/${disk}/move`, { body: { storage_domain: { id: to }, async: false } });
    const snapshot = () => eng.api("POST", `/vms/${vm}/snapshots`, { body: { description: "quota-cms-snap" } });
    await setMode("enabled");

    // copy: 2 + 2 of 5 GiB, past the soft limit: allowed with a warning; a second copy (6 of 5) refused
    const soft0 = (await events(100_030)).length;
    const c1 = await copy();
    assert.equal(c1.status, 200, c1.text);
    await diskOk(String((c1.json?.disk as J | undefined)?.id));
    assert.equal((await events(100_030)).length, soft0 + 1, "the copy past the soft limit: a warning");
    assert.equal(await usage(sd), "4", "the copy counts on its domain, in the source's quota");
    const [disks0, hard0] = [await diskCount(), (await events(100_032)).length];
    const c2 = await copy();
    fault(c2, 409, "a copy past the hard limit");
    assert.match(String(c2.json?.detail), /quota cms/);
    assert.equal(await diskCount(), disks0, "no copy was added");
    assert.equal((await events(100_032)).length, hard0 + 1, "the refusal is recorded");

    // move: the disk's 2 GiB to the second domain (2 of 3, past the soft limit): allowed with a warning
    const m1 = await move(sd2);
    assert.equal(m1.status, 200, m1.text);
    await diskOk(disk);
    assert.equal(await domainOf(), sd2);
    assert.equal((await events(100_030)).length, soft0 + 2, "the move past the soft limit: a warning");
    assert.deepEqual([await usage(sd), await usage(sd2)], ["2", "2"], "the disk left the first domain's usage for the second's");

    // a snapshot's new leaf may grow to the disk's size: 4 of 3 refused; in audit mode allowed with an event
    const image0 = String((await eng.get<J>(`/disks/${disk}`)).image_id);
    const [snaps0, hard1] = [await snapshots(), (await events(100_032)).length];
    fault(await snapshot(), 409, "a snapshot past the hard limit");
    assert.equal(await snapshots(), snaps0, "no snapshot was added");
    assert.equal(String((await eng.get<J>(`/disks/${disk}`)).image_id), image0, "the disk has no new leaf");
    assert.equal((await events(100_032)).length, hard1 + 1);
    await setMode("audit");
    const audit0 = (await events(100_033)).length;
    const s1 = await snapshot();
    assert.equal(s1.status, 201, s1.text);
    assert.equal((await events(100_033)).length, audit0 + 1, "audit mode lets the snapshot through, with an event");
    await until("snapshot ok", async () => (items<J>(await eng.get(`/vms/${vm}/snapshots`), "snapshot").every((s) => s.snapshot_status === "ok") ? true : undefined), 60_000, 200);
    await diskOk(disk);
    assert.equal(await usage(sd2), "4", "two volumes of 2 GiB");

    // moving the chain back (4 GiB onto 2 of 5) is refused and the disk stays
    await setMode("enabled");
    fault(await move(sd), 409, "a move past the hard limit");
    assert.equal(await domainOf(), sd2, "the disk was not moved");
    assert.deepEqual([await usage(sd), await usage(sd2)], ["2", "4"]);

    // under a global limit a move changes nothing: at the limit (2 of 2 GiB), the move is allowed, silently
    await setMode("disabled");
    const whole = await addQuota("cms-global", { storage_soft_limit_pct: 100, storage_hard_limit_pct: 0 });
    await must("POST", `${base()}/${whole}/quotastoragelimits`, { limit: 2 });
    const g = String((await must("POST", "/disks", diskBody("quota-cms-g", 2, whole))).id);
    await diskOk(g);
    await setMode("enabled");
    const counts = async () => (await Promise.all([100_030, 100_031, 100_032, 100_033].map(events))).map((x) => x.length);
    const c0 = await counts();
    const mg = await eng.api("POST", `/disks/${g}/move`, { body: { storage_domain: { id: sd2 }, async: false } });
    assert.equal(mg.status, 200, mg.text);
    await diskOk(g);
    assert.deepEqual(await counts(), c0, "no quota event");
    assert.equal(String((await storageLimit(whole, whole)).usage), "2");
    await setMode("disabled");
  });

  test("a UserRole user needs QuotaConsumer on the quota to consume from it", async () => {
    await setMode("enabled");
    // a quota with no room: whoever may consume from it gets the quota's refusal, not a permission one
    const tight = await addQuota("tight");
    await must("POST", `${base()}/${tight}/quotaclusterlimits`, { vcpu_limit: 0, memory_limit: 0 });
    const vm = await addVm("quota-vm-user", tight, 64);
    await must("POST", "/users", { user_name: "qbob@internal", password: "Qbob-Secret-99" });
    const bob = String(items<J>(await eng.get("/users"), "user").find((u) => String(u.user_name).startsWith("qbob"))?.id);
    await must("POST", `/vms/${vm}/permissions`, { role: { name: "UserRole" }, user: { id: bob } });
    const auth = `Basic ${Buffer.from("qbob@internal:Qbob-Secret-99").toString("base64")}`;
    const start = () => fetch(`${eng.url}/ovirt-engine/api/vms/${vm}/start`, { method: "POST", headers: { authorization: auth, filter: "true", accept: "application/json", "content-type": "application/json" }, body: "{}" });
    const r1 = await start();
    const t1 = await r1.text();
    assert.equal(r1.status, 403, t1);
    assert.match(t1, /QuotaConsumer/);
    const perm = await eng.api("POST", `${base()}/${tight}/permissions`, { body: { role: { name: "QuotaConsumer" }, user: { id: bob } } });
    assert.equal(perm.status, 201, perm.text);
    assert.equal((perm.json?.quota as J | undefined)?.id, tight);
    // in the user view bob sees the quota he may consume from, and no other
    const mine = await fetch(`${eng.url}/ovirt-engine/api${base()}`, { headers: { authorization: auth, filter: "true", accept: "application/json" } });
    const seen = ((await mine.json()) as { quota?: J[] }).quota ?? [];
    assert.deepEqual(seen.map((x) => x.name), ["tight"], `bob's quotas: ${JSON.stringify(seen)}`);
    const r2 = await start();
    const t2 = await r2.text();
    assert.equal(r2.status, 409, `with QuotaConsumer the quota's own rule decides: ${t2}`);
    assert.match(t2, /quota tight/);
    assert.equal(await status(vm), "down");
    // disabled: no permit needed, no limit checked (the VM is not started here: stop short by removing it)
    await setMode("disabled");
    assert.equal((await eng.api("DELETE", `${base()}/${tight}`)).status, 200);
    const def = String(items<J>(await eng.get(base()), "quota").find((x) => x.name === "Default")?.id);
    assert.equal(((await eng.get<J>(`/vms/${vm}`)).quota as J).id, def, "a removed quota's VMs move to the default quota");
  });

  test("a removed data center takes its quotas with it", async () => {
    const other = String(items<J>(await eng.get("/datacenters"), "data_center").find((d) => d.name === "quota-other")?.id);
    const quota = String(items<J>(await eng.get(`/datacenters/${other}/quotas`), "quota")[0]?.id);
    assert.equal((await eng.api("DELETE", `/datacenters/${other}`)).status, 200);
    fault(await eng.api("GET", `/datacenters/${other}/quotas`), 404, "the data center's quotas");
    fault(await eng.api("POST", "/vms", { body: { name: "quota-orphan", cluster: { id: cluster }, quota: { id: quota } } }), 400, "a removed data center's quota");
  });
});
