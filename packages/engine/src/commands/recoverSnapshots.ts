/**
 * At engine start, finishes the snapshot preview, commit, undo and restore jobs a previous run
 * left `started` (killed, or stopped mid-job), from what the job recorded before its first node
 * task (`SnapJobPayload`): every step is repeated idempotently — createVolume with the same
 * volume id answers the task already made, deleteVolume asks only for the volumes still on
 * storage — so the end state is the one the job was heading for:
 * - preview: the preview is fully in place (new leaves, the snapshot `in_preview`); if that
 *   cannot be done, rolled back to before the preview (new leaves deleted, holder gone);
 * - commit, undo, restore: rolled forward; if a node step fails, the VM is left down with its
 *   disks ok and the preview still recorded, so the administrator can run commit (or undo) again
 *   (a restore not past its new leaves is rolled back like a preview).
 * Holds the VM's and the disks' locks meanwhile, so nothing else touches them and the generic
 * start-up unlocking (monitoring/index.ts) leaves them alone. Never deletes a volume the job did
 * not mean to delete.
 */
import type { Disk, Snapshot, Vm } from "../db/schema.js";
import { type Engine, sleep } from "../engine.js";
import { endJob, engineStep } from "../jobs/jobs.js";
import { poolOf } from "./chains.js";
import {
  branchAbove,
  type DiskCtx,
  dropEmptySnapshots,
  dropVolumes,
  laterEmptySnapshots,
  newLeaf,
  PREVIEW_DESCRIPTION,
  type SnapJobPayload,
} from "./snapshotSteps.js";

const KINDS: Record<string, SnapJobPayload["kind"]> = {
  "preview Snapshot": "preview",
  "commit Snapshot": "commit",
  "undo Snapshot preview": "undo",
  "restore Snapshot": "restore",
};

/** How long the recovery waits for the data center's SPM to be up again. */
const SPM_WAIT_MS = 180_000;

type Entry = SnapJobPayload["disks"][number];

function parsePayload(kind: SnapJobPayload["kind"], text: string): SnapJobPayload | undefined {
  try {
    const p = JSON.parse(text) as Partial<SnapJobPayload>;
    if (p.kind !== kind || typeof p.vmId !== "string" || typeof p.snapId !== "string" || !Array.isArray(p.disks)) return undefined;
    return p as SnapJobPayload;
  } catch {
    return undefined;
  }
}

/**
 * Takes over an interrupted snapshot job: true when it is handled here (the job ends when the
 * background work does), false when it is not one (or recorded nothing yet: then it had not
 * changed anything either, and the generic recovery applies).
 */
export function resumeSnapshotJob(e: Engine, job: { id: string; action_type: string; payload: string; description: string }): boolean {
  const kind = KINDS[job.action_type];
  if (!kind) return false;
  const p = parsePayload(kind, job.payload);
  if (!p) return false;
  const release = e.locks.acquire([`vm:${p.vmId}`, ...p.disks.map((d) => `disk:${d.diskId}`)], `resume ${job.action_type}`);
  e.log.info({ job: job.id, kind, vm: p.vmId }, "resuming a snapshot job interrupted by an engine restart");
  e.bg.run(`resume ${job.action_type} (job ${job.id})`, async () => {
    try {
      const ok = await resume(e, job.id, p);
      await endJob(e, job.id, ok ? "finished" : "failed");
    } catch (err) {
      e.log.error({ err, job: job.id }, "resuming the snapshot job failed");
      await endJob(e, job.id, "failed").catch(() => undefined);
    } finally {
      release();
    }
  });
  return true;
}

async function resume(e: Engine, jobId: string, p: SnapJobPayload): Promise<boolean> {
  const vm = await e.db.selectFrom("vms").selectAll().where("id", "=", p.vmId).executeTakeFirst();
  const snap = await e.db.selectFrom("snapshots").selectAll().where("id", "=", p.snapId).executeTakeFirst();
  if (!vm || !snap) {
    e.log.warn({ job: jobId, vm: p.vmId, snap: p.snapId }, "the VM or snapshot of an interrupted job is gone; nothing to resume");
    // Unknown state, as for any other interrupted job: the administrator checks these disks.
    for (const en of p.disks) await e.db.updateTable("disks").set({ status: "illegal" }).where("id", "=", en.diskId).where("status", "=", "locked").execute();
    return false;
  }
  const ctxs = new Map<string, DiskCtx>();
  try {
    await contexts(e, p.disks, ctxs);
    if (p.kind === "preview") await rollPreview(e, jobId, p, ctxs);
    else if (p.kind === "undo") await rollUndo(e, jobId, p, ctxs);
    else await rollCommit(e, jobId, p, vm, snap, ctxs);
    return true;
  } catch (err) {
    e.log.warn({ err, job: jobId, kind: p.kind }, "an interrupted snapshot job could not be finished");
    // A restore whose new leaves are not all made yet is still only a preview: rolled back too.
    const now = await e.db.selectFrom("snapshots").select("status").where("id", "=", p.snapId).executeTakeFirst();
    if (p.kind === "preview" || (p.kind === "restore" && now?.status !== "in_preview")) await rollBackPreview(e, jobId, p, ctxs);
    else await leaveRetryable(e, p);
    return false;
  }
}

/** Each disk with its pool and SPM, waiting for the SPM after the restart. */
async function contexts(e: Engine, entries: Entry[], out: Map<string, DiskCtx>): Promise<void> {
  for (const en of entries) {
    const disk = await e.db.selectFrom("disks").selectAll().where("id", "=", en.diskId).executeTakeFirst();
    if (!disk) continue;
    const deadline = Date.now() + SPM_WAIT_MS;
    for (;;) {
      try {
        const { dc, spm } = await poolOf(e, disk, "resume the snapshot job");
        // Reachable too: the engine often restarts before its hosts answer again.
        await e.nodes.for(spm).call("getVolumesList", { sdUUID: disk.storage_domain_id, spUUID: dc.id, imgUUID: disk.id });
        out.set(en.diskId, { disk, dc, spm });
        break;
      } catch (err) {
        if (Date.now() > deadline || e.bg.stopping) throw err;
        await sleep(1000);
      }
    }
  }
}

async function diskOf(e: Engine, id: string): Promise<Disk | undefined> {
  return e.db.selectFrom("disks").selectAll().where("id", "=", id).executeTakeFirst();
}

/** The holder a preview or restore records right after its plan (the engine may have died in between). */
async function ensureHolder(e: Engine, p: SnapJobPayload): Promise<void> {
  if (!p.holderId || (await e.db.selectFrom("snapshots").select("id").where("id", "=", p.holderId).executeTakeFirst())) return;
  const holder: Snapshot = { id: p.holderId, vm_id: p.vmId, description: PREVIEW_DESCRIPTION, type: "preview", status: "ok", persist_memorystate: 0, created_at: new Date().toISOString() };
  await e.db.insertInto("snapshots").values(holder).execute();
}

/** The preview leaf of one disk, made (again: the node answers the same task) and recorded. */
async function ensureLeaf(e: Engine, jobId: string, c: DiskCtx, en: Entry, holderId: string | null): Promise<void> {
  const disk = await diskOf(e, en.diskId);
  if (!disk || disk.image_id === en.leaf) return;
  await newLeaf(e, jobId, c, en.point, en.leaf);
  const known = await e.db.selectFrom("images").select("id").where("id", "=", en.leaf).executeTakeFirst();
  if (!known) await e.db.insertInto("images").values({ id: en.leaf, disk_id: en.diskId, parent_id: en.point, snapshot_id: null, created_at: new Date().toISOString() }).execute();
  if (holderId) await e.db.updateTable("images").set({ snapshot_id: holderId }).where("id", "=", en.old).execute();
  await e.db.updateTable("disks").set({ image_id: en.leaf }).where("id", "=", en.diskId).execute();
}

async function rollPreview(e: Engine, jobId: string, p: SnapJobPayload, ctxs: Map<string, DiskCtx>): Promise<void> {
  await ensureHolder(e, p);
  for (const en of p.disks) {
    const c = ctxs.get(en.diskId);
    if (c) await ensureLeaf(e, jobId, c, en, p.holderId);
  }
  await engineStep(e, jobId, "finalizing", "Marking the snapshot in preview (resumed after an engine restart)", async () => {
    await e.db.updateTable("snapshots").set({ status: "in_preview" }).where("id", "=", p.snapId).execute();
    await unlockDisks(e, p);
  });
}

/** The preview could not be completed: its new leaves go and the VM is as before it. */
async function rollBackPreview(e: Engine, jobId: string, p: SnapJobPayload, ctxs: Map<string, DiskCtx>): Promise<void> {
  try {
    for (const en of p.disks) {
      if (!(await diskOf(e, en.diskId))) continue;
      const c = ctxs.get(en.diskId);
      if (!c) throw new Error(`no SPM to delete the preview leaf ${en.leaf} of disk ${en.diskId}`);
      await dropVolumes(e, jobId, c, [en.leaf]);
      await e.db.updateTable("disks").set({ image_id: en.old }).where("id", "=", en.diskId).where("image_id", "=", en.leaf).execute();
      await e.db.deleteFrom("images").where("id", "=", en.leaf).execute();
      if (p.holderId) await e.db.updateTable("images").set({ snapshot_id: null }).where("id", "=", en.old).where("snapshot_id", "=", p.holderId).execute();
    }
    if (p.holderId) await e.db.deleteFrom("snapshots").where("id", "=", p.holderId).where("type", "=", "preview").execute();
    await e.db.updateTable("snapshots").set({ status: "ok" }).where("id", "=", p.snapId).execute();
    await unlockDisks(e, p);
  } catch (err) {
    // Neither forward nor back: the disks are marked illegal for the administrator, as any
    // disk an interrupted job left in an unknown state.
    e.log.error({ err, vm: p.vmId }, "an interrupted preview could be neither finished nor rolled back");
    for (const en of p.disks) await e.db.updateTable("disks").set({ status: "illegal" }).where("id", "=", en.diskId).where("status", "=", "locked").execute();
    await e.db.updateTable("vms").set({ status: "down" }).where("id", "=", p.vmId).where("status", "=", "image_locked").execute();
  }
}

async function rollUndo(e: Engine, jobId: string, p: SnapJobPayload, ctxs: Map<string, DiskCtx>): Promise<void> {
  for (const en of p.disks) {
    const c = ctxs.get(en.diskId);
    const disk = await diskOf(e, en.diskId);
    if (!c || !disk || disk.image_id !== en.leaf) continue;
    await dropVolumes(e, jobId, c, [en.leaf]);
    await e.db.deleteFrom("images").where("id", "=", en.leaf).execute();
    await e.db.updateTable("images").set({ snapshot_id: null }).where("id", "=", en.old).execute();
    await e.db.updateTable("disks").set({ image_id: en.old }).where("id", "=", en.diskId).execute();
  }
  await engineStep(e, jobId, "finalizing", "Back to the state before the preview (resumed after an engine restart)", async () => {
    if (p.holderId) await e.db.deleteFrom("snapshots").where("id", "=", p.holderId).execute();
    await e.db.updateTable("snapshots").set({ status: "ok" }).where("id", "=", p.snapId).execute();
    await unlockDisks(e, p);
  });
}

/** Commit, and restore (whose preview part is made first, without a holder). */
async function rollCommit(e: Engine, jobId: string, p: SnapJobPayload, vm: Vm, snap: Snapshot, ctxs: Map<string, DiskCtx>): Promise<void> {
  const dropped: string[] = p.holderId ? [p.holderId] : [];
  if (p.kind === "restore") {
    await ensureHolder(e, p);
    for (const en of p.disks) {
      const c = ctxs.get(en.diskId);
      if (c) await ensureLeaf(e, jobId, c, en, p.holderId);
    }
    await e.db.updateTable("snapshots").set({ status: "in_preview" }).where("id", "=", p.snapId).execute();
  }
  // From here on only a commit may follow (see CommitSnapshot).
  if (p.holderId) await e.db.updateTable("snapshots").set({ status: "locked" }).where("id", "=", p.holderId).execute();
  for (const en of p.disks) {
    const c = ctxs.get(en.diskId);
    if (!c) continue;
    if (!(await e.db.selectFrom("images").select("id").where("id", "=", en.old).executeTakeFirst())) continue;
    const gone = (await branchAbove(e, c.disk, en.old, en.point)) ?? [];
    await dropVolumes(e, jobId, c, gone.map((g) => g.id));
    if (gone.length) await e.db.deleteFrom("images").where("id", "in", gone.map((g) => g.id)).execute();
    dropped.push(...gone.flatMap((g) => (g.snapshot_id ? [g.snapshot_id] : [])));
  }
  await engineStep(e, jobId, "finalizing", "Removing the snapshots of the discarded branch (resumed after an engine restart)", async () => {
    await dropEmptySnapshots(e, vm.id, [...dropped, ...(await laterEmptySnapshots(e, vm.id, snap))]);
    if (p.holderId) await e.db.deleteFrom("snapshots").where("id", "=", p.holderId).execute();
    await e.db.updateTable("snapshots").set({ status: "ok" }).where("id", "=", snap.id).execute();
    await unlockDisks(e, p);
  });
}

/**
 * A commit or undo that cannot finish now: VM down, disks ok, the preview still recorded (the
 * records change only after the node did each step), so it can be run again.
 */
async function leaveRetryable(e: Engine, p: SnapJobPayload): Promise<void> {
  await e.db.updateTable("snapshots").set({ status: "ok" }).where("id", "=", p.snapId).where("status", "=", "locked").execute();
  await unlockDisks(e, p);
}

async function unlockDisks(e: Engine, p: SnapJobPayload): Promise<void> {
  for (const en of p.disks) await e.db.updateTable("disks").set({ status: "ok" }).where("id", "=", en.diskId).where("status", "=", "locked").execute();
  await e.db.updateTable("vms").set({ status: "down" }).where("id", "=", p.vmId).where("status", "=", "image_locked").execute();
}
