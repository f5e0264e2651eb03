/**
 * The engine on PostgreSQL (VELA_DB_URL): the same migrations give the same schema as on SQLite,
 * queries hand back the same JavaScript types and the same order, and a bad or unreachable
 * database stops the start with a stable code and without the URL's password. The rest of the
 * API runs on PostgreSQL in test/postgres/*.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { openDb } from "../src/db/index.js";
import { pgServer } from "./pg.js";
import { ENGINE_MAIN, type Engine, freePort, items, startEngine, tempDir, until } from "./support.js";

let onPg: Engine;
let onSqlite: Engine;

before(async () => {
  [onPg, onSqlite] = await Promise.all([startEngine({ db: "postgres" }), startEngine({ db: "sqlite" })]);
});
after(async () => {
  await Promise.all([onPg?.stop(), onSqlite?.stop()]);
});

/** Table → sorted column names, without the migrator's own tables. */
type Shape = Record<string, string[]>;

async function pgShape(url: string): Promise<Shape> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ table_name: string; column_name: string }>(
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%'",
    );
    return group(r.rows.map((x) => [x.table_name, x.column_name]));
  } finally {
    await c.end();
  }
}

function sqliteShape(file: string): Shape {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'kysely_%'").all() as { name: string }[];
    return group(tables.flatMap((t) => (db.prepare(`PRAGMA table_info("${t.name}")`).all() as { name: string }[]).map((c) => [t.name, c.name] as [string, string])));
  } finally {
    db.close();
  }
}

function group(pairs: [string, string][]): Shape {
  const out: Shape = {};
  for (const [t, c] of pairs) {
    out[t] ??= [];
    out[t].push(c);
  }
  for (const t of Object.keys(out)) out[t]!.sort();
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** Starts the engine with this VELA_DB_URL, expecting it to refuse: its exit code and output. */
function failedStart(url: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [ENGINE_MAIN], {
    env: { ...process.env, VELA_HOME: tempDir("vela-pg-bad-"), VELA_ENGINE_PORT: "0", VELA_DB_URL: url },
    encoding: "utf8",
    timeout: 20_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("same engine, two databases", () => {
  test("the engine says it runs on PostgreSQL, and the migrations made the same tables and columns as on SQLite", async () => {
    // The log line is written asynchronously: it may follow the READY line on stdout.
    const readyLog = (e: Engine, db: string) =>
      until(`the "engine API ready" log of the ${db} engine`, async () => /"dbTarget":"([^"]+)"/.exec(e.output())?.[1], 10_000).catch((err: Error) => assert.fail(`${err.message}: ${e.output().slice(-2000)}`));
    const url = await readyLog(onPg, "postgres");
    await readyLog(onSqlite, "sqlite");
    assert.match(onPg.output(), /"db":"postgres"/, onPg.output().slice(-2000));
    assert.match(onSqlite.output(), /"db":"sqlite"/, onSqlite.output().slice(-2000));
    const database = url.split("/").pop()!;
    const pgTables = await pgShape(pgServer().url(database));
    const sqliteTables = sqliteShape(join(onSqlite.home, "engine.db"));
    assert.ok(Object.keys(pgTables).length >= 10, `tables on PostgreSQL: ${Object.keys(pgTables)}`);
    assert.deepEqual(pgTables, sqliteTables);
  });

  test("names list in the same (byte) order on both, and case matters in names on both", async () => {
    const names = ["b-dc", "B-dc", "a-dc", "_dc", "Z-dc", "é-dc"];
    for (const e of [onPg, onSqlite]) for (const name of names) await e.post("/datacenters", { name });
    const listed = await Promise.all([onPg, onSqlite].map(async (e) => items<{ name: string }>(await e.get("/datacenters"), "data_center").map((d) => d.name)));
    assert.deepEqual(listed[0], listed[1]);
    assert.deepEqual(listed[0], [...listed[0]!].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    const found = await Promise.all([onPg, onSqlite].map(async (e) => items<{ name: string }>(await e.get("/datacenters?search=name%3Db-dc"), "data_center").map((d) => d.name)));
    assert.deepEqual(found, [["b-dc"], ["b-dc"]]);
  });

  test("the API root's counts and a VM's memory (bigint) are the same on both", async () => {
    for (const e of [onPg, onSqlite]) await e.post("/vms", { name: "big", cluster: { name: "Default" }, template: { name: "Blank" }, memory: 6 * 2 ** 30 });
    const seen = await Promise.all(
      [onPg, onSqlite].map(async (e) => {
        const root = await e.get<{ summary: unknown }>("");
        const vm = items<{ memory: string }>(await e.get("/vms?search=name%3Dbig"), "vm")[0];
        return { summary: root.summary, memory: vm?.memory };
      }),
    );
    assert.deepEqual(seen[0], seen[1]);
    assert.equal(seen[0]!.memory, String(6 * 2 ** 30));
  });

  test("count, sum and bigint columns come back as numbers from PostgreSQL, as from SQLite", async () => {
    const store = await openDb({ dbFile: "", url: await pgServer().createDatabase("types") });
    try {
      const r = await store.db
        .selectFrom("templates")
        .select((eb) => [eb.fn.countAll<number>().as("n"), eb.fn.sum<number>("memory").as("total"), eb.fn.max("memory").as("biggest")])
        .executeTakeFirstOrThrow();
      assert.deepEqual(r, { n: 1, total: 2 ** 30, biggest: 2 ** 30 });
    } finally {
      await store.close();
    }
  });
});

describe("a database the engine cannot use stops the start, with a code and no password", () => {
  const secret = "s3cr3t-Pw";
  test("malformed URLs: DB_URL_INVALID", async () => {
    // The engine process once (its exit path), the other shapes through openDb (its cause).
    const r = failedStart(`postgres://vela:${secret}@localhost:99999/vela`);
    assert.notEqual(r.status, 0, `started: ${r.out}`);
    assert.match(r.out, /DB_URL_INVALID: VELA_DB_URL is not a valid URL/, r.out);
    assert.ok(!r.out.includes(secret), `password in the output: ${r.out}`);
    for (const url of [`postgres://vela:${secret}@localhost`, `postgres://vela:${secret}@local host/vela`, `mysql://vela:${secret}@localhost/vela`, `postgres://vela:${secret}@[::1/vela`]) {
      const err = await openDb({ dbFile: "", url }).then(
        () => assert.fail(`${url.replace(secret, "…")} was accepted`),
        (e: unknown) => e as Error & { code?: string },
      );
      assert.equal(err.code, "DB_URL_INVALID", `${url.replace(secret, "…")}: ${err.message}`);
      assert.ok(!`${err.message}${err.stack}`.includes(secret), `password in the error: ${err.stack}`);
    }
  });

  test("no server on the port, or no such database: DB_UNREACHABLE naming the server", async () => {
    const port = await freePort();
    const refused = failedStart(`postgres://vela:${secret}@127.0.0.1:${port}/vela`);
    assert.notEqual(refused.status, 0, refused.out);
    assert.match(refused.out, new RegExp(`DB_UNREACHABLE: cannot reach PostgreSQL at postgres://vela@127\\.0\\.0\\.1:${port}/vela: .*ECONNREFUSED`), refused.out);
    assert.ok(!refused.out.includes(secret), `password in the output: ${refused.out}`);

    const missing = failedStart(`${pgServer().url("no_such_db")}&password=${secret}`);
    assert.notEqual(missing.status, 0, missing.out);
    assert.match(missing.out, /DB_UNREACHABLE: .*database "no_such_db" does not exist/, missing.out);
    assert.ok(!missing.out.includes(secret), `password in the output: ${missing.out}`);
  });
});
