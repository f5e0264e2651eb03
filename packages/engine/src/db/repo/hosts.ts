/**
 * Hosts by data center: a host belongs to a data center through its cluster, a join every SPM,
 * pool and domain decision needs. Written once here.
 */
import type { Engine } from "../../engine.js";
import type { Host } from "../schema.js";

interface Which {
  /** Only hosts with this status (e.g. `up`). */
  status?: string;
  /** SPM candidates first: highest `spm_priority`, then lowest `spm_id` (else by `spm_id`). */
  bySpmPriority?: boolean;
}

/** Hosts of the data center's clusters. */
export async function hostsOfDc(e: Engine, dcId: string, which: Which | string = {}): Promise<Host[]> {
  const w: Which = typeof which === "string" ? { status: which } : which;
  let q = e.db.selectFrom("hosts").innerJoin("clusters", "clusters.id", "hosts.cluster_id").selectAll("hosts").where("clusters.data_center_id", "=", dcId);
  if (w.status) q = q.where("hosts.status", "=", w.status);
  if (w.bySpmPriority) q = q.orderBy("hosts.spm_priority", "desc");
  return q.orderBy("hosts.spm_id").execute();
}

/** The data center a host belongs to (through its cluster), if any. */
export async function dcIdOfHost(e: Engine, hostId: string): Promise<string | undefined> {
  const row = await e.db
    .selectFrom("hosts")
    .innerJoin("clusters", "clusters.id", "hosts.cluster_id")
    .select("clusters.data_center_id as dc")
    .where("hosts.id", "=", hostId)
    .executeTakeFirst();
  return row?.dc ?? undefined;
}
