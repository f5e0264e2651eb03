/**
 * Updates a VM NIC. On a running VM: plugging/unplugging is hot-plug/unplug and `linked` changes
 * the link live; model, MAC and profile change only while the NIC is unplugged.
 */
import { conflict } from "../errors/fault.js";
import { parseInput } from "../input/input.js";
import { NicInput } from "../input/network.js";
import { mustById } from "../db/repo/entities.js";
import { ensureMacFree, mustNic, nicNameTaken, nicSpec } from "../db/repo/nics.js";
import type { Network, Nic, Vm } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { hostOf, profileNetwork, runningHost } from "./nicPlans.js";

export const UpdateVmNic: CommandDef<{ vmId: string; nicId: string; body: unknown }, { vm: Vm; nic: Nic; next: Nic; network?: Network }, Nic> = {
  name: "update NIC",
  locks: (i) => [`vm:${i.vmId}`, "mac:pool"],
  async validate(e, { vmId, nicId, body }) {
    const vm = await mustById(e, "vms", vmId);
    const nic = await mustNic(e, vmId, nicId);
    const input = parseInput(NicInput, body, "NIC", "update");
    const next: Nic = {
      ...nic,
      name: input.name ?? nic.name,
      interface: input.interface ?? nic.interface,
      mac: input.mac?.address ?? nic.mac,
      vnic_profile_id: input.vnic_profile ? input.vnic_profile.id : nic.vnic_profile_id,
      linked: input.linked === undefined ? nic.linked : input.linked ? 1 : 0,
      plugged: input.plugged === undefined ? nic.plugged : input.plugged ? 1 : 0,
    };
    if (next.name !== nic.name && (await nicNameTaken(e, vm.id, next.name))) throw conflict(`Cannot update NIC. VM ${vm.name} already has a NIC named ${next.name}.`);
    if (next.mac !== nic.mac) await ensureMacFree(e, next.mac, nic.id);
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
