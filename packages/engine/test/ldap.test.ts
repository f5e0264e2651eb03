/**
 * An LDAP directory as an authentication domain, against a real OpenLDAP slapd (test/slapd.ts)
 * reached over StartTLS with the run's CA: /domains, directory searches, adding directory users
 * and groups, Basic and SSO sign-in of name@corp (search then bind), a directory group's
 * permission reaching its members, refusals (wrong password, unknown or not-added users,
 * injection in names and searches, lockout), and a directory that is down failing only its own
 * users with a clear fault. One slapd and one engine for the whole file.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openDb } from "../src/db/index.js";
import { type DirectoryConfig, directoryConfig } from "../src/users/directory-config.js";
import { addDirectoryGroup, addDirectoryUser, signIn } from "../src/users/directory-users.js";
import { addGroup, NotAuthorizedToLogIn } from "../src/users/store.js";
import { roleByName } from "../src/permissions/roles.js";
import { SYSTEM_ID } from "../src/db/ids.js";
import { Directory, DirectoryUnavailable, MAX_NESTING } from "../src/users/directory.js";
import { escapeFilterValue, escapePattern } from "../src/users/ldap-filter.js";
import { ENGINE_DN, ENGINE_PW, type Slapd, startSlapd, SUFFIX } from "./slapd.js";
import { ENGINE_MAIN, type Engine, startEngine, tempDir } from "./support.js";

const PEOPLE = `ou=people,${SUFFIX}`;
const GROUPS = `ou=groups,${SUFFIX}`;
const person = (uid: string, pw: string, sn: string) => `dn: uid=${uid},${PEOPLE}
objectClass: inetOrgPerson
uid: ${uid}
cn: ${uid} ${sn}
givenName: ${uid}
sn: ${sn}
mail: ${uid}@vela.test
userPassword: ${pw}
`;
const PW = { alice: "Alice-Dir-Pw1", bob: "Bob-Dir-Pw22", carol: "Carol-Dir-Pw3", dave: "Dave-Dir-Pw44", erin: "Erin-Dir-Pw55", ivy: "Ivy-Dir-Pw666", frank: "Frank-Dir-Pw7", gus: "Gus-Dir-Pw888", hal: "Hal-Dir-Pw999" };
const groupDn = (cn: string) => `cn=${cn},${GROUPS}`;
const group = (cn: string, ...members: string[]) => `dn: cn=${cn},${GROUPS}
objectClass: groupOfNames
cn: ${cn}
${members.map((m) => `member: ${m.includes("=") ? m : `uid=${m},${PEOPLE}`}`).join("\n")}
`;
const SEED = [
  person("alice", PW.alice, "Archer"),
  person("bob", PW.bob, "Baker"),
  person("carol", PW.carol, "Cook"),
  person("dave", PW.dave, "Dyer"),
  person("erin", PW.erin, "Eames"),
  person("ivy", PW.ivy, "Irwin"),
  group("readers", "ivy"),
  // nesting: frank is in team-b, team-b in team-a; gus in loop-1, and loop-1 and loop-2 in each other;
  // hal at the bottom of a chain nest-10 ⊂ nest-9 ⊂ … ⊂ nest-1 (deeper than MAX_NESTING)
  person("frank", PW.frank, "Fisher"),
  person("gus", PW.gus, "Gale"),
  person("hal", PW.hal, "Hart"),
  group("team-b", "frank"),
  group("team-a", groupDn("team-b")),
  group("loop-1", "gus", groupDn("loop-2")),
  group("loop-2", groupDn("loop-1")),
  ...Array.from({ length: 10 }, (_, i) => group(`nest-${i + 1}`, i === 9 ? "hal" : groupDn(`nest-${i + 2}`))),
  `dn: cn=operators,${GROUPS}
objectClass: groupOfNames
cn: operators
member: uid=bob,${PEOPLE}
`,
  `dn: cn=outsiders,${GROUPS}
objectClass: groupOfNames
cn: outsiders
member: uid=carol,${PEOPLE}
`,
].join("\n");

const DOMAIN_ID = Buffer.from("corp-authz").toString("base64url");
const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}`;

let ldap: Slapd;
let eng: Engine;
let va = "";
let vb = "";
let cluster = "";

function names(body: Record<string, unknown> | undefined, key: string, field = "name"): string[] {
  return ((body?.[key] as Record<string, unknown>[] | undefined) ?? []).map((x) => String(x[field])).sort();
}

/** A GET as someone, in the user view (Filter: true) unless `filter` is false. */
async function fetchAs(auth: string, path: string, filter: boolean): Promise<{ status: number; json?: Record<string, unknown>; text: string }> {
  const res = await fetch(`${eng.url}/ovirt-engine/api${path}`, { headers: { accept: "application/json", authorization: auth, ...(filter ? { filter: "true" } : {}) } });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

async function ssoToken(username: string, password: string): Promise<{ status: number; body: Record<string, string> }> {
  const res = await fetch(`${eng.url}/ovirt-engine/sso/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams({ grant_type: "password", scope: "ovirt-app-api", username, password }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

before(async () => {
  ldap = await startSlapd(SEED);
  eng = await startEngine({
    env: {
      VELA_LDAP_PROFILE: "corp",
      VELA_LDAP_URL: ldap.url,
      VELA_LDAP_STARTTLS: "on",
      VELA_LDAP_CA_FILE: ldap.caFile,
      VELA_LDAP_BIND_DN: ENGINE_DN,
      VELA_LDAP_BIND_PASSWORD_FILE: ldap.passwordFile,
      VELA_LDAP_USER_BASE: PEOPLE,
      VELA_LDAP_GROUP_BASE: GROUPS,
      VELA_LDAP_TIMEOUT_MS: "3000",
    },
  });
  cluster = ((await eng.get<{ cluster: { id: string }[] }>("/clusters")).cluster[0] as { id: string }).id;
  const vm = async (name: string) => (await eng.post<{ id: string }>("/vms", { name, cluster: { id: cluster }, template: { name: "Blank" }, memory: 134217728 })).id;
  va = await vm("ldap-a");
  vb = await vm("ldap-b");
});
after(async () => {
  await eng?.stop();
  await ldap?.stop();
});

describe("LDAP filters and settings (no server)", () => {
  test("filter values are escaped as RFC 4515 says; a search pattern keeps only its * wildcards", () => {
    assert.equal(escapeFilterValue("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
    assert.equal(escapeFilterValue("a\\b\0c"), "a\\5cb\\00c");
    assert.equal(escapeFilterValue("José"), "José");
    assert.equal(escapePattern("al*"), "al*");
    assert.equal(escapePattern("*)(|(uid=**"), "*\\29\\28|\\28uid=*");
  });

  test("bad directory settings stop the start with the setting's name; none means internal only", () => {
    const base = { VELA_LDAP_PROFILE: "corp", VELA_LDAP_URL: "ldap://127.0.0.1:1", VELA_LDAP_BIND_DN: ENGINE_DN, VELA_LDAP_BIND_PASSWORD_FILE: ldap.passwordFile, VELA_LDAP_USER_BASE: PEOPLE };
    assert.equal(directoryConfig({}), undefined);
    const ok = directoryConfig(base);
    assert.equal(ok?.bindPassword, ENGINE_PW, "the password file's trailing newline is not part of the password");
    assert.equal(ok?.startTls, true, "ldap:// uses StartTLS unless told otherwise");
    for (const [k, v, why] of [
      ["VELA_LDAP_URL", "http://127.0.0.1", /VELA_LDAP_URL/],
      ["VELA_LDAP_URL", "ldap://127.0.0.1/dc=x??sub?(uid=*)", /VELA_LDAP_URL/],
      ["VELA_LDAP_PROFILE", "internal", /VELA_LDAP_PROFILE/],
      ["VELA_LDAP_PROFILE", "a b", /VELA_LDAP_PROFILE/],
      ["VELA_LDAP_BIND_PASSWORD_FILE", "/nonexistent/pw", /VELA_LDAP_BIND_PASSWORD_FILE.*ENOENT/],
      ["VELA_LDAP_USER_FILTER", "objectClass=person", /VELA_LDAP_USER_FILTER/],
      ["VELA_LDAP_USER_FILTER", "(a=b))(", /VELA_LDAP_USER_FILTER/],
      ["VELA_LDAP_USER_ATTR", "uid)(x", /VELA_LDAP_USER_ATTR/],
      ["VELA_LDAP_MEMBERSHIP", "nested", /VELA_LDAP_MEMBERSHIP/],
      ["VELA_LDAP_USER_BASE", "", /VELA_LDAP_USER_BASE/],
    ] as const) {
      assert.throws(() => directoryConfig({ ...base, [k]: v }), why, `${k}=${v}`);
    }
  });
});

test("a bad directory setting stops the engine's start in one line naming the key", () => {
  const home = tempDir("vela-ldap-bad-");
  const r = spawnSync(process.execPath, [ENGINE_MAIN], {
    env: { ...process.env, VELA_HOME: home, VELA_ENGINE_CONF: "", VELA_ENGINE_PORT: "0", VELA_LDAP_PROFILE: "corp", VELA_LDAP_URL: "ldap://127.0.0.1:1/??sub?(uid=*)" },
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^vela-engine: failed to start: VELA_LDAP_URL: .*\n$/, r.stderr);
});

test("sign-in rows: refused when neither the user nor a group of theirs was added; memberships follow the directory's, and only the domain's", async () => {
  const store = await openDb({ dbFile: join(tempDir("vela-ldap-rows-"), "engine.db") });
  try {
    const db = store.db;
    const e = (name: string, id: string) => ({ dn: `cn=${name},${SUFFIX}`, id, name });
    const erin = e("erin", "00000000-0000-4000-8000-000000000001");
    const [g1, g2, g3] = [e("g1", "00000000-0000-4000-8000-0000000000a1"), e("g2", "00000000-0000-4000-8000-0000000000a2"), e("g3", "00000000-0000-4000-8000-0000000000a3")];
    assert.equal(await signIn(db, "corp", erin, [g1, g2]), undefined, "nothing of erin's was added");
    assert.equal((await db.selectFrom("users").select("id").where("name", "=", "erin@corp").execute()).length, 0, "and no row was made");
    const a1 = await addDirectoryGroup(db, "corp", g1);
    const a2 = await addDirectoryGroup(db, "corp", g2);
    const internalGroup = await addGroup(db, "g3");
    // added groups, but none holds a permission: refused, and still no row
    await assert.rejects(signIn(db, "corp", erin, [g1, g2, g3]), (e: unknown) => e instanceof NotAuthorizedToLogIn && e.user === "erin@corp");
    assert.equal((await db.selectFrom("users").select("id").where("name", "=", "erin@corp").execute()).length, 0, "no row for a refused first sign-in");
    await db.insertInto("permissions").values({ id: randomUUID(), role_id: roleByName("UserRole")?.id ?? "", user_id: null, group_id: a2.id, object_type: "system", object_id: SYSTEM_ID, created_at: new Date().toISOString() }).execute();
    const who = await signIn(db, "corp", erin, [g1, g2, g3]);
    assert.equal(who?.name, "erin@corp");
    const groups = async () => (await db.selectFrom("group_members").select("group_id").where("user_id", "=", who?.id ?? "").execute()).map((r) => r.group_id).sort();
    await db.insertInto("group_members").values({ group_id: internalGroup.id, user_id: who?.id ?? "" }).execute();
    assert.deepEqual(await groups(), [a1.id, a2.id, internalGroup.id].sort());
    // out of g2 in the directory: out of it here; the internal group is not the directory's business
    assert.equal((await signIn(db, "corp", erin, [g1]))?.id, who?.id);
    assert.deepEqual(await groups(), [a1.id, internalGroup.id].sort());
    // in no added group any more, but a row of her own now: signIn still names her (api/auth.ts then refuses a user holding no permission)
    assert.equal((await signIn(db, "corp", erin, []))?.id, who?.id);
    assert.deepEqual(await groups(), [internalGroup.id]);
    await assert.rejects(addDirectoryUser(db, "corp", erin), /USER_EXISTS|already exists/);
    await assert.rejects(addDirectoryGroup(db, "corp", g1), /already exists/);
  } finally {
    await store.close();
  }
});

describe("the directory as a domain", () => {
  test("/domains lists internal and the directory, each with its users and groups", async () => {
    const list = await eng.get("/domains");
    assert.deepEqual(names(list, "domain"), ["corp", "internal"]);
    const corp = await eng.get<{ id: string; name: string; link: { rel: string }[] }>(`/domains/${DOMAIN_ID}`);
    assert.equal(corp.name, "corp");
    assert.deepEqual(corp.link.map((l) => l.rel).sort(), ["groups", "users"]);
    assert.equal((await eng.api("GET", "/domains/Y29ycA")).status, 404, "a domain is named by its id only");
  });

  test("users and groups are searched in the directory with * wildcards; the engine's bind password is in no answer", async () => {
    assert.deepEqual(names(await eng.get(`/domains/${DOMAIN_ID}/users?search=a*`), "user", "principal"), ["alice"]);
    assert.deepEqual(names(await eng.get(`/domains/${DOMAIN_ID}/users?search=${encodeURIComponent("usrname=bob@corp")}`), "user", "user_name"), ["bob@corp"]);
    const all = await eng.get(`/domains/${DOMAIN_ID}/users`);
    assert.deepEqual(names(all, "user", "principal"), ["alice", "bob", "carol", "dave", "erin", "frank", "gus", "hal", "ivy"]);
    assert.doesNotMatch(JSON.stringify(all), new RegExp(`${ENGINE_PW}|${PW.alice}|userPassword`, "i"));
    assert.deepEqual(names(await eng.get(`/domains/${DOMAIN_ID}/groups?search=oper*`), "group"), ["operators"]);
    const one = (all.user as { id: string; principal: string }[]).find((u) => u.principal === "carol");
    const got = await eng.get<{ user_name: string; last_name: string }>(`/domains/${DOMAIN_ID}/users/${one?.id}`);
    assert.equal(got.user_name, "carol@corp");
    assert.equal(got.last_name, "Cook");
    assert.equal((await eng.api("GET", `/domains/${DOMAIN_ID}/users/not-a-uuid`)).status, 404);
  });

  test("filter injection in a search finds nothing more than the literal text would", async () => {
    for (const s of ["*)(uid=*", "*)(|(objectClass=*", "alice)(uid=*", "\\2a", "name=*)(cn=*"]) {
      const r = await eng.api("GET", `/domains/${DOMAIN_ID}/users?search=${encodeURIComponent(s)}`);
      assert.equal(r.status, 200, `${s}: ${r.text}`);
      assert.deepEqual(names(r.json, "user", "principal"), [], `search ${s} matched: ${r.text.slice(0, 300)}`);
    }
    const g = await eng.api("GET", `/domains/${DOMAIN_ID}/groups?search=${encodeURIComponent("*)(member=*")}`);
    assert.deepEqual(names(g.json, "group"), [], g.text);
    const bad = await eng.api("GET", `/domains/${DOMAIN_ID}/users?search=${encodeURIComponent("userPassword=*")}`);
    assert.equal(bad.status, 400, bad.text);
  });

  test("POST /users adds a directory user by user_name; unknown, duplicate, injected and passworded ones are refused and nothing changes", async () => {
    const added = await eng.api("POST", "/users", { body: { user_name: "alice@corp" } });
    assert.equal(added.status, 201, added.text);
    assert.equal(added.json?.user_name, "alice@corp");
    assert.equal((added.json?.domain as { name?: string } | undefined)?.name, "corp");
    // as the oVirt SDKs send it: XML, the principal and the domain by its authz name
    const dave = await eng.api("POST", "/users", { body: "<user><principal>dave</principal><domain><name>corp-authz</name></domain></user>" });
    assert.equal(dave.status, 201, dave.text);
    const before = names(await eng.get("/users"), "user", "user_name");
    for (const [body, status] of [
      [{ user_name: "alice@corp" }, 409],
      [{ user_name: "nobody@corp" }, 404],
      [{ user_name: "*)(uid=*@corp" }, 404],
      [{ user_name: "a*@corp" }, 404],
      [{ user_name: "bob@corp", password: "Some-Pw-123" }, 400],
      [{ user_name: "bob@elsewhere" }, 400],
    ] as const) {
      const r = await eng.api("POST", "/users", { body });
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
    }
    assert.deepEqual(names(await eng.get("/users"), "user", "user_name"), before);
    assert.ok(before.includes("alice@corp") && before.includes("admin@internal"), before.join());
  });

  test("POST /groups adds a directory group; an unknown or injected one is refused", async () => {
    const g = await eng.api("POST", "/groups", { body: { name: "operators", domain: { name: "corp" } } });
    assert.equal(g.status, 201, g.text);
    assert.equal((g.json?.domain as { name?: string } | undefined)?.name, "corp");
    for (const name of ["nogroup", "*", "oper*", "*)(cn=*"]) {
      const r = await eng.api("POST", "/groups", { body: { name, domain: { name: "corp" } } });
      assert.equal(r.status, 404, `${name}: ${r.text}`);
    }
  });
});

describe("signing in from the directory", () => {
  let operators = "";
  before(async () => {
    const users = (await eng.get<{ user: { id: string; user_name: string }[] }>("/users")).user;
    const alice = users.find((u) => u.user_name === "alice@corp")?.id;
    const dave = users.find((u) => u.user_name === "dave@corp")?.id;
    operators = (await eng.get<{ group: { id: string; name: string }[] }>("/groups")).group.find((g) => g.name === "operators")?.id ?? "";
    assert.ok(alice && dave && operators);
    // a user holding no permission may not sign in: each added user holds one
    for (const [vm, who] of [
      [va, { user: { id: alice } }],
      [va, { user: { id: dave } }],
      [vb, { group: { id: operators } }],
    ] as const) {
      const r = await eng.api("POST", `/vms/${vm}/permissions`, { body: { role: { name: "UserRole" }, ...who } });
      assert.equal(r.status, 201, r.text);
    }
  });

  test("Basic: an added user signs in with their directory password and sees only their VM", async () => {
    const r = await fetchAs(basic("alice@corp", PW.alice), "/vms", true);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(names(r.json, "vm", "id"), [va]);
  });

  test("a permission given to a directory group reaches its member, who was never added (added at first sign-in)", async () => {
    const r = await fetchAs(basic("bob@corp", PW.bob), "/vms", true);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(names(r.json, "vm", "id"), [vb]);
    const bob = (await eng.get<{ user: { id: string; user_name: string }[] }>("/users")).user.find((u) => u.user_name === "bob@corp");
    assert.ok(bob, "bob has a row now");
    assert.deepEqual(names(await eng.get(`/users/${bob.id}/groups`), "group", "id"), [operators]);
    // the user view of another VM: not his
    assert.equal((await fetchAs(basic("bob@corp", PW.bob), `/vms/${va}`, true)).status, 404);
  });

  test("SSO: a directory user gets a token and uses it", async () => {
    const t = await ssoToken("bob@corp", PW.bob);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const r = await fetchAs(`Bearer ${t.body.access_token}`, `/vms/${vb}`, true);
    assert.equal(r.status, 200, r.text);
    assert.equal((await fetchAs(`Bearer ${t.body.access_token}`, `/vms/${va}`, true)).status, 404, "alice's VM stays hidden");
    assert.equal((await ssoToken("bob@corp", "wrong-Pw-1")).status, 400);
  });

  test("a directory group's PowerUserRole on the cluster: its member creates a VM, owns it, and the event names him bob@corp", async () => {
    const g = await eng.api("POST", `/clusters/${cluster}/permissions`, { body: { role: { name: "PowerUserRole" }, group: { id: operators } } });
    assert.equal(g.status, 201, g.text);
    const res = await fetch(`${eng.url}/ovirt-engine/api/vms`, {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/json", authorization: basic("bob@corp", PW.bob), filter: "true" },
      body: JSON.stringify({ name: "bobs", cluster: { id: cluster }, template: { name: "Blank" }, memory: 134217728 }),
    });
    const made = (await res.json()) as { id: string };
    assert.equal(res.status, 201, JSON.stringify(made));
    // his: UserVmManager on the new VM, given to him (not to the group) as its creator
    const perms = await eng.get<{ permission: { user?: { id: string } }[] }>(`/vms/${made.id}/permissions`);
    const root = await fetchAs(basic("bob@corp", PW.bob), "", true);
    const bob = (await eng.get<{ user: { id: string; user_name: string }[] }>("/users")).user.find((u) => u.user_name === "bob@corp");
    assert.equal((root.json?.authenticated_user as { id?: string } | undefined)?.id, bob?.id);
    assert.ok(perms.permission.some((p) => p.user?.id === bob?.id), JSON.stringify(perms));
    const events = await eng.get<{ event?: { description: string }[] }>("/events");
    assert.ok((events.event ?? []).some((e) => /bobs/.test(e.description) && /by bob@corp/.test(e.description)), JSON.stringify(events.event?.slice(0, 5)));
    assert.equal((await eng.api("DELETE", `/clusters/${cluster}/permissions/${(g.json as { id: string }).id}`)).status, 200);
  });

  test("no permission, no sign-in: an added user, or a member of an added group, with no permission gets 403 (Basic) and access_denied (SSO) until given one, and again once it is removed", async () => {
    const erin = await eng.api("POST", "/users", { body: { user_name: "erin@corp" } });
    assert.equal(erin.status, 201, erin.text);
    const readers = await eng.api("POST", "/groups", { body: { name: "readers", domain: { name: "corp" } } });
    assert.equal(readers.status, 201, readers.text);
    const cases = [
      { who: "erin", pw: PW.erin, holder: { user: { id: (erin.json as { id: string }).id } } },
      { who: "ivy", pw: PW.ivy, holder: { group: { id: (readers.json as { id: string }).id } } },
    ];
    const refused = async (who: string, pw: string, when: string) => {
      const r = await fetchAs(basic(`${who}@corp`, pw), "/vms", true);
      assert.equal(r.status, 403, `${who} ${when}: ${r.text}`);
      assert.match(String(r.json?.detail), new RegExp(`USER_NOT_AUTHORIZED.*${who}@corp.*not authorized to log in`), r.text);
      const t = await ssoToken(`${who}@corp`, pw);
      assert.equal(t.status, 400, `${who} ${when}: SSO ${JSON.stringify(t.body)}`);
      assert.equal(t.body.error_code, "access_denied");
      assert.match(t.body.error ?? "", new RegExp(`^Cannot authenticate user '${who}@corp': .*not authorized to log in`));
    };
    const userNames = async () => names(await eng.get("/users"), "user", "user_name");
    for (const c of cases) {
      const before = await userNames();
      await refused(c.who, c.pw, "with no permission");
      assert.deepEqual(await userNames(), before, "a refused sign-in adds no user");
      const g = await eng.api("POST", `/vms/${vb}/permissions`, { body: { role: { name: "UserRole" }, ...c.holder } });
      assert.equal(g.status, 201, g.text);
      const r = await fetchAs(basic(`${c.who}@corp`, c.pw), "/vms", true);
      assert.equal(r.status, 200, `${c.who} with a permission: ${r.text}`);
      assert.deepEqual(names(r.json, "vm", "id"), [vb]);
      assert.equal((await ssoToken(`${c.who}@corp`, c.pw)).status, 200);
      assert.equal((await eng.api("DELETE", `/vms/${vb}/permissions/${(g.json as { id: string }).id}`)).status, 200);
      await refused(c.who, c.pw, "after the last permission was removed");
    }
  });

  test("nested groups: a member of team-b, itself a member of team-a, gets the permission given to team-a", async () => {
    const a = await eng.api("POST", "/groups", { body: { name: "team-a", domain: { name: "corp" } } });
    assert.equal(a.status, 201, a.text);
    const teamA = (a.json as { id: string }).id;
    const g = await eng.api("POST", `/vms/${va}/permissions`, { body: { role: { name: "UserRole" }, group: { id: teamA } } });
    assert.equal(g.status, 201, g.text);
    const r = await fetchAs(basic("frank@corp", PW.frank), "/vms", true);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(names(r.json, "vm", "id"), [va]);
    const frank = (await eng.get<{ user: { id: string; user_name: string }[] }>("/users")).user.find((u) => u.user_name === "frank@corp");
    assert.ok(frank, "frank has a row now");
    assert.deepEqual(names(await eng.get(`/users/${frank.id}/groups`), "group", "id"), [teamA], "a member of the added group through team-b");
    assert.equal((await ssoToken("frank@corp", PW.frank)).status, 200);
    // a cycle of groups ends: gus (loop-1 ⇄ loop-2) is refused in time, being in no added group
    const t0 = Date.now();
    assert.equal((await fetchAs(basic("gus@corp", PW.gus), "/vms", true)).status, 401);
    assert.ok(Date.now() - t0 < 5000, `the cycle took ${Date.now() - t0} ms`);
  });

  test("refused: wrong and empty passwords, unknown users, injected names, a user neither added nor in an added group", async () => {
    for (const [user, pw] of [
      ["alice@corp", "wrong-Pw-1"],
      ["alice@corp", ""],
      ["nobody@corp", "Whatever-1"],
      ["*@corp", PW.alice],
      ["*)(uid=*@corp", PW.alice],
      ["alice)(uid=*@corp", PW.alice],
      ["al*@corp", PW.alice],
      ["carol@corp", PW.carol],
      ["alice@internal", PW.alice],
    ] as const) {
      const r = await fetchAs(basic(user, pw), "/vms", true);
      assert.equal(r.status, 401, `${user} / ${pw ? "a password" : "no password"}: ${r.text}`);
      const s = await ssoToken(user, pw);
      assert.equal(s.status, 400, `SSO ${user}: ${JSON.stringify(s.body)}`);
    }
    assert.ok(!(await eng.get<{ user: { user_name: string }[] }>("/users")).user.some((u) => u.user_name === "carol@corp"), "carol was not added by trying");
  });

  test("wrong passwords count toward the lockout: after ten, even the right one is refused", async () => {
    assert.equal((await fetchAs(basic("dave@corp", PW.dave), "/vms", true)).status, 200, "dave signs in before");
    for (let i = 0; i < 10; i++) assert.equal((await fetchAs(basic("dave@corp", `Wrong-Pw-${i}`), "/vms", true)).status, 401);
    // the directory ignores case and extra spaces in uid: so does the lockout
    for (const name of ["dave@corp", "DAVE@corp", " Dave @corp"]) {
      const r = await fetchAs(basic(name, PW.dave), "/vms", true);
      assert.equal(r.status, 401, `${name} locked out: ${r.text}`);
    }
    // the internal administrator is not locked out by that
    assert.equal((await eng.api("GET", "/vms")).status, 200);
  });

  test("the engine's log holds no password", () => {
    const log = eng.output();
    for (const pw of [ENGINE_PW, ...Object.values(PW)]) assert.ok(!log.includes(pw), `a password in the log: ${pw}`);
  });
});

describe("TLS and membership variants (the directory module on the same slapd)", () => {
  const cfg = (over: Partial<DirectoryConfig>): DirectoryConfig => {
    const c = directoryConfig({
      VELA_LDAP_PROFILE: "corp",
      VELA_LDAP_URL: ldap.url,
      VELA_LDAP_CA_FILE: ldap.caFile,
      VELA_LDAP_BIND_DN: ENGINE_DN,
      VELA_LDAP_BIND_PASSWORD_FILE: ldap.passwordFile,
      VELA_LDAP_USER_BASE: PEOPLE,
      VELA_LDAP_GROUP_BASE: GROUPS,
    });
    assert.ok(c);
    return { ...c, ...over };
  };

  test("ldaps:// with the CA works; with another CA (the directory's certificate not trusted) the directory is unavailable", async () => {
    const ok = await new Directory(cfg({ url: ldap.ldapsUrl, startTls: false })).searchUsers("b*", 10);
    assert.deepEqual(ok.map((u) => u.name), ["bob"]);
    const other = execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "/dev/null", "-subj", "/CN=other CA", "-days", "1"], { encoding: "utf8" });
    const untrusted = (e: unknown) => e instanceof DirectoryUnavailable && /certificate|signature/i.test(e.message);
    await assert.rejects(new Directory(cfg({ url: ldap.ldapsUrl, startTls: false, caPem: other })).searchUsers("b*", 10), untrusted);
    await assert.rejects(new Directory(cfg({ caPem: other })).searchUsers("b*", 10), untrusted, "StartTLS checks the certificate too");
    // the right CA but a name the certificate does not carry (127.0.0.2): refused, over StartTLS and ldaps
    const misnamed = (e: unknown) => e instanceof DirectoryUnavailable && /altnames|does not match/i.test(e.message);
    await assert.rejects(new Directory(cfg({ url: ldap.otherNameUrls[0] })).searchUsers("b*", 10), misnamed);
    await assert.rejects(new Directory(cfg({ url: ldap.otherNameUrls[1], startTls: false })).searchUsers("b*", 10), misnamed);
    assert.deepEqual((await new Directory(cfg({ url: ldap.url.replace("127.0.0.1", "localhost") })).searchUsers("b*", 10)).map((u) => u.name), ["bob"], "a DNS name the certificate carries");
    await assert.rejects(new Directory(cfg({ bindPassword: "not-the-password" })).searchUsers("b*", 10), /bind DN or password was refused/);
  });

  test("memberOf: a user's groups read from their memberOf values (kept by slapd's memberof overlay)", async () => {
    ldap.add(`dn: cn=auditors,${GROUPS}
objectClass: groupOfNames
cn: auditors
member: uid=alice,${PEOPLE}
`);
    const viaMemberOf = await new Directory(cfg({ membership: "memberOf" })).authenticate("alice", PW.alice);
    assert.deepEqual(viaMemberOf?.groups.map((g) => g.name), ["auditors"]);
    const viaMember = await new Directory(cfg({})).authenticate("alice", PW.alice);
    assert.deepEqual(viaMember?.groups.map((g) => g.name), ["auditors"]);
    assert.equal(await new Directory(cfg({})).authenticate("alice", ""), undefined, "an empty password is no unauthenticated bind");
  });

  test("nested groups, both ways: the groups above the user's, each once through a cycle, at most MAX_NESTING levels", async () => {
    const groups = async (uid: keyof typeof PW, over: Partial<DirectoryConfig> = {}) => ((await new Directory(cfg(over)).authenticate(uid, PW[uid]))?.groups ?? []).map((g) => g.name).sort();
    assert.deepEqual(await groups("frank"), ["team-a", "team-b"]);
    assert.deepEqual(await groups("gus"), ["loop-1", "loop-2"], "a cycle: each group once");
    assert.equal(MAX_NESTING, 8);
    const chain = Array.from({ length: 8 }, (_, i) => `nest-${10 - i}`).sort();
    assert.deepEqual(await groups("hal"), chain, "nest-10 (hal's) up to nest-3: eight levels, not nest-2 or nest-1");
    // memberOf: the overlay writes memberOf on entries added through the server, groups included
    ldap.add(`${group("mo-b", "frank")}\n${group("mo-a", groupDn("mo-b"))}\n${group("mo-x", groupDn("mo-a"))}\n`);
    ldap.add(`dn: ${groupDn("mo-b")}
changetype: modify
add: member
member: ${groupDn("mo-x")}
`);
    assert.deepEqual(await groups("frank", { membership: "memberOf" }), ["mo-a", "mo-b", "mo-x"], "memberOf, with a cycle mo-b ⊂ mo-a ⊂ mo-x ⊂ mo-b");
  });
});

describe("the directory down", () => {
  before(async () => ldap.stop());

  test("its users get a clear 503 fault; internal users and the API go on", async () => {
    const r = await fetchAs(basic("alice@corp", "Not-Cached-Pw1"), "/vms", true);
    assert.equal(r.status, 503, r.text);
    assert.match(String(r.json?.detail), /DIRECTORY_UNAVAILABLE.*corp/, r.text);
    const s = await ssoToken("bob@corp", "Not-Cached-Pw1");
    assert.equal(s.status, 503, JSON.stringify(s.body));
    const search = await eng.api("GET", `/domains/${DOMAIN_ID}/users?search=a*`);
    assert.equal(search.status, 503, search.text);
    const add = await eng.api("POST", "/users", { body: { user_name: "carol@corp" } });
    assert.equal(add.status, 503, add.text);
    assert.equal((await eng.api("GET", "/vms")).status, 200, "admin@internal signs in");
    assert.equal((await eng.api("GET", "/domains")).status, 200);
  });
});
