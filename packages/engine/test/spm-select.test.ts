/**
 * The SPM as the API shows and moves it, with real node agents sharing one storage directory:
 * each data center names its SPM host and LVER, each host its role and priority; forceselectspm
 * moves the role (LVER+1); a host put into maintenance hands the role over; when the SPM dies the
 * data center shows `contend` while another host takes over, then `up`. Leases are shortened.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Engine, items, type Node, nodeRpc, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "spm-sel-token";
let eng: Engine;
const nodes: Node[] = [];

before(async () => {
  eng = await startEngine({
    env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300", VELA_ENGINE_LEASE_TIME_SEC: "6", VELA_ENGINE_LEASE_RENEW_SEC: "1" },
  });
});
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await eng?.stop();
});

interface Host {
  id: string;
  name: string;
  status: string;
  spm: { status: string; priority: string };
}
interface Dc {
  id: string;
  status: string;
  spm?: { host?: { id: string }; lver?: string };
}

test("SPM per data center and host; forceselectspm; maintenance hands the role over; contend during a takeover", async () => {
  for (const name of ["sel-a", "sel-b"]) nodes.push(await startNode({ engineUrl: eng.url, token: TOKEN, name }));
  const [na, nb] = nodes as [Node, Node];
  const [a, b] = await until("two hosts up", async () => {
    const hs = items<Host>((await eng.api("GET", "/hosts")).json, "host").filter((h) => h.status === "up");
    return hs.length === 2 ? [hs.find((h) => h.name === "sel-a") as Host, hs.find((h) => h.name === "sel-b") as Host] : undefined;
  });
  const dcId = (items<{ id: string }>((await eng.api("GET", "/datacenters")).json, "data_center")[0] as { id: string }).id;
  const sd = await eng.post<{ id: string }>("/storagedomains", { name: "sel-shared", type: "data", host: { id: a.id }, storage: { type: "localfs", path: tempDir("vela-sel-") } });
  await eng.post(`/datacenters/${dcId}/storagedomains`, { id: sd.id });

  const dc0 = await eng.get<Dc>(`/datacenters/${dcId}`);
  assert.equal(dc0.status, "up");
  assert.equal(dc0.spm?.host?.id, a.id);
  const lver0 = Number(dc0.spm?.lver);
  assert.ok(Number.isInteger(lver0) && lver0 >= 0, `LVER ${dc0.spm?.lver}`);
  assert.deepEqual((await eng.get<Host>(`/hosts/${a.id}`)).spm, { priority: "5", status: "spm" });
  assert.equal((await eng.get<Host>(`/hosts/${b.id}`)).spm.status, "none");

  // A second domain attached later is in every host's pool view, not only the SPM's.
  const sd2 = await eng.post<{ id: string }>("/storagedomains", { name: "sel-second", type: "data", host: { id: a.id }, storage: { type: "localfs", path: tempDir("vela-sel2-") } });
  assert.equal((await eng.api("POST", `/datacenters/${dcId}/storagedomains`, { body: { id: sd2.id } })).status, 201);
  assert.ok(existsSync(join(nb.runDir, "data-center", dcId, sd2.id, "dom_md", "metadata")), "the non-SPM host links the new domain");

  // Refusals.
  assert.equal((await eng.api("POST", "/hosts/5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/forceselectspm", { body: {} })).status, 404);
  const again = await eng.api("POST", `/hosts/${a.id}/forceselectspm`, { body: {} });
  assert.equal(again.status, 409);
  assert.match(String(again.json?.detail), /already the SPM/);

  // forceselectspm: the role moves to b with the next generation.
  const sel = await eng.api("POST", `/hosts/${b.id}/forceselectspm`, { body: {} });
  assert.equal(sel.status, 200, sel.text);
  assert.equal((sel.json as { status: string }).status, "complete");
  assert.equal((await eng.get<Host>(`/hosts/${b.id}`)).spm.status, "spm");
  assert.equal((await eng.get<Host>(`/hosts/${a.id}`)).spm.status, "none");
  const dc1 = await eng.get<Dc>(`/datacenters/${dcId}`);
  assert.equal(dc1.spm?.host?.id, b.id);
  assert.equal(Number(dc1.spm?.lver), lver0 + 1);
  assert.equal((await nodeRpc<{ spmStatus?: string }>(nb, "StoragePool.getSpmStatus", { storagepoolID: dcId })).result?.spmStatus ?? "", "SPM");
  const xml = await eng.api("GET", `/hosts/${b.id}`, { accept: "xml" });
  assert.match(xml.text, /<spm><priority>5<\/priority><status>spm<\/status><\/spm>/);
  const job = items<{ description: string; status: string }>((await eng.api("GET", "/jobs")).json, "job").find((j) => j.description.startsWith("Force selecting Host sel-b"));
  assert.equal(job?.status, "finished");

  // Maintenance of the SPM host hands the role back to a.
  assert.equal((await eng.api("POST", `/hosts/${b.id}/deactivate`, { body: {} })).status, 200);
  const dc2 = await until("a is SPM again", async () => {
    const d = await eng.get<Dc>(`/datacenters/${dcId}`);
    return d.spm?.host?.id === a.id && d.status === "up" ? d : undefined;
  }, 30_000);
  assert.ok(Number(dc2.spm?.lver) > lver0 + 1, "a new generation");
  assert.equal((await eng.get<Host>(`/hosts/${b.id}`)).spm.status, "none");

  // b back; then the SPM's node dies: while b takes over the data center contends, then is up.
  assert.equal((await eng.api("POST", `/hosts/${b.id}/activate`, { body: {} })).status, 200);
  await until("b connected to the pool", async () => ((await nodeRpc(nb, "StoragePool.getInfo", { storagepoolID: dcId })).error === undefined ? true : undefined), 20_000, 250);
  await na.kill();
  let sawContend = false;
  await until(
    "b is SPM after the takeover",
    async () => {
      const d = await eng.get<Dc>(`/datacenters/${dcId}`);
      if (d.status === "contend") sawContend = true;
      return d.status === "up" && d.spm?.host?.id === b.id ? true : undefined;
    },
    60_000,
    100,
  );
  assert.ok(sawContend, "the data center showed contend during the takeover");
  assert.equal((await eng.get<Host>(`/hosts/${b.id}`)).spm.status, "spm");
});
