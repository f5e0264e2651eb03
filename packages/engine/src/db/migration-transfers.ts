/**
 * Migration 0013: image transfers (uploads and downloads of disks).
 */
import type { Migration } from "kysely/migration";
import type { AnyDb } from "./migration-db.js";

/** Image transfers (oVirt's /imagetransfers): uploads and downloads of disks through node tickets. */
export const imageTransfers: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable("image_transfers")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("disk_id", "text", (c) => c.notNull())
      .addColumn("image_id", "text", (c) => c.notNull())
      .addColumn("host_id", "text", (c) => c.notNull())
      .addColumn("direction", "text", (c) => c.notNull())
      .addColumn("format", "text", (c) => c.notNull())
      .addColumn("phase", "text", (c) => c.notNull())
      .addColumn("ticket", "text", (c) => c.notNull().unique())
      .addColumn("size", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("transferred", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("inactivity_timeout", "integer", (c) => c.notNull())
      .addColumn("disk_status_before", "text", (c) => c.notNull())
      .addColumn("job_id", "text")
      .addColumn("message", "text")
      .addColumn("created_at", "text", (c) => c.notNull())
      .addColumn("last_updated", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("image_transfers_disk").on("image_transfers").column("disk_id").execute();
  },
};
