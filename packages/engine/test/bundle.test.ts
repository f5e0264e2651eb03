/**
 * The engine's bundle (packages/engine/build.mjs): what `vela up`, the Debian package and the
 * start benchmark run, while the other tests start tsc's output. The build makes it, current with
 * tsc's output; and it starts and serves — authenticated requests and HEAD, XML bodies (the
 * parser comes through a bundled `require`), parts loaded on first use (their chunks), files found
 * in node_modules at run time (the portal, noVNC), prom-client, and PostgreSQL (`pg`, a chunk of
 * its own, read only on a PostgreSQL URL).
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ENGINE_BUNDLE, type Engine, startEngine } from "./support.js";

const here = dirname(fileURLToPath(import.meta.url));

test("the build makes the bundle from tsc's output, and it is current (./vela builds it before tests run)", () => {
  assert.ok(existsSync(ENGINE_BUNDLE), `${ENGINE_BUNDLE} is missing: the build (./vela → packages/engine/build.mjs) did not make it`);
  const bundled = statSync(ENGINE_BUNDLE).mtimeMs;
  const stale: string[] = [];
  for (const dir of [resolve(here, "../src"), resolve(here, "../../../protocol/dist/src")]) {
    for (const f of readdirSync(dir, { recursive: true }) as string[]) {
      if (f.endsWith(".js") && statSync(join(dir, f)).mtimeMs > bundled) stale.push(join(dir, f));
    }
  }
  assert.deepEqual(stale, [], `built after the bundle (${ENGINE_BUNDLE}): the build did not remake it`);
  const text = readFileSync(ENGINE_BUNDLE, "utf8");
  assert.match(text, /^#!\/usr\/bin\/env node\n/, "runs as a command (the package's vela-engine)");
  assert.doesNotMatch(text, /from\s*"\.\/(api|db|commands)\//, "our modules are inside it, not imported one by one");
  assert.match(text, /from\s*"\.\/chunk-[A-Z0-9]+\.js"/, "the start path's shared chunks sit beside it");
});

let eng: Engine;
let auth: Record<string, string>;

before(async () => {
  eng = await startEngine({ main: ENGINE_BUNDLE });
  auth = { authorization: `Basic ${Buffer.from(`${eng.user}:${eng.password}`).toString("base64")}` };
});
after(() => eng?.stop());

test("the bundled engine answers an authenticated API request, refuses an anonymous one, and answers HEAD", async () => {
  const root = await eng.api("GET", "");
  assert.equal(root.status, 200, root.text);
  assert.equal((root.json?.product_info as { name?: string } | undefined)?.name, "Vela", root.text);
  const anon = await fetch(`${eng.url}/ovirt-engine/api`);
  assert.equal(anon.status, 401, "no credentials, no API");
  const get = await fetch(`${eng.url}/ovirt-engine/api/datacenters`, { headers: { ...auth, accept: "application/xml" } });
  const head = await fetch(`${eng.url}/ovirt-engine/api/datacenters`, { method: "HEAD", headers: { ...auth, accept: "application/xml" } });
  assert.equal(head.status, 200, `HEAD → ${head.status}`);
  assert.equal(await head.text(), "", "HEAD has no body");
  assert.equal(head.headers.get("content-type"), get.headers.get("content-type"));
});

test("the bundled engine reads XML bodies, loads resources on first use, serves the portal, noVNC and metrics", async () => {
  const dc = await eng.api("POST", "/datacenters", { body: "<data_center><name>bundled-dc</name><local>false</local></data_center>", accept: "xml" });
  assert.equal(dc.status, 201, dc.text);
  assert.match(dc.text, /<name>bundled-dc<\/name>/);
  const bad = await eng.api("POST", "/datacenters", { body: "<data_center><name>", accept: "xml" });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.text, /<fault>/, "a malformed body is answered with a fault");
  const vms = await eng.api("GET", "/vms", { accept: "xml" });
  assert.equal(vms.status, 200, vms.text);
  const portal = await fetch(`${eng.url}/ovirt-engine/web/`);
  assert.equal(portal.status, 200, "the portal's page, found as @vela/portal at run time");
  const rfb = await fetch(`${eng.url}/ovirt-engine/services/novnc/core/rfb.js`);
  assert.equal(rfb.status, 200, "noVNC's files, found as @novnc/novnc at run time");
  const metrics = await fetch(`${eng.url}/ovirt-engine/api/metrics`, { headers: auth });
  const text = await metrics.text();
  assert.equal(metrics.status, 200, text);
  assert.match(text, /^process_resident_memory_bytes \d+/m, "prom-client's default metrics");
});

test("the bundled engine runs on PostgreSQL (pg is a chunk of its own, loaded only then)", async () => {
  const pg = await startEngine({ main: ENGINE_BUNDLE, db: "postgres" });
  try {
    const root = await pg.api("GET", "");
    assert.equal(root.status, 200, root.text);
    const head = await fetch(`${pg.url}/ovirt-engine/api/datacenters`, { method: "HEAD", headers: { authorization: `Basic ${Buffer.from(`${pg.user}:${pg.password}`).toString("base64")}` } });
    assert.equal(head.status, 200, `HEAD → ${head.status}`);
    assert.match(pg.output(), /"db":"postgres"/, "the engine says it opened PostgreSQL");
  } finally {
    await pg.stop();
  }
});
