/**
 * Chooses the SQL dialect: SQLite (better-sqlite3, a file in VELA_HOME) by default, PostgreSQL (a
 * Kysely `PostgresDialect` over a `pg` pool) when VELA_DB_URL is a postgres:// URL. Both run the
 * same migrations and queries. Never opens more than one database, and never puts the URL's
 * password in a message: errors and logs name the server by `describePgUrl`.
 */
import type { Dialect } from "kysely";
import type * as PgNs from "pg";
import { Database, kysely, loadPg } from "../deps.js";

export interface DialectChoice {
  dialect: Dialect;
  kind: "sqlite" | "postgres";
  /** Where the data lives, safe to log (a file path, or user@host:port/db without password). */
  target: string;
  /** Proves the database answers (PostgreSQL: a first connection); throws a clear error if not. */
  ping(): Promise<void>;
  close(): void;
}

/** Stable error codes of a start that cannot reach its database. */
export const DB_URL_INVALID = "DB_URL_INVALID";
export const DB_UNREACHABLE = "DB_UNREACHABLE";

export class DbConfigError extends Error {
  constructor(
    readonly code: typeof DB_URL_INVALID | typeof DB_UNREACHABLE,
    message: string,
  ) {
    super(message);
    this.name = "DbConfigError";
  }
}

export function sqliteDialect(file: string): DialectChoice {
  const sqlite = new Database(file);
  // WAL: readers do not block the writer; NORMAL sync is durable across process crashes.
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  return {
    dialect: new kysely.SqliteDialect({ database: sqlite }),
    kind: "sqlite",
    target: file,
    ping: async () => undefined,
    close: () => sqlite.close(),
  };
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * The URL as user@host:port/database, without its password (and without query parameters, which
 * may carry one too). A unix-socket server (`?host=/dir`) is shown by its directory.
 */
export function describePgUrl(url: string): string {
  const u = parsePgUrl(url);
  // A `host` parameter wins over the URL's host, as in libpq and `pg`.
  const socket = u.searchParams.get("host");
  const where = socket ?? `${u.hostname ? decodeURIComponent(u.hostname) : "localhost"}:${u.port || "5432"}`;
  const name = u.searchParams.get("user") ?? decodeURIComponent(u.username);
  const user = name ? `${name}@` : "";
  return `postgres://${user}${where}${u.pathname || "/"}`;
}

/**
 * The URL as libpq environment variables, for PostgreSQL's own programs (pg_dump, pg_restore):
 * the password travels in PGPASSWORD, never on a command line where `ps` would show it.
 */
export function pgEnv(url: string): Record<string, string> {
  const u = parsePgUrl(url);
  const env: Record<string, string> = { PGDATABASE: decodeURIComponent(u.pathname.slice(1)) };
  const socket = u.searchParams.get("host");
  env.PGHOST = socket ?? (u.hostname ? decodeURIComponent(u.hostname) : "localhost");
  if (u.port) env.PGPORT = u.port;
  const user = u.searchParams.get("user") ?? decodeURIComponent(u.username);
  if (user) env.PGUSER = user;
  const password = u.searchParams.get("password") ?? decodeURIComponent(u.password);
  if (password) env.PGPASSWORD = password;
  const sslmode = u.searchParams.get("sslmode");
  if (sslmode) env.PGSSLMODE = sslmode;
  return env;
}

function parsePgUrl(url: string): URL {
  let u: URL;
  try {
    // `postgres://user@/db?host=/socket/dir` (no host, as `pg` allows) is not a WHATWG URL.
    u = new URL(url.replace(/@\//, "@localhost/"));
  } catch {
    // The URL's own text is not repeated: it may hold a password.
    throw new DbConfigError(DB_URL_INVALID, "VELA_DB_URL is not a valid URL (expected postgres://user:password@host:port/database)");
  }
  if (!/^postgres(ql)?:$/i.test(u.protocol)) throw new DbConfigError(DB_URL_INVALID, `VELA_DB_URL must be a postgres:// URL, not ${u.protocol}//…`);
  if (u.pathname.length <= 1) throw new DbConfigError(DB_URL_INVALID, "VELA_DB_URL names no database (expected postgres://user:password@host:port/database)");
  if (u.port && !(Number(u.port) >= 1 && Number(u.port) <= 65535)) throw new DbConfigError(DB_URL_INVALID, "VELA_DB_URL has a bad port");
  return u;
}

/**
 * int8 (bigint, count(*)) and numeric (sum()) come back from `pg` as strings by default; the
 * engine's sizes and counts are numbers below 2^53, and SQLite returns them as numbers, so both
 * databases hand the code the same JavaScript types.
 */
function numberTypes(pg: typeof PgNs): PgNs.CustomTypesConfig {
  const INT8 = 20;
  const NUMERIC = 1700;
  return {
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
      oid === INT8 || oid === NUMERIC ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? "text")) as PgNs.CustomTypesConfig["getTypeParser"],
  };
}

export async function postgresDialect(url: string, poolMax: number): Promise<DialectChoice> {
  const target = describePgUrl(url);
  const pg = await loadPg();
  const pool = new pg.Pool({
    connectionString: url,
    // The engine's requests are short; a few connections keep 2 cores busy. More only adds
    // server processes (one per connection on PostgreSQL).
    max: poolMax,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    types: numberTypes(pg),
    application_name: "vela-engine",
  });
  // A connection dropped while idle (server restart) must not crash the engine; the pool
  // replaces it on next use, and queries on a dead server fail in their own request.
  pool.on("error", () => undefined);
  return {
    dialect: new kysely.PostgresDialect({ pool }),
    kind: "postgres",
    target,
    async ping() {
      try {
        const c = await pool.connect();
        c.release();
      } catch (err) {
        const why = (err as Error).message || (err as { code?: string }).code || String(err);
        await pool.end().catch(() => undefined);
        throw new DbConfigError(DB_UNREACHABLE, `cannot reach PostgreSQL at ${target}: ${why}`);
      }
    },
    close: () => void pool.end().catch(() => undefined),
  };
}

export async function chooseDialect(opts: { dbFile: string; url?: string; poolMax?: number }): Promise<DialectChoice> {
  if (opts.url) {
    if (!isPostgresUrl(opts.url)) throw new DbConfigError(DB_URL_INVALID, "VELA_DB_URL must be a postgres:// URL (unset it for the embedded SQLite database)");
    return postgresDialect(opts.url, opts.poolMax ?? 10);
  }
  return sqliteDialect(opts.dbFile);
}
