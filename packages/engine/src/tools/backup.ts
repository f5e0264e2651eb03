#!/usr/bin/env node
/**
 * `vela backup FILE` / `vela restore FILE`: the engine's state in one .tar.gz — the database (a
 * consistent online copy of SQLite, or pg_dump's custom format of PostgreSQL), the files in
 * VELA_HOME that are state rather than cache (admin password, registration token, the PKI
 * directory with the CA), and a manifest. Backup works while the engine runs; restore refuses
 * while it runs (its pid file names a live process), checks the archive first, and replaces the
 * database only once the new copy passed an integrity check. Reads the same configuration as the
 * engine (environment, /etc/vela/engine.conf).
 */
import { execFile } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { loadEngineConfFile } from "../conffile.js";
import { loadConfig } from "../config.js";
import { pgEnv } from "../db/dialect.js";
import { provider } from "../db/migrations.js";
import { Database } from "../deps.js";
import { enginePidFile, runningEnginePid } from "./pidfile.js";

const run = promisify(execFile);
const FORMAT = 1;
/** State files and directories in VELA_HOME, restored as they were (cache and logs are not). */
const STATE = ["admin-password", "registration.token", "pki"];
const TIMEOUT_MS = 30 * 60_000;

interface Manifest {
  format: number;
  kind: "sqlite" | "postgres";
  created: string;
  migrations: string[];
  files: string[];
}

class BackupError extends Error {
  constructor(
    readonly code: "BACKUP_BAD_ARCHIVE" | "BACKUP_ENGINE_RUNNING" | "BACKUP_FAILED" | "BACKUP_USAGE",
    message: string,
  ) {
    super(message);
  }
}

/** libpq's environment for the configured database (the password never on a command line). */
function pgTarget(url: string): NodeJS.ProcessEnv {
  return { ...process.env, ...pgEnv(url) };
}

async function backup(out: string): Promise<Manifest> {
  const cfg = loadConfig();
  const dir = mkdtempSync(join(tmpdir(), "vela-backup-"));
  try {
    const kind = cfg.dbUrl ? "postgres" : "sqlite";
    if (kind === "sqlite") {
      if (!existsSync(cfg.dbFile)) throw new BackupError("BACKUP_FAILED", `no engine database at ${cfg.dbFile}`);
      const db = new Database(cfg.dbFile, { readonly: true, fileMustExist: true });
      try {
        await db.backup(join(dir, "engine.db"));
      } finally {
        db.close();
      }
    } else {
      await run("pg_dump", ["--format=custom", "--no-owner", "--file", join(dir, "engine.pgdump")], { env: pgTarget(cfg.dbUrl as string), timeout: TIMEOUT_MS });
    }
    const files = STATE.filter((f) => existsSync(join(cfg.home, f)));
    for (const f of files) cpSync(join(cfg.home, f), join(dir, "home", f), { recursive: true });
    const manifest: Manifest = { format: FORMAT, kind, created: new Date().toISOString(), migrations: Object.keys(await provider.getMigrations()), files };
    writeFileSync(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    // The archive holds secrets (admin password, CA key): only its owner may read it.
    await run("tar", ["-czf", out, "-C", dir, "."], { timeout: TIMEOUT_MS });
    await run("chmod", ["0600", out]);
    return manifest;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readManifest(dir: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
  } catch {
    throw new BackupError("BACKUP_BAD_ARCHIVE", "not a Vela backup: no readable manifest.json");
  }
  if (m.format !== FORMAT || (m.kind !== "sqlite" && m.kind !== "postgres") || !Array.isArray(m.files)) {
    throw new BackupError("BACKUP_BAD_ARCHIVE", `not a Vela backup this version can restore (format ${String(m.format)})`);
  }
  for (const f of m.files) if (!STATE.includes(f)) throw new BackupError("BACKUP_BAD_ARCHIVE", `unexpected file in the backup: ${f}`);
  return m;
}

async function restore(archive: string): Promise<Manifest> {
  const cfg = loadConfig();
  const pid = runningEnginePid(cfg.home);
  if (pid) throw new BackupError("BACKUP_ENGINE_RUNNING", `the engine is running (pid ${pid}, ${enginePidFile(cfg.home)}): stop it before a restore`);
  const dir = mkdtempSync(join(tmpdir(), "vela-restore-"));
  try {
    // Into our own directory only: GNU tar strips leading "/" and refuses "../" members.
    await run("tar", ["-xzf", archive, "-C", dir, "--no-same-owner"], { timeout: TIMEOUT_MS }).catch((err: Error & { stderr?: string }) => {
      throw new BackupError("BACKUP_BAD_ARCHIVE", `cannot read ${archive}: ${(err.stderr ?? err.message).trim().split("\n")[0]}`);
    });
    const m = readManifest(dir);
    const kind = cfg.dbUrl ? "postgres" : "sqlite";
    if (m.kind !== kind) throw new BackupError("BACKUP_BAD_ARCHIVE", `the backup holds a ${m.kind} database; this engine is configured for ${kind}`);
    if (kind === "sqlite") restoreSqlite(join(dir, "engine.db"), cfg.dbFile);
    else {
      const env = pgTarget(cfg.dbUrl as string);
      const args = ["--clean", "--if-exists", "--no-owner", "--single-transaction", "--dbname", env.PGDATABASE as string, join(dir, "engine.pgdump")];
      await run("pg_restore", args, { env, timeout: TIMEOUT_MS });
    }
    mkdirSync(cfg.home, { recursive: true });
    for (const f of m.files) {
      rmSync(join(cfg.home, f), { recursive: true, force: true });
      cpSync(join(dir, "home", f), join(cfg.home, f), { recursive: true });
    }
    return m;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Checks the copy, then swaps it in; the live file is untouched until the copy is known good. */
function restoreSqlite(copy: string, target: string): void {
  if (!existsSync(copy)) throw new BackupError("BACKUP_BAD_ARCHIVE", "the backup has no engine.db");
  const check = new Database(copy, { fileMustExist: true });
  try {
    const r = check.pragma("integrity_check", { simple: true });
    if (r !== "ok") throw new BackupError("BACKUP_BAD_ARCHIVE", `the backed-up database fails its integrity check: ${String(r)}`);
  } finally {
    check.close();
  }
  const next = `${target}.restoring`;
  copyFileSync(copy, next);
  for (const side of ["-wal", "-shm"]) rmSync(`${target}${side}`, { force: true });
  renameSync(next, target);
}

async function main(argv: string[]): Promise<number> {
  loadEngineConfFile();
  const [cmd, file] = argv;
  if ((cmd !== "backup" && cmd !== "restore") || !file) throw new BackupError("BACKUP_USAGE", "usage: vela backup FILE.tar.gz | vela restore FILE.tar.gz");
  const m = cmd === "backup" ? await backup(file) : await restore(file);
  process.stdout.write(`${cmd === "backup" ? "backed up" : "restored"} the ${m.kind} database (${m.migrations.length} migrations) and ${m.files.join(", ") || "no state files"}: ${file}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const code = err instanceof BackupError ? err.code : "BACKUP_FAILED";
    process.stderr.write(`vela: ${code}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof BackupError && err.code === "BACKUP_USAGE" ? 2 : 1);
  },
);
