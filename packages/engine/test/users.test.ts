/**
 * Internal users and groups, roles and permissions on a real engine process (no nodes): `vela
 * user` on the engine's database, /users /groups /roles /permissions, Basic and SSO sign-in of a
 * second user, logout revoking the token, the user view (Filter: true) showing only what the
 * user has permissions on, inheritance down system → data center → cluster → VM, refusals that
 * change nothing, and bodies on GET/DELETE being ignored.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { apiRoutes } from "../src/api/routes.js";
import { needOf } from "../src/permissions/needs.js";
import { databaseFor, testDb } from "./pg.js";
import { type Engine, startEngine, until } from "./support.js";
import { rawRequest } from "./tls.js";

const here = dirname(fileURLToPath(import.meta.url));
const USERS_CLI = resolve(here, "../src/users/cli.js");

let eng: Engine;
let dbEnv: Record<string, string> = {};
let dc = "";
let cluster = "";
let va = "";
let vb = "";
const ids: Record<string, string> = {};

/** `vela user …` / `vela group …` on the engine's database, with the password on stdin. */
function cli(args: string[], stdin = ""): { status: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [USERS_CLI, ...args], { input: stdin, env: { ...process.env, VELA_HOME: eng.home, VELA_ENGINE_CONF: "", ...dbEnv }, encoding: "utf8" });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/**
 * One SQL statement run by another process on the engine's database (SQLite file or PostgreSQL),
 * as an administrator's shell or another program would: no engine code. Returns the rows changed.
 */
function sqlElsewhere(statement: string): number {
  const script = dbEnv.VELA_DB_URL
    ? `const pg = require("pg"); const c = new pg.Client({ connectionString: process.env.VELA_DB_URL }); c.connect().then(() => c.query(process.env.SQL)).then((r) => { console.log(r.rowCount); return c.end(); })`
    : `const D = require("better-sqlite3"); const d = new D(process.env.DB_FILE); console.log(d.prepare(process.env.SQL).run().changes); d.close()`;
  const w = spawnSync(process.execPath, ["-e", script], { cwd: resolve(here, "../../../.."), env: { ...process.env, ...dbEnv, DB_FILE: `${eng.home}/engine.db`, SQL: statement }, encoding: "utf8" });
  assert.equal(w.status, 0, `the other process's SQL ${statement}: ${w.stderr}`);
  return Number(w.stdout.trim());
}

const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}`;

interface Ans {
  status: number;
  json: Record<string, unknown> | undefined;
  text: string;
  headers: Headers;
}

/** One API request as a given user, in the user view unless `filter` is false. */
async function as(auth: string, method: string, path: string, o: { body?: unknown; filter?: boolean; headers?: Record<string, string> } = {}): Promise<Ans> {
  const headers: Record<string, string> = { accept: "application/json", authorization: auth, ...o.headers };
  if (o.filter !== false) headers.filter = "true";
  if (o.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${eng.url}/ovirt-engine/api${path}`, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

const idsOf = (r: Ans, item: string) => ((r.json?.[item] as { id: string }[] | undefined) ?? []).map((x) => x.id).sort();
const ALICE = basic("alice@internal", "Alice-Secret-9");

async function users(): Promise<string[]> {
  return ((await eng.get<{ user: { user_name: string }[] }>("/users")).user ?? []).map((u) => u.user_name).sort();
}

async function permissionCount(): Promise<number> {
  let n = 0;
  for (const id of Object.values(ids)) n += ((await eng.get<{ permission?: unknown[] }>(`/users/${id}/permissions`)).permission ?? []).length;
  return n;
}

async function grant(path: string, role: string, user: string): Promise<string> {
  const r = await eng.api("POST", `${path}/permissions`, { body: { role: { name: role }, user: { id: ids[user] } } });
  assert.equal(r.status, 201, `grant ${role} on ${path} to ${user}: ${r.status} ${r.text}`);
  return (r.json as { id: string }).id;
}

before(async () => {
  eng = await startEngine();
  if (testDb() === "postgres") dbEnv = { VELA_DB_URL: await databaseFor(eng.home) };
  dc = ((await eng.get<{ data_center: { id: string }[] }>("/datacenters")).data_center[0] as { id: string }).id;
  cluster = ((await eng.get<{ cluster: { id: string }[] }>("/clusters")).cluster[0] as { id: string }).id;
  const vm = async (name: string) => (await eng.post<{ id: string }>("/vms", { name, cluster: { id: cluster }, template: { name: "Blank" }, memory: 134217728 })).id;
  va = await vm("u-a");
  vb = await vm("u-b");
  // alice as an operator adds users (the CLI); the others through the API
  const r = cli(["user", "add", "alice", "--password-stdin"], "Alice-Secret-9\n");
  assert.equal(r.status, 0, `vela user add alice: ${r.err}`);
  for (const [n, pw] of [
    ["bob", "Bob-Secret-99"],
    ["carol", "Carol-Secret-9"],
    ["dave", "Dave-Secret-99"],
    ["gina", "Gina-Secret-9"],
    ["gina2", "Gina2-Secret-9"],
  ] as const) {
    await eng.post("/users", { user_name: `${n}@internal`, password: pw });
  }
  for (const u of (await eng.get<{ user: { id: string; principal: string }[] }>("/users")).user) ids[u.principal] = u.id;
  // a user holding no permission cannot sign in (as in oVirt): alice's one permission, from the start
  await grant(`/vms/${va}`, "UserRole", "alice");
});
after(async () => eng?.stop());

describe("internal users", () => {
  test("vela user add: the user is in /users as oVirt shows it, with no password or hash in XML or JSON", async () => {
    const list = await eng.get<{ user: Record<string, unknown>[] }>("/users");
    const alice = list.user.find((u) => u.principal === "alice");
    assert.ok(alice, JSON.stringify(list));
    assert.equal(alice.user_name, "alice@internal");
    assert.equal((alice.domain as { name: string }).name, "internal");
    assert.ok(list.user.some((u) => u.user_name === "admin@internal"), "admin@internal is a user too");
    const xml = await eng.api("GET", "/users", { accept: "xml" });
    assert.match(xml.text, /<user_name>alice@internal<\/user_name>/);
    for (const t of [xml.text, JSON.stringify(list)]) assert.doesNotMatch(t, /scrypt|Alice-Secret|password/i);
  });

  test("duplicate, weak, empty and badly named users are refused by the CLI and the API; nothing changes", async () => {
    const before = await users();
    for (const [args, pw, why] of [
      [["user", "add", "alice", "--password-stdin"], "Other-Secret-1", /USER_EXISTS/],
      [["user", "add", "erin", "--password-stdin"], "Sh0rt", /PASSWORD_WEAK/],
      [["user", "add", "erin", "--password-stdin"], "\n", /PASSWORD_WEAK.*empty/],
      [["user", "add", "../etc", "--password-stdin"], "Erin-Secret-9", /USER_NAME_INVALID/],
    ] as const) {
      const r = cli([...args], pw);
      assert.equal(r.status, 1, `${args.join(" ")}: ${r.out} ${r.err}`);
      assert.match(r.err, why);
      assert.doesNotMatch(r.err, /Secret|Sh0rt|alllower/, "the password is not echoed");
    }
    assert.equal(cli(["user", "add", "erin"], "Erin-Secret-9").status, 2, "no password on the command line");
    for (const [body, status] of [
      [{ user_name: "alice@internal", password: "Other-Secret-1" }, 409],
      [{ user_name: "erin@internal", password: "" }, 400],
      [{ user_name: "erin@internal", password: "weak" }, 400],
      [{ user_name: "erin@internal", password: "alllowercaseletters" }, 400],
      [{ user_name: "../etc@internal", password: "Erin-Secret-9" }, 400],
      [{ user_name: "erin@otherdomain", password: "Erin-Secret-9" }, 400],
      [{ user_name: "x".repeat(100), password: "Erin-Secret-9" }, 400],
      [{ user_name: "erin@internal" }, 400],
      [{ user_name: "erin@internal", password: "Erin-Secret-9", domain: { name: "ldap" } }, 400],
      [{ password: "Erin-Secret-9" }, 400],
    ] as const) {
      const r = await eng.api("POST", "/users", { body });
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(typeof r.json?.reason, "string");
    }
    assert.deepEqual(await users(), before);
    assert.equal((await eng.api("GET", "/users/not-a-uuid")).status, 404);
    assert.equal((await eng.api("DELETE", `/users/${"0".repeat(8)}-0000-0000-0000-${"1".repeat(12)}`)).status, 404);
    assert.equal((await eng.api("DELETE", "/users/fdfc627c-d875-11e0-90f0-83df133b58cc")).status, 409, "admin@internal cannot be removed");
  });

  test("a user added by the API signs in; passwd changes the password; remove ends their tokens", async () => {
    const add = await eng.api("POST", "/users", { body: { user_name: "frank@internal", password: "Frank-Secret-1" } });
    assert.equal(add.status, 201, add.text);
    ids.frank = (add.json as { id: string }).id;
    await grant(`/vms/${vb}`, "UserRole", "frank");
    const frank = basic("frank@internal", "Frank-Secret-1");
    assert.equal((await as(frank, "GET", "")).status, 200);
    const tok = await sso("frank", "Frank-Secret-1");
    assert.equal(cli(["user", "passwd", "frank", "--password-stdin"], "Frank-Secret-2\n").status, 0);
    assert.equal((await as(frank, "GET", "")).status, 401, "the old password no longer works");
    assert.equal((await as(basic("frank", "Frank-Secret-2"), "GET", "")).status, 200);
    assert.equal(cli(["user", "passwd", "frank", "--password-stdin"], "x\n").status, 1, "weak new password refused");
    assert.equal((await as(basic("frank", "Frank-Secret-2"), "GET", "")).status, 200, "and the password is unchanged");
    const rm = cli(["user", "remove", "frank"]);
    assert.equal(rm.status, 0, rm.err);
    delete ids.frank;
    assert.equal((await as(`Bearer ${tok}`, "GET", "")).status, 401, "a removed user's token is dead");
    assert.equal((await as(basic("frank", "Frank-Secret-2"), "GET", "")).status, 401);
    assert.equal(cli(["user", "remove", "frank"]).status, 1);
  });
});

async function sso(user: string, password: string): Promise<string> {
  const r = await fetch(`${eng.url}/ovirt-engine/sso/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams({ grant_type: "password", scope: "ovirt-app-api", username: `${user}@internal`, password }).toString(),
  });
  const j = (await r.json()) as { access_token?: string };
  assert.ok(j.access_token, `SSO for ${user}: ${JSON.stringify(j)}`);
  return j.access_token;
}

describe("sign-in and logout", () => {
  test("a second user gets an SSO token; sso-logout (form or query) answers JSON and the token then gets 401", async () => {
    for (const how of ["form", "query"] as const) {
      const tok = await sso("alice", "Alice-Secret-9");
      assert.equal((await as(`Bearer ${tok}`, "GET", "/vms")).status, 200);
      const res =
        how === "form"
          ? await fetch(`${eng.url}/ovirt-engine/services/sso-logout`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" }, body: `token=${encodeURIComponent(tok)}` })
          : await fetch(`${eng.url}/ovirt-engine/services/sso-logout?token=${encodeURIComponent(tok)}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      assert.deepEqual(await res.json(), {});
      assert.equal((await as(`Bearer ${tok}`, "GET", "/vms")).status, 401, `${how}: a logged-out token is refused`);
    }
  });

  test("wrong passwords: 401, then the login is locked even for the right password", async () => {
    for (let i = 0; i < 10; i++) assert.equal((await as(basic("gina", `wrong-${i}`), "GET", "")).status, 401);
    assert.equal((await as(basic("gina", "Gina-Secret-9"), "GET", "")).status, 401, "locked after 10 failures");
    assert.equal((await as(ALICE, "GET", "")).status, 200, "other users are not locked");
  });

  test("no permission, no sign-in (as oVirt): Basic 403 and SSO access_denied until a permission is given, directly or to a group; the last one removed stops new sessions", async () => {
    const tokenFor = async (user: string, pw: string) => {
      const r = await fetch(`${eng.url}/ovirt-engine/sso/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: new URLSearchParams({ grant_type: "password", scope: "ovirt-app-api", username: `${user}@internal`, password: pw }).toString(),
      });
      return { status: r.status, body: (await r.json()) as Record<string, string> };
    };
    const refused = async (who: string, auth: string, pw: string, when: string) => {
      for (const accept of ["application/json", "application/xml"]) {
        const r = await as(auth, "GET", "/vms", { headers: { accept } });
        assert.equal(r.status, 403, `${who} ${when} (${accept}): ${r.text}`);
        assert.match(r.text, /USER_NOT_AUTHORIZED.*not authorized to log in/, r.text);
        if (accept === "application/xml") assert.match(r.text, /^<\?xml[^>]*>\s*<fault>/, r.text);
      }
      // the portal's event stream takes the same credentials
      const es = await fetch(`${eng.url}/ovirt-engine/services/event-stream`, { headers: { authorization: auth, accept: "text/event-stream" } });
      assert.equal(es.status, 403, `${who} ${when}: event stream ${es.status}`);
      assert.match(await es.text(), /USER_NOT_AUTHORIZED/);
      const t = await tokenFor(who, pw);
      assert.equal(t.status, 400, `${who} ${when}: SSO ${JSON.stringify(t.body)}`);
      assert.equal(t.body.error_code, "access_denied");
      assert.match(t.body.error ?? "", new RegExp(`^Cannot authenticate user '${who}@internal': .*not authorized to log in`));
      assert.equal(t.body.access_token, undefined);
    };
    assert.equal((await eng.api("POST", "/groups", { body: { name: "lou-ops" } })).status, 201);
    const group = (await eng.get<{ group: { id: string; name: string }[] }>("/groups")).group.find((g) => g.name === "lou-ops")?.id ?? "";
    const cases = [
      // given to the user on one VM
      { who: "kim", pw: "Kim-Secret-999", give: () => grant(`/vms/${vb}`, "UserRole", "kim"), path: `/vms/${vb}` },
      // given to a group the user is in (the CLI made the membership)
      {
        who: "lou",
        pw: "Lou-Secret-999",
        give: async () => {
          assert.equal(cli(["group", "member", "lou-ops", "lou"]).status, 0);
          const r = await eng.api("POST", `/clusters/${cluster}/permissions`, { body: { role: { name: "UserVmManager" }, group: { id: group } } });
          assert.equal(r.status, 201, r.text);
          return (r.json as { id: string }).id;
        },
        path: `/clusters/${cluster}`,
      },
    ];
    for (const c of cases) {
      const made = await eng.post<{ id: string }>("/users", { user_name: `${c.who}@internal`, password: c.pw });
      ids[c.who] = made.id;
      const auth = basic(c.who, c.pw);
      const before = await users();
      await refused(c.who, auth, c.pw, "with no permission");
      assert.deepEqual(await users(), before, "a refused sign-in changes nothing");
      const pid = await c.give();
      assert.equal((await as(auth, "GET", "/vms")).status, 200, `${c.who} with a permission`);
      const t = await tokenFor(c.who, c.pw);
      assert.equal(t.status, 200, JSON.stringify(t.body));
      const bearer = `Bearer ${t.body.access_token}`;
      assert.equal((await as(bearer, "GET", "")).status, 200);
      assert.equal((await eng.api("DELETE", `${c.path}/permissions/${pid}`)).status, 200);
      await refused(c.who, auth, c.pw, "after the last permission was removed");
      // a session already started lives on (oVirt's too), seeing nothing
      assert.equal((await as(bearer, "GET", "")).status, 200, "the token taken before");
      assert.deepEqual(idsOf(await as(bearer, "GET", "/vms"), "vm"), []);
    }
    assert.equal((await eng.api("GET", "/vms")).status, 200, "admin@internal signs in");
    assert.equal((await tokenFor("admin", eng.password)).status, 200, "and takes tokens");
  });
});

describe("roles", () => {
  test("the predefined roles with their permits", async () => {
    const r = await eng.get<{ role: { id: string; name: string; administrative: string }[] }>("/roles");
    const want = ["SuperUser", "UserRole", "PowerUserRole", "UserVmManager", "ClusterAdmin", "DataCenterAdmin", "StorageAdmin", "DiskOperator"];
    for (const n of want) assert.ok(r.role.some((x) => x.name === n), `${n} in ${JSON.stringify(r.role.map((x) => x.name))}`);
    const user = r.role.find((x) => x.name === "UserRole");
    assert.equal(user?.administrative, "false");
    const permits = await eng.get<{ permit: { id: string; name: string }[] }>(`/roles/${user?.id}/permits`);
    assert.ok(permits.permit.some((p) => p.name === "vm_basic_operations"));
    assert.ok(!permits.permit.some((p) => p.name === "delete_vm"));
    const one = permits.permit[0] as { id: string };
    assert.equal((await eng.api("GET", `/roles/${user?.id}/permits/${one.id}`)).status, 200);
    assert.equal((await eng.api("GET", `/roles/${user?.id}/permits/999`)).status, 404);
    assert.equal((await eng.api("GET", "/roles/00000000-0000-0000-0000-00000000abcd")).status, 404);
    assert.equal((await as(ALICE, "GET", "/roles")).status, 200, "any user may read the roles");
  });
});

describe("permissions and the user view", () => {
  test("UserRole on one VM: the user view lists only that VM and its cluster; another VM is hidden and untouched", async () => {
    // alice's UserRole on va was given in before()
    assert.deepEqual(idsOf(await as(ALICE, "GET", "/vms"), "vm"), [va]);
    assert.deepEqual(idsOf(await as(ALICE, "GET", "/clusters"), "cluster"), [cluster], "the VM's cluster is visible");
    assert.deepEqual(idsOf(await as(ALICE, "GET", "/hosts"), "host"), []);
    assert.equal((await as(ALICE, "GET", `/vms/${va}`)).status, 200);
    assert.equal((await as(ALICE, "GET", `/vms/${vb}`)).status, 404, "another user's VM is hidden");
    for (const [m, p] of [
      ["POST", `/vms/${vb}/start`],
      ["POST", `/vms/${vb}/stop`],
      ["DELETE", `/vms/${vb}`],
      ["PUT", `/vms/${vb}`],
      ["POST", `/vms/${vb}/snapshots`],
      ["POST", `/vms/${vb}/ticket`],
    ] as const) {
      const r = await as(ALICE, m, p, { body: m === "DELETE" ? undefined : {} });
      assert.equal(r.status, 404, `${m} ${p}: ${r.text}`);
    }
    const vmB = await eng.get<{ status: string; name: string }>(`/vms/${vb}`);
    assert.equal(vmB.status, "down");
    assert.equal(vmB.name, "u-b");
    // on her own VM: UserRole may operate but not delete or edit
    const del = await as(ALICE, "DELETE", `/vms/${va}`);
    assert.equal(del.status, 403, del.text);
    assert.equal((await as(ALICE, "PUT", `/vms/${va}`, { body: { name: "renamed" } })).status, 403);
    assert.equal((await eng.get<{ name: string }>(`/vms/${va}`)).name, "u-a");
    assert.equal((await as(ALICE, "POST", "/vms", { body: { name: "mine", cluster: { id: cluster }, template: { name: "Blank" } } })).status, 403);
    assert.deepEqual((await eng.api("GET", "/vms?search=name%3Dmine")).json?.vm ?? [], [], "the refused VM was not created");
  });

  test("a user without an administrative role gets 403 on the admin view", async () => {
    for (const p of ["/hosts", "/vms", "/users", "/datacenters"]) {
      const r = await as(ALICE, "GET", p, { filter: false });
      assert.equal(r.status, 403, `${p}: ${r.text}`);
    }
    assert.equal((await as(ALICE, "GET", "/jobs")).status, 403, "jobs are for administrators");
    assert.equal((await as(ALICE, "GET", "", { filter: false })).status, 200, "the API root is open to every user");
  });

  test("inheritance: UserVmManager on the cluster covers every VM in it; ClusterAdmin opens the admin view but not other data centers' work", async () => {
    await grant(`/clusters/${cluster}`, "UserVmManager", "bob");
    const BOB = basic("bob", "Bob-Secret-99");
    assert.deepEqual(idsOf(await as(BOB, "GET", "/vms"), "vm"), [va, vb].sort());
    const put = await as(BOB, "PUT", `/vms/${vb}`, { body: { description: "edited by bob" } });
    assert.equal(put.status, 200, put.text);
    assert.equal((await as(BOB, "GET", "/hosts", { filter: false })).status, 403, "UserVmManager is not administrative");

    await grant(`/clusters/${cluster}`, "ClusterAdmin", "carol");
    const CAROL = basic("carol", "Carol-Secret-9");
    assert.equal((await as(CAROL, "GET", "/hosts", { filter: false })).status, 200);
    const dcs = await eng.get<{ data_center?: unknown[] }>("/datacenters");
    const r = await as(CAROL, "POST", "/datacenters", { filter: false, body: { name: "carols", local: false } });
    assert.equal(r.status, 403, r.text);
    assert.deepEqual((await eng.get<{ data_center?: unknown[] }>("/datacenters")).data_center?.length, dcs.data_center?.length);
    const vc = await as(CAROL, "POST", "/vms", { filter: false, body: { name: "carols-vm", cluster: { id: cluster }, template: { name: "Blank" }, memory: 134217728 } });
    assert.equal(vc.status, 201, vc.text);
    assert.equal((await as(CAROL, "DELETE", `/vms/${(vc.json as { id: string }).id}`, { filter: false })).status, 200);

    await grant(`/datacenters/${dc}`, "DataCenterAdmin", "dave");
    const DAVE = basic("dave", "Dave-Secret-99");
    const cl = await as(DAVE, "POST", "/clusters", { filter: false, body: { name: "daves", data_center: { id: dc }, cpu: { type: "Intel Nehalem Family" }, version: { major: 4, minor: 7 } } });
    assert.equal(cl.status, 201, cl.text);
    assert.equal((await as(DAVE, "DELETE", `/clusters/${(cl.json as { id: string }).id}`, { filter: false })).status, 200);
    assert.equal((await as(DAVE, "POST", "/users", { filter: false, body: { user_name: "x@internal", password: "Xx-Secret-99" } })).status, 403, "no manipulate_users");
  });

  test("a permission given to a group reaches its members", async () => {
    assert.equal((await eng.api("POST", "/groups", { body: { name: "ops" } })).status, 201);
    assert.equal((await eng.api("POST", "/groups", { body: { name: "ops" } })).status, 409, "duplicate group");
    assert.equal((await eng.api("POST", "/groups", { body: { name: "a/b" } })).status, 400);
    const m = cli(["group", "member", "ops", "dave"]);
    assert.equal(m.status, 0, m.err);
    const g = (await eng.get<{ group: { id: string; name: string }[] }>("/groups")).group.find((x) => x.name === "ops");
    assert.ok(g);
    const r = await eng.api("POST", `/vms/${vb}/permissions`, { body: { role: { name: "UserRole" }, group: { id: g.id } } });
    assert.equal(r.status, 201, r.text);
    const DAVE = basic("dave", "Dave-Secret-99");
    assert.equal((await as(DAVE, "GET", `/vms/${vb}`)).status, 200);
    assert.deepEqual(idsOf(await eng.api("GET", `/users/${ids.dave}/groups`) as Ans, "group"), [g.id]);
  });

  test("bad permission input: unknown role, bad or missing user, missing object, duplicates; nothing changes", async () => {
    const n0 = await permissionCount();
    const vmPerms = async () => (await eng.get<{ permission?: unknown[] }>(`/vms/${va}/permissions`)).permission?.length ?? 0;
    const p0 = await vmPerms();
    for (const [path, body, status] of [
      [`/vms/${va}`, { role: { name: "NoSuchRole" }, user: { id: ids.alice } }, 400],
      [`/vms/${va}`, { role: { id: "00000000-0000-0000-0000-00000000dead" }, user: { id: ids.alice } }, 400],
      [`/vms/${va}`, { role: { name: "UserRole" }, user: { id: "not-a-uuid" } }, 400],
      [`/vms/${va}`, { role: { name: "UserRole" }, user: { id: "00000000-0000-0000-0000-00000000beef" } }, 400],
      [`/vms/${va}`, { role: { name: "UserRole" } }, 400],
      [`/vms/${va}`, { role: { name: "UserRole" }, user: { id: ids.alice } }, 409],
      [`/vms/00000000-0000-0000-0000-00000000beef`, { role: { name: "UserRole" }, user: { id: ids.alice } }, 404],
      [`/clusters/not-a-uuid`, { role: { name: "UserRole" }, user: { id: ids.alice } }, 404],
    ] as const) {
      const r = await eng.api("POST", `${path}/permissions`, { body });
      assert.equal(r.status, status, `${path} ${JSON.stringify(body)}: ${r.text}`);
      assert.equal(typeof r.json?.detail, "string");
    }
    assert.equal(await permissionCount(), n0);
    assert.equal(await vmPerms(), p0);
    // a user may not grant themselves more
    const self = await as(ALICE, "POST", `/vms/${va}/permissions`, { body: { role: { name: "SuperUser" }, user: { id: ids.alice } } });
    assert.equal(self.status, 403, self.text);
    const sys = await as(ALICE, "POST", "/permissions", { body: { role: { name: "SuperUser" }, user: { id: ids.alice } } });
    assert.equal(sys.status, 403);
    assert.equal(await permissionCount(), n0);
  });

  test("a permission removed takes the access with it", async () => {
    const pid = await grant(`/vms/${vb}`, "UserVmManager", "carol");
    const list = await eng.get<{ permission: { id: string; user?: { id: string }; vm?: { id: string } }[] }>(`/vms/${vb}/permissions`);
    assert.ok(list.permission.some((p) => p.id === pid && p.vm?.id === vb && p.user?.id === ids.carol));
    assert.equal((await eng.api("DELETE", `/vms/${vb}/permissions/${pid}`)).status, 200);
    assert.equal((await eng.api("DELETE", `/vms/${vb}/permissions/${pid}`)).status, 404);
    assert.equal((await eng.api("GET", `/vms/${va}/permissions/${pid}`)).status, 404, "a permission is found only under its own object");
  });
});

describe("every route, as a user with UserRole on another VM", () => {
  test("each route refuses (403, or 404 where the object is hidden) in both views, and nothing changes", async () => {
    const other = "00000000-0000-0000-0000-00000000f00d";
    const idFor: Record<string, string> = { datacenters: dc, clusters: cluster, vms: vb };
    const snapshot = async () =>
      JSON.stringify(
        await Promise.all(
          ["/vms", `/vms/${vb}`, "/clusters", "/datacenters", "/users", "/groups", "/permissions", `/vms/${vb}/permissions`, `/vms/${vb}/snapshots`, `/vms/${vb}/nics`, "/disks", "/templates", "/networks"].map(
            async (p) => (await eng.api("GET", p)).text,
          ),
        ),
      );
    const before = await snapshot();
    const wrong: string[] = [];
    for (const r of apiRoutes) {
      const need = needOf(r.method, r.path);
      if (!need || "open" in need) continue;
      const coll = r.path.split("/")[1] ?? "";
      const path = r.path.replace(/:id\b/, idFor[coll] ?? other).replace(/:[a-z]+/g, other);
      for (const filter of [true, false]) {
        const res = await as(ALICE, r.method, path, { filter, body: r.method === "POST" || r.method === "PUT" ? {} : undefined });
        // a list, or the data center and cluster that hold her VM: readable, but nothing of the other VM shows
        const okRead = filter && res.status === 200 && r.method === "GET" && ("list" in need || "events" in need || path.includes(dc) || path.includes(cluster));
        if (okRead) {
          if (res.text.includes(vb)) wrong.push(`${r.method} ${path} shows the other VM: ${res.text.slice(0, 200)}`);
          if (r.path.endsWith("/permissions") && idsOf(res, "permission").length) wrong.push(`${path} shows others' permissions: ${res.text.slice(0, 200)}`);
        }
        if ("list" in need && res.status === 200) {
          if (idsOf(res, need.item).some((id) => id !== va && id !== cluster && id !== dc)) wrong.push(`${r.method} ${path} lists ${res.text.slice(0, 200)}`);
        } else if (!okRead && res.status !== 403 && res.status !== 404) wrong.push(`${r.method} ${path} filter=${filter}: ${res.status} ${res.text.slice(0, 120)}`);
      }
    }
    assert.deepEqual(wrong, []);
    assert.equal(await snapshot(), before, "a refused request changed something");
  });
});

describe("owners", () => {
  test("PowerUserRole on a cluster: the user creates a VM there, becomes its UserVmManager, and may remove it; its permissions go with it", async () => {
    await grant(`/clusters/${cluster}`, "PowerUserRole", "gina2");
    const G = basic("gina2", "Gina2-Secret-9");
    const r = await as(G, "POST", "/vms", { body: { name: "ginas", cluster: { name: "Default" }, template: { name: "Blank" }, memory: 134217728 } });
    assert.equal(r.status, 201, r.text);
    const id = (r.json as { id: string }).id;
    const perms = await eng.get<{ permission: { role: { id: string }; user?: { id: string } }[] }>(`/vms/${id}/permissions`);
    const roles = await eng.get<{ role: { id: string; name: string }[] }>("/roles");
    const mgr = roles.role.find((x) => x.name === "UserVmManager")?.id;
    assert.ok(perms.permission.some((p) => p.role.id === mgr && p.user?.id === ids.gina2), JSON.stringify(perms));
    assert.equal((await as(G, "DELETE", `/vms/${id}`)).status, 200);
    const left = await eng.get<{ permission?: { vm?: { id: string } }[] }>(`/users/${ids.gina2}/permissions`);
    assert.ok(!(left.permission ?? []).some((p) => p.vm?.id === id), `permissions of the removed VM remain: ${JSON.stringify(left)}`);
  });

  test("search on users; the API root names the authenticated user and links users, groups, roles", async () => {
    const r = await eng.get<{ user?: { principal: string }[] }>("/users?search=usrname%3Dali*");
    assert.deepEqual((r.user ?? []).map((u) => u.principal), ["alice"]);
    const root = await as(ALICE, "GET", "");
    assert.equal((root.json?.authenticated_user as { id: string } | undefined)?.id, ids.alice);
    const rels = ((root.json?.link as { rel: string }[]) ?? []).map((l) => l.rel);
    for (const rel of ["users", "groups", "roles", "permissions"]) assert.ok(rels.includes(rel), `${rel} in ${rels}`);
  });
});

describe("bodies on GET and DELETE", () => {
  test("GET with an XML body, GET/DELETE with an XML content type and no body: the body is ignored", async () => {
    const auth = basic(eng.user, eng.password);
    const get = await fetch(`${eng.url}/ovirt-engine/api/vms`, { method: "GET", headers: { authorization: auth, "content-type": "application/xml" } });
    assert.equal(get.status, 200, await get.text());
    // fetch refuses a GET body: speak HTTP(S) by hand
    const raw = await rawRequest(`${eng.url}/ovirt-engine/api/vms`, { method: "GET", headers: { authorization: auth, "content-type": "application/xml" }, body: "<action><garbage" });
    assert.equal(raw.status, 200, raw.text);
    const vm = await eng.post<{ id: string }>("/vms", { name: "u-del", cluster: { id: cluster }, template: { name: "Blank" }, memory: 134217728 });
    const del = await fetch(`${eng.url}/ovirt-engine/api/vms/${vm.id}`, { method: "DELETE", headers: { authorization: auth, "content-type": "application/xml", "content-length": "0" } });
    assert.equal(del.status, 200, await del.text());
    assert.equal((await eng.api("GET", `/vms/${vm.id}`)).status, 404);
  });
});

describe("checks and lists at scale (issue 12's speed work)", () => {
  test("a revoked permission takes effect at once, on a token kept across requests", async () => {
    const hana = await eng.post<{ id: string }>("/users", { user_name: "hana@internal", password: "Hana-Secret-99" });
    ids.hana = hana.id;
    const pid = await grant(`/vms/${vb}`, "UserRole", "hana");
    const tok = await fetch(`${eng.url}/ovirt-engine/sso/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ grant_type: "password", scope: "ovirt-app-api", username: "hana@internal", password: "Hana-Secret-99" }),
    });
    const HANA = `Bearer ${((await tok.json()) as { access_token: string }).access_token}`;
    assert.equal((await as(HANA, "GET", `/vms/${vb}`)).status, 200);
    assert.ok(idsOf(await as(HANA, "GET", "/vms"), "vm").includes(vb));
    assert.equal((await eng.api("DELETE", `/vms/${vb}/permissions/${pid}`)).status, 200);
    const after = await as(HANA, "GET", `/vms/${vb}`);
    assert.equal(after.status, 404, `the very next request still sees the VM: ${after.text}`);
    assert.ok(!idsOf(await as(HANA, "GET", "/vms"), "vm").includes(vb), "the list still holds the VM");
    assert.equal((await as(HANA, "POST", `/vms/${vb}/start`, { body: {} })).status, 404);
  });

  test("a write by another process (the CLI, plain SQL on the database) counts from the very next request", async () => {
    // kept permissions (permissions/kept.ts) are keyed by a generation every write bumps by trigger
    await eng.post("/users", { user_name: "ivy@internal", password: "Ivy-Secret-999" });
    const IVY = basic("ivy", "Ivy-Secret-999");
    assert.equal((await eng.api("POST", "/groups", { body: { name: "ivy-ops" } })).status, 201);
    const g = (await eng.get<{ group: { id: string; name: string }[] }>("/groups")).group.find((x) => x.name === "ivy-ops");
    assert.ok(g);
    const r = await eng.api("POST", `/vms/${vb}/permissions`, { body: { role: { name: "UserRole" }, group: { id: g.id } } });
    assert.equal(r.status, 201, r.text);
    // ivy is in no group yet: her (empty) permissions are read and kept, and she may not sign in
    for (let i = 0; i < 2; i++) assert.equal((await as(IVY, "GET", `/vms/${vb}`)).status, 403);
    const m = cli(["group", "member", "ivy-ops", "ivy"]);
    assert.equal(m.status, 0, m.err);
    const joined = await as(IVY, "GET", `/vms/${vb}`);
    assert.equal(joined.status, 200, `the next request after another process added ivy to the group: ${joined.text}`);
    // the permission deleted by plain SQL from another process (no engine code, only the trigger)
    assert.equal(sqlElsewhere(`DELETE FROM permissions WHERE group_id = '${g.id}'`), 1, "one permission row deleted");
    // her last permission: she may no longer sign in at all
    const gone = await as(IVY, "GET", `/vms/${vb}`);
    assert.equal(gone.status, 403, `the next request after another process deleted the permission: ${gone.text}`);
    assert.match(String(gone.json?.detail), /USER_NOT_AUTHORIZED/, gone.text);
  });

  test("follow=disk_attachments on a list answers each VM's attachments as its own URL does, in both views", async () => {
    const all = await eng.get<{ vm: { id: string; disk_attachments?: unknown; href: string }[] }>("/vms?follow=disk_attachments");
    assert.ok(all.vm.length >= 2);
    for (const v of all.vm) assert.deepEqual(v.disk_attachments, await eng.get(`/vms/${v.id}/diskattachments`), `VM ${v.id}`);
    const xml = await eng.api("GET", "/vms?follow=disk_attachments", { accept: "xml" });
    assert.equal(xml.status, 200);
    assert.equal((xml.text.match(/<disk_attachments/g) ?? []).length, all.vm.length, "one inlined collection per VM");
    // the user view: only alice's VM, with its attachments
    const mine = await as(ALICE, "GET", "/vms?follow=disk_attachments");
    assert.equal(mine.status, 200, mine.text);
    const seen = mine.json?.vm as { id: string; disk_attachments?: unknown }[];
    assert.ok(seen.some((v) => v.id === va) && seen.length < all.vm.length, `alice's view: ${idsOf(mine, "vm")}`);
    for (const v of seen) assert.deepEqual(v.disk_attachments, await eng.get(`/vms/${v.id}/diskattachments`));
    assert.equal((await eng.api("GET", "/vms?follow=no_such_link")).status, 200, "an unknown link is skipped, as before");
  });

  test("a changed VM is listed changed at once (kept list views follow their rows), in JSON and XML", async () => {
    for (const accept of ["json", "xml"] as const) assert.equal((await eng.api("GET", "/vms", { accept })).status, 200);
    const put = await eng.api("PUT", `/vms/${va}`, { body: { description: "changed after listing" } });
    assert.equal(put.status, 200, put.text);
    const j = await eng.get<{ vm: { id: string; description?: string }[] }>("/vms");
    assert.equal(j.vm.find((v) => v.id === va)?.description, "changed after listing");
    const x = await eng.api("GET", "/vms", { accept: "xml" });
    assert.match(x.text, /<description>changed after listing<\/description>/);
  });
  test("the kept list of every VM: a change by another process shows from the next request; gzip and plain answers agree; search, max and the user view unchanged", async () => {
    const names = async (query = "", accept: "json" | "xml" = "json") => {
      const r = await eng.api("GET", `/vms${query}`, { accept });
      assert.equal(r.status, 200, r.text);
      return accept === "json" ? ((r.json?.vm as { name: string }[]) ?? []).map((v) => v.name) : [...r.text.matchAll(/<vm href="[^"]+" id="[^"]+"><actions>.*?<name>([^<]+)<\/name>/g)].map((m) => m[1]);
    };
    const before = await names();
    assert.deepEqual(await names(), before, "asked twice: the same list");
    assert.deepEqual(await names("", "xml"), before, "XML lists the same VMs");
    // renamed by plain SQL in another process: no engine code ran, only the trigger
    assert.equal(sqlElsewhere(`UPDATE vms SET description = 'set elsewhere' WHERE id = '${va}'`), 1);
    const j = await eng.get<{ vm: { id: string; description?: string }[] }>("/vms");
    assert.equal(j.vm.find((v) => v.id === va)?.description, "set elsewhere", "the next JSON list shows the other process's change");
    assert.match((await eng.api("GET", "/vms", { accept: "xml" })).text, /<description>set elsewhere<\/description>/);
    // compressed (what fetch asks for by default) and plain answers: the same text
    for (const accept of ["application/json", "application/xml"]) {
      const get = (enc: string) => fetch(`${eng.url}/ovirt-engine/api/vms`, { headers: { accept, authorization: `Basic ${Buffer.from(`${eng.user}:${eng.password}`).toString("base64")}`, "accept-encoding": enc } });
      const gz = await get("gzip");
      const plain = await get("identity");
      assert.equal(gz.headers.get("content-encoding"), "gzip", `${accept}: the kept list goes compressed to a client that takes gzip`);
      assert.equal(plain.headers.get("content-encoding"), null, `${accept}: and plain to one that does not`);
      assert.equal(await gz.text(), await plain.text(), `${accept}: the same answer`);
    }
    // search= and max= are answered from the rows as before; the user view is still filtered
    assert.deepEqual(await names("?search=name%3Du-a"), ["u-a"]);
    assert.equal((await names("?max=1")).length, 1);
    assert.deepEqual(await names("?max=99999999999999999999"), before, "a max beyond any list is the whole list");
    for (const bad of ["abc", "1.5", "-2"]) assert.equal((await eng.api("GET", `/vms?max=${bad}`)).status, 400, `max=${bad}`);
    const mine = idsOf(await as(ALICE, "GET", "/vms"), "vm");
    assert.ok(mine.includes(va) && mine.length < before.length, `alice's view: ${mine}`);
    // a VM added and one removed count at once too
    const added = await eng.post<{ id: string }>("/vms", { name: "u-kept", cluster: { id: cluster }, template: { name: "Blank" }, memory: 134217728 });
    assert.ok((await names()).includes("u-kept"), "a new VM is listed at once");
    sqlElsewhere(`DELETE FROM snapshots WHERE vm_id = '${added.id}'`);
    assert.equal(sqlElsewhere(`DELETE FROM vms WHERE id = '${added.id}'`), 1);
    assert.ok(!(await names()).includes("u-kept"), "a VM deleted by another process is gone from the next list");
  });
});

describe("custom roles", () => {
  const roleCount = async () => (await eng.get<{ role: unknown[] }>("/roles")).role.length;

  test("POST /roles with permits; given in a permission it grants exactly its permits; permits added and removed count at once; removed when unused", async () => {
    const ivan = await eng.post<{ id: string }>("/users", { user_name: "ivan@internal", password: "Ivan-Secret-99" });
    ids.ivan = ivan.id;
    const IVAN = basic("ivan", "Ivan-Secret-99");
    const made = await eng.api("POST", "/roles", { body: { name: "VmViewer", description: "sees VMs", administrative: "false", permits: { permit: [{ name: "vm_basic_operations" }] } } });
    assert.equal(made.status, 201, made.text);
    const role = made.json as { id: string; mutable: string; administrative: string };
    assert.equal(role.mutable, "true");
    assert.equal(role.administrative, "false");
    const names = async () => ((await eng.get<{ permit: { name: string }[] }>(`/roles/${role.id}/permits`)).permit ?? []).map((p) => p.name).sort();
    assert.deepEqual(await names(), ["login", "vm_basic_operations"], "login is always held");
    // XML too, as the SDKs send it
    const xml = await eng.api("POST", "/roles", { body: "<role><name>XmlRole</name><permits><permit id=\"4\"/></permits></role>", accept: "xml" });
    assert.equal(xml.status, 201, xml.text);
    const xmlId = /<role href="[^"]+" id="([^"]+)"/.exec(xml.text)?.[1];
    assert.ok(xmlId, xml.text);
    assert.equal((await eng.api("DELETE", `/roles/${xmlId}`)).status, 200);

    const pid = (await eng.api("POST", `/vms/${va}/permissions`, { body: { role: { id: role.id }, user: { id: ivan.id } } }));
    assert.equal(pid.status, 201, pid.text);
    assert.equal((await as(IVAN, "GET", `/vms/${va}`)).status, 200, "the role's holder sees the VM");
    assert.equal((await as(IVAN, "GET", `/vms/${vb}`)).status, 404);
    const edit = () => as(IVAN, "PUT", `/vms/${va}`, { body: { description: "edited by ivan" } });
    assert.equal((await edit()).status, 403, "edit_vm_properties is not in the role");
    const add = await eng.api("POST", `/roles/${role.id}/permits`, { body: { name: "edit_vm_properties" } });
    assert.equal(add.status, 201, add.text);
    assert.equal((await edit()).status, 200, "the added permit counts at once");
    assert.equal((await eng.api("DELETE", `/roles/${role.id}/permits/4`)).status, 200);
    assert.equal((await edit()).status, 403, "the removed permit is gone at once");
    const renamed = await eng.api("PUT", `/roles/${role.id}`, { body: { name: "VmViewer2", description: "renamed" } });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal((renamed.json as { name: string }).name, "VmViewer2");
    assert.deepEqual(await names(), ["login", "vm_basic_operations"], "a rename keeps the permits");

    const inUse = await eng.api("DELETE", `/roles/${role.id}`);
    assert.equal(inUse.status, 409, `a role given in a permission stays: ${inUse.text}`);
    assert.equal((await eng.api("DELETE", `/vms/${va}/permissions/${(pid.json as { id: string }).id}`)).status, 200);
    assert.equal((await eng.api("DELETE", `/roles/${role.id}`)).status, 200);
    assert.equal((await eng.api("GET", `/roles/${role.id}`)).status, 404);
  });

  test("bad role input: unknown permit, administrative permit in a user role, bad flag, duplicate name, missing fields, predefined roles, non-administrators; nothing changes", async () => {
    const n0 = await roleCount();
    const userRole = (await eng.get<{ role: { id: string; name: string }[] }>("/roles")).role.find((r) => r.name === "UserRole")?.id;
    assert.ok(userRole);
    for (const [body, status, why] of [
      [{ name: "R1", permits: { permit: [{ name: "no_such_permit" }] } }, 400, /PERMIT_NOT_FOUND/],
      [{ name: "R1", permits: { permit: [{ id: "9999" }] } }, 400, /PERMIT_NOT_FOUND/],
      [{ name: "R1", permits: { permit: [{ name: "create_host" }] } }, 400, /ROLE_PERMIT_ADMINISTRATIVE.*create_host/],
      [{ name: "R1", administrative: "maybe", permits: { permit: [{ name: "login" }] } }, 400, /administrative/],
      [{ name: "UserRole", permits: { permit: [{ name: "login" }] } }, 409, /ROLE_NAME_IN_USE/],
      [{ name: "a/b", permits: { permit: [{ name: "login" }] } }, 400, /name/],
      [{ permits: { permit: [{ name: "login" }] } }, 400, /name/],
      [{ name: "R1" }, 400, /permits/],
    ] as const) {
      const r = await eng.api("POST", "/roles", { body });
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(String(r.json?.detail), why);
    }
    const admin = await eng.api("POST", "/roles", { body: { name: "HostOps", administrative: "true", permits: { permit: [{ name: "manipulate_host" }] } } });
    assert.equal(admin.status, 201, `an administrative role may hold administrative permits: ${admin.text}`);
    const adminId = (admin.json as { id: string }).id;
    assert.equal((await eng.api("PUT", `/roles/${adminId}`, { body: { administrative: "false" } })).status, 400, "turning it into a user role with admin permits");
    assert.equal((await eng.api("PUT", `/roles/${adminId}`, { body: { name: "SuperUser" } })).status, 409);
    for (const [m, p, body] of [
      ["PUT", `/roles/${userRole}`, { description: "x" }],
      ["DELETE", `/roles/${userRole}`, undefined],
      ["POST", `/roles/${userRole}/permits`, { name: "delete_vm" }],
      ["DELETE", `/roles/${userRole}/permits/1`, undefined],
    ] as const) {
      const r = await eng.api(m, p, body === undefined ? {} : { body });
      assert.equal(r.status, 409, `${m} ${p}: ${r.text}`);
      assert.match(String(r.json?.detail), /ROLE_READ_ONLY/);
    }
    assert.equal((await eng.api("POST", `/roles/${adminId}/permits`, { body: { name: "bogus" } })).status, 400);
    assert.equal((await eng.api("DELETE", `/roles/${adminId}/permits/1`)).status, 409, "login stays");
    assert.equal((await eng.api("DELETE", `/roles/${adminId}/permits/777`)).status, 404);
    assert.equal((await eng.api("PUT", "/roles/00000000-0000-0000-0000-00000000dead", { body: { description: "x" } })).status, 404);
    assert.equal((await eng.api("DELETE", "/roles/not-a-uuid")).status, 404);
    const alice = await as(ALICE, "POST", "/roles", { filter: false, body: { name: "Mine", permits: { permit: [{ name: "login" }] } } });
    assert.equal(alice.status, 403, alice.text);
    assert.equal((await as(ALICE, "DELETE", `/roles/${adminId}`)).status, 403);
    assert.equal((await eng.api("DELETE", `/roles/${adminId}`)).status, 200);
    assert.equal(await roleCount(), n0, "no role left behind");
  });
});

describe("events in the user view", () => {
  test("two users: each sees only the events of objects they may see; the admin view stays the administrators'", async () => {
    // one user action on each VM: events naming va and vb
    for (const v of [va, vb]) assert.equal((await eng.api("PUT", `/vms/${v}`, { body: { comment: `touched ${v.slice(0, 8)}` } })).status, 200);
    type Ev = { id: string; vm?: { id: string }; host?: { id: string }; cluster?: { id: string }; data_center?: { id: string }; storage_domain?: { id: string } };
    const all = await until("events of both VMs", async () => {
      const evs = (await eng.get<{ event?: Ev[] }>("/events")).event ?? [];
      return evs.some((e) => e.vm?.id === va) && evs.some((e) => e.vm?.id === vb) ? evs : undefined;
    });
    const jane = await eng.post<{ id: string }>("/users", { user_name: "jane@internal", password: "Jane-Secret-99" });
    ids.jane = jane.id;
    await grant(`/vms/${vb}`, "UserRole", "jane");
    const JANE = basic("jane", "Jane-Secret-99");
    const other = (mine: string) => (mine === va ? vb : va);
    for (const [who, auth, mine] of [["alice", ALICE, va], ["jane", JANE, vb]] as const) {
      const r = await as(auth, "GET", "/events");
      assert.equal(r.status, 200, `${who}: ${r.text}`);
      const evs = (r.json?.event as Ev[] | undefined) ?? [];
      assert.ok(evs.some((e) => e.vm?.id === mine), `${who} does not see the events of their VM: ${r.text.slice(0, 300)}`);
      assert.ok(!r.text.includes(other(mine)), `${who} sees the other user's VM events`);
      assert.ok(evs.every((e) => e.vm || e.host || e.cluster || e.data_center || e.storage_domain), `${who} sees system events`);
      assert.ok(!evs.some((e) => e.host), `${who} sees host events`);
      const theirs = all.find((e) => e.vm?.id === other(mine)) as Ev;
      const own = all.find((e) => e.vm?.id === mine) as Ev;
      assert.equal((await as(auth, "GET", `/events/${theirs.id}`)).status, 404, `${who} reads another's event by id`);
      assert.equal((await as(auth, "GET", `/events/${own.id}`)).status, 200);
      assert.equal((await as(auth, "GET", "/events", { filter: false })).status, 403, "the admin view of the log is the administrators'");
      const xml = await as(auth, "GET", "/events", { headers: { accept: "application/xml" } });
      assert.ok(!xml.text.includes(other(mine)), `${who} sees the other user's VM events in XML`);
    }
    const admin = await eng.get<{ event?: Ev[] }>("/events");
    assert.ok((admin.event ?? []).length >= all.length, "the administrator still sees everything");
  });
});
