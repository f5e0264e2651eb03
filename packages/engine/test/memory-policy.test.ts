/**
 * Memory over-commit through the API with a real engine, node and QEMU: a cluster's
 * `ballooning_enabled`, `memory_policy.over_commit.percent` and `ksm.enabled` are set on add and
 * update, shown, and sent to the cluster's hosts (the node logs the policy it got; this node's KSM
 * directory is absent, which it reports); bad values are 400 faults that change nothing. A VM
 * gets a balloon device unless its `memory_policy.ballooning` is false, and its statistics carry
 * the balloon's figures. Events of API actions name the user (issue 12); monitoring's name none.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Engine, hostUp, items, type Node, nodeCall, qemuOf, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "mom-token";
let eng: Engine;
let node: Node;
let clusterId = "";
const vms: string[] = [];

interface ClusterRep {
  ballooning_enabled: string;
  memory_policy: { over_commit: { percent: string } };
  ksm: { enabled: string };
}

/** The settings as the JSON representation has them (oVirt writes numbers and booleans as strings). */
const settings = (c: ClusterRep) => [c.ballooning_enabled, c.memory_policy.over_commit.percent, c.ksm.enabled].map(String);

before(async () => {
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_VM_POLL_MS: "300" } });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "mom-host", env: { VELA_NODE_ACCEL: "tcg", VELA_NODE_KSM_DIR: tempDir("vela-no-ksm-") + "/absent" } });
  await hostUp(eng);
  clusterId = (items<{ id: string; name: string }>(await eng.get("/clusters"), "cluster").find((c) => c.name === "Default") as { id: string }).id;
});

after(async () => {
  for (const id of vms) for (const pid of qemuOf(id)) process.kill(pid, "SIGKILL");
  await node?.stop();
  await eng?.stop();
});

test("a cluster's memory settings: defaults, update, sent to its hosts", async () => {
  const c0 = await eng.get<ClusterRep>(`/clusters/${clusterId}`);
  assert.deepEqual(settings(c0), ["false", "100", "false"]);
  const r = await eng.api("PUT", `/clusters/${clusterId}`, { body: "<cluster><ballooning_enabled>true</ballooning_enabled><memory_policy><over_commit><percent>150</percent></over_commit></memory_policy><ksm><enabled>true</enabled></ksm></cluster>" });
  assert.equal(r.status, 200, r.text);
  const c1 = await eng.get<ClusterRep>(`/clusters/${clusterId}`);
  assert.deepEqual(settings(c1), ["true", "150", "true"]);
  await until("the node got the policy", async () => (/"balloonEnabled":true,"overCommitPercent":150,"ksmEnabled":true/.test(node.output()) ? true : undefined), 30_000, 200);
  assert.match(node.output(), /this kernel has no KSM/, "the node says its KSM is absent");
  assert.match(eng.output(), /this host's kernel has no KSM/, "the engine says so too");
});

test("bad memory settings are 400 faults and change nothing", async () => {
  const bad: [string, unknown][] = [
    ["over-commit below 100 %", { memory_policy: { over_commit: { percent: 50 } } }],
    ["over-commit not a number", { memory_policy: { over_commit: { percent: "lots" } } }],
    ["over-commit above 1000 %", { memory_policy: { over_commit: { percent: 5000 } } }],
    ["ballooning not a boolean", { ballooning_enabled: "maybe" }],
    ["ksm not a boolean", { ksm: { enabled: 2 } }],
  ];
  for (const [what, body] of bad) {
    const r = await eng.api("PUT", `/clusters/${clusterId}`, { body: body as object });
    assert.equal(r.status, 400, `${what}: ${r.status} ${r.text}`);
    assert.ok(r.json?.reason && r.json?.detail, `${what}: fault shape`);
    const c = await eng.get<ClusterRep>(`/clusters/${clusterId}`);
    assert.deepEqual(settings(c), ["true", "150", "true"], `${what}: unchanged`);
  }
  const add = await eng.api("POST", "/clusters", { body: { name: "mom-bad", data_center: { name: "Default" }, memory_policy: { over_commit: { percent: 10 } } } });
  assert.equal(add.status, 400, add.text);
  const added = await eng.post<ClusterRep & { id: string }>("/clusters", { name: "mom-200", data_center: { name: "Default" }, memory_policy: { over_commit: { percent: 200 } }, ballooning_enabled: true });
  assert.deepEqual(settings(added), ["true", "200", "false"]);
});

test("VMs get a balloon unless memory_policy.ballooning is false; statistics show its figures", async () => {
  const withB = await eng.post<{ id: string }>("/vms", { name: "mom-balloon", cluster: { name: "Default" }, memory: 64 * 2 ** 20 });
  const without = await eng.post<{ id: string }>("/vms", { name: "mom-plain", cluster: { name: "Default" }, memory: 64 * 2 ** 20, memory_policy: { ballooning: false } });
  vms.push(withB.id, without.id);
  for (const id of vms) await eng.post(`/vms/${id}/start`, {});
  for (const id of vms) await until(`VM ${id} up`, async () => ((await eng.get<{ status: string }>(`/vms/${id}`)).status === "up" ? true : undefined), 60_000, 200);
  const [b] = await nodeCall<{ balloonInfo?: Record<string, string> }[]>(node, "VM.getStats", { vmID: withB.id });
  assert.equal(b.balloonInfo?.balloon_max, String(64 * 1024));
  const [p] = await nodeCall<{ balloonInfo?: unknown }[]>(node, "VM.getStats", { vmID: without.id });
  assert.equal(p.balloonInfo, undefined);
  const stat = await until("balloon statistics", async () => {
    const s = items<{ name: string; values: { value: { datum: string }[] } }>(await eng.get(`/vms/${withB.id}/statistics`), "statistic");
    return s.find((x) => x.name === "memory.balloon.current" && Number(x.values.value[0]?.datum) > 0);
  }, 30_000, 300);
  assert.equal(Number(stat.values.value[0].datum), 64 * 2 ** 20);
});

test("events of API actions name the user who acted; events from monitoring name none", async () => {
  const evs = items<{ description: string; code: string; user?: { id: string; href: string } }>(await eng.get("/events?max=200"), "event");
  const update = evs.find((ev) => /^Updating Cluster .*: done/.test(ev.description));
  assert.ok(update, `an event for the cluster update: ${evs.map((e) => e.description).join(" | ")}`);
  assert.match(update.description, /done by admin@internal\.$/);
  assert.ok(update.user?.id, `the event links its user: ${JSON.stringify(update)}`);
  const admin = await eng.get<{ user_name?: string; name?: string }>(update.user.href.replace(/^\/ovirt-engine\/api/, ""));
  assert.ok(JSON.stringify(admin).includes("admin"), `the user link resolves to admin: ${JSON.stringify(admin)}`);
  // the VM monitor saw the VM come up (after a start by admin): its event names no one
  const vmUp = evs.find((ev) => /^VM mom-balloon is up on host mom-host/.test(ev.description));
  assert.ok(vmUp, "a VM-up event from monitoring");
  assert.equal(vmUp.user, undefined, "monitoring names no user");
  assert.doesNotMatch(vmUp.description, / by /);
  const xml = await eng.api("GET", `/events?max=200`, { accept: "xml" });
  assert.match(xml.text, /<user href="\/ovirt-engine\/api\/users\/[0-9a-f-]{36}" id="[0-9a-f-]{36}"\/>/);
});
