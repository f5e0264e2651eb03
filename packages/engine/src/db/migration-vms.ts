/**
 * Migration 0012: CD-ROM media, memory over-commit, and the user an event was caused by.
 */
import type { Migration } from "kysely/migration";
import type { AnyDb } from "./migration-db.js";

/**
 * A VM's CD-ROM medium (the configured one, used at the next start, and the one in the running
 * VM's drive), and memory over-commit: ballooning per VM and cluster, the cluster's over-commit
 * percentage and KSM switch; and the user an event was caused by.
 */
export const cdromsMemory: Migration = {
  async up(db: AnyDb) {
    for (const col of ["cdrom_file", "cdrom_domain_id", "cdrom_current_file", "cdrom_current_domain_id"]) {
      await db.schema.alterTable("vms").addColumn(col, "text").execute();
    }
    await db.schema.alterTable("vms").addColumn("ballooning", "integer", (c) => c.notNull().defaultTo(1)).execute();
    await db.schema.alterTable("clusters").addColumn("ballooning", "integer", (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable("clusters").addColumn("over_commit_percent", "integer", (c) => c.notNull().defaultTo(100)).execute();
    await db.schema.alterTable("clusters").addColumn("ksm", "integer", (c) => c.notNull().defaultTo(0)).execute();
    // events name the user who caused them (issue 12)
    await db.schema.alterTable("events").addColumn("user_id", "text").execute();
  },
};
