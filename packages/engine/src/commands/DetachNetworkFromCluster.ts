/** Detaches a network from a cluster (never the cluster's management network). */
import { conflict, notFound } from "../errors/fault.js";
import { mustNetwork } from "../db/repo/networks.js";
import type { Network } from "../db/schema.js";
import type { CommandDef } from "./command.js";

export const DetachNetworkFromCluster: CommandDef<{ clusterId: string; networkId: string }, { network: Network; clusterId: string }, void> = {
  name: "detach Network from Cluster",
  locks: (i) => [`cluster:${i.clusterId}:networks`],
  async validate(e, { clusterId, networkId }) {
    const network = await mustNetwork(e, networkId);
    const nc = await e.db.selectFrom("network_clusters").selectAll().where("network_id", "=", networkId).where("cluster_id", "=", clusterId).executeTakeFirst();
    if (!nc) throw notFound("Network", networkId);
    if (nc.management) throw conflict(`Cannot detach Network ${network.name}: it is the cluster's management network.`);
    return { network, clusterId };
  },
  describe: (p) => `Detaching Network ${p.network.name} from a cluster`,
  async execute(e, p) {
    await e.db.deleteFrom("network_clusters").where("network_id", "=", p.network.id).where("cluster_id", "=", p.clusterId).execute();
  },
};
