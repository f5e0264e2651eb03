/** ../backup.test.ts on PostgreSQL (pg_dump / pg_restore of a private server's database). */
process.env.VELA_TEST_DB = "postgres";
await import("../backup.test.js");
