/**
 * Create a VM snapshot (POST /vms/{id}/snapshots), cold only: on each chosen disk the leaf is
 * frozen (the node makes it INTERNAL) under a new COW leaf, and the frozen volume belongs to the
 * snapshot. A job with one step per node task; undone disk by disk if a step fails.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { badRequest, invalid, notFound } from "../errors/fault.js";
import { Bool, ListOf, parseInput, Text, Uuid } from "../input/input.js";
import { now, type Snapshot, type Vm } from "../db/schema.js";
import { engineStep } from "../jobs/jobs.js";
import { inBackground, type Started } from "./background.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";
import { activeSnapshot, type DiskCtx, diskCtx, dropVolumes, ensureVmQuiet, lockAll, newLeaf, unlockAll } from "./snapshotSteps.js";
import { disksOfVm } from "../db/repo/disks.js";

const CreateInput = z.object({
  description: Text(4000).refine((s) => s.trim().length > 0, "must not be empty"),
  persist_memorystate: Bool.optional(),
  disk_attachments: ListOf("disk_attachment", z.object({ id: Uuid.optional(), disk: z.object({ id: Uuid }).optional() })).optional(),
});

interface CreatePlan {
  vm: Vm;
  snap: Snapshot;
  disks: (DiskCtx & { vol: string })[];
}

export const CreateSnapshot: CommandDef<{ vmId: string; body: unknown }, CreatePlan, { snap: Snapshot } & Started> = {
  name: "create Snapshot",
  locks: (i) => [`vm:${i.vmId}`],
  async validate(e, { vmId, body }) {
    const vm = await mustById(e, "vms", vmId);
    const p = parseInput(CreateInput, body, "Snapshot");
    if (p.persist_memorystate) throw invalid("Cannot create Snapshot: memory snapshots need a running VM, and Vela takes cold snapshots only");
    await ensureVmQuiet(e, vm, "create Snapshot");
    const attached = await disksOfVm(e, vm.id);
    let chosen = attached;
    if (p.disk_attachments) {
      const ids = p.disk_attachments.map((a) => a.disk?.id ?? a.id);
      if (ids.some((i) => i === undefined)) throw badRequest("Snapshot [disk_attachments.disk_attachment.id] required for add");
      chosen = [];
      for (const id of ids) {
        const d = attached.find((x) => x.id === id);
        if (!d) throw notFound(`Disk attachment of VM ${vm.name}`, String(id));
        if (!chosen.includes(d)) chosen.push(d);
      }
    }
    const disks: CreatePlan["disks"] = [];
    for (const d of chosen) disks.push({ ...(await diskCtx(e, d, "create Snapshot")), vol: randomUUID() });
    const snap: Snapshot = { id: randomUUID(), vm_id: vm.id, description: p.description, type: "regular", status: "locked", persist_memorystate: 0, created_at: now() };
    return { vm, snap, disks };
  },
  describe: (p) => `Creating VM Snapshot '${p.snap.description.slice(0, 100)}' for VM ${p.vm.name}`,
  async execute(e, { vm, snap, disks }, x) {
    await activeSnapshot(e, vm.id);
    await e.db.insertInto("snapshots").values(snap).execute();
    x.revert.push("forget the snapshot", () => e.db.deleteFrom("snapshots").where("id", "=", snap.id).execute());
    await lockAll(e, x, vm, disks.map((d) => d.disk));
    const started = inBackground(e, x, "create Snapshot", async () => {
      for (const c of disks) {
        const leaf = c.disk.image_id;
        await newLeaf(e, x.jobId, c, leaf, c.vol);
        await e.db.insertInto("images").values({ id: c.vol, disk_id: c.disk.id, parent_id: leaf, snapshot_id: null, created_at: now() }).execute();
        await e.db.updateTable("images").set({ snapshot_id: snap.id }).where("id", "=", leaf).execute();
        await e.db.updateTable("disks").set({ image_id: c.vol }).where("id", "=", c.disk.id).execute();
        x.revert.push(`drop the new leaf of ${c.disk.alias}`, async () => {
          await dropVolumes(e, x.jobId, c, [c.vol]);
          await e.db.updateTable("disks").set({ image_id: leaf }).where("id", "=", c.disk.id).execute();
          await e.db.updateTable("images").set({ snapshot_id: null }).where("id", "=", leaf).execute();
          await e.db.deleteFrom("images").where("id", "=", c.vol).execute();
        });
      }
      await engineStep(e, x.jobId, "finalizing", "Unlocking the snapshot and the disks", async () => {
        await e.db.updateTable("snapshots").set({ status: "ok" }).where("id", "=", snap.id).execute();
        await unlockAll(e, vm, disks.map((d) => d.disk));
      });
    });
    return { snap, ...started };
  },
};
