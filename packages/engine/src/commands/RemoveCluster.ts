/** Removes a cluster that holds no hosts and no VMs. */
import { conflict } from "../errors/fault.js";
import type { Cluster } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";

export const RemoveCluster: CommandDef<{ id: string }, Cluster, void> = {
  name: "remove Cluster",
  locks: (i) => [`cluster:${i.id}`],
  async validate(e, { id }) {
    const c = await mustById(e, "clusters", id);
    const host = await e.db.selectFrom("hosts").select("name").where("cluster_id", "=", id).executeTakeFirst();
    if (host) throw conflict(`Cannot remove Cluster ${c.name}: host ${host.name} is in it`);
    const vm = await e.db.selectFrom("vms").select("name").where("cluster_id", "=", id).executeTakeFirst();
    if (vm) throw conflict(`Cannot remove Cluster ${c.name}: VM ${vm.name} is in it`);
    return c;
  },
  describe: (c) => `Removing Cluster ${c.name}`,
  async execute(e, c) {
    await e.db.deleteFrom("network_clusters").where("cluster_id", "=", c.id).execute();
    await e.db.deleteFrom("clusters").where("id", "=", c.id).execute();
  },
};
