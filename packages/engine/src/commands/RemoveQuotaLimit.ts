/** Removes one limit of a quota (by its id: the cluster's or domain's, or the quota's own for the global one). */
import { notFound } from "../errors/fault.js";
import type { QuotaLimit } from "../db/schema.js";
import { type LimitKind, limitsOf, mustQuota } from "../quotas/store.js";
import type { CommandDef } from "./command.js";

export const RemoveQuotaLimit: CommandDef<{ dcId: string; quotaId: string; kind: LimitKind; id: string }, QuotaLimit, void> = {
  name: "remove Quota limit",
  locks: (i) => [`quota:${i.dcId}`],
  async validate(e, i) {
    const q = await mustQuota(e, i.dcId, i.quotaId);
    const l = (await limitsOf(e, q.id, i.kind)).find((x) => x.target_id === i.id);
    if (!l) throw notFound(i.kind === "cluster" ? "QuotaClusterLimit" : "QuotaStorageLimit", i.id);
    return l;
  },
  describe: (l) => `Removing a ${l.kind} limit of quota ${l.quota_id}`,
  async execute(e, l) {
    await e.db.deleteFrom("quota_limits").where("quota_id", "=", l.quota_id).where("kind", "=", l.kind).where("target_id", "=", l.target_id).execute();
  },
};
