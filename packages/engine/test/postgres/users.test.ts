/**
 * ../users.test.ts again, with the engine (and `vela user`) on a fresh database of a private
 * PostgreSQL server (test/pg.ts): migration 0007 and the permission queries on both databases.
 */
process.env.VELA_TEST_DB = "postgres";
await import("../users.test.js");
