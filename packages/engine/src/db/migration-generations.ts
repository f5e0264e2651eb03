/**
 * Migration 0017: generation numbers that let the engine keep what it read from the database (a
 * user's permissions; the rendered list of every VM — issue 12's speed work) without ever serving
 * it stale. One row per kind of data in `generations`; a trigger on every table the data is read
 * from bumps the row in the writing transaction itself, so any writer — this engine, the CLI
 * (`vela user`/`vela group`), a standby engine on the same PostgreSQL, an administrator's `psql` —
 * invalidates every engine's kept copy from its next request on, and a reader that sees
 * generation N also sees every write that made it N. Triggers, not repository code, because
 * other processes write these tables.
 */
import type { Migration } from "kysely/migration";
import { kysely } from "../deps.js";
import type { AnyDb } from "./migration-db.js";

/** Which tables bump which generation. */
export const GENERATION_TABLES: Record<string, readonly string[]> = {
  // what a permission check reads: permission rows, custom roles (their permits), groups and memberships
  permissions: ["permissions", "roles", "groups", "group_members"],
  // what the full VM list is rendered from (a VM's view is a function of its row: views.ts)
  vms: ["vms"],
};

function isPostgres(db: AnyDb): boolean {
  return db.getExecutor().adapter instanceof kysely.PostgresAdapter;
}

export const generations: Migration = {
  async up(db: AnyDb) {
    const { sql } = kysely;
    await db.schema
      .createTable("generations")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("n", "bigint", (c) => c.notNull().defaultTo(0))
      .execute();
    const pg = isPostgres(db);
    if (pg) {
      // one function for every table: the generation's name is the trigger's argument. Per
      // statement, so a bulk write bumps once.
      await sql
        .raw(
          "CREATE FUNCTION vela_bump_generation() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE generations SET n = n + 1 WHERE name = TG_ARGV[0]; RETURN NULL; END $$",
        )
        .execute(db);
    }
    for (const [name, tables] of Object.entries(GENERATION_TABLES)) {
      await db.insertInto("generations").values({ name, n: 1 }).execute();
      for (const t of tables) {
        if (pg) {
          await sql
            .raw(`CREATE TRIGGER gen_${name}_${t} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION vela_bump_generation('${name}')`)
            .execute(db);
          continue;
        }
        // SQLite: row triggers only, one per kind of write
        for (const op of ["INSERT", "UPDATE", "DELETE"]) {
          await sql.raw(`CREATE TRIGGER gen_${name}_${t}_${op.toLowerCase()} AFTER ${op} ON ${t} BEGIN UPDATE generations SET n = n + 1 WHERE name = '${name}'; END`).execute(db);
        }
      }
    }
  },
};
