/**
 * Detach a disk from a VM (DELETE /vms/{id}/diskattachments/{did}); the disk itself stays.
 * Hot-unplug is not supported yet: an active disk of a VM that is not down stays attached.
 */
import { conflict, notFound } from "../errors/fault.js";
import type { DiskAttachment, Vm } from "../db/schema.js";
import { ensureNotInPreview } from "./chains.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";

export const DetachDisk: CommandDef<{ vmId: string; diskId: string }, { vm: Vm; att: DiskAttachment }, void> = {
  name: "detach Disk",
  locks: (i) => [`vm:${i.vmId}`],
  async validate(e, { vmId, diskId }) {
    const vm = await mustById(e, "vms", vmId);
    const att = await e.db.selectFrom("disk_attachments").selectAll().where("vm_id", "=", vmId).where("disk_id", "=", diskId).executeTakeFirst();
    if (!att) throw notFound("Disk attachment", diskId);
    if (att.active && vm.status !== "down") throw conflict(`Cannot detach Disk: VM ${vm.name} is ${vm.status} and hot-unplug is not supported yet`);
    await ensureNotInPreview(e, "detach Disk", { vmIds: [vm.id], diskId });
    return { vm, att };
  },
  describe: (p) => `Detaching Disk ${p.att.disk_id} from VM ${p.vm.name}`,
  async execute(e, { att }) {
    await e.db.deleteFrom("disk_attachments").where("vm_id", "=", att.vm_id).where("disk_id", "=", att.disk_id).execute();
  },
};
