/**
 * oVirt's other way to add a disk: POST /vms/{id}/diskattachments whose `disk` has no id but a
 * full disk definition. The disk is created as by AddDisk (201 locked → ok when the node's task
 * ends) and attached at once; the VM cannot start until the disk is ok.
 */
import { z } from "zod";
import { parseInput } from "../input/input.js";
import type { DiskAttachment, Vm } from "../db/schema.js";
import { AddDisk } from "./AddDisk.js";
import { ensureNotInPreview } from "./chains.js";
import type { CommandDef } from "./command.js";
import { AttachmentFields, planAttachment } from "./attachmentPlan.js";
import { mustById } from "../db/repo/entities.js";

const Input = z.object({ disk: z.record(z.string(), z.unknown()), ...AttachmentFields });

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
    const att = await planAttachment(e, vm, p, "add Disk");
    const disk = await AddDisk.validate(e, p.disk);
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
