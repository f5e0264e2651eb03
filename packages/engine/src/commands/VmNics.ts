/**
 * VM NICs (`/vms/{id}/nics`) and the MAC pool behind them. A NIC has a vNIC profile (its network),
 * a model (virtio, e1000, rtl8139), a MAC address (the pool's lowest free one unless given; never
 * two NICs with one MAC; freed when the NIC or its VM goes), and `linked`/`plugged` flags. On a
 * running VM, plugging and unplugging are hot-plug/unplug on its host and `linked` changes the
 * link live; the database changes only once the node has done it.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { conflict, notFound } from "../errors/fault.js";
import { Bool, Enum, parseInput, Uuid } from "../input/input.js";
import { type Host, type Network, type Nic, now, type Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import type { CommandDef } from "./command.js";
import { mustById } from "./lookup.js";
import { mustProfile } from "./Networks.js";

export const NIC_MODELS = ["virtio", "e1000", "rtl8139"] as const;
const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

export function macToNum(mac: string): number {
  return Number.parseInt(mac.replaceAll(":", ""), 16);
}

export function numToMac(n: number): string {
  return (n.toString(16).padStart(12, "0").match(/../g) as string[]).join(":");
}

const Mac = z
  .string()
  .regex(MAC_RE, "not a MAC address (six hex pairs separated by colons)")
  .transform((s) => s.toLowerCase())
  .refine((s) => (Number.parseInt(s.slice(0, 2), 16) & 1) === 0, "is a multicast address")
  .refine((s) => s !== "00:00:00:00:00:00", "is the all-zero address");

const NicInput = z.object({
  name: z.string().min(1).max(50).regex(/^[a-zA-Z0-9_.-]+$/, "only a-z A-Z 0-9 _ . -").optional(),
  interface: Enum(NIC_MODELS).optional(),
  mac: z.object({ address: Mac }).optional(),
  vnic_profile: z.object({ id: Uuid }).optional(),
  linked: Bool.optional(),
  plugged: Bool.optional(),
});
type NicInput = z.output<typeof NicInput>;

/** The lowest free MAC of the cluster's pool. */
async function allocateMac(e: Engine, clusterId: string): Promise<string> {
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

async function macFree(e: Engine, mac: string, exceptNicId?: string): Promise<void> {
  const clash = await e.db.selectFrom("vm_nics").select(["id", "owner_id"]).where("mac", "=", mac).executeTakeFirst();
  if (clash && clash.id !== exceptNicId) throw conflict(`Cannot add or update NIC: MAC address ${mac} is already in use.`);
}

/** The profile's network, which must be a VM network attached to the VM's cluster. */
async function profileNetwork(e: Engine, vm: Pick<Vm, "cluster_id" | "name">, profileId: string): Promise<Network> {
  const profile = await mustProfile(e, profileId);
  const network = await e.db.selectFrom("networks").selectAll().where("id", "=", profile.network_id).executeTakeFirstOrThrow();
  const attached = await e.db.selectFrom("network_clusters").select("network_id").where("network_id", "=", network.id).where("cluster_id", "=", vm.cluster_id).executeTakeFirst();
  if (!attached) throw conflict(`Cannot use vNIC profile ${profile.name} for VM ${vm.name}: network ${network.name} is not attached to the VM's cluster.`);
  return network;
}

export async function mustNic(e: Engine, vmId: string, nicId: string): Promise<Nic> {
  const nic = await e.db.selectFrom("vm_nics").selectAll().where("id", "=", nicId).where("owner_id", "=", vmId).executeTakeFirst();
  if (!nic) throw notFound("NIC", nicId);
  return nic;
}

/** A VM runs when the node has it; NIC changes then go to its host first. */
function runningHost(vm: Vm): string | undefined {
  return vm.status !== "down" && vm.run_on_host_id ? vm.run_on_host_id : undefined;
}

async function hostOf(e: Engine, id: string): Promise<Host> {
  return mustById(e, "hosts", id);
}

/** The node's NIC definition. */
export function nicSpec(nic: Pick<Nic, "mac" | "interface" | "linked">, network: Pick<Network, "name">) {
  return { macAddr: nic.mac, network: network.name, nicModel: nic.interface as (typeof NIC_MODELS)[number], linkActive: nic.linked === 1 };
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

/** Next free "nicN" name of a VM. */
async function nextName(e: Engine, table: "vm_nics" | "template_nics", ownerId: string): Promise<string> {
  const names = new Set((await e.db.selectFrom(table).select("name").where("owner_id", "=", ownerId).execute()).map((r) => r.name));
  for (let i = 1; ; i++) if (!names.has(`nic${i}`)) return `nic${i}`;
}

interface AddPlan {
  vm: Vm;
  nic: Nic;
  network?: Network;
}

export const AddVmNic: CommandDef<{ vmId: string; body: unknown }, AddPlan, Nic> = {
  name: "add NIC",
  locks: (i) => [`vm:${i.vmId}`, "mac:pool"],
  async validate(e, { vmId, body }) {
    const vm = await mustById(e, "vms", vmId);
    const input: NicInput = parseInput(NicInput, body, "NIC");
    const name = input.name ?? (await nextName(e, "vm_nics", vm.id));
    const clash = await e.db.selectFrom("vm_nics").select("id").where("owner_id", "=", vm.id).where("name", "=", name).executeTakeFirst();
    if (clash) throw conflict(`Cannot add NIC. VM ${vm.name} already has a NIC named ${name}.`);
    const network = input.vnic_profile ? await profileNetwork(e, vm, input.vnic_profile.id) : undefined;
    if (input.mac) await macFree(e, input.mac.address);
    const plugged = input.plugged !== false;
    if (runningHost(vm) && plugged && !network) throw conflict(`Cannot hot-plug a NIC without a vNIC profile into running VM ${vm.name}.`);
    const nic: Nic = {
      id: randomUUID(),
      owner_id: vm.id,
      name,
      interface: input.interface ?? "virtio",
      mac: input.mac?.address ?? (await allocateMac(e, vm.cluster_id)),
      vnic_profile_id: input.vnic_profile?.id ?? null,
      linked: input.linked === false ? 0 : 1,
      plugged: plugged ? 1 : 0,
      created_at: now(),
    };
    return { vm, nic, network };
  },
  describe: (p) => `Adding NIC ${p.nic.name} to VM ${p.vm.name}`,
  async execute(e, { vm, nic, network }) {
    const hostId = runningHost(vm);
    if (hostId && nic.plugged && network) {
      await e.nodes.for(await hostOf(e, hostId)).call("hotplugNic", { params: { vmId: vm.id, nic: nicSpec(nic, network) } });
    }
    await e.db.insertInto("vm_nics").values(nic).execute();
    return nic;
  },
};

const NicUpdate = NicInput;

export const UpdateVmNic: CommandDef<{ vmId: string; nicId: string; body: unknown }, { vm: Vm; nic: Nic; next: Nic; network?: Network }, Nic> = {
  name: "update NIC",
  locks: (i) => [`vm:${i.vmId}`, "mac:pool"],
  async validate(e, { vmId, nicId, body }) {
    const vm = await mustById(e, "vms", vmId);
    const nic = await mustNic(e, vmId, nicId);
    const input = parseInput(NicUpdate, body, "NIC", "update");
    const next: Nic = {
      ...nic,
      name: input.name ?? nic.name,
      interface: input.interface ?? nic.interface,
      mac: input.mac?.address ?? nic.mac,
      vnic_profile_id: input.vnic_profile ? input.vnic_profile.id : nic.vnic_profile_id,
      linked: input.linked === undefined ? nic.linked : input.linked ? 1 : 0,
      plugged: input.plugged === undefined ? nic.plugged : input.plugged ? 1 : 0,
    };
    if (next.name !== nic.name) {
      const clash = await e.db.selectFrom("vm_nics").select("id").where("owner_id", "=", vm.id).where("name", "=", next.name).executeTakeFirst();
      if (clash) throw conflict(`Cannot update NIC. VM ${vm.name} already has a NIC named ${next.name}.`);
    }
    if (next.mac !== nic.mac) await macFree(e, next.mac, nic.id);
    const network = next.vnic_profile_id ? await profileNetwork(e, vm, next.vnic_profile_id) : undefined;
    if (runningHost(vm) && nic.plugged && next.plugged) {
      const fixed = next.interface !== nic.interface || next.mac !== nic.mac || next.vnic_profile_id !== nic.vnic_profile_id;
      if (fixed) throw conflict(`Cannot update NIC ${nic.name} of running VM ${vm.name}: unplug it first to change its model, MAC or profile.`);
    }
    if (runningHost(vm) && next.plugged && !nic.plugged && !network) throw conflict(`Cannot hot-plug NIC ${nic.name}: it has no vNIC profile.`);
    return { vm, nic, next, network };
  },
  describe: (p) => `Updating NIC ${p.nic.name} of VM ${p.vm.name}`,
  async execute(e, { vm, nic, next, network }) {
    const hostId = runningHost(vm);
    if (hostId) {
      const client = e.nodes.for(await hostOf(e, hostId));
      if (nic.plugged && !next.plugged) {
        await client.call("hotunplugNic", { params: { vmId: vm.id, nic: { macAddr: nic.mac } } });
      } else if (!nic.plugged && next.plugged && network) {
        await client.call("hotplugNic", { params: { vmId: vm.id, nic: nicSpec(next, network) } });
      } else if (nic.plugged && next.plugged && nic.linked !== next.linked) {
        await client.call("vmUpdateDevice", { vmId: vm.id, params: { deviceType: "interface", macAddr: nic.mac, linkActive: next.linked === 1 } });
      }
    }
    await e.db
      .updateTable("vm_nics")
      .set({ name: next.name, interface: next.interface, mac: next.mac, vnic_profile_id: next.vnic_profile_id, linked: next.linked, plugged: next.plugged })
      .where("id", "=", nic.id)
      .execute();
    return next;
  },
};

export const RemoveVmNic: CommandDef<{ vmId: string; nicId: string }, { vm: Vm; nic: Nic }, void> = {
  name: "remove NIC",
  locks: (i) => [`vm:${i.vmId}`, "mac:pool"],
  async validate(e, { vmId, nicId }) {
    const vm = await mustById(e, "vms", vmId);
    const nic = await mustNic(e, vmId, nicId);
    if (runningHost(vm) && nic.plugged) throw conflict(`Cannot remove NIC ${nic.name}: VM ${vm.name} is running and the NIC is plugged. Unplug it first.`);
    return { vm, nic };
  },
  describe: (p) => `Removing NIC ${p.nic.name} from VM ${p.vm.name}`,
  async execute(e, { nic }) {
    await e.db.deleteFrom("vm_nics").where("id", "=", nic.id).execute();
  },
};

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

