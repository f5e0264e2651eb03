/**
 * Host choice for a VM (oVirt's scheduler, in its smallest form): a host the client pinned must be
 * up and in the VM's cluster; otherwise the up hosts of the cluster are ranked least loaded first
 * (fewest VMs not down, then the lowest SPM id) and the first is taken. Filters and weights grow
 * here (memory, networks, affinity), never inline in a command. Reads the database only.
 */
import { conflict } from "../errors/fault.js";
import type { Cluster, Host, Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { byRef } from "../db/repo/entities.js";
import type { Ref } from "../input/input.js";

/** Up hosts of the cluster, least loaded first. */
export async function candidates(e: Engine, clusterId: string): Promise<Host[]> {
  const hosts = await e.db.selectFrom("hosts").selectAll().where("cluster_id", "=", clusterId).where("status", "=", "up").execute();
  const load = await e.db
    .selectFrom("vms")
    .select(["run_on_host_id", (eb) => eb.fn.countAll<number>().as("n")])
    .where("status", "!=", "down")
    .groupBy("run_on_host_id")
    .execute();
  const byHost = new Map(load.map((l) => [l.run_on_host_id, Number(l.n)]));
  return hosts.sort((a, b) => (byHost.get(a.id) ?? 0) - (byHost.get(b.id) ?? 0) || a.spm_id - b.spm_id);
}

/** The host to run `vm` on: the pinned one if given (checked), else the best candidate; 409 if none. */
export async function chooseHost(e: Engine, vm: Vm, cluster: Cluster, pinned: Ref | undefined): Promise<Host> {
  if (pinned) {
    const host = await byRef(e, "hosts", pinned);
    if (host.cluster_id !== vm.cluster_id) throw conflict(`Cannot run VM ${vm.name} on host ${host.name}: the host is in another cluster`);
    if (host.status !== "up") throw conflict(`Cannot run VM ${vm.name} on host ${host.name}: the host is ${host.status}`);
    return host;
  }
  const host = (await candidates(e, vm.cluster_id))[0];
  if (!host) throw conflict(`Cannot run VM ${vm.name}. There is no host up in cluster ${cluster.name}.`);
  return host;
}
