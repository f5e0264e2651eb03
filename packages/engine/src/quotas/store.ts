/**
 * Quotas as rows: a data center's quotas and their limits, its default quota, and what each
 * limit's consumers use now — the usage oVirt reports and checks against: vCPUs and memory of
 * the quota's VMs that run (per cluster, or over the data center for a global limit), and the
 * provisioned GiB of the quota's disks, once per volume of each disk's chain — a snapshot's new
 * leaf may grow to the disk's whole size, so oVirt charges it as much (per storage domain, or
 * over the data center). Usage is
 * read from the VMs and disks themselves, so a stopped VM or a removed disk releases what it
 * consumed with nothing to book back. A VM or disk with no quota recorded consumes from its data
 * center's default quota.
 */
import { randomUUID } from "node:crypto";
import { now, num, type Quota, type QuotaLimit } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { notFound } from "../errors/fault.js";

export const QUOTA_MODES = ["disabled", "audit", "enabled"] as const;
export type QuotaMode = (typeof QUOTA_MODES)[number];

export type LimitKind = "cluster" | "storage";

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** What a new quota's thresholds default to (oVirt's configuration defaults): soft 80 %, hard 20 % grace. */
export const DEFAULT_SOFT_PCT = 80;
export const DEFAULT_HARD_PCT = 20;

/** VM states that hold no vCPUs or memory (a VM being created from a template is not running). */
const NOT_RUNNING = ["down", "image_locked"];

export function modeOf(v: string): QuotaMode {
  return (QUOTA_MODES as readonly string[]).includes(v) ? (v as QuotaMode) : "disabled";
}

export async function quotasOf(e: Engine, dcId: string): Promise<Quota[]> {
  return e.db.selectFrom("quotas").selectAll().where("data_center_id", "=", dcId).orderBy("name").execute();
}

export async function quotaById(e: Engine, id: string): Promise<Quota | undefined> {
  return e.db.selectFrom("quotas").selectAll().where("id", "=", id).executeTakeFirst();
}

/** The quota of a data center, or a 404 (also when the quota belongs to another data center). */
export async function mustQuota(e: Engine, dcId: string, quotaId: string): Promise<Quota> {
  const q = await quotaById(e, quotaId);
  if (!q || q.data_center_id !== dcId) throw notFound("Quota", quotaId);
  return q;
}

export async function defaultQuota(e: Engine, dcId: string): Promise<Quota | undefined> {
  return e.db.selectFrom("quotas").selectAll().where("data_center_id", "=", dcId).where("is_default", "=", 1).executeTakeFirst();
}

export async function limitsOf(e: Engine, quotaId: string, kind: LimitKind): Promise<QuotaLimit[]> {
  return e.db.selectFrom("quota_limits").selectAll().where("quota_id", "=", quotaId).where("kind", "=", kind).orderBy("target_id").execute();
}

/** A new data center's default quota: global and unlimited, as oVirt makes one. Returns its id. */
export async function addDefaultQuota(e: Engine, dcId: string, dcName: string): Promise<string> {
  const id = randomUUID();
  const description = `Default unlimited quota of data center ${dcName}`;
  await e.db.insertInto("quotas").values({ id, data_center_id: dcId, name: "Default", description, ...DEFAULT_PCTS, is_default: 1, created_at: now() }).execute();
  await e.db.insertInto("quota_limits").values({ quota_id: id, kind: "cluster", target_id: id, vcpu_limit: -1, memory_limit_mib: -1, storage_limit_gib: null }).execute();
  await e.db.insertInto("quota_limits").values({ quota_id: id, kind: "storage", target_id: id, vcpu_limit: null, memory_limit_mib: null, storage_limit_gib: -1 }).execute();
  return id;
}

export const DEFAULT_PCTS = {
  cluster_soft_limit_pct: DEFAULT_SOFT_PCT,
  cluster_hard_limit_pct: DEFAULT_HARD_PCT,
  storage_soft_limit_pct: DEFAULT_SOFT_PCT,
  storage_hard_limit_pct: DEFAULT_HARD_PCT,
};

/** A data center's quotas, limits and consumers go with it; permissions on its quotas too. */
export async function removeDcQuotas(e: Engine, dcId: string): Promise<void> {
  const ids = (await quotasOf(e, dcId)).map((q) => q.id);
  if (!ids.length) return;
  await e.db.deleteFrom("quota_limits").where("quota_id", "in", ids).execute();
  await e.db.deleteFrom("permissions").where("object_type", "=", "quota").where("object_id", "in", ids).execute();
  await e.db.deleteFrom("quotas").where("id", "in", ids).execute();
}

export interface ClusterUse {
  vcpus: number;
  memMiB: number;
}

/** vCPUs and memory of the quota's running VMs, in one cluster or (null) the whole data center. */
export async function clusterUsage(e: Engine, q: Quota, clusterId: string | null, exceptVm?: string): Promise<ClusterUse> {
  let sel = e.db
    .selectFrom("vms")
    .innerJoin("clusters", "clusters.id", "vms.cluster_id")
    .select(["vms.id", "vms.cpu_sockets", "vms.cpu_cores", "vms.cpu_threads", "vms.memory"])
    .where("clusters.data_center_id", "=", q.data_center_id)
    .where("vms.status", "not in", NOT_RUNNING)
    .where((w) => (q.is_default ? w.or([w("vms.quota_id", "=", q.id), w("vms.quota_id", "is", null)]) : w("vms.quota_id", "=", q.id)));
  if (clusterId) sel = sel.where("vms.cluster_id", "=", clusterId);
  const use = { vcpus: 0, memMiB: 0 };
  for (const v of await sel.execute()) {
    if (v.id === exceptVm) continue;
    use.vcpus += v.cpu_sockets * v.cpu_cores * v.cpu_threads;
    use.memMiB += num(v.memory) / MiB;
  }
  return use;
}

/** Provisioned GiB of the quota's disks, on one domain or (null) every domain of the data center. */
export async function storageUsage(e: Engine, q: Quota, domainId: string | null): Promise<number> {
  const domains = e.db.selectFrom("storage_domain_attachments").select("storage_domain_id").where("data_center_id", "=", q.data_center_id);
  let sel = e.db
    .selectFrom("disks")
    .select((eb) => ["provisioned_size", eb.selectFrom("images").select(eb.fn.countAll().as("n")).whereRef("images.disk_id", "=", "disks.id").as("volumes")])
    .where("storage_domain_id", "in", domains)
    .where((w) => (q.is_default ? w.or([w("quota_id", "=", q.id), w("quota_id", "is", null)]) : w("quota_id", "=", q.id)));
  if (domainId) sel = sel.where("storage_domain_id", "=", domainId);
  let bytes = 0;
  // a disk with no image rows yet (being added) holds one volume
  for (const d of await sel.execute()) bytes += num(d.provisioned_size) * Math.max(1, Number(d.volumes ?? 1));
  return bytes / GiB;
}

/** How many volumes a disk's chain has (its image rows; at least one). */
export async function volumeCount(e: Engine, diskId: string): Promise<number> {
  const r = await e.db.selectFrom("images").select((eb) => eb.fn.countAll().as("n")).where("disk_id", "=", diskId).executeTakeFirst();
  return Math.max(1, Number(r?.n ?? 1));
}

/** The data center a storage domain is attached to (none: unattached). */
export async function dcOfDomain(e: Engine, domainId: string): Promise<string | undefined> {
  return (await e.db.selectFrom("storage_domain_attachments").select("data_center_id").where("storage_domain_id", "=", domainId).executeTakeFirst())?.data_center_id;
}
