/**
 * Logical networks, their cluster attachments and vNIC profiles. A network belongs to a data
 * center (unique name there; its name is also the bridge name on hosts, so it must be a valid
 * interface name), may carry a VLAN id (0..4094) and an MTU, and is a VM network (bridged) or
 * not. Every data center gets `ovirtmgmt` with a profile of the same name; every cluster uses it.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { conflict, invalid, notFound } from "../errors/fault.js";
import { Bool, Int, parseInput, Ref, Text, Uuid } from "../input/input.js";
import { DEFAULT_MAC_POOL, MANAGEMENT_NETWORK } from "../db/migrations.js";
import { type Network, type NetworkCluster, now, type VnicProfile } from "../db/schema.js";
import type { Engine } from "../engine.js";
import type { CommandDef } from "./command.js";
import { byRef, mustById } from "./lookup.js";

/** What the node accepts as a network (bridge) name. */
export const NetName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,14}$/, "must be 1-15 of a-z A-Z 0-9 _ - (it names the bridge on hosts)");

/** Creates the data center's management network and its profile (new data centers). */
export async function addManagementNetwork(e: Engine, dcId: string): Promise<void> {
  const id = randomUUID();
  await e.db.insertInto("networks").values({ id, name: MANAGEMENT_NETWORK, description: "Management Network", comment: "", data_center_id: dcId, vlan_id: null, mtu: 0, vm: 1, created_at: now() }).execute();
  await e.db.insertInto("vnic_profiles").values({ id: randomUUID(), name: MANAGEMENT_NETWORK, description: "", network_id: id, created_at: now() }).execute();
}

/** A new cluster uses its data center's management network and the default MAC pool. */
export async function setUpClusterNetworking(e: Engine, clusterId: string, dcId: string | null): Promise<void> {
  const pool = await e.db.selectFrom("mac_pools").select("id").where("name", "=", DEFAULT_MAC_POOL.name).executeTakeFirst();
  if (pool) await e.db.updateTable("clusters").set({ mac_pool_id: pool.id }).where("id", "=", clusterId).execute();
  if (!dcId) return;
  const mgmt = await e.db.selectFrom("networks").select("id").where("data_center_id", "=", dcId).where("name", "=", MANAGEMENT_NETWORK).executeTakeFirst();
  if (mgmt) await e.db.insertInto("network_clusters").values({ network_id: mgmt.id, cluster_id: clusterId, required: 1, display: 1, management: 1 }).execute();
}

/** Removes a data center's networks and everything hanging off them. */
export async function removeDcNetworks(e: Engine, dcId: string): Promise<void> {
  const ids = (await e.db.selectFrom("networks").select("id").where("data_center_id", "=", dcId).execute()).map((r) => r.id);
  if (ids.length === 0) return;
  await e.db.deleteFrom("vnic_profiles").where("network_id", "in", ids).execute();
  await e.db.deleteFrom("network_clusters").where("network_id", "in", ids).execute();
  await e.db.deleteFrom("networks").where("id", "in", ids).execute();
}

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

const NetworkInput = z.object({
  name: NetName,
  description: Text(4000).optional(),
  comment: Text(4000).optional(),
  data_center: Ref.optional(),
  vlan: z.object({ id: Int(0, 4094) }).optional(),
  mtu: Int(0, 9000).refine((n) => n === 0 || n >= 68, "out of range (68..9000, or 0 for the default)").optional(),
  usages: z.object({ usage: z.union([z.string(), z.array(z.string())]) }).optional(),
});

export const AddNetwork: CommandDef<{ body: unknown; dcId?: string }, z.output<typeof NetworkInput> & { dcId: string }, Network> = {
  name: "add Network",
  locks: () => ["network:names"],
  async validate(e, { body, dcId }) {
    const input = parseInput(NetworkInput, body, "Network");
    const dcRef = dcId ? { id: dcId } : input.data_center;
    if (!dcRef) throw parseInput(z.object({ data_center: Ref }), {}, "Network");
    const dc = await byRef(e, "data_centers", dcRef);
    const clash = await e.db.selectFrom("networks").select("id").where("data_center_id", "=", dc.id).where("name", "=", input.name).executeTakeFirst();
    if (clash) throw conflict(`Cannot add Network. The name ${input.name} is already used by another network in the data center.`);
    if (input.vlan) {
      const same = await e.db.selectFrom("networks").select("name").where("data_center_id", "=", dc.id).where("vlan_id", "=", input.vlan.id).executeTakeFirst();
      if (same) throw conflict(`Cannot add Network. VLAN id ${input.vlan.id} is already used by network ${same.name} in the data center.`);
    }
    return { ...input, dcId: dc.id };
  },
  describe: (p) => `Adding Network ${p.name}`,
  async execute(e, p) {
    const usages = p.usages ? [p.usages.usage].flat().map((u) => u.toLowerCase()) : ["vm"];
    const row: Network = {
      id: randomUUID(),
      name: p.name,
      description: p.description ?? "",
      comment: p.comment ?? "",
      data_center_id: p.dcId,
      vlan_id: p.vlan?.id ?? null,
      mtu: p.mtu ?? 0,
      vm: usages.includes("vm") ? 1 : 0,
      created_at: now(),
    };
    await e.db.insertInto("networks").values(row).execute();
    // oVirt gives a VM network a profile of the same name
    if (row.vm) await e.db.insertInto("vnic_profiles").values({ id: randomUUID(), name: row.name, description: "", network_id: row.id, created_at: now() }).execute();
    return row;
  },
};

export const RemoveNetwork: CommandDef<{ id: string }, Network, void> = {
  name: "remove Network",
  locks: (i) => [`network:${i.id}`],
  async validate(e, { id }) {
    const n = await mustNetwork(e, id);
    if (n.name === MANAGEMENT_NETWORK) throw conflict(`Cannot remove Network. ${n.name} is the management network.`);
    const used = await e.db
      .selectFrom("vm_nics")
      .innerJoin("vnic_profiles", "vnic_profiles.id", "vm_nics.vnic_profile_id")
      .select("vm_nics.id")
      .where("vnic_profiles.network_id", "=", id)
      .executeTakeFirst();
    if (used) throw conflict(`Cannot remove Network ${n.name}: VM NICs use its profiles.`);
    const attached = await e.db.selectFrom("network_attachments").select("id").where("network_id", "=", id).executeTakeFirst();
    if (attached) throw conflict(`Cannot remove Network ${n.name}: hosts have it attached.`);
    return n;
  },
  describe: (n) => `Removing Network ${n.name}`,
  async execute(e, n) {
    await e.db.deleteFrom("vnic_profiles").where("network_id", "=", n.id).execute();
    await e.db.deleteFrom("network_clusters").where("network_id", "=", n.id).execute();
    await e.db.deleteFrom("networks").where("id", "=", n.id).execute();
  },
};

const ClusterNetworkInput = z.object({
  id: Uuid.optional(),
  name: NetName.optional(),
  required: Bool.optional(),
  usages: z.object({ usage: z.union([z.string(), z.array(z.string())]) }).optional(),
});

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
    const usages = input.usages ? [input.usages.usage].flat().map((u) => u.toLowerCase()) : [];
    const bad = usages.find((u) => !["vm", "display", "management", "migration", "default_route"].includes(u));
    if (bad) throw invalid(`Invalid Network usages: '${bad.slice(0, 40)}' is not one of vm, display, management, migration, default_route`);
    const nc: NetworkCluster = { network_id: network.id, cluster_id: clusterId, required: input.required === false ? 0 : 1, display: usages.includes("display") ? 1 : 0, management: 0 };
    return { nc, network };
  },
  describe: (p) => `Attaching Network ${p.network.name} to a cluster`,
  async execute(e, p) {
    await e.db.insertInto("network_clusters").values(p.nc).execute();
    return p;
  },
};

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

const ProfileInput = z.object({ name: z.string().min(1).max(50).regex(/^[a-zA-Z0-9_.-]+$/, "only a-z A-Z 0-9 _ . -"), description: Text(4000).optional(), network: Ref.optional() });

export const AddVnicProfile: CommandDef<{ body: unknown; networkId?: string }, { name: string; description: string; network: Network }, VnicProfile> = {
  name: "add VnicProfile",
  locks: () => ["vnicprofile:names"],
  async validate(e, { body, networkId }) {
    const input = parseInput(ProfileInput, body, "VnicProfile");
    const ref = networkId ? { id: networkId } : input.network;
    if (!ref) throw parseInput(z.object({ network: Ref }), {}, "VnicProfile");
    const network = await networkByRef(e, ref);
    if (!network.vm) throw conflict(`Cannot add VnicProfile: network ${network.name} is not a VM network.`);
    const clash = await e.db.selectFrom("vnic_profiles").select("id").where("network_id", "=", network.id).where("name", "=", input.name).executeTakeFirst();
    if (clash) throw conflict(`Cannot add VnicProfile. The name ${input.name} is already used by a profile of network ${network.name}.`);
    return { name: input.name, description: input.description ?? "", network };
  },
  describe: (p) => `Adding VnicProfile ${p.name}`,
  async execute(e, p) {
    const row: VnicProfile = { id: randomUUID(), name: p.name, description: p.description, network_id: p.network.id, created_at: now() };
    await e.db.insertInto("vnic_profiles").values(row).execute();
    return row;
  },
};

export const RemoveVnicProfile: CommandDef<{ id: string }, VnicProfile, void> = {
  name: "remove VnicProfile",
  locks: (i) => [`vnicprofile:${i.id}`],
  async validate(e, { id }) {
    const p = await mustProfile(e, id);
    const used = await e.db.selectFrom("vm_nics").select("id").where("vnic_profile_id", "=", id).executeTakeFirst();
    if (used) throw conflict(`Cannot remove VnicProfile ${p.name}: VM NICs use it.`);
    return p;
  },
  describe: (p) => `Removing VnicProfile ${p.name}`,
  async execute(e, p) {
    await e.db.deleteFrom("vnic_profiles").where("id", "=", p.id).execute();
  },
};
