/**
 * Commit a snapshot preview (POST /vms/{id}/commitsnapshot): the old branch is deleted leaf first,
 * with the snapshots taken after the previewed one; the preview leaf stays the disk.
 */
import { conflict } from "../errors/fault.js";
import { engineStep } from "../jobs/jobs.js";
import { inBackground, type Started } from "./background.js";
import type { CommandDef } from "./command.js";
import { dropEmptySnapshots, dropOldBranch, type EndPlan, endPayload, endPlan, laterEmptySnapshots, lockAll, recordPayload, unlockAll } from "./snapshotSteps.js";

/** Keeps the preview: the old branch goes, and with it every snapshot taken after the previewed one. */
export const CommitSnapshot: CommandDef<{ vmId: string }, EndPlan, Started> = {
  name: "commit Snapshot",
  locks: (i) => [`vm:${i.vmId}`],
  async validate(e, { vmId }) {
    const plan = await endPlan(e, vmId, "commit Snapshot");
    // The holder is locked once a commit started; partial without that, an undo stopped half-way.
    if (plan.partial && plan.holder.status !== "locked") {
      throw conflict(`Cannot commit Snapshot: an undo of the preview of VM ${plan.vm.name} did not finish (some disks are back before the preview); run undo again`);
    }
    return plan;
  },
  describe: (p) => `Committing Snapshot '${p.snap.description.slice(0, 100)}' of VM ${p.vm.name}`,
  async execute(e, { vm, snap, holder, disks }, x) {
    await recordPayload(e, x.jobId, endPayload("commit", vm, snap, holder, disks));
    await lockAll(e, x, vm, disks.map((d) => d.disk));
    // Kept if the commit fails: the old branch may be partly gone, so only a commit may follow.
    await e.db.updateTable("snapshots").set({ status: "locked" }).where("id", "=", holder.id).execute();
    return inBackground(e, x, "commit Snapshot", async () => {
      const dropped: string[] = [holder.id];
      for (const c of disks) dropped.push(...(await dropOldBranch(e, x.jobId, c, c.old.id, c.point)));
      await engineStep(e, x.jobId, "finalizing", "Removing the snapshots of the discarded branch", async () => {
        await dropEmptySnapshots(e, vm.id, [...dropped, ...(await laterEmptySnapshots(e, vm.id, snap))]);
        await e.db.deleteFrom("snapshots").where("id", "=", holder.id).execute();
        await e.db.updateTable("snapshots").set({ status: "ok" }).where("id", "=", snap.id).execute();
        await unlockAll(e, vm, disks.map((d) => d.disk));
      });
    });
  },
};
