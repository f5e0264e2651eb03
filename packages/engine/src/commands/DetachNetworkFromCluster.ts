/**
 * Detaches a network from a cluster: never the cluster's management network, nor one that NICs of
 * the cluster's VMs are connected to (they would be left on a network their hosts need not have).
 */
import { conflict, notFound } from "../errors/fault.js";
import { mustNetwork } from "../db/repo/networks.js";
import type { Network } from "../db/schema.js";
import type { Engine } from "../engine.js";
import type { CommandDef } from "./command.js";

/** The names of the cluster's VMs with a NIC on the network (through any of its profiles), a few at most. */
async function vmsOnNetwork(e: Engine, clusterId: string, networkId: string): Promise<string[]> {
  const rows = await e.db
    .selectFrom("vm_nics")
    .innerJoin("vnic_profiles", "vnic_profiles.id", "vm_nics.vnic_profile_id")
    .innerJoin("vms", "vms.id", "vm_nics.owner_id")
    .select("vms.name")
    .distinct()
    .where("vnic_profiles.network_id", "=", networkId)
    .where("vms.cluster_id", "=", clusterId)
    .orderBy("vms.name")
    .limit(5)
    .execute();
  return rows.map((r) => r.name);
}

export const DetachNetworkFromCluster: CommandDef<{ clusterId: string; networkId: string }, { network: Network; clusterId: string }, void> = {
  name: "detach Network from Cluster",
  locks: (i) => [`cluster:${i.clusterId}:networks`],
  async validate(e, { clusterId, networkId }) {
    const network = await mustNetwork(e, networkId);
    const nc = await e.db.selectFrom("network_clusters").selectAll().where("network_id", "=", networkId).where("cluster_id", "=", clusterId).executeTakeFirst();
    if (!nc) throw notFound("Network", networkId);
    if (nc.management) throw conflict(`Cannot detach Network ${network.name}: it is the cluster's management network.`);
    const used = await vmsOnNetwork(e, clusterId, networkId);
    if (used.length) throw conflict(`Cannot detach Network ${network.name}: NICs of VMs in the cluster use it (${used.join(", ")}).`);
    return { network, clusterId };
  },
  describe: (p) => `Detaching Network ${p.network.name} from a cluster`,
  async execute(e, p) {
    await e.db.deleteFrom("network_clusters").where("network_id", "=", p.network.id).where("cluster_id", "=", p.clusterId).execute();
  },
};
