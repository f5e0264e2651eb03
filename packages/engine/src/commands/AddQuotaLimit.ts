/**
 * Sets a limit of a quota (POST …/quotaclusterlimits or …/quotastoragelimits): for one cluster or
 * storage domain of the quota's data center, or (none named) global over the whole data center.
 * A quota has either one global limit of a kind or limits per cluster / domain, as in oVirt; the
 * same target again replaces its limit. Absent values are unlimited (-1).
 */
import type { z } from "zod";
import { conflict, invalid } from "../errors/fault.js";
import { parseInput } from "../input/input.js";
import type { QuotaLimit } from "../db/schema.js";
import { byRef } from "../db/repo/entities.js";
import { ClusterLimitInput, StorageLimitInput } from "../quotas/input.js";
import { type LimitKind, limitsOf, mustQuota } from "../quotas/store.js";
import type { CommandDef } from "./command.js";

interface In {
  dcId: string;
  quotaId: string;
  kind: LimitKind;
  body: unknown;
}

/** The limit's target: a cluster or domain of the data center, or the quota itself (global). */
async function targetOf(e: Parameters<typeof byRef>[0], i: In, named: z.output<typeof ClusterLimitInput>["cluster"]): Promise<string | undefined> {
  if (!named) return undefined;
  if (i.kind === "cluster") {
    const c = await byRef(e, "clusters", named);
    if (c.data_center_id !== i.dcId) throw invalid(`Cannot add Quota limit: cluster ${c.name} belongs to another data center`);
    return c.id;
  }
  const sd = await byRef(e, "storage_domains", named);
  const att = await e.db.selectFrom("storage_domain_attachments").select("data_center_id").where("storage_domain_id", "=", sd.id).executeTakeFirst();
  if (att?.data_center_id !== i.dcId) throw invalid(`Cannot add Quota limit: storage domain ${sd.name} is not attached to the quota's data center`);
  return sd.id;
}

export const AddQuotaLimit: CommandDef<In, { limit: QuotaLimit; replaces: boolean }, QuotaLimit> = {
  name: "add Quota limit",
  locks: (i) => [`quota:${i.dcId}`],
  async validate(e, i) {
    const q = await mustQuota(e, i.dcId, i.quotaId);
    let limit: QuotaLimit;
    if (i.kind === "cluster") {
      const p = parseInput(ClusterLimitInput, i.body, "QuotaClusterLimit");
      const target = (await targetOf(e, i, p.cluster)) ?? q.id;
      const mib = p.memory_limit === undefined || p.memory_limit === -1 ? -1 : Math.round(p.memory_limit * 1024);
      limit = { quota_id: q.id, kind: "cluster", target_id: target, vcpu_limit: p.vcpu_limit ?? -1, memory_limit_mib: mib, storage_limit_gib: null };
    } else {
      const p = parseInput(StorageLimitInput, i.body, "QuotaStorageLimit");
      const target = (await targetOf(e, i, p.storage_domain)) ?? q.id;
      limit = { quota_id: q.id, kind: "storage", target_id: target, vcpu_limit: null, memory_limit_mib: null, storage_limit_gib: p.limit ?? -1 };
    }
    const others = await limitsOf(e, q.id, i.kind);
    const global = limit.target_id === q.id;
    if (others.some((l) => l.target_id !== limit.target_id && (l.target_id === q.id) !== global)) {
      throw conflict(`Cannot add Quota limit: quota ${q.name} has ${global ? "limits per " + (i.kind === "cluster" ? "cluster" : "storage domain") : "a global limit"}; a quota has either one global ${i.kind} limit or limits per ${i.kind === "cluster" ? "cluster" : "storage domain"} (remove the others first)`);
    }
    return { limit, replaces: others.some((l) => l.target_id === limit.target_id) };
  },
  describe: (p) => `Setting a ${p.limit.kind} limit of quota ${p.limit.quota_id}`,
  async execute(e, { limit, replaces }) {
    if (replaces) {
      await e.db.updateTable("quota_limits").set(limit).where("quota_id", "=", limit.quota_id).where("kind", "=", limit.kind).where("target_id", "=", limit.target_id).execute();
    } else {
      await e.db.insertInto("quota_limits").values(limit).execute();
    }
    return limit;
  },
};
