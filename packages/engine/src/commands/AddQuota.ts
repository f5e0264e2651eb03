/** Adds a quota to a data center (no limits yet: limits are added under it). */
import { randomUUID } from "node:crypto";
import { conflict } from "../errors/fault.js";
import { parseInput } from "../input/input.js";
import { now, type Quota } from "../db/schema.js";
import { mustById } from "../db/repo/entities.js";
import { QuotaInput } from "../quotas/input.js";
import { DEFAULT_HARD_PCT, DEFAULT_SOFT_PCT } from "../quotas/store.js";
import type { CommandDef } from "./command.js";

export const AddQuota: CommandDef<{ dcId: string; body: unknown }, Quota, Quota> = {
  name: "add Quota",
  locks: (i) => [`quota:${i.dcId}`],
  async validate(e, { dcId, body }) {
    const dc = await mustById(e, "data_centers", dcId);
    const p = parseInput(QuotaInput, body, "Quota");
    const clash = await e.db.selectFrom("quotas").select("id").where("data_center_id", "=", dc.id).where("name", "=", p.name).executeTakeFirst();
    if (clash) throw conflict(`Cannot add Quota. The name ${p.name} is already in use in data center ${dc.name}.`);
    return {
      id: randomUUID(),
      data_center_id: dc.id,
      name: p.name,
      description: p.description ?? "",
      cluster_soft_limit_pct: p.cluster_soft_limit_pct ?? DEFAULT_SOFT_PCT,
      cluster_hard_limit_pct: p.cluster_hard_limit_pct ?? DEFAULT_HARD_PCT,
      storage_soft_limit_pct: p.storage_soft_limit_pct ?? DEFAULT_SOFT_PCT,
      storage_hard_limit_pct: p.storage_hard_limit_pct ?? DEFAULT_HARD_PCT,
      is_default: 0,
      created_at: now(),
    };
  },
  describe: (q) => `Adding Quota ${q.name}`,
  async execute(e, q) {
    await e.db.insertInto("quotas").values(q).execute();
    return q;
  },
};
