/**
 * Test kit: a private, throw-away PostgreSQL 15 server (Debian's binaries, no system service) for
 * one test process, and a fresh database per engine. The cluster is made with `initdb` in the
 * run's TMPDIR and listens only on a unix socket in its own directory, so parallel test files and
 * other users' servers never meet. Tests run as root, which PostgreSQL refuses: the server runs
 * as the `postgres` user. It is stopped and removed when the process exits or is interrupted
 * (and `vela test` stops any left behind by a killed process before it removes the TMPDIR).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { basename, dirname, join } from "node:path";
import pg from "pg";

/** Where Debian puts the server programs (they are not on PATH). */
export const PG_BIN = process.env.VELA_PG_BIN || "/usr/lib/postgresql/15/bin";

export function pgInstalled(): boolean {
  return existsSync(join(PG_BIN, "initdb")) && existsSync(join(PG_BIN, "pg_ctl"));
}

export interface PgServer {
  /** Directory of the server's unix socket. */
  socketDir: string;
  dataDir: string;
  /** A URL for `database` as the superuser over the socket (trust auth: no password). */
  url(database: string): string;
  /** A new empty database (UTF-8, C collation as SQLite's BINARY) and its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** The server log, for failure messages. */
  log(): string;
  stop(): void;
}

const SUPERUSER = "postgres";

/** Runs a server program, as the postgres user when we are root; throws with its output. */
function run(prog: string, args: string[], cwd: string): string {
  const asRoot = userInfo().uid === 0;
  const [cmd, argv] = asRoot ? ["runuser", ["-u", SUPERUSER, "--", join(PG_BIN, prog), ...args]] : [join(PG_BIN, prog), args];
  const r = spawnSync(cmd, argv, { cwd, encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${prog} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Lets the postgres user reach `dir` (through the run's 0700 TMPDIR) and own it. */
function handOver(dir: string): void {
  if (userInfo().uid !== 0) return;
  const uid = Number(spawnSync("id", ["-u", SUPERUSER], { encoding: "utf8" }).stdout.trim());
  const gid = Number(spawnSync("id", ["-g", SUPERUSER], { encoding: "utf8" }).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`no ${SUPERUSER} user to run PostgreSQL as (install Debian's postgresql)`);
  // Search (x) only, no listing: enough to reach the cluster directory by name. Only the run's
  // own private directories (TMPDIR and `vela test`'s vt-* above it, when runs nest) are opened.
  for (let d = tmpdir(); d !== dirname(d); d = dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) !== 0) break;
    if (d !== tmpdir() && !basename(d).startsWith("vt-")) throw new Error(`the ${SUPERUSER} user cannot reach ${d} (mode ${(mode & 0o7777).toString(8)}): choose a TMPDIR it can search`);
    chmodSync(d, (mode & 0o7777) | 0o011);
  }
  chownSync(dir, uid, gid);
}

export function startPgServer(): PgServer {
  if (!pgInstalled()) throw new Error(`PostgreSQL server programs not found in ${PG_BIN} (Debian package postgresql; ./vela installs it)`);
  const base = mkdtempSync(join(tmpdir(), "pg-"));
  handOver(base);
  const dataDir = join(base, "data");
  const socketDir = base;
  const logFile = join(base, "server.log");
  run("initdb", ["-D", dataDir, "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"], base);
  // Throw-away data: no durability work. No TCP listener: only the socket in our directory.
  const opts = ["-c listen_addresses=''", `-c unix_socket_directories='${socketDir}'`, "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off", "-c shared_buffers=32MB", "-c max_connections=200"].join(" ");
  run("pg_ctl", ["-D", dataDir, "-l", logFile, "-o", opts, "-w", "-t", "60", "start"], base);
  let stopped = false;
  const server: PgServer = {
    socketDir,
    dataDir,
    url: (database) => `postgres://${SUPERUSER}@/${encodeURIComponent(database)}?host=${encodeURIComponent(socketDir)}`,
    async createDatabase(prefix = "vela") {
      const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
      const c = new pg.Client({ connectionString: server.url("postgres") });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name}"`);
      } finally {
        await c.end();
      }
      return server.url(name);
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8").slice(-4000) : ""),
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"], base);
      } catch {
        /* already gone */
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
  process.once("exit", () => server.stop());
  // Ctrl-C / SIGTERM skip "exit" handlers unless the process exits by itself: do it here (the
  // handler is only added where nothing else handles the signal, so test runners keep theirs).
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    if (process.listenerCount(sig) === 0)
      process.once(sig, () => {
        server.stop();
        process.exit(130);
      });
  }
  return server;
}

let shared: PgServer | undefined;

/** The process's one server, started on first use. */
export function pgServer(): PgServer {
  shared ??= startPgServer();
  return shared;
}

/** Which database engines started by the test support use: VELA_TEST_DB=postgres, else SQLite. */
export function testDb(): "sqlite" | "postgres" {
  return process.env.VELA_TEST_DB === "postgres" ? "postgres" : "sqlite";
}

/** Per engine home, the database it was given, so a restart with the same home finds its data. */
const byHome = new Map<string, string>();

/** The VELA_DB_URL for an engine with this home (a fresh database on its first start). */
export async function databaseFor(home: string): Promise<string> {
  let url = byHome.get(home);
  if (!url) {
    mkdirSync(home, { recursive: true });
    url = await pgServer().createDatabase();
    byHome.set(home, url);
  }
  return url;
}
