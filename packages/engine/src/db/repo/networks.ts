/**
 * Logical networks, their cluster attachments and vNIC profiles in the database: lookups, the
 * joins that say which networks a cluster uses and which NICs sit on a network, and the rows every
 * new data center and cluster gets (`ovirtmgmt` with a profile of the same name, the default MAC
 * pool).
 */
import { randomUUID } from "node:crypto";
import { invalid, notFound } from "../../errors/fault.js";
import type { Engine } from "../../engine.js";
import { DEFAULT_MAC_POOL, MANAGEMENT_NETWORK } from "../migrations.js";
import { type Network, type NetworkCluster, now, type VnicProfile } from "../schema.js";

export async function mustNetwork(e: Engine, id: string): Promise<Network> {
  const n = await e.db.selectFrom("networks").selectAll().where("id", "=", id).executeTakeFirst();
  if (!n) throw notFound("Network", id);
  return n;
}

export async function mustProfile(e: Engine, id: string): Promise<VnicProfile> {
  const p = await e.db.selectFrom("vnic_profiles").selectAll().where("id", "=", id).executeTakeFirst();
  if (!p) throw notFound("VnicProfile", id);
  return p;
}

/** A network by `{id}` or `{name}` (a name must be unique, or qualified by the data center). */
export async function networkByRef(e: Engine, ref: { id?: string; name?: string }, dcId?: string): Promise<Network> {
  if (ref.id) return mustNetwork(e, ref.id);
  let q = e.db.selectFrom("networks").selectAll().where("name", "=", ref.name ?? "");
  if (dcId) q = q.where("data_center_id", "=", dcId);
  const rows = await q.execute();
  if (rows.length === 0) throw notFound("Network", `name=${ref.name}`);
  if (rows.length > 1) throw invalid(`Network name ${ref.name} exists in several data centers: refer to it by id`);
  return rows[0] as Network;
}

interface ClusterUse {
  /** Only networks the cluster requires on every host. */
  required?: boolean;
  /** Only the management network (true) or only the others (false). */
  management?: boolean;
}

/** The networks a cluster uses, each with its role there, by name. */
export async function networksOfCluster(e: Engine, clusterId: string, use: ClusterUse = {}): Promise<(Network & NetworkCluster)[]> {
  let q = e.db.selectFrom("network_clusters").innerJoin("networks", "networks.id", "network_clusters.network_id").selectAll().where("network_clusters.cluster_id", "=", clusterId);
  if (use.required !== undefined) q = q.where("network_clusters.required", "=", use.required ? 1 : 0);
  if (use.management !== undefined) q = q.where("network_clusters.management", "=", use.management ? 1 : 0);
  return q.orderBy("networks.name").execute();
}

/** Whether any VM NIC is connected to the network (through one of its profiles). */
export async function networkHasNics(e: Engine, networkId: string): Promise<boolean> {
  const used = await e.db
    .selectFrom("vm_nics")
    .innerJoin("vnic_profiles", "vnic_profiles.id", "vm_nics.vnic_profile_id")
    .select("vm_nics.id")
    .where("vnic_profiles.network_id", "=", networkId)
    .executeTakeFirst();
  return used !== undefined;
}

/** Inserts a network, and for a VM network a profile of the same name, as oVirt does. */
export async function insertNetwork(e: Engine, row: Network): Promise<void> {
  await e.db.insertInto("networks").values(row).execute();
  if (row.vm) await e.db.insertInto("vnic_profiles").values({ id: randomUUID(), name: row.name, description: "", network_id: row.id, created_at: now() }).execute();
}

/** Creates the data center's management network and its profile (new data centers). */
export async function addManagementNetwork(e: Engine, dcId: string): Promise<void> {
  await insertNetwork(e, { id: randomUUID(), name: MANAGEMENT_NETWORK, description: "Management Network", comment: "", data_center_id: dcId, vlan_id: null, mtu: 0, vm: 1, created_at: now() });
}

/** A new cluster uses its data center's management network and the default MAC pool. */
export async function setUpClusterNetworking(e: Engine, clusterId: string, dcId: string | null): Promise<void> {
  const pool = await e.db.selectFrom("mac_pools").select("id").where("name", "=", DEFAULT_MAC_POOL.name).executeTakeFirst();
  if (pool) await e.db.updateTable("clusters").set({ mac_pool_id: pool.id }).where("id", "=", clusterId).execute();
  if (!dcId) return;
  const mgmt = await e.db.selectFrom("networks").select("id").where("data_center_id", "=", dcId).where("name", "=", MANAGEMENT_NETWORK).executeTakeFirst();
  if (mgmt) await e.db.insertInto("network_clusters").values({ network_id: mgmt.id, cluster_id: clusterId, required: 1, display: 1, management: 1 }).execute();
}

/** Removes networks and everything hanging off them (profiles, cluster attachments). */
export async function deleteNetworks(e: Engine, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await e.db.deleteFrom("vnic_profiles").where("network_id", "in", ids).execute();
  await e.db.deleteFrom("network_clusters").where("network_id", "in", ids).execute();
  await e.db.deleteFrom("networks").where("id", "in", ids).execute();
}

/** Removes a data center's networks and everything hanging off them. */
export async function removeDcNetworks(e: Engine, dcId: string): Promise<void> {
  const ids = (await e.db.selectFrom("networks").select("id").where("data_center_id", "=", dcId).execute()).map((r) => r.id);
  await deleteNetworks(e, ids);
}
