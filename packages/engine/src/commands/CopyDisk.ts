/**
 * Copy a disk (POST /disks/{id}/copy): a new disk whose chain the SPM's copyImage collapses into
 * one volume, on any active domain of the same data center. Answers at once and runs as a job;
 * both disks are locked until it ends. The copy consumes its size on the target domain from the
 * source's quota (the copy keeps it).
 */
import { randomUUID } from "node:crypto";
import { BLANK_TEMPLATE_ID } from "../db/ids.js";
import { type Disk, now, num } from "../db/schema.js";
import { engineStep, nodeStep } from "../jobs/jobs.js";
import { volumeDescription } from "./AddDisk.js";
import { inBackground, type Started } from "./background.js";
import { actualSizeOf, setDiskStatus } from "./chains.js";
import type { CommandDef } from "./command.js";
import { type MovePlan, plan, copyProgress } from "./diskMoves.js";
import { consumeDisks } from "../quotas/consume.js";

export const CopyDisk: CommandDef<{ id: string; body: unknown }, MovePlan & { copy: Disk }, { copy: Disk } & Started> = {
  name: "copy Disk",
  locks: (i) => [`disk:${i.id}`],
  async validate(e, { id, body }) {
    const base = await plan(e, id, body, "copy Disk");
    const alias = base.p.disk?.name ?? base.p.disk?.alias ?? base.disk.alias;
    const copy: Disk = {
      ...base.disk,
      id: randomUUID(),
      image_id: randomUUID(),
      storage_domain_id: base.target.id,
      alias,
      actual_size: 0,
      status: "locked",
      template_id: null,
      created_at: now(),
    };
    // last: what the quota lets through counts for other checks until the copy's row exists
    await consumeDisks(e, base.dc, [base.disk], { what: `copy Disk ${base.disk.alias}`, until: { disks: [copy.id] }, domainOf: () => base.target.id });
    return { ...base, copy };
  },
  describe: (p) => `Copying Disk ${p.disk.alias} to domain ${p.target.name}`,
  async execute(e, { disk, dc, spm, copy }, x) {
    await e.db.insertInto("disks").values(copy).execute();
    await e.db.insertInto("images").values({ id: copy.image_id, disk_id: copy.id, parent_id: BLANK_TEMPLATE_ID, snapshot_id: null, created_at: copy.created_at }).execute();
    x.revert.push("forget the copy", async () => {
      await e.db.deleteFrom("images").where("disk_id", "=", copy.id).execute();
      await e.db.deleteFrom("disks").where("id", "=", copy.id).execute();
    });
    await setDiskStatus(e, disk.id, "locked");
    x.revert.push("unlock the source", () => setDiskStatus(e, disk.id, disk.status));
    const started = inBackground(e, x, "copy Disk", async () => {
      const release = e.locks.acquire([`disk:${copy.id}`], "copy Disk");
      try {
        await nodeStep(
          e,
          x.jobId,
          spm,
          `Copying image ${disk.id} to ${copy.id} on ${spm.name}`,
          () =>
            e.nodes.for(spm).call("copyImage", {
              sdUUID: disk.storage_domain_id,
              spUUID: dc.id,
              srcImgUUID: disk.id,
              srcVolUUID: disk.image_id,
              dstImgUUID: copy.id,
              dstVolUUID: copy.image_id,
              description: volumeDescription(copy.alias, copy.description),
              dstSdUUID: copy.storage_domain_id,
              volType: "LEAF",
            }),
          copyProgress(e, spm, dc.id, copy.storage_domain_id, copy.id, copy.image_id, Math.max(num(disk.actual_size), 1)),
        );
        await engineStep(e, x.jobId, "finalizing", "Recording the new disk", async () => {
          const actual = await actualSizeOf(e, spm, dc.id, copy);
          await e.db.updateTable("disks").set({ status: "ok", actual_size: actual }).where("id", "=", copy.id).execute();
          await setDiskStatus(e, disk.id, disk.status);
        });
      } finally {
        release();
      }
    });
    return { copy, ...started };
  },
};
