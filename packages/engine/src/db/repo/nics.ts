/**
 * VM and template NICs in the database, and the MAC pool behind them: a NIC's MAC is the pool's
 * lowest free one unless given, never two NICs with one MAC, freed when the NIC or its VM goes.
 */
import { randomUUID } from "node:crypto";
import { conflict, notFound } from "../../errors/fault.js";
import type { Engine } from "../../engine.js";
import { type Network, type Nic, now } from "../schema.js";
import { mustById } from "./entities.js";

export const NIC_MODELS = ["virtio", "e1000", "rtl8139"] as const;
export type NicModel = (typeof NIC_MODELS)[number];

export function macToNum(mac: string): number {
  return Number.parseInt(mac.replaceAll(":", ""), 16);
}

export function numToMac(n: number): string {
  return (n.toString(16).padStart(12, "0").match(/../g) as string[]).join(":");
}

/** The lowest free MAC of the cluster's pool. */
export async function allocateMac(e: Engine, clusterId: string): Promise<string> {
  const cluster = await mustById(e, "clusters", clusterId);
  const pool = cluster.mac_pool_id ? await e.db.selectFrom("mac_pools").selectAll().where("id", "=", cluster.mac_pool_id).executeTakeFirst() : undefined;
  if (!pool) throw conflict(`Cannot add NIC: cluster ${cluster.name} has no MAC pool`);
  const from = macToNum(pool.range_from);
  const to = macToNum(pool.range_to);
  const used = new Set(
    (await e.db.selectFrom("vm_nics").select("mac").execute()).map((r) => macToNum(r.mac)).filter((n) => n >= from && n <= to),
  );
  for (let n = from; n <= to; n++) if (!used.has(n)) return numToMac(n);
  throw conflict(`Cannot add NIC: MAC pool ${pool.name} is exhausted`);
}

/** Refuses a MAC another NIC (than `exceptNicId`) has. */
export async function ensureMacFree(e: Engine, mac: string, exceptNicId?: string): Promise<void> {
  const clash = await e.db.selectFrom("vm_nics").select(["id", "owner_id"]).where("mac", "=", mac).executeTakeFirst();
  if (clash && clash.id !== exceptNicId) throw conflict(`Cannot add or update NIC: MAC address ${mac} is already in use.`);
}

export async function mustNic(e: Engine, vmId: string, nicId: string): Promise<Nic> {
  const nic = await e.db.selectFrom("vm_nics").selectAll().where("id", "=", nicId).where("owner_id", "=", vmId).executeTakeFirst();
  if (!nic) throw notFound("NIC", nicId);
  return nic;
}

/** Whether a VM already has a NIC of that name. */
export async function nicNameTaken(e: Engine, vmId: string, name: string): Promise<boolean> {
  return (await e.db.selectFrom("vm_nics").select("id").where("owner_id", "=", vmId).where("name", "=", name).executeTakeFirst()) !== undefined;
}

/** Next free "nicN" name of a VM or template. */
export async function nextNicName(e: Engine, table: "vm_nics" | "template_nics", ownerId: string): Promise<string> {
  const names = new Set((await e.db.selectFrom(table).select("name").where("owner_id", "=", ownerId).execute()).map((r) => r.name));
  for (let i = 1; ; i++) if (!names.has(`nic${i}`)) return `nic${i}`;
}

/** The node's NIC definition. */
export function nicSpec(nic: Pick<Nic, "mac" | "interface" | "linked">, network: Pick<Network, "name">) {
  return { macAddr: nic.mac, network: network.name, nicModel: nic.interface as NicModel, linkActive: nic.linked === 1 };
}

/** The plugged, connected NICs of a VM as the node's create verb takes them (unconnected NICs are left out). */
export async function nicSpecsOf(e: Engine, vmId: string) {
  const rows = await e.db
    .selectFrom("vm_nics")
    .innerJoin("vnic_profiles", "vnic_profiles.id", "vm_nics.vnic_profile_id")
    .innerJoin("networks", "networks.id", "vnic_profiles.network_id")
    .select(["vm_nics.mac", "vm_nics.interface", "vm_nics.linked", "networks.name"])
    .where("vm_nics.owner_id", "=", vmId)
    .where("vm_nics.plugged", "=", 1)
    .orderBy("vm_nics.name")
    .execute();
  return rows.map((r) => nicSpec(r, r));
}

/** Copies a template's NICs to a new VM, each with a fresh MAC from the VM's cluster pool. */
export async function copyTemplateNics(e: Engine, templateId: string, vmId: string, clusterId: string): Promise<void> {
  const nics = await e.db.selectFrom("template_nics").selectAll().where("owner_id", "=", templateId).orderBy("name").execute();
  for (const n of nics) {
    await e.db.insertInto("vm_nics").values({ ...n, id: randomUUID(), owner_id: vmId, mac: await allocateMac(e, clusterId), created_at: now() }).execute();
  }
}

/** Copies a VM's NICs to a new template (MACs are kept as the template's record; VMs get new ones). */
export async function copyVmNicsToTemplate(e: Engine, vmId: string, templateId: string): Promise<void> {
  const nics = await e.db.selectFrom("vm_nics").selectAll().where("owner_id", "=", vmId).execute();
  for (const n of nics) await e.db.insertInto("template_nics").values({ ...n, id: randomUUID(), owner_id: templateId, created_at: now() }).execute();
}
