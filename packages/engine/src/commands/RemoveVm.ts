/**
 * Removes a VM that is down, with its disks (as oVirt does) unless `detach_only` asks to keep
 * them. Disks go first: if one cannot be removed the VM stays, with its remaining disks.
 */
import { conflict } from "../errors/fault.js";
import type { Disk, Vm } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { ensureNotInPreview } from "./chains.js";
import { mustById } from "../db/repo/entities.js";
import { deleteDisk, validateRemovable } from "./RemoveDisk.js";
import { disksOfVm } from "../db/repo/disks.js";

interface Plan {
  vm: Vm;
  disks: Disk[];
  detachOnly: boolean;
}

export const RemoveVm: CommandDef<{ id: string; detachOnly: boolean }, Plan, void> = {
  name: "remove VM",
  locks: (i) => [`vm:${i.id}`],
  async validate(e, { id, detachOnly }) {
    const vm = await mustById(e, "vms", id);
    if (vm.status !== "down") throw conflict(`Cannot remove VM ${vm.name}: VM is ${vm.status}; stop it first`);
    const disks = await disksOfVm(e, id);
    if (!detachOnly) for (const d of disks) await validateRemovable(e, d, vm.id);
    // Kept disks would carry both branches of the preview with no VM to commit or undo it.
    else await ensureNotInPreview(e, `remove VM ${vm.name} keeping its disks`, { vmIds: [vm.id] });
    return { vm, disks, detachOnly };
  },
  describe: (p) => `Removing VM ${p.vm.name}`,
  async execute(e, { vm, disks, detachOnly }, x) {
    if (!detachOnly) {
      for (const d of disks) {
        const release = e.locks.acquire([`disk:${d.id}`], "remove VM");
        try {
          await deleteDisk(e, d, x.jobId);
        } finally {
          release();
        }
      }
    }
    await e.db.deleteFrom("disk_attachments").where("vm_id", "=", vm.id).execute();
    // Kept disks keep their volumes; they just no longer belong to this VM's snapshots.
    const snaps = (await e.db.selectFrom("snapshots").select("id").where("vm_id", "=", vm.id).execute()).map((s) => s.id);
    if (snaps.length) await e.db.updateTable("images").set({ snapshot_id: null }).where("snapshot_id", "in", snaps).execute();
    await e.db.deleteFrom("snapshots").where("vm_id", "=", vm.id).execute();
    // the VM's NICs go with it, and their MAC addresses back to the pool
    await e.db.deleteFrom("vm_nics").where("owner_id", "=", vm.id).execute();
    await e.db.deleteFrom("vm_initialization").where("vm_id", "=", vm.id).execute();
    await e.db.deleteFrom("vms").where("id", "=", vm.id).execute();
  },
};
