/** Removes a VM NIC (its MAC returns to the pool); a plugged NIC of a running VM must be unplugged first. */
import { conflict } from "../errors/fault.js";
import { mustById } from "../db/repo/entities.js";
import { mustNic } from "../db/repo/nics.js";
import type { Nic, Vm } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { runningHost } from "./nicPlans.js";

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
