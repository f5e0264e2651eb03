/**
 * ../events-hosts.test.ts again, with every engine on a fresh database of a private PostgreSQL
 * server (test/pg.ts): events (migration 0006, ids, paging) must work on both databases.
 */
process.env.VELA_TEST_DB = "postgres";
await import("../events-hosts.test.js");
