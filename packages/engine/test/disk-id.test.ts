/**
 * A caller-chosen disk id on POST /disks (oVirt 4.x accepts `id` on add), so a client that lost a
 * reply retries without making a second disk: the disk and its image directory carry that id; a
 * second add with the same id (sequential or racing the first) is 409 and changes nothing; after
 * a remove the same id can be added again; a malformed id is 400. Real engine, real node, real
 * volumes.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { randomUUID } from "node:crypto";
import { type Engine, firstDcId, hostUp, items, type Node, startEngine, startNode, tempDir, until } from "./support.js";

const TOKEN = "disk-id-token";
let eng: Engine;
let node: Node;
let sdId: string;
const storage = tempDir("vela-disk-id-");

before(async () => {
  eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: TOKEN, VELA_ENGINE_HOST_POLL_MS: "300" } });
  node = await startNode({ engineUrl: eng.url, token: TOKEN, name: "disk-id-host" });
  const host = await hostUp(eng);
  const dc = { id: await firstDcId(eng) };
  sdId = (await eng.post<{ id: string }>("/storagedomains", { name: "disk-id", type: "data", host: { id: host.id }, storage: { type: "localfs", path: storage } })).id;
  await eng.post(`/datacenters/${dc.id}/storagedomains`, { id: sdId });
});
after(async () => {
  await node?.stop();
  await eng?.stop();
});

const body = (id: unknown, name: string) => ({ id, name, provisioned_size: 2 ** 20, format: "cow", storage_domains: { storage_domain: [{ id: sdId }] } });
const images = () => readdirSync(join(storage, sdId, "images")).sort();
const diskCount = async () => items((await eng.api("GET", "/disks")).json, "disk").length;
const settled = (id: string) => until(`disk ${id} ok`, async () => ((await eng.get<{ status: string }>(`/disks/${id}`)).status === "ok" ? true : undefined), 30_000);

test("POST /disks with a caller-chosen id: made once; a retry is 409 and changes nothing; after removal the id is free again", async () => {
  const id = randomUUID();
  const first = await eng.api("POST", "/disks", { body: body(id, "chosen") });
  assert.equal(first.status, 201, first.text);
  assert.equal(first.json?.id, id);
  await settled(id);
  assert.ok(existsSync(join(storage, sdId, "images", id)), "the image directory is named by the chosen id");

  const before = { disks: await diskCount(), images: images() };
  const again = await eng.api("POST", "/disks", { body: body(id, "chosen-again") });
  assert.equal(again.status, 409, again.text);
  assert.match(String(again.json?.detail), /already exists/);
  assert.deepEqual({ disks: await diskCount(), images: images() }, before, "the refused retry made nothing");
  assert.equal((await eng.get<{ alias: string }>(`/disks/${id}`)).alias, "chosen");

  assert.equal((await eng.api("DELETE", `/disks/${id}`)).status, 200);
  await until("disk removed", async () => ((await eng.api("GET", `/disks/${id}`)).status === 404 ? true : undefined), 30_000);
  const redo = await eng.api("POST", "/disks", { body: body(id, "chosen-redo") });
  assert.equal(redo.status, 201, redo.text);
  await settled(id);
});

test("two adds racing with the same id: exactly one disk", async () => {
  const id = randomUUID();
  const before = await diskCount();
  const rs = await Promise.all([eng.api("POST", "/disks", { body: body(id, "race-a") }), eng.api("POST", "/disks", { body: body(id, "race-b") })]);
  assert.deepEqual(rs.map((r) => r.status).sort(), [201, 409], rs.map((r) => r.text).join("\n"));
  await settled(id);
  assert.equal(await diskCount(), before + 1);
  assert.equal(images().filter((i) => i === id).length, 1);
});

test("a malformed disk id is 400 and makes nothing", async () => {
  const before = { disks: await diskCount(), images: images() };
  for (const bad of ["../etc", "not-a-uuid", 42]) {
    const r = await eng.api("POST", "/disks", { body: body(bad, "bad-id") });
    assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
  }
  assert.deepEqual({ disks: await diskCount(), images: images() }, before);
});
