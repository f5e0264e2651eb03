/**
 * oVirt's other way to add a disk: POST /vms/{id}/diskattachments whose `disk` has no id but a
 * full disk definition. The disk is created as by AddDisk (201 locked → ok when the node's task
 * ends) and attached at once; the VM cannot start until the disk is ok.
 */
import { z } from "zod";
import { conflict } from "../errors/fault.js";
import { Bool, Enum, parseInput } from "../input/input.js";
import type { DiskAttachment, Vm } from "../db/schema.js";
import { AddDisk } from "./AddDisk.js";
import { ensureNotInPreview } from "./chains.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";

const Input = z.object({
  disk: z.record(z.string(), z.unknown()),
  interface: Enum(["virtio", "virtio_scsi", "sata", "ide"]).optional(),
  bootable: Bool.optional(),
  active: Bool.optional(),
  read_only: Bool.optional(),
  pass_discard: Bool.optional(),
});

type DiskPlan = Awaited<ReturnType<typeof AddDisk.validate>>;

interface Plan {
  vm: Vm;
  disk: DiskPlan;
  att: Omit<DiskAttachment, "disk_id">;
}

export const AddDiskAttachment: CommandDef<{ vmId: string; body: unknown }, Plan, DiskAttachment> = {
  name: "add Disk",
  locks: (i) => [`vm:${i.vmId}`],
  async validate(e, { vmId, body }) {
    const vm = await mustById(e, "vms", vmId);
    const p = parseInput(Input, body, "DiskAttachment");
    await ensureNotInPreview(e, `add Disk to VM ${vm.name}`, { vmIds: [vm.id] });
    const active = p.active ?? true;
    if (active && vm.status !== "down") throw conflict(`Cannot add Disk to VM ${vm.name}: it is ${vm.status} and hot-plug is not supported yet`);
    const bootable = p.bootable ?? false;
    if (bootable) {
      const boot = await e.db.selectFrom("disk_attachments").select("disk_id").where("vm_id", "=", vm.id).where("bootable", "=", 1).executeTakeFirst();
      if (boot) throw conflict(`Cannot add a bootable Disk: VM ${vm.name} already has a bootable disk`);
    }
    const disk = await AddDisk.validate(e, p.disk);
    const att = {
      vm_id: vm.id,
      interface: p.interface ?? "virtio",
      bootable: bootable ? 1 : 0,
      active: active ? 1 : 0,
      read_only: p.read_only ? 1 : 0,
      pass_discard: p.pass_discard ? 1 : 0,
    };
    return { vm, disk, att };
  },
  describe: (p) => `Adding Disk ${p.disk.disk.alias} to VM ${p.vm.name}`,
  async execute(e, { disk, att }, x) {
    const created = await AddDisk.execute(e, disk, x);
    const row: DiskAttachment = { ...att, disk_id: created.id };
    await e.db.insertInto("disk_attachments").values(row).execute();
    return row;
  },
};
