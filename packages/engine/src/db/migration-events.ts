/**
 * Migration 0006: the audit log behind `/events` (oVirt's audit_log): one row per event, ids
 * increasing (clients poll with `from=<last id>`), with the objects it concerns.
 */
import type { Migration } from "kysely/migration";
import type { AnyDb } from "./migration-db.js";

export const events: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable("events")
      .addColumn("id", "integer", (c) => c.primaryKey())
      .addColumn("code", "integer", (c) => c.notNull())
      .addColumn("severity", "text", (c) => c.notNull())
      .addColumn("description", "text", (c) => c.notNull())
      .addColumn("time", "text", (c) => c.notNull())
      .addColumn("vm_id", "text")
      .addColumn("host_id", "text")
      .addColumn("storage_domain_id", "text")
      .addColumn("data_center_id", "text")
      .addColumn("cluster_id", "text")
      .addColumn("correlation_id", "text")
      .execute();
  },
};
