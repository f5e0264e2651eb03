/**
 * Adds a NIC to a VM (`POST /vms/{id}/nics`): a model (virtio unless given), a MAC from the
 * cluster's pool unless given, a vNIC profile; on a running VM a plugged NIC is hot-plugged first.
 */
import { randomUUID } from "node:crypto";
import { conflict } from "../errors/fault.js";
import { parseInput } from "../input/input.js";
import { NicInput } from "../input/network.js";
import { mustById } from "../db/repo/entities.js";
import { allocateMac, ensureMacFree, nextNicName, nicNameTaken, nicSpec } from "../db/repo/nics.js";
import { type Network, type Nic, now, type Vm } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { hostOf, profileNetwork, runningHost } from "./nicPlans.js";

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
    const name = input.name ?? (await nextNicName(e, "vm_nics", vm.id));
    if (await nicNameTaken(e, vm.id, name)) throw conflict(`Cannot add NIC. VM ${vm.name} already has a NIC named ${name}.`);
    const network = input.vnic_profile ? await profileNetwork(e, vm, input.vnic_profile.id) : undefined;
    if (input.mac) await ensureMacFree(e, input.mac.address);
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
