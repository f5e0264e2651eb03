/**
 * Bad input through the engine's REST API: each class gets a clear fault in oVirt's shape, and
 * nothing is created — neither rows (the collections are unchanged) nor files on the storage.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ReadyInfo } from "@vela/cli/up";
import { up } from "@vela/cli/up";
import { freePort } from "@vela/node/test/harness";
import { seedEnginePki } from "@vela/node/test/tls";

let stop: () => Promise<void>;
let info: ReadyInfo;
let home: string;
let auth: string;

before(async () => {
  home = mkdtempSync(join(tmpdir(), "vela-home-"));
  seedEnginePki(home); // the run's test CA: fetch() trusts it
  const started = await up({ hosts: 1, home, enginePort: await freePort(), nodePort: await freePort() });
  stop = started.stop;
  info = started.info;
  auth = `Basic ${Buffer.from(`${info.user}:${info.password}`).toString("base64")}`;
});
after(async () => stop?.());

function storageFiles(): string[] {
  return (readdirSync(join(home, "storage"), { recursive: true }) as string[]).sort();
}

async function call(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${info.url}/ovirt-engine/api${path}`, {
    method,
    headers: { authorization: auth, accept: "application/json", "content-type": "application/json", ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, json: (() => { try { return JSON.parse(text) as Record<string, unknown>; } catch { return undefined; } })() };
}

async function counts() {
  const disks = (await call("GET", "/disks")).json?.disk as unknown[] | undefined;
  const vms = (await call("GET", "/vms")).json?.vm as unknown[] | undefined;
  return { disks: disks?.length ?? 0, vms: vms?.length ?? 0 };
}

function assertFault(r: { status: number; json?: Record<string, unknown> }, status: number) {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(typeof r.json?.reason, "string", "JSON fault has a reason");
  assert.equal(typeof r.json?.detail, "string", "JSON fault has a detail");
}

const disk = (over: Record<string, unknown>) =>
  JSON.stringify({ name: "bad", provisioned_size: 2 ** 30, format: "cow", sparse: true, storage_domains: { storage_domain: [{ name: "local" }] }, ...over });

describe("REST bad input creates nothing", () => {
  test("each class of bad input gets a fault and leaves state unchanged", async () => {
    const filesBefore = storageFiles();
    const countsBefore = await counts();
    const cases: [string, string, string | undefined, number][] = [
      ["non-UUID id", "/disks/not-a-uuid", undefined, 404],
      ["path-like id", "/vms/..%2Fx", undefined, 404],
      ["negative size", "/disks", disk({ provisioned_size: -1 }), 400],
      ["absurd size", "/disks", disk({ provisioned_size: 2 ** 62 }), 400],
      ["unknown format", "/disks", disk({ format: "vmdk" }), 400],
      // oVirt answers a reference to a missing entity with 404 "Entity not found".
      ["unknown domain", "/disks", disk({ storage_domains: { storage_domain: [{ id: "6f1d3c2a-0000-4000-8000-000000000001" }] } }), 404],
      ["malformed JSON", "/disks", "{\"name\": ", 400],
      ["start unknown VM", "/vms/6f1d3c2a-0000-4000-8000-000000000002/start", "{}", 404],
    ];
    for (const [what, path, body, status] of cases) {
      const r = await call(body === undefined ? "GET" : "POST", path, body);
      assert.equal(r.status, status, `${what}: ${r.text}`);
      assertFault(r, status);
    }
    const xml = await call("POST", "/disks", "<disk><name>x</name><provisioned_size>1", { "content-type": "application/xml", accept: "application/xml" });
    assert.equal(xml.status, 400);
    assert.match(xml.text, /<fault>\s*<reason>.+<\/reason>\s*<detail>.*<\/detail>\s*<\/fault>/s);

    assert.deepEqual(await counts(), countsBefore, "no disk or VM was recorded");
    assert.deepEqual(storageFiles(), filesBefore, "no file was created on the storage");
  });

  test("a wrong password gets 401 with a Basic challenge", async () => {
    const res = await fetch(`${info.url}/ovirt-engine/api`, { headers: { authorization: `Basic ${Buffer.from("admin@internal:wrong").toString("base64")}` } });
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Basic realm="RESTAPI"/);
  });
});

describe("issue 15: the node's refusals are the client's 4xx, and nothing is half-made", () => {
  const sd = (path: string) => JSON.stringify({ name: "bad-sd", type: "data", host: { name: "host1" }, storage: { type: "localfs", path } });

  test("a local domain path that is missing or a file: 400 with the node's reason, no domain recorded", async () => {
    const before = (await call("GET", "/storagedomains")).text;
    const file = join(home, "storage", "a-file");
    writeFileSync(file, "x");
    for (const path of [join(home, "storage", "missing-dir"), file]) {
      const r = await call("POST", "/storagedomains", sd(path));
      assertFault(r, 400);
      assert.match(String(r.json?.detail), /VDSM code \d+/, "the node's message is the detail");
    }
    assert.equal((await call("GET", "/storagedomains")).text, before);
  });

  test("a 1 PiB raw disk is refused at once (400) and leaves no disk behind", async () => {
    const filesBefore = storageFiles();
    const countsBefore = await counts();
    const r = await call("POST", "/disks", disk({ name: "pib", provisioned_size: 2 ** 50, format: "raw", sparse: true }));
    assertFault(r, 400);
    assert.match(String(r.json?.detail), /cannot hold/);
    assert.deepEqual(await counts(), countsBefore, "no disk recorded");
    assert.deepEqual(storageFiles(), filesBefore, "no file left on the storage");
  });

  test("an initial size beyond a preallocated raw disk's capacity is refused by the engine (400) before the node sees it", async () => {
    assertFault(await call("POST", "/disks", disk({ name: "init", format: "raw", sparse: false, initial_size: String(2 ** 31) })), 400);
  });

  test("a start the node refuses (kernel missing on the host) is a 409 with its reason", async () => {
    mkdirSync(join(home, "boot"), { recursive: true });
    const vm = (await call("POST", "/vms", JSON.stringify({ name: "kern-missing", cluster: { name: "Default" }, os: { kernel: join(home, "boot", "no-such-vmlinuz") } }))).json as { id: string };
    const r = await call("POST", `/vms/${vm.id}/start`, "{}");
    assertFault(r, 409);
    assert.match(String(r.json?.detail), /does not exist/);
    assert.equal(((await call("GET", `/vms/${vm.id}`)).json as { status: string }).status, "down");
  });
});
