/**
 * Benchmark (issue 12): what a permission check adds to a request, with 10,000 permissions in
 * the database. 10,000 VMs and 100 users; each VM gives one user UserRole on it (10,000
 * permissions; alice holds 100). Alternating, one request at a time, each over a kept-alive
 * connection with an SSO token: `GET /vms/{id}` of one of alice's VMs as alice in the user view
 * (her permissions loaded, the VM's tree climbed) vs the same request as admin@internal
 * (SuperUser on the system: the check stops there) — the baseline in the same run. Then alice's
 * `GET /vms` in the user view (10,000 VMs filtered to her 100) vs admin's `GET /vms?max=100`.
 *   node bench/dist/src/permissions.js [requests=200]
 */
import { randomUUID } from "node:crypto";
import { hashPassword } from "@vela/engine/dist/src/users/password.js";
import { pgServer } from "@vela/engine/dist/test/pg.js";
import { type Engine, startEngine, tempDir } from "@vela/engine/dist/test/support.js";
import { type Db, insert, pct, VM_COLUMNS, vmRows } from "./lib/fill.js";

const REQUESTS = Number(process.argv[2] ?? 200);
const VMS = 10_000;
const USERS = 100;
const USER_ROLE = "00000000-0000-0000-0001-000000000008";

async function token(eng: Engine, user: string, password: string): Promise<string> {
  const res = await fetch(`${eng.url}/ovirt-engine/sso/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams({ grant_type: "password", scope: "ovirt-app-api", username: user, password }),
  });
  const j = (await res.json()) as { access_token?: string };
  if (!j.access_token) throw new Error(`no token for ${user}: ${JSON.stringify(j)}`);
  return j.access_token;
}

async function timed(eng: Engine, tok: string, path: string, filter: boolean, expect: (j: Record<string, unknown>) => boolean): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${eng.url}/ovirt-engine/api${path}`, { headers: { authorization: `Bearer ${tok}`, accept: "application/json", ...(filter ? { filter: "true" } : {}) } });
  const j = (await res.json()) as Record<string, unknown>;
  const ms = performance.now() - t;
  if (res.status !== 200 || !expect(j)) throw new Error(`GET ${path}: HTTP ${res.status} ${JSON.stringify(j).slice(0, 300)}`);
  return ms;
}

async function pair(n: number, a: () => Promise<number>, b: () => Promise<number>): Promise<[number[], number[]]> {
  for (let i = 0; i < 3; i++) await Promise.all([a(), b()]);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    xs.push(await a());
    ys.push(await b());
  }
  return [xs.sort((p, q) => p - q), ys.sort((p, q) => p - q)];
}

let running: Engine | undefined;

async function one(db: Db): Promise<void> {
  const home = tempDir("vela-bench-perm-");
  const env = { VELA_LOG_LEVEL: "warn" };
  const first = await startEngine({ home, db, env });
  const cluster = (await first.get<{ cluster: { id: string }[] }>("/clusters")).cluster[0]!.id;
  await first.stop();
  const vms = vmRows(VMS, cluster);
  const at = new Date().toISOString();
  const hash = await hashPassword("Alice-Secret-9");
  const users = Array.from({ length: USERS }, (_, i) => [randomUUID(), i === 0 ? "alice" : `user${i}`, i === 0 ? hash : null, at]);
  await insert(db, home, "vms", VM_COLUMNS, vms);
  await insert(db, home, "users", ["id", "name", "password_hash", "created_at"], users);
  const perms = vms.map((v, i) => [randomUUID(), USER_ROLE, users[i % USERS]![0], null, "vm", v[0], at]);
  await insert(db, home, "permissions", ["id", "role_id", "user_id", "group_id", "object_type", "object_id", "created_at"], perms);
  const eng = await startEngine({ home, port: first.port, db, env });
  running = eng;
  try {
    const alice = await token(eng, "alice@internal", "Alice-Secret-9");
    const admin = await token(eng, "admin@internal", eng.password);
    const vm = String(vms[0]![0]);
    const isVm = (j: Record<string, unknown>) => j.id === vm;
    const [u, a] = await pair(REQUESTS, () => timed(eng, alice, `/vms/${vm}`, true, isVm), () => timed(eng, admin, `/vms/${vm}`, false, isVm));
    const added = pct(u, 50) - pct(a, 50);
    console.log(`permission-check db=${db} permissions=${VMS + 1} request=GET_/vms/{id} requests=${REQUESTS} user_p50_ms=${pct(u, 50).toFixed(2)} admin_p50_ms=${pct(a, 50).toFixed(2)} added_p50_ms=${added.toFixed(2)} user_p99_ms=${pct(u, 99).toFixed(2)} admin_p99_ms=${pct(a, 99).toFixed(2)} target_added<=1`);
    const count = (n: number) => (j: Record<string, unknown>) => Array.isArray(j.vm) && j.vm.length === n;
    const [ul, al] = await pair(Math.min(REQUESTS, 20), () => timed(eng, alice, "/vms", true, count(VMS / USERS)), () => timed(eng, admin, `/vms?max=${VMS / USERS}`, false, count(VMS / USERS)));
    console.log(`permission-list db=${db} vms=${VMS} request=GET_/vms_user_view requests=${Math.min(REQUESTS, 20)} user_p50_ms=${pct(ul, 50).toFixed(1)} admin_max100_p50_ms=${pct(al, 50).toFixed(1)}`);
  } finally {
    running = undefined;
    await eng.stop();
  }
}

async function main() {
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void (running?.kill() ?? Promise.resolve()).then(() => process.exit(130)));
  const pgs = pgServer();
  try {
    for (const db of ["sqlite", "postgres"] as const) await one(db);
  } finally {
    pgs.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
