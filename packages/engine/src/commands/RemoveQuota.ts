/**
 * Removes a quota. The data center's default quota stays (it is what VMs and disks fall back
 * on); the VMs and disks that consumed from the removed quota move to the default, as oVirt
 * moves them. Its limits and the permissions on it go with it.
 */
import { conflict } from "../errors/fault.js";
import type { Quota } from "../db/schema.js";
import { defaultQuota, mustQuota } from "../quotas/store.js";
import type { CommandDef } from "./command.js";

export const RemoveQuota: CommandDef<{ dcId: string; id: string }, { q: Quota; fallback: string }, void> = {
  name: "remove Quota",
  locks: (i) => [`quota:${i.dcId}`],
  async validate(e, { dcId, id }) {
    const q = await mustQuota(e, dcId, id);
    if (q.is_default) throw conflict(`Cannot remove Quota ${q.name}: it is the data center's default quota`);
    const def = await defaultQuota(e, dcId);
    if (!def) throw conflict(`Cannot remove Quota ${q.name}: the data center has no default quota to move its VMs and disks to`);
    return { q, fallback: def.id };
  },
  describe: (p) => `Removing Quota ${p.q.name}`,
  async execute(e, { q, fallback }) {
    await e.db.transaction().execute(async (tx) => {
      await tx.updateTable("vms").set({ quota_id: fallback }).where("quota_id", "=", q.id).execute();
      await tx.updateTable("disks").set({ quota_id: fallback }).where("quota_id", "=", q.id).execute();
      await tx.deleteFrom("quota_limits").where("quota_id", "=", q.id).execute();
      await tx.deleteFrom("permissions").where("object_type", "=", "quota").where("object_id", "=", q.id).execute();
      await tx.deleteFrom("quotas").where("id", "=", q.id).execute();
    });
  },
};
