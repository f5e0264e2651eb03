/**
 * A cluster's memory over-commit settings as oVirt's API has them — `ballooning_enabled`,
 * `memory_policy.over_commit.percent` and `ksm.enabled` — and sending them to the cluster's hosts
 * (the node's `setMOMPolicyParameters`, VDSM's MOM interface) when they change and whenever a host
 * comes up (nodes keep no settings). A host whose kernel has no KSM says so, and the engine logs it.
 */
import { z } from "zod";
import type { Engine } from "../engine.js";
import type { Cluster, Host } from "../db/schema.js";
import { Bool, Int } from "../input/input.js";

export const ClusterMemoryInput = z.object({
  ballooning_enabled: Bool.optional(),
  memory_policy: z.object({ over_commit: z.object({ percent: Int(100, 1000) }).optional(), ballooning: Bool.optional() }).optional(),
  ksm: z.object({ enabled: Bool.optional() }).optional(),
});
export type ClusterMemoryInput = z.output<typeof ClusterMemoryInput>;

/** The columns an input changes (`memory_policy.ballooning` is accepted as `ballooning_enabled`). */
export function clusterMemorySet(p: ClusterMemoryInput): Partial<Pick<Cluster, "ballooning" | "over_commit_percent" | "ksm">> {
  const set: Partial<Pick<Cluster, "ballooning" | "over_commit_percent" | "ksm">> = {};
  const balloon = p.ballooning_enabled ?? p.memory_policy?.ballooning;
  if (balloon !== undefined) set.ballooning = balloon ? 1 : 0;
  if (p.memory_policy?.over_commit?.percent !== undefined) set.over_commit_percent = p.memory_policy.over_commit.percent;
  if (p.ksm?.enabled !== undefined) set.ksm = p.ksm.enabled ? 1 : 0;
  return set;
}

/** Sends the cluster's policy to one host; failures are logged (the next host-up sends it again). */
export async function pushMomPolicy(e: Engine, host: Host, cluster: Cluster): Promise<void> {
  const policy = { balloonEnabled: cluster.ballooning === 1, overCommitPercent: cluster.over_commit_percent, ksmEnabled: cluster.ksm === 1 };
  try {
    const ksm = await e.nodes.for(host).call("setMOMPolicyParameters", { policy });
    if (policy.ksmEnabled && !ksm.present) e.log.warn({ host: host.name, cluster: cluster.name }, "KSM is enabled for the cluster but this host's kernel has no KSM");
  } catch (err) {
    e.log.warn({ err, host: host.name }, "sending the memory policy failed");
  }
}

/** Sends a cluster's policy to each of its hosts that is up. */
export async function pushMomPolicyToCluster(e: Engine, clusterId: string): Promise<void> {
  const cluster = await e.db.selectFrom("clusters").selectAll().where("id", "=", clusterId).executeTakeFirst();
  if (!cluster) return;
  const hosts = await e.db.selectFrom("hosts").selectAll().where("cluster_id", "=", clusterId).where("status", "=", "up").execute();
  for (const h of hosts) await pushMomPolicy(e, h, cluster);
}
