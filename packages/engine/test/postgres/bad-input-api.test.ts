/**
 * ../bad-input-api.test.ts again, with every engine on a fresh database of a private PostgreSQL server
 * (test/pg.ts): the same tests must pass on both databases.
 */
process.env.VELA_TEST_DB = "postgres";
await import("../bad-input-api.test.js");
