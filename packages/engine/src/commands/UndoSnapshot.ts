/**
 * Undo a snapshot preview (POST /vms/{id}/undosnapshot): the preview leaf is deleted and each disk
 * goes back to the leaf the preview holder kept. Refused once a commit has deleted part of that
 * state (only a commit can finish then).
 */
import { conflict } from "../errors/fault.js";
import { engineStep } from "../jobs/jobs.js";
import { inBackground, type Started } from "./background.js";
import type { CommandDef } from "./command.js";
import { branchAbove, dropVolumes, type EndPlan, endPayload, endPlan, lockAll, recordPayload, unlockAll } from "./snapshotSteps.js";

export const UndoSnapshot: CommandDef<{ vmId: string }, EndPlan, Started> = {
  name: "undo Snapshot preview",
  locks: (i) => [`vm:${i.vmId}`],
  async validate(e, { vmId }) {
    const plan = await endPlan(e, vmId, "undo Snapshot preview");
    if (plan.holder.status === "locked") {
      throw conflict(`Cannot undo Snapshot preview: a commit of the preview of VM ${plan.vm.name} was started and did not finish (part of the state before the preview may be deleted); run commit again`);
    }
    // A commit that failed (or was cut short) may have deleted part of the old branch: going back
    // to it would give the VM a chain that no longer exists. Only a commit can finish then.
    for (const c of plan.disks) {
      const branch = (await branchAbove(e, c.disk, c.old.id, c.point)) ?? [];
      const listed = await e.nodes.for(c.spm).call("getVolumesList", { sdUUID: c.disk.storage_domain_id, spUUID: c.dc.id, imgUUID: c.disk.id });
      const present = new Set(listed);
      const gone = branch.filter((b) => !present.has(b.id));
      if (gone.length) {
        throw conflict(
          `Cannot undo Snapshot preview: volumes ${gone.map((g) => g.id).join(", ")} of the state before the preview of disk ${c.disk.alias} were already deleted by an interrupted commit; commit the preview to finish it`,
        );
      }
    }
    return plan;
  },
  describe: (p) => `Undoing the preview of Snapshot '${p.snap.description.slice(0, 100)}' of VM ${p.vm.name}`,
  async execute(e, { vm, snap, holder, disks }, x) {
    await recordPayload(e, x.jobId, endPayload("undo", vm, snap, holder, disks));
    await lockAll(e, x, vm, disks.map((d) => d.disk));
    return inBackground(e, x, "undo Snapshot preview", async () => {
      for (const c of disks) {
        const preview = c.disk.image_id;
        await dropVolumes(e, x.jobId, c, [preview]);
        await e.db.deleteFrom("images").where("id", "=", preview).execute();
        await e.db.updateTable("images").set({ snapshot_id: null }).where("id", "=", c.old.id).execute();
        await e.db.updateTable("disks").set({ image_id: c.old.id }).where("id", "=", c.disk.id).execute();
      }
      await engineStep(e, x.jobId, "finalizing", "Back to the state before the preview", async () => {
        await e.db.deleteFrom("snapshots").where("id", "=", holder.id).execute();
        await e.db.updateTable("snapshots").set({ status: "ok" }).where("id", "=", snap.id).execute();
        await unlockAll(e, vm, disks.map((d) => d.disk));
      });
    });
  },
};
