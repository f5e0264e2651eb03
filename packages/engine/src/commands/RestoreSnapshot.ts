/**
 * Restore a VM to a snapshot (POST /vms/{id}/snapshots/{sid}/restore): preview + commit in one
 * job, the new leaf first and only then the old branch (see snapshotSteps.ts for the phases).
 */
import { z } from "zod";
import { invalid } from "../errors/fault.js";
import { Bool, parseInput } from "../input/input.js";
import type { Snapshot } from "../db/schema.js";
import { engineStep } from "../jobs/jobs.js";
import { inBackground, type Started } from "./background.js";
import type { CommandDef } from "./command.js";
import { branchOut, dropEmptySnapshots, dropOldBranch, laterEmptySnapshots, lockAll, newHolder, recordPayload, type SnapPlan, snapPlan, unlockAll } from "./snapshotSteps.js";

const RestoreInput = z.object({ restore_memory: Bool.optional(), async: Bool.optional(), disks: z.unknown().optional() });

/**
 * Restore = preview + commit in one job, as oVirt's restore action is: a new leaf on the
 * snapshot's volume first, and only then the volumes written after the snapshot go (with the
 * snapshots that owned them). The snapshot itself stays. The old leaf is held by a preview
 * holder as in a preview, so a delete phase that fails leaves the VM previewing the snapshot
 * (holder locked: a commit was started) and `commitsnapshot` finishes the restore.
 */
export const RestoreSnapshot: CommandDef<{ vmId: string; snapId: string; body?: unknown }, SnapPlan & { holder: Snapshot }, Started> = {
  name: "restore Snapshot",
  locks: (i) => [`vm:${i.vmId}`],
  async validate(e, { vmId, snapId, body }) {
    const p = parseInput(RestoreInput, body, "action", "restore");
    if (p.restore_memory) throw invalid("Cannot restore Snapshot: Vela snapshots hold no memory state");
    const plan = await snapPlan(e, vmId, snapId, "restore Snapshot");
    return { ...plan, holder: newHolder(plan.vm.id) };
  },
  describe: (p) => `Restoring VM ${p.vm.name} to Snapshot '${p.snap.description.slice(0, 100)}'`,
  async execute(e, { vm, snap, disks, holder }, x) {
    const entries = disks.map((c) => ({ diskId: c.disk.id, old: c.disk.image_id, point: c.vol.id, leaf: c.leaf }));
    await recordPayload(e, x.jobId, { kind: "restore", vmId: vm.id, snapId: snap.id, holderId: holder.id, disks: entries });
    const phase = { destructive: false };
    await e.db.insertInto("snapshots").values(holder).execute();
    x.revert.push("forget the holder unless the old branch is being deleted", async () => {
      if (!phase.destructive) await e.db.deleteFrom("snapshots").where("id", "=", holder.id).execute();
    });
    await e.db.updateTable("snapshots").set({ status: "locked" }).where("id", "=", snap.id).execute();
    x.revert.push("snapshot back to ok, or in preview once the old branch is being deleted", () =>
      e.db.updateTable("snapshots").set({ status: phase.destructive ? "in_preview" : "ok" }).where("id", "=", snap.id).execute(),
    );
    await lockAll(e, x, vm, disks.map((d) => d.disk));
    return inBackground(e, x, "restore Snapshot", async () => {
      const branches = await branchOut(e, x, disks, holder.id, phase);
      await e.db.updateTable("snapshots").set({ status: "locked" }).where("id", "=", holder.id).execute();
      phase.destructive = true;
      const dropped: string[] = [holder.id];
      for (const b of branches) dropped.push(...(await dropOldBranch(e, x.jobId, b.c, b.old, b.c.vol.id)));
      await engineStep(e, x.jobId, "finalizing", "Removing the snapshots taken after it", async () => {
        await dropEmptySnapshots(e, vm.id, [...dropped, ...(await laterEmptySnapshots(e, vm.id, snap))]);
        await e.db.deleteFrom("snapshots").where("id", "=", holder.id).execute();
        await e.db.updateTable("snapshots").set({ status: "ok" }).where("id", "=", snap.id).execute();
        await unlockAll(e, vm, disks.map((d) => d.disk));
      });
    });
  },
};
