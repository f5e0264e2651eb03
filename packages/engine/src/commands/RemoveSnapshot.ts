/**
 * Delete a VM snapshot (DELETE /vms/{id}/snapshots/{sid}): the snapshot's volume takes in its
 * child and the child goes; the next snapshot (or the active layer) now owns the merged volume.
 * With the VM down it is a cold merge on the SPM (mergeSnapshots); a merge only rolls forward on
 * the node, so a failed task whose merge storage shows done counts as done. With the VM running,
 * the disks it has open merge live on its host (liveMerge.ts) and the child is then deleted
 * through the SPM; the VM stays up, its disks locked meanwhile. A failed live merge leaves the
 * snapshot and the chain as they were.
 */
import { Code } from "@vela/protocol/errors";
import { conflict } from "../errors/fault.js";
import type { Host, Image } from "../db/schema.js";
import { mustById } from "../db/repo/entities.js";
import type { Engine } from "../engine.js";
import { NodeError } from "../hosts/client.js";
import { engineStep, nodeStep } from "../jobs/jobs.js";
import { inBackground, type Started } from "./background.js";
import type { CommandDef } from "./command.js";
import { mergeLive, openDisks } from "./liveMerge.js";
import { type DiskCtx, dropVolumes, lockAll, runsLive, type SnapPlan, snapPlan, unlockAll } from "./snapshotSteps.js";
import { askStorage } from "./storageTruth.js";

/**
 * Whether a merge of `top` into the snapshot's volume is done on storage although its task did
 * not report success: a node merge only ever rolls forward, so an SPM that died or was fenced
 * mid-merge leaves the finishing to the next SPM (or to itself after a restart), and a retried
 * merge finds its top volume gone. Done means: top gone, base there and LEGAL.
 */
async function mergedOnStorage(e: Engine, c: DiskCtx & { vol: Image }, top: string): Promise<boolean> {
  const done = await askStorage(e, c.dc.id, c.spm, async (node, dc) => {
    const info = (vol: string) => node.call("getVolumeInfo", { sdUUID: c.disk.storage_domain_id, spUUID: dc.id, imgUUID: c.disk.id, volUUID: vol });
    const topGone = await info(top).then(
      () => false,
      (err: unknown) => {
        if (err instanceof NodeError && err.code === Code.VolumeDoesNotExist) return true;
        throw err;
      },
    );
    return topGone && (await info(c.vol.id)).legality === "LEGAL";
  });
  return done === true;
}

/** The node kept the snapshot's volume: it now holds the child's data and takes its place. */
async function mergedInDb(e: Engine, c: DiskCtx & { vol: Image }, child: Image): Promise<void> {
  await e.db.updateTable("images").set({ snapshot_id: child.snapshot_id }).where("id", "=", c.vol.id).execute();
  await e.db.updateTable("images").set({ parent_id: c.vol.id }).where("parent_id", "=", child.id).where("disk_id", "=", c.disk.id).execute();
  await e.db.deleteFrom("images").where("id", "=", child.id).execute();
  await e.db.updateTable("disks").set({ image_id: c.vol.id }).where("id", "=", c.disk.id).where("image_id", "=", child.id).execute();
}

export const RemoveSnapshot: CommandDef<{ vmId: string; snapId: string }, SnapPlan & { children: Image[]; host?: Host; open: Set<string> }, Started> = {
  name: "remove Snapshot",
  locks: (i) => [`vm:${i.vmId}`],
  async validate(e, { vmId, snapId }) {
    const p = await snapPlan(e, vmId, snapId, "remove Snapshot", true);
    const host = runsLive(p.vm) ? await mustById(e, "hosts", p.vm.run_on_host_id as string) : undefined;
    const open = host ? await openDisks(e, p.vm.id) : new Set<string>();
    const children: Image[] = [];
    for (const c of p.disks) {
      const kids = await e.db.selectFrom("images").selectAll().where("disk_id", "=", c.disk.id).where("parent_id", "=", c.vol.id).execute();
      if (kids.length !== 1) throw conflict(`Cannot remove Snapshot: volume ${c.vol.id} of disk ${c.disk.alias} has ${kids.length} children, not one`);
      children.push(kids[0] as Image);
    }
    return { ...p, children, host, open };
  },
  describe: (p) => `Removing Snapshot '${p.snap.description.slice(0, 100)}' of VM ${p.vm.name}${p.host ? " (live)" : ""}`,
  async execute(e, { vm, snap, disks, children, host, open }, x) {
    await e.db.updateTable("snapshots").set({ status: "locked" }).where("id", "=", snap.id).execute();
    x.revert.push("snapshot back to ok", () => e.db.updateTable("snapshots").set({ status: "ok" }).where("id", "=", snap.id).execute());
    await lockAll(e, x, vm, disks.map((d) => d.disk), host !== undefined);
    return inBackground(e, x, "remove Snapshot", async () => {
      for (const [i, c] of disks.entries()) {
        const child = children[i] as Image;
        if (host && open.has(c.disk.id)) {
          await mergeLive(e, x.jobId, vm, host, c, child);
          await mergedInDb(e, c, child);
          await dropVolumes(e, x.jobId, c, [child.id]);
          continue;
        }
        await nodeStep(e, x.jobId, c.spm, `Merging volume ${child.id} into ${c.vol.id} of disk ${c.disk.alias}`, () =>
          e.nodes.for(c.spm).call("mergeSnapshots", { sdUUID: c.disk.storage_domain_id, spUUID: c.dc.id, imgUUID: c.disk.id, ancestor: c.vol.id, successor: child.id }),
        ).catch(async (err: unknown) => {
          if (!(await mergedOnStorage(e, c, child.id))) throw err;
          e.log.warn({ err, disk: c.disk.id, base: c.vol.id, top: child.id }, "merge task did not succeed, but storage shows it done (rolled forward)");
        });
        await mergedInDb(e, c, child);
      }
      await engineStep(e, x.jobId, "finalizing", "Removing the snapshot record", async () => {
        await e.db.deleteFrom("snapshots").where("id", "=", snap.id).execute();
        await unlockAll(e, vm, disks.map((d) => d.disk));
      });
    });
  },
};
