/** Updates a quota: name, description and its soft and hard percentages (clients PUT back what they read). */
import { conflict, invalid } from "../errors/fault.js";
import { parseInput } from "../input/input.js";
import type { Quota } from "../db/schema.js";
import { QuotaUpdate } from "../quotas/input.js";
import { mustQuota } from "../quotas/store.js";
import type { CommandDef } from "./command.js";

export const UpdateQuota: CommandDef<{ dcId: string; id: string; body: unknown }, Quota, Quota> = {
  name: "update Quota",
  locks: (i) => [`quota:${i.dcId}`],
  async validate(e, { dcId, id, body }) {
    const q = await mustQuota(e, dcId, id);
    const p = parseInput(QuotaUpdate, body, "Quota", "update");
    if (p.id !== undefined && p.id.toLowerCase() !== q.id) throw invalid("Cannot update Quota: the id cannot change");
    if (p.name !== undefined && p.name !== q.name) {
      const clash = await e.db.selectFrom("quotas").select("id").where("data_center_id", "=", dcId).where("name", "=", p.name).executeTakeFirst();
      if (clash) throw conflict(`Cannot update Quota. The name ${p.name} is already in use in this data center.`);
    }
    const { id: _id, ...set } = p;
    return { ...q, ...Object.fromEntries(Object.entries(set).filter(([, v]) => v !== undefined)) };
  },
  describe: (q) => `Updating Quota ${q.name}`,
  async execute(e, q) {
    const { id, ...set } = q;
    await e.db.updateTable("quotas").set(set).where("id", "=", id).execute();
    return q;
  },
};
