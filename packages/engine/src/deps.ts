/**
 * The start-up path's third-party modules, loaded with `require` rather than `import`. On Node 20
 * a synchronous require of a large package (kysely is ~300 ES modules) is ~25–35% quicker than
 * the asynchronous ESM loader, and process start → API-ready has a one-second budget. Types come
 * from the usual type-only imports, so nothing is untyped. Nothing else belongs here.
 */
import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";
import type * as FastifyNs from "fastify";
import type * as KyselyNs from "kysely";
import type * as KyselyMigration from "kysely/migration";
import type * as PgNs from "pg";
import type * as PinoNs from "pino";

const require = createRequire(import.meta.url);

export const kysely = require("kysely") as typeof KyselyNs;
export const kyselyMigration = require("kysely/migration") as typeof KyselyMigration;
export const Database = require("better-sqlite3") as typeof BetterSqlite3;
export const fastify = require("fastify") as typeof FastifyNs;
export const pino = (require("pino") as typeof PinoNs).pino;

/**
 * `pg`, loaded only when VELA_DB_URL chooses PostgreSQL (SQLite starts never pay for it). An
 * import() rather than a require, so that the engine's bundle carries it as a chunk of its own,
 * read only then (required from node_modules it cost a PostgreSQL start ~120 ms of CPU).
 */
export async function loadPg(): Promise<typeof PgNs> {
  return (await import("pg")).default as typeof PgNs;
}
