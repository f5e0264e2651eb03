/**
 * Chooses the SQL dialect. SQLite (better-sqlite3) is the default and the only one built so far;
 * PostgreSQL plugs in here (a `PostgresDialect` over `pg`) when VELA_DB_URL names one, with the
 * same migrations and repositories. Never opens more than one database.
 */
import type { Dialect } from "kysely";
import { Database, kysely } from "../deps.js";

export interface DialectChoice {
  dialect: Dialect;
  kind: "sqlite" | "postgres";
  close(): void;
}

export function sqliteDialect(file: string): DialectChoice {
  const sqlite = new Database(file);
  // WAL: readers do not block the writer; NORMAL sync is durable across process crashes.
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  return { dialect: new kysely.SqliteDialect({ database: sqlite }), kind: "sqlite", close: () => sqlite.close() };
}

export function chooseDialect(opts: { dbFile: string; url?: string }): DialectChoice {
  if (opts.url && /^postgres(ql)?:\/\//.test(opts.url)) {
    throw new Error("PostgreSQL is not built yet: add a PostgresDialect in db/dialect.ts");
  }
  return sqliteDialect(opts.dbFile);
}
