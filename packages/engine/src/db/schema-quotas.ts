/**
 * The quota tables of the engine database (migration 0020, `migration-quotas.ts`), beside
 * schema.ts as the network tables are: oVirt's quotas per data center and their limits.
 */

/** A data center's quota (migration 0020); soft/hard are oVirt's threshold and grace, in %. */
export interface QuotasTable {
  id: string;
  data_center_id: string;
  name: string;
  description: string;
  cluster_soft_limit_pct: number;
  cluster_hard_limit_pct: number;
  storage_soft_limit_pct: number;
  storage_hard_limit_pct: number;
  /** 1 for the data center's default quota (made with it, never removed). */
  is_default: number;
  created_at: string;
}

/** One limit of a quota: kind cluster (vCPUs, memory) or storage (GiB); target = cluster / domain id, or the quota's id (global). -1 = unlimited. */
export interface QuotaLimitsTable {
  quota_id: string;
  kind: string;
  target_id: string;
  vcpu_limit: number | null;
  memory_limit_mib: number | null;
  storage_limit_gib: number | null;
}
