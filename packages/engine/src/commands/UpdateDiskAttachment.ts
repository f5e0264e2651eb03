/**
 * PUT /vms/{id}/diskattachments/{disk}: a disk attachment's interface, bootable, active,
 * read_only and pass_discard (Ansible's ovirt_disk puts these), and its disk's alias, description
 * and a larger provisioned_size (`<disk>` inside; UpdateDisk.ts: live on a running VM). The
 * attachment changes only while the VM is down (no hot-plug yet); a VM keeps at most one bootable
 * disk. Everything is checked before anything changes. Members not listed are ignored, so a
 * client may PUT back what it read (an unchanged attachment is accepted on a running VM too).
 */
import { z } from "zod";
import type { DiskAttachment, Vm } from "../db/schema.js";
import { conflict, notFound } from "../errors/fault.js";
import { Bool, Enum, parseInput } from "../input/input.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";
import { UpdateDisk, type UpdatePlan } from "./UpdateDisk.js";

const Input = z.object({
  interface: Enum(["virtio", "virtio_scsi", "sata", "ide"]).optional(),
  bootable: Bool.optional(),
  active: Bool.optional(),
  read_only: Bool.optional(),
  pass_discard: Bool.optional(),
  // The attached disk (its own checks are UpdateDisk's).
  disk: z.record(z.string(), z.unknown()).optional(),
});

const flag = (v: boolean | undefined, old: number) => (v === undefined ? old : v ? 1 : 0);

interface Plan {
  vm: Vm;
  next: DiskAttachment;
  changed: boolean;
  disk?: UpdatePlan;
}

export const UpdateDiskAttachment: CommandDef<{ vmId: string; diskId: string; body: unknown }, Plan, DiskAttachment> = {
  name: "update Disk attachment",
  locks: (i) => [`vm:${i.vmId}`, `disk:${i.diskId.toLowerCase()}`],
  async validate(e, { vmId, diskId, body }) {
    const vm = await mustById(e, "vms", vmId);
    const att = await e.db.selectFrom("disk_attachments").selectAll().where("vm_id", "=", vm.id).where("disk_id", "=", diskId).executeTakeFirst();
    if (!att) throw notFound("Disk attachment", diskId);
    const p = parseInput(Input, body, "DiskAttachment", "update");
    const next: DiskAttachment = {
      ...att,
      interface: p.interface ?? att.interface,
      bootable: flag(p.bootable, att.bootable),
      active: flag(p.active, att.active),
      read_only: flag(p.read_only, att.read_only),
      pass_discard: flag(p.pass_discard, att.pass_discard),
    };
    const changed = (Object.keys(next) as (keyof DiskAttachment)[]).some((k) => String(next[k]) !== String(att[k]));
    if (changed && vm.status !== "down") throw conflict(`Cannot update the Disk attachment of VM ${vm.name} while it is ${vm.status}`);
    if (next.bootable && !att.bootable) {
      const boot = await e.db.selectFrom("disk_attachments").select("disk_id").where("vm_id", "=", vm.id).where("bootable", "=", 1).executeTakeFirst();
      if (boot) throw conflict(`Cannot make the Disk bootable: VM ${vm.name} already has a bootable disk`);
    }
    const disk = p.disk ? await UpdateDisk.validate(e, { id: att.disk_id, body: p.disk }) : undefined;
    return { vm, next, changed, disk };
  },
  describe: (p) => (p.disk?.size !== undefined ? `${UpdateDisk.describe(p.disk)} of VM ${p.vm.name}` : `Updating a Disk attachment of VM ${p.vm.name}`),
  async execute(e, { next, changed, disk }, x) {
    if (disk) await UpdateDisk.execute(e, disk, x);
    if (!changed) return next;
    const { vm_id, disk_id, ...set } = next;
    await e.db.updateTable("disk_attachments").set(set).where("vm_id", "=", vm_id).where("disk_id", "=", disk_id).execute();
    return next;
  },
};
