/**
 * The fuzz suite (issue 15): generated bad input (fast-check) against every route of the engine's
 * route table and every verb of the protocol's verb table, on a real `vela up` (engine, one node,
 * the local domain). Routes and verbs are read from the tables, so new ones join by themselves.
 * Asserts for every request: no 5xx, the API's own fault shape (an oVirt fault on the engine, a
 * VDSM status or XML-RPC/JSON-RPC fault on the node), an answer within the time budget, both
 * processes alive; and for every batch of refused requests: the database listing and the storage
 * files unchanged, nothing created outside the data directory. Bounded to well under 60 s.
 * A failure prints fast-check's seed; VELA_FUZZ_SEED replays it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ReadyInfo } from "@vela/cli/up";
import { up } from "@vela/cli/up";
import { type VerbDef, verbs } from "@vela/protocol";
import { freePort } from "@vela/node/test/harness";
import { rawRequest, seedEnginePki } from "@vela/node/test/tls";
import { parseMethodResponse, XmlRpcFault } from "@vela/node/xmlrpc-codec";
import fc from "fast-check";

const here = dirname(fileURLToPath(import.meta.url));
/** Per-request budget: generous for a loaded 2-core box, far below a stalled event loop. */
const BUDGET_MS = 3000;
const RUNS_PER_ROUTE = Number(process.env.VELA_FUZZ_RUNS ?? 8);
const RUNS_PER_VERB = Number(process.env.VELA_FUZZ_VERB_RUNS ?? 6);
const SEED = process.env.VELA_FUZZ_SEED ? Number(process.env.VELA_FUZZ_SEED) : Date.now() % 2 ** 31;

interface RouteDef {
  method: string;
  path: string;
}

let stop: () => Promise<void>;
let info: ReadyInfo;
let home: string;
let nodeUrl: string;
let basic: string;
let routes: RouteDef[];
/** Real ids by collection, so some requests reach real objects with bad bodies. */
const real: Record<string, string[]> = {};

before(async () => {
  home = mkdtempSync(join(tmpdir(), "vela-fuzz-"));
  const nodePort = await freePort();
  seedEnginePki(home); // the run's test CA: fetch() trusts it
  const started = await up({ hosts: 1, home, enginePort: await freePort(), nodePort });
  stop = started.stop;
  info = started.info;
  nodeUrl = `https://127.0.0.1:${nodePort}`;
  basic = `Basic ${Buffer.from(`${info.user}:${info.password}`).toString("base64")}`;
  // The route table, loaded from the engine's build by path (the engine is started by path too).
  const mod = (await import(pathToFileURL(resolve(here, "../../../packages/engine/dist/src/api/routes.js")).href)) as { apiRoutes: RouteDef[]; internalRoutes: RouteDef[] };
  routes = [...mod.apiRoutes.map((r) => ({ method: r.method, path: `/ovirt-engine/api${r.path}` })), ...mod.internalRoutes.map((r) => ({ method: r.method, path: r.path }))];
  await engine("POST", "/ovirt-engine/api/vms", JSON.stringify({ name: "fuzz-vm", cluster: { name: "Default" } }), "application/json");
  for (const [coll, key] of [["datacenters", "data_center"], ["clusters", "cluster"], ["hosts", "host"], ["storagedomains", "storage_domain"], ["templates", "template"], ["vms", "vm"], ["disks", "disk"], ["jobs", "job"]]) {
    const r = await engine("GET", `/ovirt-engine/api/${coll}`);
    real[coll as string] = ((JSON.parse(r.text) as Record<string, { id: string }[]>)[key as string] ?? []).map((x) => x.id);
  }
});
after(async () => stop?.());

// ---- talking to the processes ----

interface Res {
  status: number;
  text: string;
  ms: number;
}

/** One request over node:http (fetch refuses bodies on GET, which the fuzz sends too). */
function engine(method: string, path: string, body?: string, type?: string, auth: string | null = basic, accept = "application/json"): Promise<Res> {
  const headers: Record<string, string> = { accept };
  if (auth !== null) headers.authorization = auth;
  if (type !== undefined) headers["content-type"] = type;
  if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
  const t0 = performance.now();
  return new Promise((res, rej) => {
    const req = request(`${info.url}${path}`, { method, headers, timeout: 30_000 }, (r) => {
      let text = "";
      r.setEncoding("utf8");
      r.on("data", (d: string) => (text += d));
      r.on("end", () => res({ status: r.statusCode ?? 0, text, ms: performance.now() - t0 }));
      r.on("error", rej);
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path.slice(0, 100)}: no answer in 30 s`)));
    req.on("error", rej);
    req.end(body);
  });
}

async function node(path: string, body: string, type: string): Promise<Res> {
  const t0 = performance.now();
  const res = await rawRequest(`${nodeUrl}${path}`, { method: "POST", headers: { "content-type": type }, body, timeoutMs: 30_000 });
  return { status: res.status, text: res.text, ms: performance.now() - t0 };
}

// ---- state ----

/** Ids per collection (not jobs: a refused command may leave a failed job, as oVirt does) and storage file names. */
async function snapshot(): Promise<string> {
  const out: string[] = [];
  for (const [coll, key] of [["datacenters", "data_center"], ["clusters", "cluster"], ["hosts", "host"], ["storagedomains", "storage_domain"], ["templates", "template"], ["vms", "vm"], ["disks", "disk"]]) {
    const r = await engine("GET", `/ovirt-engine/api/${coll}`);
    const ids = ((JSON.parse(r.text) as Record<string, { id: string }[]>)[key as string] ?? []).map((x) => x.id).sort();
    out.push(`${coll}: ${ids.join(",")}`);
  }
  // Task records come and go with the SPM's own work; everything else is the domain's content.
  const files = (readdirSync(join(home, "storage"), { recursive: true }) as string[]).filter((f) => !/master\/tasks/.test(f)).sort();
  out.push(`files: ${files.join(",")}`);
  return out.join("\n");
}

/**
 * What a request that escaped would leave outside the data directory: a domain (a UUID-named
 * directory) or the marker the generated shell strings try to create, in /, /etc, /tmp, /srv, /mnt
 * or the temp directory. Only such names count: other processes on the machine change these
 * directories too (packages installed meanwhile).
 */
function outside(): string {
  const suspicious = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|fuzz-pwned/;
  const found: string[] = [];
  for (const dir of ["/", "/etc", "/tmp", "/srv", "/mnt", tmpdir()]) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    found.push(...names.filter((n) => suspicious.test(n)).map((n) => join(dir, n)));
  }
  return found.sort().join("\n");
}

/** Waits until no disk is locked (a create the fuzz made is still running), then snapshots. */
async function settledSnapshot(): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const r = await engine("GET", "/ovirt-engine/api/disks");
    const disks = (JSON.parse(r.text) as { disk?: { status: string }[] }).disk ?? [];
    if (!disks.some((d) => d.status === "locked")) return snapshot();
    await new Promise((res) => setTimeout(res, 100));
  }
  return snapshot();
}

// ---- generators ----

const nasty = fc.constantFrom(
  "../../etc/passwd",
  "/etc/shadow",
  "/",
  "/etc",
  "/tmp",
  "..%2F..%2Fetc",
  "$(touch /tmp/vela-fuzz-pwned)",
  "`id`",
  "; rm -rf /",
  "a\u0000b",
  "\u202e\u0301",
  "漢字🙂é",
  "-rf",
  "%00",
  "' OR 1=1 --",
  "*",
  "x".repeat(5000),
  "",
  " ",
);
const badNumber = fc.constantFrom(-1, 0, 1.5, -0.5, 2 ** 53 + 2, 1e308, 2 ** 62, -(2 ** 31));
const badScalar = fc.oneof(nasty, badNumber, fc.boolean(), fc.constant(null), fc.string({ maxLength: 12 }), fc.integer());
const badValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: badScalar },
  { weight: 1, arbitrary: fc.array(badScalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom("id", "name", "size", "path", "__proto__", "constructor"), badScalar, { maxKeys: 3 }) },
);

/** A path id: a foreign UUID, a malformed one, or (for GET, or with an unparsable body) a real one. */
function idArb(coll: string, allowReal: boolean): fc.Arbitrary<string> {
  const ids = real[coll] ?? [];
  const arbs: fc.Arbitrary<string>[] = [fc.uuid(), nasty.map((s) => encodeURIComponent(s.slice(0, 600)) || "x"), fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent)];
  if (allowReal && ids.length > 0) arbs.push(fc.constantFrom(...ids));
  return fc.oneof(...arbs);
}

/** Which collection a path parameter names: the segment before it, or its name. */
function collectionOf(path: string, param: string): string {
  const segs = path.split("/");
  const i = segs.indexOf(`:${param}`);
  const before = segs[i - 1] ?? "";
  if (param === "sd") return "storagedomains";
  if (param === "disk") return "disks";
  return before;
}

/** Bodies no parser or schema may accept, whatever the route. */
const unparsable = fc.constantFrom<[string, string | undefined]>(
  [`{"a":${"[".repeat(30000)}${"]".repeat(30000)}}`, "application/json"],
  [`<vm>${"<a>".repeat(5000)}${"</a>".repeat(5000)}</vm>`, "application/xml"],
  ['{"name": ', "application/json"],
  ["[1,2,3]", "application/json"],
  ["<vm><name>x</name><cluster>", "application/xml"],
  ['<?xml version="1.0"?><!DOCTYPE vm [<!ENTITY x "y">]><vm><name>&x;</name></vm>', "application/xml"],
  ["name=x&cluster=Default", "application/x-www-form-urlencoded"],
  ["hello", "text/plain"],
  ["\u0000\u0001\u0002", "application/octet-stream"],
  ["garbage", undefined],
);

/** Bodies that parse but are wrong: random objects, and plausible ones with one member made bad. */
const plausible: Record<string, Record<string, unknown>> = {
  vms: { name: "fuzz", cluster: { name: "Default" }, memory: 2 ** 28 },
  disks: { name: "fuzz", provisioned_size: 2 ** 20, format: "cow", storage_domains: { storage_domain: [{ name: "local" }] } },
  datacenters: { name: "fuzz", local: true },
  clusters: { name: "fuzz", data_center: { name: "Default" } },
  storagedomains: { name: "fuzz", type: "data", host: { name: "host1" }, storage: { type: "localfs", path: "/etc" } },
  templates: { name: "fuzz", vm: { name: "fuzz-vm" } },
};
function parsedBody(coll: string): fc.Arbitrary<[string, string | undefined]> {
  const seed = plausible[coll] ?? { name: "fuzz" };
  const keys = Object.keys(seed);
  const mutated = fc.tuple(fc.constantFrom(...keys), badValue).map(([k, v]) => ({ ...seed, [k]: v }));
  const random = fc.dictionary(fc.string({ maxLength: 8 }), badValue, { maxKeys: 4 });
  return fc.tuple(fc.oneof(mutated, random), fc.constantFrom("application/json", "application/xml")).map(([o, type]) => {
    if (type === "application/json") return [JSON.stringify(o), type];
    const el = (k: string, v: unknown): string => {
      const tag = /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : "x";
      if (v !== null && typeof v === "object") return `<${tag}>${Object.entries(v as object).map(([a, b]) => el(a, b)).join("")}</${tag}>`;
      return `<${tag}>${String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;")}</${tag}>`;
    };
    return [el(coll.replace(/s$/, ""), o), type];
  });
}

const authArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant<"good" | null | string>("good") },
  { weight: 1, arbitrary: fc.constantFrom<string | null>(null, "Basic Zm9vOmJhcg==", "Bearer forged", "Basic !!!", "Negotiate x", `Basic ${Buffer.from("admin@internal:").toString("base64")}`) },
);

const queryArb = fc.oneof(
  fc.constant(""),
  fc.tuple(fc.constantFrom("search", "max", "follow", "sortby", "case_sensitive", "host", "format"), fc.oneof(nasty, fc.constantFrom("name=*****************************!", "sortby name desc", "-5", "1.5", "name=a and name=b", "x".repeat(3000)))).map(
    ([k, v]) => `?${k}=${encodeURIComponent(v)}`,
  ),
);

// ---- checks ----

/** fast-check's report, bounded: a counterexample can hold a 60 KB body. */
function reporter<T>(out: fc.RunDetails<T>): void {
  if (!out.failed) return;
  const err = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
  throw new Error(`fuzz failure (replay with VELA_FUZZ_SEED=${SEED}; this property's seed ${out.seed}, path ${out.counterexamplePath}): ${err.slice(0, 1500)}`);
}

function checkEngineReply(r: Res, what: string): void {
  assert.ok(r.status < 500, `${what}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
  assert.ok(r.ms < BUDGET_MS, `${what}: took ${r.ms.toFixed(0)} ms`);
  if (r.status >= 400 && !what.includes("/sso/")) {
    let f: { reason?: unknown; detail?: unknown } | undefined;
    try {
      f = JSON.parse(r.text) as typeof f;
    } catch {
      assert.match(r.text, /<fault><reason>[^<]*<\/reason><detail>[^<]*<\/detail><\/fault>/, `${what}: not a fault: ${r.text.slice(0, 300)}`);
      return;
    }
    assert.ok(typeof f?.reason === "string" && typeof f?.detail === "string", `${what}: not a fault: ${r.text.slice(0, 300)}`);
  }
}

function describeReq(m: string, p: string, body?: string, type?: string): string {
  return `${m} ${p.slice(0, 200)} [${type ?? "no type"}] ${(body ?? "").slice(0, 120)}`;
}

describe("fuzz: every engine route", () => {
  test("generated bad requests: no 5xx, oVirt faults, in time, state unchanged by refusals", { timeout: 120_000 }, async () => {
    const outsideBefore = outside();
    let state = await settledSnapshot();
    for (const [i, route] of routes.entries()) {
      const params = [...route.path.matchAll(/:([a-z]+)/g)].map((m) => m[1] as string);
      const coll = route.path.split("/")[3] ?? "";
      const isWrite = route.method !== "GET";
      // Real ids only where nothing can happen to them: reads, or writes whose body no parser accepts.
      const req = fc.record({
        real: fc.boolean(),
        ids: fc.tuple(...params.map((p) => fc.tuple(idArb(collectionOf(route.path, p), true), idArb(collectionOf(route.path, p), false)))),
        body: fc.oneof(unparsable, parsedBody(coll), fc.constant<[string | undefined, string | undefined]>([undefined, undefined])),
        auth: authArb,
        query: queryArb,
        xml: fc.boolean(),
        junk: unparsable,
      });
      let changed = false;
      await fc.assert(
        fc.asyncProperty(req, async (g) => {
          let [body, type] = g.body;
          const useReal = g.real;
          if (useReal && isWrite) [body, type] = g.junk;
          let path = route.path;
          for (const [j, p] of params.entries()) path = path.replace(`:${p}`, (g.ids[j] as [string, string])[useReal ? 0 : 1]);
          if (route.method === "GET") path += g.query;
          const auth = g.auth === "good" ? basic : g.auth;
          const what = describeReq(route.method, path, body, type);
          const r = await engine(route.method, path, body, type, auth, g.xml ? "application/xml" : "application/json");
          checkEngineReply(r, what);
          if (r.status < 400) changed = true;
          // Without valid credentials: 401, or an HTTP-level refusal that comes before authentication (414).
          if (g.auth !== "good" && !route.path.startsWith("/vela/")) assert.ok(r.status === 401 || r.status === 414, `${what}: bad credentials must be 401, got ${r.status}`);
        }),
        { numRuns: RUNS_PER_ROUTE, seed: SEED + i, endOnFailure: true, reporter },
      );
      const now = changed ? await settledSnapshot() : await snapshot();
      if (!changed) assert.equal(now, state, `${route.method} ${route.path}: refused requests changed the state (seed ${SEED + i})`);
      state = now;
    }
    assert.equal(outside(), outsideBefore, "no file appeared in /etc or the temp dir");
  });

  test("the SSO endpoint: junk gets 400 access_denied JSON, never a token or a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom("grant_type", "username", "password", "scope", "x"), badValue, { maxKeys: 4 }), fc.boolean(), async (o, asForm) => {
        const body = asForm ? new URLSearchParams(Object.entries(o).map(([k, v]) => [k, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)] as [string, string])).toString() : JSON.stringify(o);
        const r = await engine("POST", "/ovirt-engine/sso/oauth/token", body, asForm ? "application/x-www-form-urlencoded" : "application/json", null);
        assert.equal(r.status, 400, `${body.slice(0, 200)} → ${r.status} ${r.text.slice(0, 200)}`);
        assert.match(r.text, /"error_code":"access_denied"/);
      }),
      { numRuns: 30, seed: SEED, endOnFailure: true, reporter },
    );
  });
});

describe("fuzz: every node verb", () => {
  const entries = Object.entries(verbs) as [string, VerbDef][];

  function checkXml(r: Res, what: string): void {
    assert.ok(r.status < 500, `${what}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    assert.ok(r.ms < BUDGET_MS, `${what}: took ${r.ms.toFixed(0)} ms`);
    try {
      const v = parseMethodResponse(r.text) as { status?: { code?: unknown } };
      assert.equal(typeof v.status?.code, "number", `${what}: a VDSM status: ${r.text.slice(0, 300)}`);
    } catch (err) {
      if (!(err instanceof XmlRpcFault)) throw new Error(`${what}: neither a response nor a fault: ${r.text.slice(0, 300)}`);
    }
  }

  function checkJson(r: Res, what: string): void {
    assert.ok(r.status < 500, `${what}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    assert.ok(r.ms < BUDGET_MS, `${what}: took ${r.ms.toFixed(0)} ms`);
    if (r.status === 204) return;
    const v = JSON.parse(r.text) as { jsonrpc?: string; result?: unknown; error?: { code?: unknown } } | unknown[];
    for (const one of Array.isArray(v) ? v : [v]) {
      const o = one as { jsonrpc?: string; result?: unknown; error?: { code?: unknown } };
      assert.equal(o.jsonrpc, "2.0", `${what}: ${r.text.slice(0, 300)}`);
      assert.ok("result" in o || typeof o.error?.code === "number", `${what}: ${r.text.slice(0, 300)}`);
    }
  }

  test("generated bad calls over XML-RPC and JSON-RPC: statuses or faults, in time, storage unchanged", { timeout: 120_000 }, async () => {
    const outsideBefore = outside();
    const state = await settledSnapshot();
    const { encodeCall } = await import("@vela/node/xmlrpc-codec");
    for (const [i, [, def]] of entries.entries()) {
      await fc.assert(
        fc.asyncProperty(fc.array(badValue, { maxLength: def.params.length + 1 }), fc.boolean(), async (args, json) => {
          if (json) {
            const params = Object.fromEntries(def.params.map((p, j) => [p.json, args[j]]).filter(([, v]) => v !== undefined));
            const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: def.json, params });
            checkJson(await node("/jsonrpc", body, "application/json"), `${def.json} ${body.slice(0, 200)}`);
          } else {
            const body = encodeCall(def.xml, args);
            checkXml(await node("/RPC2", body, "text/xml"), `${def.xml} ${body.slice(0, 200)}`);
          }
        }),
        { numRuns: RUNS_PER_VERB, seed: SEED + i, endOnFailure: true, reporter },
      );
    }
    for (const [body, type] of fc.sample(unparsable, { numRuns: 10, seed: SEED })) {
      checkXml(await node("/RPC2", body, type ?? "text/xml"), `RPC2 junk ${body.slice(0, 80)}`);
      checkJson(await node("/jsonrpc", body, "application/json"), `jsonrpc junk ${body.slice(0, 80)}`);
    }
    assert.equal((await engine("GET", "/ovirt-engine/api")).status, 200, "the engine is alive");
    checkXml(await node("/RPC2", encodeCall("ping", []), "text/xml"), "ping after the fuzz");
    assert.equal(await snapshot(), state, `node calls changed the state (seed ${SEED})`);
    assert.equal(outside(), outsideBefore, "no file appeared in /etc or the temp dir");
  });
});
