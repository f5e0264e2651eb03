/**
 * The SPM role across real node agents sharing one local storage directory: the pool's first SPM
 * is the host that created the master domain; a host that comes up later is connected to the
 * pool; when the SPM's node dies, another host takes the role once the old lease expired, and
 * disks can be created again. Leases are shortened (6 s) so the takeover fits in a test.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Engine, items, type Node, nodeRpc, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "spm-token";
let eng: Engine;
const nodes: Node[] = [];

before(async () => {
  eng = await startEngine({
    env: {
      VELA_REGISTRATION_TOKEN: TOKEN,
      VELA_ENGINE_HOST_POLL_MS: "300",
      VELA_ENGINE_LEASE_TIME_SEC: "6",
      VELA_ENGINE_LEASE_RENEW_SEC: "1",
    },
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
  spm: { status: string };
}

async function hosts(): Promise<Host[]> {
  return items<Host>((await eng.api("GET", "/hosts")).json, "host");
}

async function jsonrpc(node: Node, method: string, params: Record<string, unknown>) {
  return nodeRpc<unknown>(node, method, params);
}

async function diskOk(name: string, sdId: string): Promise<void> {
  const d = await eng.post<{ id: string }>("/disks", { name, provisioned_size: 2 ** 20, format: "cow", storage_domains: { storage_domain: [{ id: sdId }] } });
  await until(`disk ${name} ok`, async () => ((await eng.get<{ status: string }>(`/disks/${d.id}`)).status === "ok" ? true : undefined), 30_000);
}

test("SPM: first holder, late joiner connected to the pool, takeover when the SPM dies", async () => {
  const storage = tempDir("vela-spm-sd-");
  for (const name of ["spm-a", "spm-b"]) nodes.push(await startNode({ engineUrl: eng.url, token: TOKEN, name }));
  const [a, b] = await until("two hosts up", async () => {
    const hs = (await hosts()).filter((h) => h.status === "up");
    return hs.length === 2 ? [hs.find((h) => h.name === "spm-a") as Host, hs.find((h) => h.name === "spm-b") as Host] : undefined;
  });
  const dc = items<{ id: string }>((await eng.api("GET", "/datacenters")).json, "data_center")[0] as { id: string };
  const sd = await eng.post<{ id: string }>("/storagedomains", { name: "shared", type: "data", host: { id: b.id }, storage: { type: "localfs", path: storage } });
  await eng.post(`/datacenters/${dc.id}/storagedomains`, { id: sd.id });
  assert.equal((await eng.get<Host>(`/hosts/${b.id}`)).spm.status, "spm", "the domain's creator is the first SPM");
  assert.equal((await eng.get<Host>(`/hosts/${a.id}`)).spm.status, "none");
  const info = await jsonrpc(nodes[0] as Node, "StoragePool.getInfo", { storagepoolID: dc.id });
  assert.equal(info.error, undefined, `host spm-a is connected to the pool: ${JSON.stringify(info.error)}`);
  await diskOk("before", sd.id);

  const late = await startNode({ engineUrl: eng.url, token: TOKEN, name: "spm-c" });
  nodes.push(late);
  await until(
    "late host connected to the pool",
    async () => ((await jsonrpc(late, "StoragePool.getInfo", { storagepoolID: dc.id })).error === undefined ? true : undefined),
    20_000,
    250,
  );

  await (nodes[1] as Node).kill(); // spm-b, the SPM
  await until("spm-b non_responsive", async () => ((await eng.get<Host>(`/hosts/${b.id}`)).status === "non_responsive" ? true : undefined), 10_000);
  const next = await until(
    "another host is SPM",
    async () => (await hosts()).find((h) => h.status === "up" && h.spm.status === "spm"),
    60_000,
    250,
  );
  assert.notEqual(next.id, b.id);
  assert.equal((await eng.get<{ status: string }>(`/datacenters/${dc.id}`)).status, "up");
  await diskOk("after", sd.id);
});
