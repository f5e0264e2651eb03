/**
 * Whether a host carries its cluster's required networks: checked when a host comes up. The
 * management network is exempt — the host reaches the engine on its registration address, which
 * serves as its management link until setupnetworks puts ovirtmgmt on a bridge — so only the
 * other required networks can make a host non_operational.
 */
import type { Engine } from "../engine.js";

export async function missingRequiredNetworks(e: Engine, hostId: string): Promise<string[]> {
  const host = await e.db.selectFrom("hosts").selectAll().where("id", "=", hostId).executeTakeFirstOrThrow();
  const required = await e.db
    .selectFrom("network_clusters")
    .innerJoin("networks", "networks.id", "network_clusters.network_id")
    .select("networks.name")
    .where("network_clusters.cluster_id", "=", host.cluster_id)
    .where("network_clusters.required", "=", 1)
    .where("network_clusters.management", "=", 0)
    .execute();
  if (required.length === 0) return [];
  const caps = await e.nodes.for(host).call("getNetworkCapabilities", {});
  return required.map((r) => r.name).filter((n) => !caps.networks[n]).sort();
}
