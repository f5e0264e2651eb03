/**
 * The database handle migrations get: untyped on purpose, because a migration runs against the
 * schema as it was when it was written, not the `Database` of today.
 */
import type { Kysely } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema as it was then
export type AnyDb = Kysely<any>;
