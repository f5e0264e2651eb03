/**
 * Move a disk (POST /disks/{id}/move): the whole chain to another domain by moveImage; the disk
 * keeps its id. Answers at once and runs as a job; a move storage shows done counts as done.
 * The chain consumes its size on the target domain from the disk's quota; nothing when the
 * source and the target fall under the same (global) limit.
 */
import { conflict, invalid } from "../errors/fault.js";
import { type Host, num } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { engineStep, nodeStep } from "../jobs/jobs.js";
import { inBackground, type Started } from "./background.js";
import { setDiskStatus, templateBaseOf } from "./chains.js";
import type { CommandDef } from "./command.js";
import { askStorage, hasImage } from "./storageTruth.js";
import { type MovePlan, plan, copyProgress } from "./diskMoves.js";
import { consumeStorage, quotaOf } from "../quotas/consume.js";
import { volumeCount } from "../quotas/store.js";

/** Whether the image is on the target domain and gone from the source (a move rolled forward). */
async function movedOnStorage(e: Engine, dcId: string, host: Host, img: string, src: string, dst: string): Promise<boolean> {
  const where = await askStorage(e, dcId, host, async (node) => ({ src: await hasImage(node, src, img), dst: await hasImage(node, dst, img) }));
  return where !== undefined && where.dst && !where.src;
}

export const MoveDisk: CommandDef<{ id: string; body: unknown }, MovePlan, Started> = {
  name: "move Disk",
  locks: (i) => [`disk:${i.id}`],
  async validate(e, { id, body }) {
    const p = await plan(e, id, body, "move Disk");
    if (p.target.id === p.disk.storage_domain_id) throw invalid(`Cannot move Disk ${p.disk.alias}: it is already on storage domain ${p.target.name}`);
    const tb = await templateBaseOf(e, p.disk);
    if (tb) throw conflict(`Cannot move Disk ${p.disk.alias}: it is based on template disk ${tb.disk?.alias ?? tb.volumeId}, which stays on its domain`);
    // Snapshots move with it: moveImage copies every volume of the chain.
    const quota = await quotaOf(e, p.dc.id, p.disk.quota_id);
    if (quota) {
      const bytes = num(p.disk.provisioned_size) * (await volumeCount(e, p.disk.id));
      // last: the grant counts for other checks while the move holds the disk's lock
      await consumeStorage(e, { dc: p.dc, quota, bytes: new Map([[p.target.id, bytes]]), leaving: new Map([[p.disk.storage_domain_id, bytes]]), what: `move Disk ${p.disk.alias}`, until: { lock: `disk:${p.disk.id}` } });
    }
    return { disk: p.disk, dc: p.dc, spm: p.spm, target: p.target };
  },
  describe: (p) => `Moving Disk ${p.disk.alias} to domain ${p.target.name}`,
  async execute(e, { disk, dc, spm, target }, x) {
    await setDiskStatus(e, disk.id, "locked");
    x.revert.push("unlock the disk", () => setDiskStatus(e, disk.id, disk.status));
    return inBackground(e, x, "move Disk", async () => {
      await nodeStep(
        e,
        x.jobId,
        spm,
        `Moving image ${disk.id} to ${target.name} on ${spm.name}`,
        () => e.nodes.for(spm).call("moveImage", { spUUID: dc.id, srcDomUUID: disk.storage_domain_id, dstDomUUID: target.id, imgUUID: disk.id, op: 2 }),
        copyProgress(e, spm, dc.id, target.id, disk.id, disk.image_id, Math.max(num(disk.actual_size), 1)),
      ).catch(async (err: unknown) => {
        // Once the copy is whole the node's move rolls forward (the source delete is finished by
        // whichever SPM recovers the task): then the disk is on the target, whatever the task said.
        if (!(await movedOnStorage(e, dc.id, spm, disk.id, disk.storage_domain_id, target.id))) throw err;
        e.log.warn({ err, disk: disk.id, target: target.id }, "move task did not succeed, but storage shows it done (rolled forward)");
      });
      await engineStep(e, x.jobId, "finalizing", "Recording the disk's new domain", async () => {
        await e.db.updateTable("disks").set({ storage_domain_id: target.id, status: disk.status }).where("id", "=", disk.id).execute();
      });
    });
  },
};
