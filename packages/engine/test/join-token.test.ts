/**
 * One-time join tokens (`vela join-token`): a node joins with one; the same node may present it
 * again when its agent restarts; another node presenting it, or anyone after it expired, is
 * refused with a message that says why and nothing is recorded; bad `--ttl` values are usage
 * errors. Through the CLI, the node agent's own enrollment and the registration endpoint.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { type Engine, hostUp, items, type Node, startEngine, startNode, tempDir, until } from "./support.js";

const CLI = resolve(import.meta.dirname, "../../../cli/dist/src/main.js");
let eng: Engine;
const nodes: Node[] = [];
before(async () => {
  eng = await startEngine({ db: "sqlite", env: { VELA_ENGINE_HOST_POLL_MS: "300" } });
});
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await eng?.stop();
});

async function joinToken(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const p = spawn(process.execPath, [CLI, "join-token", ...args], { env: { ...process.env, VELA_HOME: eng.home, VELA_ENGINE_CONF: "" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  p.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  p.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const code = await new Promise<number | null>((res) => p.once("exit", (c) => res(c)));
  return { code, out: out.trim(), err };
}

async function newToken(): Promise<string> {
  const t = await joinToken("--ttl", "10");
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /^[0-9a-f]{12}\.[A-Za-z0-9_-]{32}$/);
  assert.match(t.err, /good for one host until /);
  return t.out;
}

const hostNames = async () => items<{ name: string }>(await eng.get("/hosts"), "host").map((h) => h.name).sort();

test("a node joins with a one-time token, and presents it again after a restart; a second node with it is refused", async () => {
  const token = await newToken();
  const runDir = tempDir("vela-node-jt-");
  const first = await startNode({ engineUrl: eng.url, token, name: "jt-first", enroll: true, runDir });
  const host = await hostUp(eng);
  await first.stop();
  const again = await startNode({ engineUrl: eng.url, token, name: "jt-first", enroll: true, runDir });
  nodes.push(again);
  await until("the restarted host up", async () => ((await eng.get<{ status: string }>(`/hosts/${host.id}`)).status === "up" ? true : undefined));

  await assert.rejects(
    startNode({ engineUrl: eng.url, token, name: "jt-second", enroll: true }),
    /ENROLL_FAILED: the engine refused the enrollment: HTTP 403 .*join token [0-9a-f]{12} was already used by another host/,
  );
  assert.deepEqual(await hostNames(), ["jt-first"], "the refused node is not recorded");
});

test("an expired token is refused before the node trusts anything; a used one is refused at registration too", async () => {
  const token = await newToken();
  const db = new Database(join(eng.home, "engine.db"));
  db.prepare("UPDATE join_tokens SET expires_at = ? WHERE id = ?").run(new Date(Date.now() - 1000).toISOString(), token.slice(0, 12));
  db.close();
  await assert.rejects(startNode({ engineUrl: eng.url, token, name: "jt-late", enroll: true }), /ENROLL_FAILED: .* refused our join token \(403\): .*expired at/);

  // the plain registration endpoint (a node that has its certificate already) obeys the same rule
  const fresh = await newToken();
  const register = (hostUuid: string, name: string) =>
    fetch(`${eng.url}/vela/v1/hosts/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hostUuid, name, address: "127.0.0.1", port: 9, token: fresh }),
    });
  const a = await register(randomUUID(), "jt-reg-a");
  assert.equal(a.status, 200, await a.text());
  const b = await register(randomUUID(), "jt-reg-b");
  assert.equal(b.status, 403);
  assert.match(await b.text(), /already used by another host/);
  assert.ok(!(await hostNames()).includes("jt-reg-b"), "nothing recorded for the refused host");
  // a token-shaped string that is not ours is just not trusted: the host waits for approval
  const c = await fetch(`${eng.url}/vela/v1/hosts/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ hostUuid: randomUUID(), name: "jt-reg-c", address: "127.0.0.1", port: 9, token: "0123456789ab.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }),
  });
  assert.equal(((await c.json()) as { status: string }).status, "pending_approval");
});

test("vela join-token refuses a bad lifetime as a usage error and makes nothing", async () => {
  for (const args of [["--ttl", "0"], ["--ttl", "abc"], ["--ttl", "20000"], ["--ttl"], ["extra"]]) {
    const r = await joinToken(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, /usage: vela join-token/);
  }
});
