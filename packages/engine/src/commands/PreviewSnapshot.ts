/**
 * Preview a VM snapshot (POST /vms/{id}/previewsnapshot): a new leaf on the snapshot's volume
 * beside the current chain, which the disk now uses; the old leaf is kept by a `preview` holder
 * snapshot until commit (CommitSnapshot.ts) or undo (UndoSnapshot.ts).
 */
import { z } from "zod";
import { invalid } from "../errors/fault.js";
import { Bool, parseInput, Uuid } from "../input/input.js";
import type { Snapshot } from "../db/schema.js";
import { engineStep } from "../jobs/jobs.js";
import { inBackground, type Started } from "./background.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";
import { branchOut, lockAll, newHolder, recordPayload, type SnapPlan, snapPlan, unlockAll } from "./snapshotSteps.js";

const PreviewInput = z.object({ snapshot: z.object({ id: Uuid }), restore_memory: Bool.optional(), async: Bool.optional(), disks: z.unknown().optional() });

export const PreviewSnapshot: CommandDef<{ vmId: string; body: unknown }, SnapPlan & { holder: Snapshot }, Started> = {
  name: "preview Snapshot",
  locks: (i) => [`vm:${i.vmId}`],
  async validate(e, { vmId, body }) {
    const vm = await mustById(e, "vms", vmId);
    const p = parseInput(PreviewInput, body, "action", "previewsnapshot");
    if (p.restore_memory) throw invalid("Cannot preview Snapshot: Vela snapshots hold no memory state");
    const plan = await snapPlan(e, vm.id, p.snapshot.id, "preview Snapshot");
    return { ...plan, holder: newHolder(vm.id) };
  },
  describe: (p) => `Previewing Snapshot '${p.snap.description.slice(0, 100)}' of VM ${p.vm.name}`,
  async execute(e, { vm, snap, disks, holder }, x) {
    const entries = disks.map((c) => ({ diskId: c.disk.id, old: c.disk.image_id, point: c.vol.id, leaf: c.leaf }));
    await recordPayload(e, x.jobId, { kind: "preview", vmId: vm.id, snapId: snap.id, holderId: holder.id, disks: entries });
    await e.db.insertInto("snapshots").values(holder).execute();
    x.revert.push("forget the preview holder", () => e.db.deleteFrom("snapshots").where("id", "=", holder.id).execute());
    await e.db.updateTable("snapshots").set({ status: "locked" }).where("id", "=", snap.id).execute();
    x.revert.push("snapshot back to ok", () => e.db.updateTable("snapshots").set({ status: "ok" }).where("id", "=", snap.id).execute());
    await lockAll(e, x, vm, disks.map((d) => d.disk));
    return inBackground(e, x, "preview Snapshot", async () => {
      await branchOut(e, x, disks, holder.id, { destructive: false });
      await engineStep(e, x.jobId, "finalizing", "Marking the snapshot in preview", async () => {
        await e.db.updateTable("snapshots").set({ status: "in_preview" }).where("id", "=", snap.id).execute();
        await unlockAll(e, vm, disks.map((d) => d.disk));
      });
    });
  },
};
