/**
 * Migration 0020: oVirt's quotas. A data center's quota mode (disabled | audit | enabled), its
 * quotas (thresholds in %, as oVirt keeps them: soft = the warning level, hard = the grace above
 * the limit), their cluster and storage limits (one global limit, or one per cluster / storage
 * domain), and the quota a VM or disk consumes from. Every existing data center gets its default
 * quota (unlimited, as oVirt creates one with each data center), and its VMs and disks consume
 * from it.
 */
import { randomUUID } from "node:crypto";
import type { Migration } from "kysely/migration";
import type { AnyDb } from "./migration-db.js";

/** The thresholds oVirt's configuration gives a new quota: a warning past 80 %, refusal past 120 %. */
export const DEFAULT_SOFT_PCT = 80;
export const DEFAULT_HARD_PCT = 20;

export const quotas: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable("data_centers").addColumn("quota_mode", "text", (c) => c.notNull().defaultTo("disabled")).execute();
    await db.schema
      .createTable("quotas")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("data_center_id", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("cluster_soft_limit_pct", "integer", (c) => c.notNull().defaultTo(DEFAULT_SOFT_PCT))
      .addColumn("cluster_hard_limit_pct", "integer", (c) => c.notNull().defaultTo(DEFAULT_HARD_PCT))
      .addColumn("storage_soft_limit_pct", "integer", (c) => c.notNull().defaultTo(DEFAULT_SOFT_PCT))
      .addColumn("storage_hard_limit_pct", "integer", (c) => c.notNull().defaultTo(DEFAULT_HARD_PCT))
      .addColumn("is_default", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("created_at", "text", (c) => c.notNull())
      .addUniqueConstraint("quotas_dc_name", ["data_center_id", "name"])
      .execute();
    // A limit's id is oVirt's: the cluster's or domain's id, or the quota's own for a global limit.
    await db.schema
      .createTable("quota_limits")
      .addColumn("quota_id", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("target_id", "text", (c) => c.notNull())
      .addColumn("vcpu_limit", "integer")
      .addColumn("memory_limit_mib", "bigint")
      .addColumn("storage_limit_gib", "bigint")
      .addPrimaryKeyConstraint("quota_limits_pk", ["quota_id", "kind", "target_id"])
      .execute();
    await db.schema.alterTable("vms").addColumn("quota_id", "text").execute();
    await db.schema.alterTable("disks").addColumn("quota_id", "text").execute();
    const at = new Date().toISOString();
    for (const dc of await db.selectFrom("data_centers").select(["id", "name"]).execute()) {
      const id = await insertDefaultQuota(db, dc.id, dc.name, at);
      const clusters = db.selectFrom("clusters").select("id").where("data_center_id", "=", dc.id);
      await db.updateTable("vms").set({ quota_id: id }).where("cluster_id", "in", clusters).execute();
      const domains = db.selectFrom("storage_domain_attachments").select("storage_domain_id").where("data_center_id", "=", dc.id);
      await db.updateTable("disks").set({ quota_id: id }).where("storage_domain_id", "in", domains).execute();
    }
  },
};

/** A data center's default quota: global, unlimited vCPUs, memory and storage. Returns its id. */
export async function insertDefaultQuota(db: AnyDb, dcId: string, dcName: string, at: string): Promise<string> {
  const id = randomUUID();
  await db
    .insertInto("quotas")
    .values({ id, data_center_id: dcId, name: "Default", description: `Default unlimited quota of data center ${dcName}`.slice(0, 4000), is_default: 1, created_at: at })
    .execute();
  await db.insertInto("quota_limits").values({ quota_id: id, kind: "cluster", target_id: id, vcpu_limit: -1, memory_limit_mib: -1, storage_limit_gib: null }).execute();
  await db.insertInto("quota_limits").values({ quota_id: id, kind: "storage", target_id: id, vcpu_limit: null, memory_limit_mib: null, storage_limit_gib: -1 }).execute();
  return id;
}
