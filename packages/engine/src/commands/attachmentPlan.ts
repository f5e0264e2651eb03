/**
 * What attaching a disk to a VM takes, whether the disk exists (AttachDisk) or is made with the
 * attachment (AddDiskAttachment): the attachment's fields, no hot-plug into a running VM, at most
 * one bootable disk per VM.
 */
import { z } from "zod";
import { conflict } from "../errors/fault.js";
import { Bool, Enum } from "../input/input.js";
import type { DiskAttachment, Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";

/** The attachment's own fields, beside its `disk`. */
export const AttachmentFields = {
  interface: Enum(["virtio", "virtio_scsi", "sata", "ide"]).optional(),
  bootable: Bool.optional(),
  active: Bool.optional(),
  read_only: Bool.optional(),
  pass_discard: Bool.optional(),
};
const Fields = z.object(AttachmentFields);

/** The attachment row (but its disk), refused if it would hot-plug or add a second bootable disk. */
export async function planAttachment(e: Engine, vm: Vm, p: z.output<typeof Fields>, what: string): Promise<Omit<DiskAttachment, "disk_id">> {
  const active = p.active ?? true;
  if (active && vm.status !== "down") throw conflict(`Cannot ${what}: VM ${vm.name} is ${vm.status} and hot-plug is not supported yet`);
  const bootable = p.bootable ?? false;
  if (bootable) {
    const boot = await e.db.selectFrom("disk_attachments").select("disk_id").where("vm_id", "=", vm.id).where("bootable", "=", 1).executeTakeFirst();
    if (boot) throw conflict(`Cannot ${what} as bootable: VM ${vm.name} already has a bootable disk`);
  }
  return {
    vm_id: vm.id,
    interface: p.interface ?? "virtio",
    bootable: bootable ? 1 : 0,
    active: active ? 1 : 0,
    read_only: p.read_only ? 1 : 0,
    pass_discard: p.pass_discard ? 1 : 0,
  };
}
