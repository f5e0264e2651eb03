/**
 * Two engines on one PostgreSQL database: one active, the other standing by (db/leader.ts). The
 * active one killed -9 → the standby serves within 15 s, with every acknowledged write; an active
 * engine whose lock session is ended by the server stops itself, and the next standby takes over.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import pg from "pg";
import { databaseFor } from "../pg.js";
import { type Engine, freePort, startEngine, tempDir, until } from "../support.js";

process.env.VELA_TEST_DB = "postgres";

const LOCK = 0x56454c41; // db/leader.ts LEADER_LOCK_KEY
const engines: Engine[] = [];
let client: pg.Client | undefined;
after(async () => {
  await Promise.all(engines.map((e) => e.kill()));
  await client?.end();
});

/** Engines waiting for the active-engine lock, as the server sees them. */
async function waiters(): Promise<number> {
  const r = await (client as pg.Client).query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted",
    [LOCK],
  );
  return r.rows[0]?.n ?? 0;
}

async function refuses(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/ovirt-engine/api`);
    return false;
  } catch {
    return true;
  }
}

test("a standby takes over within 15 s of the active engine's kill -9; a fenced engine stops itself", async (t) => {
  const url = await databaseFor(tempDir("vela-standby-db-"));
  client = new pg.Client({ connectionString: url });
  await client.connect();
  const env = { VELA_DB_URL: url, VELA_ADMIN_PASSWORD: "standby-Secret-1", VELA_ENGINE_HOST_POLL_MS: "500" };
  const a = await startEngine({ env });
  engines.push(a);
  const vm = await a.post<{ id: string }>("/vms", { name: "before-failover", cluster: { name: "Default" }, template: { name: "Blank" }, memory: 134217728 });

  const portB = await freePort();
  const bStarting = startEngine({ port: portB, env, timeoutMs: 90_000 });
  await until("the second engine waits for the lock", async () => ((await waiters()) === 1 ? true : undefined), 30_000);
  assert.ok(await refuses(portB), "a standby engine does not serve");
  assert.equal((await a.api("GET", `/vms/${vm.id}`)).status, 200, "the active engine still serves");

  const t0 = Date.now();
  await a.kill();
  const b = await bStarting;
  engines.push(b);
  const took = Date.now() - t0;
  assert.ok(took <= 15_000, `the standby served ${took} ms after the kill`);
  t.diagnostic(`the standby served ${took} ms after the kill`);
  const seen = await b.get<{ name: string }>(`/vms/${vm.id}`);
  assert.equal(seen.name, "before-failover", "an acknowledged write survives the failover");

  // The server ends the active engine's lock session (as a DBA or a network cut would): the
  // engine must stop rather than act beside the next active one.
  const portC = await freePort();
  const cStarting = startEngine({ port: portC, env, timeoutMs: 90_000 });
  await until("the third engine waits for the lock", async () => ((await waiters()) === 1 ? true : undefined), 30_000);
  const exited = new Promise<number | null>((res) => b.proc.once("exit", (code) => res(code)));
  await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'vela-engine-leader' AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted)", [LOCK]);
  assert.equal(await exited, 1, `the fenced engine exits non-zero:\n${b.output().slice(-1500)}`);
  assert.match(b.output(), /lost the active-engine lock/);
  const c = await cStarting;
  engines.push(c);
  assert.equal((await c.get<{ name: string }>(`/vms/${vm.id}`)).name, "before-failover");
});
