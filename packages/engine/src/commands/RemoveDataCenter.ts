/** Removes an empty data center: no clusters, no attached storage domains. */
import { conflict } from "../errors/fault.js";
import type { DataCenter } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { removeDcNetworks } from "../db/repo/networks.js";
import { mustById } from "../db/repo/entities.js";
import { removeDcQuotas } from "../quotas/store.js";

export const RemoveDataCenter: CommandDef<{ id: string }, DataCenter, void> = {
  name: "remove Data Center",
  locks: (i) => [`dc:${i.id}`],
  async validate(e, { id }) {
    const dc = await mustById(e, "data_centers", id);
    const cluster = await e.db.selectFrom("clusters").select("name").where("data_center_id", "=", id).executeTakeFirst();
    if (cluster) throw conflict(`Cannot remove Data Center ${dc.name}: cluster ${cluster.name} still belongs to it`);
    const att = await e.db.selectFrom("storage_domain_attachments").select("storage_domain_id").where("data_center_id", "=", id).executeTakeFirst();
    if (att) throw conflict(`Cannot remove Data Center ${dc.name}: storage domains are still attached`);
    return dc;
  },
  describe: (dc) => `Removing Data Center ${dc.name}`,
  async execute(e, dc) {
    await removeDcNetworks(e, dc.id);
    await removeDcQuotas(e, dc.id);
    await e.db.deleteFrom("data_centers").where("id", "=", dc.id).execute();
  },
};
