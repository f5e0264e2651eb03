/**
 * `vela backup` / `vela restore` through the CLI, as an administrator runs them: a backup taken
 * while the engine runs, a restore refused while it runs and on a file that is not a backup (the
 * database untouched), and a restore that brings back exactly the backed-up records and the
 * admin password. Runs on PostgreSQL too (test/postgres/backup.test.ts).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { databaseFor, testDb } from "./pg.js";
import { type Engine, items, startEngine, tempDir } from "./support.js";

const CLI = resolve(import.meta.dirname, "../../../cli/dist/src/main.js");
let eng: Engine | undefined;
after(async () => {
  await eng?.stop();
});

async function vela(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; out: string }> {
  const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  p.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  p.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
  const code = await new Promise<number | null>((res) => p.once("exit", (c) => res(c)));
  return { code, out };
}

const vmNames = async (e: Engine) => items<{ name: string }>(await e.get("/vms"), "vm").map((v) => v.name).sort();
const mkVm = (e: Engine, name: string) => e.post("/vms", { name, cluster: { name: "Default" }, template: { name: "Blank" }, memory: 134217728 });

test("a backup taken while the engine runs restores its records and secrets; bad restores change nothing", async () => {
  const home = tempDir("vela-backup-");
  const env: Record<string, string> = { VELA_HOME: home, VELA_ENGINE_CONF: "" };
  if (testDb() === "postgres") env.VELA_DB_URL = await databaseFor(home);
  eng = await startEngine({ home });
  const password = eng.password;
  await mkVm(eng, "kept");
  const archive = join(tempDir("vela-backup-out-"), "engine.tar.gz");

  const b = await vela(env, "backup", archive);
  assert.equal(b.code, 0, b.out);
  assert.match(b.out, /backed up the (sqlite|postgres) database .*admin-password/);
  assert.equal(statSync(archive).mode & 0o777, 0o600, "the archive holds secrets: owner-only");

  const busy = await vela(env, "restore", archive);
  assert.equal(busy.code, 1, busy.out);
  assert.match(busy.out, /BACKUP_ENGINE_RUNNING: the engine is running/);
  await mkVm(eng, "after-backup");
  assert.deepEqual(await vmNames(eng), ["after-backup", "kept"], "a refused restore changed nothing");
  await eng.stop();
  eng = undefined;

  const junk = join(tempDir("vela-backup-junk-"), "junk.tar.gz");
  writeFileSync(junk, "not an archive");
  const sum = () => (testDb() === "sqlite" ? createHash("sha256").update(readFileSync(join(home, "engine.db"))).digest("hex") : "");
  const before = sum();
  const bad = await vela(env, "restore", junk);
  assert.equal(bad.code, 1, bad.out);
  assert.match(bad.out, /BACKUP_BAD_ARCHIVE/);
  assert.equal(sum(), before, "the database file is untouched");
  const usage = await vela(env, "restore");
  assert.equal(usage.code, 2, usage.out);

  writeFileSync(join(home, "admin-password"), "changed-Secret-2\n");
  const r = await vela(env, "restore", archive);
  assert.equal(r.code, 0, r.out);
  eng = await startEngine({ home });
  assert.deepEqual(await vmNames(eng), ["kept"], "exactly the backed-up records");
  assert.equal(eng.password, password, "the admin password is the backed-up one");
});
