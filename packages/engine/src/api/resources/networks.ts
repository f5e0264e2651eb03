/**
 * Networking resources: logical networks (`/networks`, `/datacenters/{id}/networks`,
 * `/clusters/{id}/networks`), vNIC profiles (`/vnicprofiles`, `/networks/{id}/vnicprofiles`), VM
 * NICs (`/vms/{id}/nics`), and a host's NICs, network attachments and `setupnetworks` action.
 * Host NICs are read live from the node (getNetworkCapabilities); their ids are derived from the
 * host id and NIC name, so they are stable without being stored.
 */
import { createHash } from "node:crypto";
import { runCommand } from "../../commands/command.js";
import { mustById } from "../../db/repo/entities.js";
import { AddNetwork } from "../../commands/AddNetwork.js";
import { AddVmNic } from "../../commands/AddVmNic.js";
import { AddVnicProfile } from "../../commands/AddVnicProfile.js";
import { AttachNetworkToCluster } from "../../commands/AttachNetworkToCluster.js";
import { DetachNetworkFromCluster } from "../../commands/DetachNetworkFromCluster.js";
import { RemoveNetwork } from "../../commands/RemoveNetwork.js";
import { RemoveVmNic } from "../../commands/RemoveVmNic.js";
import { RemoveVnicProfile } from "../../commands/RemoveVnicProfile.js";
import { SetupNetworks } from "../../commands/SetupNetworks.js";
import { UpdateVmNic } from "../../commands/UpdateVmNic.js";
import { mustNetwork, mustProfile, networksOfCluster } from "../../db/repo/networks.js";
import { mustNic } from "../../db/repo/nics.js";
import type { MacPool, Network, NetworkAttachment, NetworkCluster, Nic, VnicProfile } from "../../db/schema.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { notFound } from "../../errors/fault.js";
import { href, links, ref } from "../href.js";
import { collection, type Rep } from "../repr.js";
import { refNames } from "../ref-names.js";
import { applySearch } from "../search.js";

// ---- views ------------------------------------------------------------------------------------

function networkBase(n: Network, base: string, usages: string[]): Rep {
  return {
    href: base,
    id: n.id,
    name: n.name,
    description: n.description || undefined,
    comment: n.comment || undefined,
    link: links(base, ["networklabels", "permissions", "vnicprofiles"]),
    data_center: ref("datacenters", n.data_center_id),
    mtu: n.mtu,
    stp: false,
    usages: { usage: usages },
    vlan: n.vlan_id !== null ? { id: n.vlan_id } : undefined,
  };
}

export function networkView(n: Network): Rep {
  return networkBase(n, href("networks", n.id), n.vm ? ["vm"] : []);
}

function clusterNetworkView(n: Network, nc: NetworkCluster): Rep {
  const usages = [...(n.vm ? ["vm"] : []), ...(nc.display ? ["display"] : []), ...(nc.management ? ["management"] : [])];
  return { ...networkBase(n, href("clusters", nc.cluster_id, "networks", n.id), usages), cluster: ref("clusters", nc.cluster_id), display: nc.display === 1, required: nc.required === 1 };
}

function profileView(p: VnicProfile): Rep {
  return {
    href: href("vnicprofiles", p.id),
    id: p.id,
    name: p.name,
    description: p.description || undefined,
    link: links(href("vnicprofiles", p.id), ["permissions"]),
    network: ref("networks", p.network_id),
    pass_through: { mode: "disabled" },
    port_mirroring: false,
  };
}

function nicView(n: Nic): Rep {
  const base = href("vms", n.owner_id, "nics", n.id);
  return {
    href: base,
    id: n.id,
    name: n.name,
    link: links(base, ["reporteddevices", "statistics"]),
    interface: n.interface,
    linked: n.linked === 1,
    mac: { address: n.mac },
    plugged: n.plugged === 1,
    vnic_profile: ref("vnicprofiles", n.vnic_profile_id),
    vm: ref("vms", n.owner_id),
  };
}

/** A stable UUID for a host NIC from the host id and the NIC's name. */
export function hostNicId(hostId: string, name: string): string {
  const h = createHash("sha256").update(`${hostId}\0${name}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function attachmentView(a: NetworkAttachment): Rep {
  const base = href("hosts", a.host_id, "networkattachments", a.id);
  return {
    href: base,
    id: a.id,
    host: ref("hosts", a.host_id),
    // none for a host-local bridge without uplink (mgmtnet.ts)
    host_nic: a.nic_name ? { ...ref("hosts", a.host_id), href: href("hosts", a.host_id, "nics", hostNicId(a.host_id, a.nic_name)), id: hostNicId(a.host_id, a.nic_name), name: a.nic_name } : undefined,
    network: ref("networks", a.network_id),
    ip_address_assignments: {
      ip_address_assignment: [
        {
          assignment_method: a.boot_protocol,
          ip: a.address ? { address: a.address, netmask: a.netmask ?? undefined, gateway: a.gateway ?? undefined, version: "v4" } : undefined,
        },
      ],
    },
    in_sync: true,
  };
}

// ---- networks ---------------------------------------------------------------------------------

export async function list(c: Call): Promise<Reply> {
  const rows = await c.engine.db.selectFrom("networks").selectAll().orderBy("name").execute();
  const n = await refNames(c.engine);
  const found = applySearch(rows, c.query, { name: (r: Network) => r.name, id: (r) => r.id, datacenter: (r) => n.dc(r.data_center_id) });
  return ok("networks", collection("network", found.map(networkView)));
}

export async function get(c: Call): Promise<Reply> {
  return ok("network", networkView(await mustNetwork(c.engine, pathId(c, "id", "Network"))));
}

export async function add(c: Call): Promise<Reply> {
  return ok("network", networkView(await runCommand(c.engine, AddNetwork, { body: bodyOf(c, ["network"]) })), 201);
}

export async function remove(c: Call): Promise<Reply> {
  await runCommand(c.engine, RemoveNetwork, { id: pathId(c, "id", "Network") });
  return { status: 200 };
}

export async function dcNetworks(c: Call): Promise<Reply> {
  const dc = await mustById(c.engine, "data_centers", pathId(c, "id", "Data Center"));
  const rows = await c.engine.db.selectFrom("networks").selectAll().where("data_center_id", "=", dc.id).orderBy("name").execute();
  return ok("networks", collection("network", rows.map(networkView)));
}

export async function addDcNetwork(c: Call): Promise<Reply> {
  const dcId = pathId(c, "id", "Data Center");
  return ok("network", networkView(await runCommand(c.engine, AddNetwork, { body: bodyOf(c, ["network"]), dcId })), 201);
}

export async function clusterNetworks(c: Call): Promise<Reply> {
  const cluster = await mustById(c.engine, "clusters", pathId(c, "id", "Cluster"));
  const rows = await networksOfCluster(c.engine, cluster.id);
  return ok("networks", collection("network", rows.map((r) => clusterNetworkView(r, r))));
}

export async function clusterNetwork(c: Call): Promise<Reply> {
  const clusterId = pathId(c, "id", "Cluster");
  const n = await mustNetwork(c.engine, pathId(c, "net", "Network"));
  const nc = await c.engine.db.selectFrom("network_clusters").selectAll().where("cluster_id", "=", clusterId).where("network_id", "=", n.id).executeTakeFirst();
  if (!nc) throw notFound("Network", n.id);
  return ok("network", clusterNetworkView(n, nc));
}

export async function attachClusterNetwork(c: Call): Promise<Reply> {
  const r = await runCommand(c.engine, AttachNetworkToCluster, { clusterId: pathId(c, "id", "Cluster"), body: bodyOf(c, ["network"]) });
  return ok("network", clusterNetworkView(r.network, r.nc), 201);
}

export async function detachClusterNetwork(c: Call): Promise<Reply> {
  await runCommand(c.engine, DetachNetworkFromCluster, { clusterId: pathId(c, "id", "Cluster"), networkId: pathId(c, "net", "Network") });
  return { status: 200 };
}

// ---- vNIC profiles ----------------------------------------------------------------------------

export async function profiles(c: Call): Promise<Reply> {
  const rows = await c.engine.db.selectFrom("vnic_profiles").selectAll().orderBy("name").execute();
  return ok("vnic_profiles", collection("vnic_profile", applySearch(rows, c.query, { name: (r: VnicProfile) => r.name, id: (r) => r.id }).map(profileView)));
}

export async function profile(c: Call): Promise<Reply> {
  return ok("vnic_profile", profileView(await mustProfile(c.engine, pathId(c, "id", "VnicProfile"))));
}

export async function addProfile(c: Call): Promise<Reply> {
  return ok("vnic_profile", profileView(await runCommand(c.engine, AddVnicProfile, { body: bodyOf(c, ["vnic_profile"]) })), 201);
}

export async function removeProfile(c: Call): Promise<Reply> {
  await runCommand(c.engine, RemoveVnicProfile, { id: pathId(c, "id", "VnicProfile") });
  return { status: 200 };
}

export async function networkProfiles(c: Call): Promise<Reply> {
  const n = await mustNetwork(c.engine, pathId(c, "id", "Network"));
  const rows = await c.engine.db.selectFrom("vnic_profiles").selectAll().where("network_id", "=", n.id).orderBy("name").execute();
  return ok("vnic_profiles", collection("vnic_profile", rows.map(profileView)));
}

export async function addNetworkProfile(c: Call): Promise<Reply> {
  const networkId = pathId(c, "id", "Network");
  return ok("vnic_profile", profileView(await runCommand(c.engine, AddVnicProfile, { body: bodyOf(c, ["vnic_profile"]), networkId })), 201);
}

// ---- VM NICs ----------------------------------------------------------------------------------

export async function vmNics(c: Call): Promise<Reply> {
  const vm = await mustById(c.engine, "vms", pathId(c, "id", "VM"));
  const rows = await c.engine.db.selectFrom("vm_nics").selectAll().where("owner_id", "=", vm.id).orderBy("name").execute();
  return ok("nics", collection("nic", rows.map(nicView)));
}

export async function vmNic(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  return ok("nic", nicView(await mustNic(c.engine, vmId, pathId(c, "nic", "NIC"))));
}

export async function addVmNic(c: Call): Promise<Reply> {
  return ok("nic", nicView(await runCommand(c.engine, AddVmNic, { vmId: pathId(c, "id", "VM"), body: bodyOf(c, ["nic"]) })), 201);
}

export async function updateVmNic(c: Call): Promise<Reply> {
  return ok("nic", nicView(await runCommand(c.engine, UpdateVmNic, { vmId: pathId(c, "id", "VM"), nicId: pathId(c, "nic", "NIC"), body: bodyOf(c, ["nic"]) })));
}

export async function removeVmNic(c: Call): Promise<Reply> {
  await runCommand(c.engine, RemoveVmNic, { vmId: pathId(c, "id", "VM"), nicId: pathId(c, "nic", "NIC") });
  return { status: 200 };
}

// ---- MAC pools --------------------------------------------------------------------------------

function macPoolView(p: MacPool): Rep {
  return {
    href: href("macpools", p.id),
    id: p.id,
    name: p.name,
    link: links(href("macpools", p.id), ["permissions"]),
    allow_duplicates: false,
    default_pool: p.name === "Default",
    ranges: { range: [{ from: p.range_from, to: p.range_to }] },
  };
}

export async function macPools(c: Call): Promise<Reply> {
  const rows = await c.engine.db.selectFrom("mac_pools").selectAll().orderBy("name").execute();
  return ok("mac_pools", collection("mac_pool", rows.map(macPoolView)));
}

export async function macPool(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "MacPool");
  const row = await c.engine.db.selectFrom("mac_pools").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row) throw notFound("MacPool", id);
  return ok("mac_pool", macPoolView(row));
}

// ---- host NICs and network attachments -------------------------------------------------------

/** The kernel's bonding modes in oVirt's numbering (oVirt shows `mode` as its number). */
const BOND_MODES = ["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"];

function bondOptions(opts: Record<string, string>): Rep {
  const option = Object.entries(opts).map(([name, value]) => {
    const mode = name === "mode" ? BOND_MODES.indexOf(value) : -1;
    return { name, value: mode >= 0 ? String(mode) : value };
  });
  return { option };
}

export async function hostNics(c: Call): Promise<Reply> {
  const host = await mustById(c.engine, "hosts", pathId(c, "id", "Host"));
  const caps = await c.engine.nodes.for(host).call("getNetworkCapabilities", {});
  const attachments = await c.engine.db.selectFrom("network_attachments").selectAll().where("host_id", "=", host.id).execute();
  const nets = new Map((await c.engine.db.selectFrom("networks").select(["id", "name"]).execute()).map((n) => [n.name, n.id]));
  const reps: Rep[] = [];
  const devices: [string, { addr: string; netmask: string; mtu: string }, Rep][] = [
    ...Object.entries(caps.nics).map(([n, d]) => [n, d, { mac: { address: d.hwaddr }, speed: d.speed }] as [string, typeof d, Rep]),
    ...Object.entries(caps.vlans).map(([n, d]) => [n, d, { vlan: { id: d.vlanid }, base_interface: d.iface }] as [string, typeof d, Rep]),
    ...Object.entries(caps.bondings).map(([n, d]) => [n, d, { bonding: { options: bondOptions(d.opts), slaves: { host_nic: d.slaves.map((s) => ({ name: s })) } } }] as [string, typeof d, Rep]),
  ];
  for (const [name, d, extra] of devices.sort((a, b) => a[0].localeCompare(b[0]))) {
    const att = attachments.find((a) => a.nic_name === name);
    // a NIC under a network's bridge shows the bridge's address, as oVirt reports it
    const netName = Object.entries(caps.networks).find(([, n]) => n.ports.includes(name) || n.iface === name)?.[0];
    const net = netName ? caps.networks[netName] : undefined;
    const id = hostNicId(host.id, name);
    reps.push({
      href: href("hosts", host.id, "nics", id),
      id,
      name,
      link: links(href("hosts", host.id, "nics", id), ["networkattachments", "statistics"]),
      boot_protocol: att?.boot_protocol ?? "none",
      bridged: net?.bridged ?? false,
      ip: (net?.addr ?? d.addr) ? { address: net?.addr ?? d.addr, netmask: net?.netmask ?? d.netmask, version: "v4" } : undefined,
      mtu: Number(d.mtu),
      status: "up",
      ...extra,
      host: ref("hosts", host.id),
      network: netName && nets.has(netName) ? ref("networks", nets.get(netName)) : undefined,
    });
  }
  return ok("host_nics", collection("host_nic", reps));
}

export async function networkAttachments(c: Call): Promise<Reply> {
  const host = await mustById(c.engine, "hosts", pathId(c, "id", "Host"));
  const rows = await c.engine.db.selectFrom("network_attachments").selectAll().where("host_id", "=", host.id).execute();
  return ok("network_attachments", collection("network_attachment", rows.map(attachmentView)));
}

export async function networkAttachment(c: Call): Promise<Reply> {
  const hostId = pathId(c, "id", "Host");
  const id = pathId(c, "att", "NetworkAttachment");
  const row = await c.engine.db.selectFrom("network_attachments").selectAll().where("host_id", "=", hostId).where("id", "=", id).executeTakeFirst();
  if (!row) throw notFound("NetworkAttachment", id);
  return ok("network_attachment", attachmentView(row));
}

export async function setupNetworks(c: Call): Promise<Reply> {
  const hostId = pathId(c, "id", "Host");
  await runCommand(c.engine, SetupNetworks, { hostId, body: bodyOf(c, ["action"]) });
  return ok("action", { status: "complete", host: ref("hosts", hostId) });
}
