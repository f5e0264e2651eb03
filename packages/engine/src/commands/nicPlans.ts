/**
 * What the VM NIC commands share: on a running VM a NIC change goes to its host first (hot-plug,
 * unplug, link state) and the database changes only once the node has done it; a NIC's profile
 * must be of a VM network attached to the VM's cluster.
 */
import { conflict } from "../errors/fault.js";
import { mustById } from "../db/repo/entities.js";
import { mustProfile } from "../db/repo/networks.js";
import type { Host, Network, Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";

/** A VM runs when the node has it; NIC changes then go to its host first. */
export function runningHost(vm: Vm): string | undefined {
  return vm.status !== "down" && vm.run_on_host_id ? vm.run_on_host_id : undefined;
}

export async function hostOf(e: Engine, id: string): Promise<Host> {
  return mustById(e, "hosts", id);
}

/** The profile's network, which must be a VM network attached to the VM's cluster. */
export async function profileNetwork(e: Engine, vm: Pick<Vm, "cluster_id" | "name">, profileId: string): Promise<Network> {
  const profile = await mustProfile(e, profileId);
  const network = await e.db.selectFrom("networks").selectAll().where("id", "=", profile.network_id).executeTakeFirstOrThrow();
  const attached = await e.db.selectFrom("network_clusters").select("network_id").where("network_id", "=", network.id).where("cluster_id", "=", vm.cluster_id).executeTakeFirst();
  if (!attached) throw conflict(`Cannot use vNIC profile ${profile.name} for VM ${vm.name}: network ${network.name} is not attached to the VM's cluster.`);
  return network;
}
