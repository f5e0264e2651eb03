/**
 * Attach an existing disk to a VM (POST /vms/{id}/diskattachments). Hot-plug is not supported
 * yet: a running VM's active disks can only change while it is down (DetachDisk.ts detaches).
 */
import { z } from "zod";
import { badRequest, conflict } from "../errors/fault.js";
import { parseInput, Uuid } from "../input/input.js";
import type { Disk, DiskAttachment, Vm } from "../db/schema.js";
import { ensureNotLocked } from "./AddDisk.js";
import { ensureNotInPreview } from "./chains.js";
import type { CommandDef } from "./command.js";
import { AttachmentFields, planAttachment } from "./attachmentPlan.js";
import { mustById } from "../db/repo/entities.js";

const Input = z.object({ disk: z.object({ id: Uuid.optional() }).passthrough(), ...AttachmentFields });

export const AttachDisk: CommandDef<{ vmId: string; body: unknown }, { vm: Vm; disk: Disk; att: DiskAttachment }, DiskAttachment> = {
  name: "attach Disk",
  locks: (i) => [`vm:${i.vmId}`],
  async validate(e, { vmId, body }) {
    const vm = await mustById(e, "vms", vmId);
    const p = parseInput(Input, body, "DiskAttachment");
    if (!p.disk.id) throw badRequest("DiskAttachment [disk.id] required for add (creating a new disk through an attachment is not supported yet)");
    const disk = await mustById(e, "disks", p.disk.id);
    if (e.locks.isHeld(`disk:${disk.id}`)) throw conflict(`Cannot attach Disk ${disk.alias}: an operation on it is in progress`);
    ensureNotLocked(disk, "attach Disk");
    if (disk.template_id) throw conflict(`Cannot attach Disk ${disk.alias}: it is a template disk; create a VM from the template instead`);
    await ensureNotInPreview(e, `attach Disk ${disk.alias}`, { vmIds: [vm.id], diskId: disk.id });
    const others = await e.db.selectFrom("disk_attachments").select("vm_id").where("disk_id", "=", disk.id).execute();
    if (others.some((o) => o.vm_id === vm.id)) throw conflict(`Cannot attach Disk ${disk.alias}: it is already attached to VM ${vm.name}`);
    if (others.length > 0 && !disk.shareable) throw conflict(`Cannot attach Disk ${disk.alias}: it is attached to another VM and not shareable`);
    const att: DiskAttachment = { ...(await planAttachment(e, vm, p, `attach Disk ${disk.alias}`)), disk_id: disk.id };
    return { vm, disk, att };
  },
  describe: (p) => `Attaching Disk ${p.disk.alias} to VM ${p.vm.name}`,
  async execute(e, { att }) {
    await e.db.insertInto("disk_attachments").values(att).execute();
    return att;
  },
};
