/**
 * Whether a host carries its cluster's required networks: checked when a host comes up. The
 * management network is exempt — the host reaches the engine on its registration address, which
 * serves as its management link until setupnetworks puts ovirtmgmt on a bridge — so only the
 * other required networks can make a host non_operational.
 */
import type { Engine } from "../engine.js";
import { networksOfCluster } from "../db/repo/networks.js";

export async function missingRequiredNetworks(e: Engine, hostId: string): Promise<string[]> {
  const host = await e.db.selectFrom("hosts").selectAll().where("id", "=", hostId).executeTakeFirstOrThrow();
  const required = await networksOfCluster(e, host.cluster_id, { required: true, management: false });
  if (required.length === 0) return [];
  const caps = await e.nodes.for(host).call("getNetworkCapabilities", {});
  return required.map((r) => r.name).filter((n) => !caps.networks[n]).sort();
}
