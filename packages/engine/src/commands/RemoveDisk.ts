/**
 * Removes a disk: deleteImage on the SPM (a node task, awaited: the whole chain goes, snapshots
 * included), then the engine's records.
 * Refused while the disk is locked or attached to a VM that is not down. A volume that no longer
 * exists on storage (e.g. a disk whose creation failed) counts as removed.
 */
import { conflict } from "../errors/fault.js";
import { Code } from "@vela/protocol/errors";
import type { Disk, Host } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { NodeError } from "../hosts/client.js";
import { nodeStep, TaskFailed } from "../jobs/jobs.js";
import { ensureNotLocked } from "./AddDisk.js";
import { ensureNotInPreview } from "./chains.js";
import type { CommandDef } from "./command.js";
import { attachmentOf, spmOf } from "./lookup.js";
import { mustById } from "../db/repo/entities.js";
import { askStorage, hasImage } from "./storageTruth.js";
import { vmsOfDisk } from "../db/repo/disks.js";

const GONE = new Set<number>([Code.VolumeDoesNotExist, Code.ImageDoesNotExistInSD, Code.StorageDomainDoesNotExist]);

/**
 * Whether the disk's image is gone from its domain although the delete did not report success:
 * an image delete rolls forward once its image is renamed away, so the SPM that recovers the
 * task (after a crash or a lost lease) finishes it.
 */
async function imageGoneOnStorage(e: Engine, dcId: string, host: Host, disk: Disk): Promise<boolean> {
  const listed = await askStorage(e, dcId, host, (node) => hasImage(node, disk.storage_domain_id, disk.id));
  return listed === false;
}

export async function validateRemovable(e: Engine, disk: Disk, allowVm?: string): Promise<void> {
  ensureNotLocked(disk, "remove Disk");
  if (disk.template_id) throw conflict(`Cannot remove Disk ${disk.alias}: it belongs to a template; remove the template instead`);
  const atts = await vmsOfDisk(e, disk.id);
  for (const vm of atts) {
    if (vm.status !== "down") throw conflict(`Cannot remove Disk ${disk.alias}: VM ${vm.name} using it is ${vm.status}`);
    if (allowVm === undefined) continue;
    if (vm.id !== allowVm) throw conflict(`Cannot remove Disk ${disk.alias}: it is attached to VM ${vm.name}`);
  }
  // Removing the whole VM (allowVm) takes its snapshots and both branches with it, as in oVirt.
  if (allowVm === undefined) await ensureNotInPreview(e, `remove Disk ${disk.alias}`, { diskId: disk.id });
}

/**
 * Deletes the disk's image (its whole chain; a template volume it is based on only loses this
 * image's links) on storage, then its records. The caller holds the disk's lock.
 */
export async function deleteDisk(e: Engine, disk: Disk, jobId: string): Promise<void> {
  const att = await attachmentOf(e, disk.storage_domain_id);
  if (att) {
    const dc = await mustById(e, "data_centers", att.data_center_id);
    const spm = await spmOf(e, dc, "remove Disk");
    await e.db.updateTable("disks").set({ status: "locked" }).where("id", "=", disk.id).execute();
    try {
      await nodeStep(e, jobId, spm, `Deleting image ${disk.id} on ${spm.name}`, () =>
        e.nodes.for(spm).call("deleteImage", { sdUUID: disk.storage_domain_id, spUUID: dc.id, imgUUID: disk.id, postZero: disk.wipe_after_delete !== 0 }),
      );
    } catch (err) {
      const gone = ((err instanceof NodeError || err instanceof TaskFailed) && GONE.has(err.code)) || (await imageGoneOnStorage(e, dc.id, spm, disk));
      if (!gone) {
        await e.db.updateTable("disks").set({ status: disk.status }).where("id", "=", disk.id).execute();
        throw err;
      }
    }
  }
  await e.db.deleteFrom("disk_attachments").where("disk_id", "=", disk.id).execute();
  await e.db.deleteFrom("images").where("disk_id", "=", disk.id).execute();
  await e.db.deleteFrom("disks").where("id", "=", disk.id).execute();
}

export const RemoveDisk: CommandDef<{ id: string }, { disk: Disk }, void> = {
  name: "remove Disk",
  locks: (i) => [`disk:${i.id}`],
  async validate(e, { id }) {
    const disk = await mustById(e, "disks", id);
    await validateRemovable(e, disk);
    return { disk };
  },
  describe: (p) => `Removing Disk ${p.disk.alias}`,
  async execute(e, { disk }, x) {
    await deleteDisk(e, disk, x.jobId);
  },
};
