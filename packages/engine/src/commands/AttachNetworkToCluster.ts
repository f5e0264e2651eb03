/**
 * Attaches a data center's network to one of its clusters, with its roles there (required,
 * display, …): hosts of the cluster must then carry it.
 */
import { z } from "zod";
import { conflict, invalid } from "../errors/fault.js";
import { parseInput, Uuid } from "../input/input.js";
import { ClusterNetworkInput, usagesOf } from "../input/network.js";
import { mustById } from "../db/repo/entities.js";
import { networkByRef } from "../db/repo/networks.js";
import type { Network, NetworkCluster } from "../db/schema.js";
import type { CommandDef } from "./command.js";

const ROLES = ["vm", "display", "management", "migration", "default_route"];

export const AttachNetworkToCluster: CommandDef<{ clusterId: string; body: unknown }, { nc: NetworkCluster; network: Network }, { nc: NetworkCluster; network: Network }> = {
  name: "attach Network to Cluster",
  locks: (i) => [`cluster:${i.clusterId}:networks`],
  async validate(e, { clusterId, body }) {
    const cluster = await mustById(e, "clusters", clusterId);
    const input = parseInput(ClusterNetworkInput, body, "Network");
    if (!input.id && !input.name) throw parseInput(z.object({ id: Uuid }), {}, "Network");
    const network = await networkByRef(e, input, cluster.data_center_id ?? undefined);
    if (network.data_center_id !== cluster.data_center_id) throw conflict(`Cannot attach Network ${network.name}: it belongs to another data center.`);
    const exists = await e.db.selectFrom("network_clusters").select("network_id").where("network_id", "=", network.id).where("cluster_id", "=", clusterId).executeTakeFirst();
    if (exists) throw conflict(`Cannot attach Network ${network.name}: it is already attached to cluster ${cluster.name}.`);
    const usages = usagesOf(input.usages);
    const bad = usages.find((u) => !ROLES.includes(u));
    if (bad) throw invalid(`Invalid Network usages: '${bad.slice(0, 40)}' is not one of ${ROLES.join(", ")}`);
    const nc: NetworkCluster = { network_id: network.id, cluster_id: clusterId, required: input.required === false ? 0 : 1, display: usages.includes("display") ? 1 : 0, management: 0 };
    return { nc, network };
  },
  describe: (p) => `Attaching Network ${p.network.name} to a cluster`,
  async execute(e, p) {
    await e.db.insertInto("network_clusters").values(p.nc).execute();
    return p;
  },
};
