/**
 * `POST /hosts/{id}/setupnetworks` as oVirt's API takes it: modified and removed network
 * attachments (network → host NIC, static/DHCP/no address), bonds, `check_connectivity` with
 * `connectivity_timeout`, and `commit_on_success`. Translated into the node's setupNetworks; with
 * the connectivity check the engine keeps pinging the host while the node waits, so a change that
 * cuts the engine off is rolled back by the node. Attachments are recorded only after the node has
 * applied them; with commit_on_success (Vela's default) the node persists them.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { conflict, invalid, notFound } from "../errors/fault.js";
import { Bool, Enum, Int, parseInput, Ref, Uuid } from "../input/input.js";
import { type Host, type Network, type NetworkAttachment, now } from "../db/schema.js";
import type { Engine } from "../engine.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";
import { networkByRef } from "../db/repo/networks.js";

const IFNAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;
const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
const Ip = z.string().regex(IPV4, "not an IPv4 address");
const HostNicName = z.object({ name: z.string().regex(IFNAME, "not an interface name") });

/** A netmask as dotted quad or prefix length → prefix length. */
export function prefixOf(mask: string): number | undefined {
  if (/^[0-9]{1,2}$/.test(mask)) return Number(mask) <= 32 ? Number(mask) : undefined;
  if (!IPV4.test(mask)) return undefined;
  const bits = mask.split(".").reduce((acc, o) => (acc << 8) | Number(o), 0) >>> 0;
  const prefix = 32 - Math.log2((~bits >>> 0) + 1);
  return Number.isInteger(prefix) ? prefix : undefined;
}

const Assignment = z.object({
  assignment_method: Enum(["none", "static", "dhcp"]),
  ip: z.object({ address: Ip.optional(), netmask: z.string().max(15).optional(), gateway: Ip.optional() }).optional(),
});

const Attachment = z.object({
  id: Uuid.optional(),
  network: Ref.optional(),
  host_nic: HostNicName.optional(),
  ip_address_assignments: z.object({ ip_address_assignment: z.union([Assignment, z.array(Assignment)]) }).optional(),
});

const BOND_NAME = /^bond[0-9]{1,4}$/;

/** One bonding option as oVirt writes it: `<option><name>mode</name><value>4</value></option>`; the node checks names and values. */
const BondOption = z.object({
  name: z.string().regex(/^[a-z_]{1,32}$/, "not a bonding option name"),
  value: z.union([z.string(), z.number()]).transform(String).pipe(z.string().regex(/^[a-z0-9_.,+-]{1,128}$/, "not a bonding option value")),
});

const Bond = z.object({
  name: z.string().regex(BOND_NAME, "not a bond name (bond0..bond9999)"),
  bonding: z
    .object({
      slaves: z.object({ host_nic: z.union([HostNicName, z.array(HostNicName)]) }).optional(),
      options: z.object({ option: z.union([BondOption, z.array(BondOption).max(32)]) }).optional(),
    })
    .optional(),
});

const listOf = <T extends z.ZodType>(key: string, s: T) => z.object({ [key]: z.union([s, z.array(s)]) }).transform((o) => [o[key] as z.output<T> | z.output<T>[]].flat() as z.output<T>[]);

const Input = z.object({
  modified_network_attachments: listOf("network_attachment", Attachment).optional(),
  removed_network_attachments: listOf("network_attachment", Attachment).optional(),
  modified_bonds: listOf("host_nic", Bond).optional(),
  removed_bonds: listOf("host_nic", Bond).optional(),
  check_connectivity: Bool.optional(),
  connectivity_timeout: Int(1, 600).optional(),
  commit_on_success: Bool.optional(),
});

interface NodeNet {
  nic?: string;
  bonding?: string;
  vlan?: number;
  bridged?: boolean;
  mtu?: number;
  bootproto?: "none" | "dhcp";
  ipaddr?: string;
  prefix?: number;
  gateway?: string;
  defaultRoute?: boolean;
  remove?: boolean;
}

interface Plan {
  host: Host;
  networks: Record<string, NodeNet>;
  bondings: Record<string, { nics?: string[]; options?: string; remove?: boolean }>;
  upserts: NetworkAttachment[];
  removals: NetworkAttachment[];
  check: boolean;
  timeout: number;
  commit: boolean;
}

/** The host's NIC names and which one holds the address the engine reaches it at. */
async function hostNics(e: Engine, host: Host): Promise<{ names: Set<string>; engineDev?: string }> {
  const caps = await e.nodes.for(host).call("getNetworkCapabilities", {});
  const names = new Set([...Object.keys(caps.nics), ...Object.keys(caps.vlans), ...Object.keys(caps.bondings)]);
  const all = { ...caps.nics, ...caps.bridges, ...caps.vlans, ...caps.bondings };
  const engineDev = Object.entries(all).find(([, d]) => d.ipv4addrs.some((a) => a.split("/")[0] === host.address))?.[0];
  return { names, engineDev };
}

function assignmentOf(a: z.output<typeof Attachment>, network: Network): Pick<NodeNet, "bootproto" | "ipaddr" | "prefix" | "gateway"> {
  const list = a.ip_address_assignments ? [a.ip_address_assignments.ip_address_assignment].flat() : [];
  const v4 = list[0];
  if (!v4 || v4.assignment_method === "none") return { bootproto: "none" };
  if (v4.assignment_method === "dhcp") return { bootproto: "dhcp" };
  if (!v4.ip?.address || !v4.ip.netmask) throw invalid(`Invalid network attachment of ${network.name}: a static assignment needs ip.address and ip.netmask`);
  const prefix = prefixOf(v4.ip.netmask);
  if (prefix === undefined) throw invalid(`Invalid network attachment of ${network.name}: '${v4.ip.netmask.slice(0, 20)}' is not a netmask`);
  return { bootproto: "none", ipaddr: v4.ip.address, prefix, gateway: v4.ip.gateway };
}

export const SetupNetworks: CommandDef<{ hostId: string; body: unknown }, Plan, NetworkAttachment[]> = {
  name: "setup Networks",
  locks: (i) => [`host:${i.hostId}:networks`],
  async validate(e, { hostId, body }) {
    const host = await mustById(e, "hosts", hostId);
    const input = parseInput(Input, body, "Action", "setupnetworks");
    if (!["up", "non_operational", "maintenance"].includes(host.status)) throw conflict(`Cannot setup Networks on host ${host.name}: the host is ${host.status}`);
    const cluster = await mustById(e, "clusters", host.cluster_id);
    const { names, engineDev } = await hostNics(e, host);
    // bonds made by this same request may carry its networks
    for (const b of input.modified_bonds ?? []) names.add(b.name);
    const existing = await e.db.selectFrom("network_attachments").selectAll().where("host_id", "=", host.id).execute();
    const networks: Record<string, NodeNet> = {};
    const upserts: NetworkAttachment[] = [];
    const removals: NetworkAttachment[] = [];
    for (const a of input.removed_network_attachments ?? []) {
      let found = a.id ? existing.find((x) => x.id === a.id) : undefined;
      if (!found && !a.id && a.network) {
        const n = await networkByRef(e, a.network, cluster.data_center_id ?? undefined);
        found = existing.find((x) => x.network_id === n.id);
      }
      if (!found) throw notFound("NetworkAttachment", a.id ?? a.network?.name ?? "");
      const network = await networkByRef(e, { id: found.network_id });
      networks[network.name] = { remove: true };
      removals.push(found);
    }
    for (const a of input.modified_network_attachments ?? []) {
      const prior = a.id ? existing.find((x) => x.id === a.id) : undefined;
      if (a.id && !prior) throw notFound("NetworkAttachment", a.id);
      const netRef = a.network ?? (prior ? { id: prior.network_id } : undefined);
      if (!netRef) throw parseInput(z.object({ network: Ref }), {}, "NetworkAttachment", "setupnetworks");
      const network = await networkByRef(e, netRef, cluster.data_center_id ?? undefined);
      if (network.data_center_id !== cluster.data_center_id) throw conflict(`Cannot setup Networks: network ${network.name} belongs to another data center`);
      const inCluster = await e.db.selectFrom("network_clusters").select("network_id").where("network_id", "=", network.id).where("cluster_id", "=", cluster.id).executeTakeFirst();
      if (!inCluster) throw conflict(`Cannot setup Networks: network ${network.name} is not attached to cluster ${cluster.name}`);
      const nicName = a.host_nic?.name ?? prior?.nic_name;
      if (!nicName) throw parseInput(z.object({ host_nic: HostNicName }), {}, "NetworkAttachment", "setupnetworks");
      if (!names.has(nicName)) throw invalid(`Cannot setup Networks: host ${host.name} has no NIC ${nicName}`);
      if (networks[network.name]) throw invalid(`Cannot setup Networks: network ${network.name} appears twice`);
      // the network's bridge takes its name: an interface of that name on the host would collide
      if (network.vm === 1 && names.has(network.name)) {
        throw conflict(`Cannot setup Networks: host ${host.name} already has an interface named ${network.name}, the name network ${network.name}'s bridge needs`);
      }
      const addr = assignmentOf(a, network);
      const bridged = network.vm === 1;
      // the engine's own link: the NIC holding the host's address must keep it
      const takesEngineNic = bridged && network.vlan_id === null && nicName === engineDev;
      const holdsEngineAddr = engineDev === network.name;
      if ((takesEngineNic || holdsEngineAddr) && addr.ipaddr !== host.address) {
        throw conflict(`Cannot setup Networks: attaching ${network.name} to ${nicName} would cut the engine's connection to host ${host.name} (${host.address}); give the attachment that address`);
      }
      networks[network.name] = {
        ...(BOND_NAME.test(nicName) ? { bonding: nicName } : { nic: nicName }),
        vlan: network.vlan_id ?? undefined,
        bridged,
        mtu: network.mtu || undefined,
        ...addr,
        defaultRoute: addr.gateway !== undefined,
      };
      const old = prior ?? existing.find((x) => x.network_id === network.id);
      upserts.push({
        id: old?.id ?? randomUUID(),
        host_id: host.id,
        network_id: network.id,
        nic_name: nicName,
        boot_protocol: addr.bootproto === "dhcp" ? "dhcp" : addr.ipaddr ? "static" : "none",
        address: addr.ipaddr ?? null,
        netmask: addr.prefix !== undefined ? String(addr.prefix) : null,
        gateway: addr.gateway ?? null,
        created_at: old?.created_at ?? now(),
      });
    }
    for (const r of removals) {
      if (engineDev && (await networkByRef(e, { id: r.network_id })).name === engineDev) {
        throw conflict(`Cannot setup Networks: removing this attachment would cut the engine's connection to host ${host.name} (${host.address})`);
      }
    }
    const bondings: Plan["bondings"] = {};
    for (const b of input.modified_bonds ?? []) {
      const options = b.bonding?.options ? [b.bonding.options.option].flat().map((o) => `${o.name}=${o.value}`).join(" ") : undefined;
      bondings[b.name] = { nics: b.bonding?.slaves ? [b.bonding.slaves.host_nic].flat().map((n) => n.name) : undefined, options };
    }
    for (const b of input.removed_bonds ?? []) bondings[b.name] = { remove: true };
    return {
      host,
      networks,
      bondings,
      upserts,
      removals,
      check: input.check_connectivity ?? false,
      timeout: input.connectivity_timeout ?? 120,
      commit: input.commit_on_success ?? true,
    };
  },
  describe: (p) => `Setting up networks on host ${p.host.name}`,
  async execute(e, p) {
    const client = e.nodes.for(p.host);
    const call = client.call(
      "setupNetworks",
      { networks: p.networks, bondings: p.bondings, options: { connectivityCheck: p.check, connectivityTimeout: p.timeout } },
      { timeoutMs: (p.timeout + 30) * 1000 },
    );
    if (p.check) {
      // the node keeps the change only if we reach it over the new configuration
      let done = false;
      void call.then(() => (done = true), () => (done = true));
      while (!done) {
        await client.call("ping", {}, { timeoutMs: 2000 }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    await call;
    for (const r of p.removals) await e.db.deleteFrom("network_attachments").where("id", "=", r.id).execute();
    for (const u of p.upserts) {
      await e.db.deleteFrom("network_attachments").where("host_id", "=", u.host_id).where("network_id", "=", u.network_id).execute();
      await e.db.insertInto("network_attachments").values(u).execute();
    }
    if (p.commit) await client.call("setSafeNetworkConfig", {});
    e.log.info({ host: p.host.name, networks: Object.keys(p.networks) }, "networks set up");
    return p.upserts;
  },
};
