/**
 * Opens the engine database (SQLite file, or PostgreSQL when VELA_DB_URL says so) and brings its
 * schema to the latest migration. Fails the start-up (throws) rather than run against an
 * unreachable or half-migrated database.
 */
import type { Kysely } from "kysely";
import { kysely, kyselyMigration } from "../deps.js";
import { chooseDialect } from "./dialect.js";
import { provider } from "./migrations.js";
import type { Database } from "./schema.js";

export type Db = Kysely<Database>;

export interface OpenDb {
  db: Db;
  kind: "sqlite" | "postgres";
  /** Where the data lives, safe to log (no password). */
  target: string;
  close(): Promise<void>;
}

export async function openDb(opts: { dbFile: string; url?: string; poolMax?: number }): Promise<OpenDb> {
  const choice = await chooseDialect(opts);
  await choice.ping();
  const db = new kysely.Kysely<Database>({ dialect: choice.dialect });
  if (await upToDate(db)) return { db, kind: choice.kind, target: choice.target, close: () => db.destroy() };
  const migrator = new kyselyMigration.Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    throw new Error(`database migration ${failed ?? ""} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
  return { db, kind: choice.kind, target: choice.target, close: () => db.destroy() };
}

/**
 * True when every migration is already recorded: the usual restart, which then skips the
 * Migrator (its table introspection and lock cost a few hundred ms on PostgreSQL, from a start
 * budget of one second). Anything else — no migration table yet, one missing — migrates.
 */
async function upToDate(db: Db): Promise<boolean> {
  const wanted = Object.keys(await provider.getMigrations());
  try {
    // biome-ignore lint/suspicious/noExplicitAny: the migrator's own table is not in the schema type
    const rows = await (db as Kysely<any>).selectFrom(kyselyMigration.DEFAULT_MIGRATION_TABLE).select("name").execute();
    const done = new Set(rows.map((r: { name: string }) => r.name));
    return wanted.every((n) => done.has(n)) && done.size === wanted.length;
  } catch {
    return false;
  }
}
