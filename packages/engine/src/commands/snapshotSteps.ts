/**
 * What the VM snapshot commands (`/vms/{id}/snapshots`; all but create and remove need the VM down) share, one
 * command per file beside it — CreateSnapshot, RemoveSnapshot (cold merge), PreviewSnapshot,
 * CommitSnapshot, UndoSnapshot, RestoreSnapshot — and the restart recovery (recoverSnapshots.ts):
 * - preview / commit / undo: a new leaf on the snapshot's volume beside the current chain (the
 *   image now has a branch; the old leaf is kept by a `preview` snapshot, "Active VM before the
 *   preview", and the previewed one is `in_preview`); the VM may run on the preview; once it is
 *   down again, commit deletes the old branch leaf first (and the snapshots taken after the
 *   previewed one), undo deletes the preview leaf;
 * - restore: preview + commit in one job (the new leaf first, then the old branch goes).
 * Each is a job with one step per node task. Every VM has one `active` snapshot ("Active VM").
 * Never touches a template's SHARED volume: disks whose leaf is one are refused.
 */
import { randomUUID } from "node:crypto";
import { Code } from "@vela/protocol/errors";
import { conflict, notFound } from "../errors/fault.js";
import { type DataCenter, type Disk, type Host, type Image, now, num, type Snapshot, type Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { NodeError } from "../hosts/client.js";
import { nodeStep, setJobPayload } from "../jobs/jobs.js";
import { chainOf, ensureUsable, poolOf, setDiskStatus } from "./chains.js";
import type { Exec } from "./command.js";
import { mustById } from "../db/repo/entities.js";

export const ACTIVE_DESCRIPTION = "Active VM";
export const PREVIEW_DESCRIPTION = "Active VM before the preview";

/** The VM's active snapshot, made on first need for VMs older than snapshots. */
export async function activeSnapshot(e: Engine, vmId: string): Promise<Snapshot> {
  const row = await e.db.selectFrom("snapshots").selectAll().where("vm_id", "=", vmId).where("type", "=", "active").executeTakeFirst();
  if (row) return row;
  const snap: Snapshot = { id: randomUUID(), vm_id: vmId, description: ACTIVE_DESCRIPTION, type: "active", status: "ok", persist_memorystate: 0, created_at: now() };
  await e.db.insertInto("snapshots").values(snap).execute();
  return snap;
}

/** A snapshot of the VM, or 404. */
export async function snapshotOf(e: Engine, vmId: string, snapId: string): Promise<Snapshot> {
  const s = await e.db.selectFrom("snapshots").selectAll().where("vm_id", "=", vmId).where("id", "=", snapId).executeTakeFirst();
  if (!s) throw notFound("Snapshot", snapId);
  return s;
}

export interface DiskCtx {
  disk: Disk;
  dc: DataCenter;
  spm: Host;
}

/** The VM must be down, with no snapshot operation or preview under way. */
export async function ensureVmQuiet(e: Engine, vm: Vm, what: string): Promise<void> {
  if (vm.status !== "down") throw conflict(`Cannot ${what}: VM ${vm.name} is ${vm.status === "up" ? "running" : vm.status}; Vela works on snapshots of VMs that are down only`);
  await ensureNoSnapshotBusy(e, vm, what);
}

/** No snapshot operation or preview of the VM is under way. */
export async function ensureNoSnapshotBusy(e: Engine, vm: Vm, what: string): Promise<void> {
  const busy = await e.db.selectFrom("snapshots").select(["description", "status"]).where("vm_id", "=", vm.id).where("status", "!=", "ok").executeTakeFirst();
  if (busy) {
    throw conflict(`Cannot ${what}: snapshot '${busy.description}' of VM ${vm.name} is ${busy.status === "in_preview" ? "in preview; commit or undo it first" : busy.status}`);
  }
}

export async function diskCtx(e: Engine, disk: Disk, what: string): Promise<DiskCtx> {
  ensureUsable(e, disk, what);
  if (disk.template_id) throw conflict(`Cannot ${what}: disk ${disk.alias} is a template disk (a SHARED volume cannot have snapshots)`);
  const { dc, spm } = await poolOf(e, disk, what);
  return { disk, dc, spm };
}

/** Disk locks a snapshot job holds, by VM (the VM's lock allows one snapshot job per VM at a time). */
const diskLocks = new Map<string, () => void>();

/**
 * Locks the disks and the VM's image for the time of the job; the undos put them back. A running
 * VM (a live snapshot) keeps its status: only its disks are locked, as in oVirt.
 */
export async function lockAll(e: Engine, x: Exec, vm: Vm, disks: Disk[], live = false): Promise<void> {
  // The disks' locks as well: a disk command checked between this job's checks and now would
  // otherwise run beside it (the command itself holds only the VM's lock).
  const release = e.locks.acquire(
    disks.map((d) => `disk:${d.id}`),
    `work on the snapshots of VM ${vm.name}`,
  );
  diskLocks.set(vm.id, release);
  x.revert.push("release the disks' locks", async () => {
    release();
    diskLocks.delete(vm.id);
  });
  if (!live) {
    await e.db.updateTable("vms").set({ status: "image_locked" }).where("id", "=", vm.id).execute();
    x.revert.push("VM back to down", () => e.db.updateTable("vms").set({ status: vm.status }).where("id", "=", vm.id).execute());
  }
  for (const d of disks) {
    await setDiskStatus(e, d.id, "locked");
    x.revert.push(`disk ${d.alias} back to ${d.status}`, () => setDiskStatus(e, d.id, d.status));
  }
}

export async function unlockAll(e: Engine, vm: Vm, disks: Disk[]): Promise<void> {
  for (const d of disks) await setDiskStatus(e, d.id, "ok");
  await e.db.updateTable("vms").set({ status: "down" }).where("id", "=", vm.id).where("status", "=", "image_locked").execute();
  diskLocks.get(vm.id)?.();
  diskLocks.delete(vm.id);
}

/** createVolume of a COW leaf on `parent` in the disk's image, awaited as a job step. */
export async function newLeaf(e: Engine, jobId: string, c: DiskCtx, parent: string, vol: string): Promise<void> {
  await nodeStep(e, jobId, c.spm, `Creating volume ${vol} on ${parent} of disk ${c.disk.alias}`, () =>
    e.nodes.for(c.spm).call("createVolume", {
      sdUUID: c.disk.storage_domain_id,
      spUUID: c.dc.id,
      imgUUID: c.disk.id,
      size: num(c.disk.provisioned_size),
      volFormat: "COW",
      preallocate: "SPARSE",
      diskType: "DATA",
      volUUID: vol,
      desc: "",
      srcImgUUID: c.disk.id,
      srcVolUUID: parent,
    }),
  );
}

/**
 * deleteVolume of volumes of the disk's image (leaf first), awaited as a job step. Only those
 * still on storage are asked for, so a commit or undo retried after a failure (or resumed after
 * an engine restart) finishes what the first attempt left; a volume another task removed in the
 * meantime makes it look again.
 */
export async function dropVolumes(e: Engine, jobId: string, c: DiskCtx, vols: string[]): Promise<void> {
  const client = e.nodes.for(c.spm);
  for (let attempt = 0; ; attempt++) {
    const listed = await client.call("getVolumesList", { sdUUID: c.disk.storage_domain_id, spUUID: c.dc.id, imgUUID: c.disk.id });
    const present = new Set(listed);
    const left = vols.filter((v) => present.has(v));
    if (!left.length) return;
    try {
      await nodeStep(e, jobId, c.spm, `Deleting volumes ${left.join(", ")} of disk ${c.disk.alias}`, () =>
        client.call("deleteVolume", { sdUUID: c.disk.storage_domain_id, spUUID: c.dc.id, imgUUID: c.disk.id, volumes: left }),
      );
      return;
    } catch (err) {
      if (!(err instanceof NodeError && err.code === Code.VolumeDoesNotExist) || attempt >= 4) throw err;
    }
  }
}

// ------------------------------------------------------------------------------------ shared by delete/restore/preview

export interface SnapPlan {
  vm: Vm;
  snap: Snapshot;
  /** The disks with a volume in the snapshot, that volume, and the id of the leaf a preview or restore makes on it. */
  disks: (DiskCtx & { vol: Image; leaf: string })[];
}

/** The volumes of the branch that ends in `leaf`, above `point`, leaf first; undefined when `point` is not on it. */
export async function branchAbove(e: Engine, disk: Disk, leaf: string, point: string): Promise<Image[] | undefined> {
  const chain = await chainOf(e, { ...disk, image_id: leaf });
  const i = chain.findIndex((c) => c.id === point);
  return i < 0 ? undefined : chain.slice(0, i);
}

/** Whether a VM runs on a host (up or paused): a snapshot removal then merges live. */
export function runsLive(vm: Vm): boolean {
  return (vm.status === "up" || vm.status === "paused") && vm.run_on_host_id !== null;
}

/** `live`: the VM may run (a live merge); otherwise it must be down. */
export async function snapPlan(e: Engine, vmId: string, snapId: string, what: string, live = false): Promise<SnapPlan> {
  const vm = await mustById(e, "vms", vmId);
  const snap = await snapshotOf(e, vm.id, snapId);
  if (snap.type === "active") throw conflict(`Cannot ${what}: '${snap.description}' is the VM's active snapshot`);
  if (snap.type === "preview") throw conflict(`Cannot ${what}: '${snap.description}' is kept for an undo of the preview; commit or undo the preview`);
  if (live && runsLive(vm)) await ensureNoSnapshotBusy(e, vm, what);
  else await ensureVmQuiet(e, vm, what);
  if (snap.status !== "ok") throw conflict(`Cannot ${what}: snapshot '${snap.description}' is ${snap.status}`);
  const vols = await e.db.selectFrom("images").selectAll().where("snapshot_id", "=", snap.id).execute();
  const disks: SnapPlan["disks"] = [];
  for (const vol of vols) {
    const disk = await mustById(e, "disks", vol.disk_id);
    if (!(await branchAbove(e, disk, disk.image_id, vol.id))) {
      throw conflict(`Cannot ${what}: volume ${vol.id} of snapshot '${snap.description}' is not on the chain of disk ${disk.alias}`);
    }
    disks.push({ ...(await diskCtx(e, disk, what)), vol, leaf: randomUUID() });
  }
  return { vm, snap, disks };
}

/** Snapshots of the VM left without any volume (their volumes were all deleted). */
export async function dropEmptySnapshots(e: Engine, vmId: string, candidates: string[]): Promise<void> {
  for (const id of new Set(candidates)) {
    const left = await e.db.selectFrom("images").select("id").where("snapshot_id", "=", id).executeTakeFirst();
    if (!left) await e.db.deleteFrom("snapshots").where("id", "=", id).where("vm_id", "=", vmId).where("type", "!=", "active").execute();
  }
}

export interface Branch {
  c: DiskCtx & { vol: Image; leaf: string };
  /** The disk's leaf before: it stays, beside the new leaf, until the old branch is dropped. */
  old: string;
}

/**
 * Phase one of preview and restore (oVirt's "try back"): on each disk a new COW leaf on the
 * snapshot's volume, beside the current chain, which the disk now uses. The old leaf is kept by
 * `holder` (the preview snapshot) when given. Undone if a later step fails, until the job turns
 * `phase.destructive` (the old branch is being deleted: the new leaf is the disk from then on).
 */
export async function branchOut(e: Engine, x: Exec, disks: SnapPlan["disks"], holder: string | null, phase: { destructive: boolean }): Promise<Branch[]> {
  const out: Branch[] = [];
  for (const c of disks) {
    const old = c.disk.image_id;
    const leaf = c.leaf;
    await newLeaf(e, x.jobId, c, c.vol.id, leaf);
    await e.db.insertInto("images").values({ id: leaf, disk_id: c.disk.id, parent_id: c.vol.id, snapshot_id: null, created_at: now() }).execute();
    if (holder) await e.db.updateTable("images").set({ snapshot_id: holder }).where("id", "=", old).execute();
    await e.db.updateTable("disks").set({ image_id: leaf }).where("id", "=", c.disk.id).execute();
    x.revert.push(`drop the new leaf of ${c.disk.alias}`, async () => {
      if (phase.destructive) return;
      await dropVolumes(e, x.jobId, c, [leaf]);
      await e.db.updateTable("disks").set({ image_id: old }).where("id", "=", c.disk.id).execute();
      if (holder) await e.db.updateTable("images").set({ snapshot_id: null }).where("id", "=", old).execute();
      await e.db.deleteFrom("images").where("id", "=", leaf).execute();
    });
    out.push({ c, old });
  }
  return out;
}

/**
 * Phase two of commit and restore: the disk's old branch, from its old leaf down to (not
 * including) `point`, the volume the new leaf stands on, is deleted leaf first; the node keeps
 * `point` INTERNAL (it still has the new leaf). Returns the snapshots that owned those volumes.
 */
export async function dropOldBranch(e: Engine, jobId: string, c: DiskCtx, oldLeaf: string, point: string): Promise<string[]> {
  const gone = (await branchAbove(e, c.disk, oldLeaf, point)) ?? [];
  await dropVolumes(e, jobId, c, gone.map((g) => g.id));
  if (gone.length) await e.db.deleteFrom("images").where("id", "in", gone.map((g) => g.id)).execute();
  return gone.flatMap((g) => (g.snapshot_id ? [g.snapshot_id] : []));
}

/**
 * What the restart recovery (`recoverSnapshots.ts`) needs to finish a preview, commit, undo or
 * restore job the engine did not see to its end: recorded before any node task starts.
 */
export interface SnapJobPayload {
  kind: "preview" | "commit" | "undo" | "restore";
  vmId: string;
  snapId: string;
  holderId: string | null;
  /** Per disk: its leaf before the job, the volume the (new) preview leaf stands on, that leaf. */
  disks: { diskId: string; old: string; point: string; leaf: string }[];
}

export async function recordPayload(e: Engine, jobId: string, payload: SnapJobPayload): Promise<void> {
  await setJobPayload(e, jobId, payload);
}

/** The `preview` snapshot that keeps the old leaf while a preview (or a restore) is under way. */
export function newHolder(vmId: string): Snapshot {
  return { id: randomUUID(), vm_id: vmId, description: PREVIEW_DESCRIPTION, type: "preview", status: "ok", persist_memorystate: 0, created_at: now() };
}

export interface EndPlan {
  vm: Vm;
  snap: Snapshot;
  holder: Snapshot;
  /** Per disk: the old leaf kept by the holder, and the volume the preview leaf stands on. */
  disks: (DiskCtx & { old: Image; point: string })[];
  /** Some disks of the previewed snapshot are no longer in preview: a commit or undo stopped half-way. */
  partial: boolean;
}

export async function endPlan(e: Engine, vmId: string, what: string): Promise<EndPlan> {
  const vm = await mustById(e, "vms", vmId);
  const snap = await e.db.selectFrom("snapshots").selectAll().where("vm_id", "=", vm.id).where("status", "=", "in_preview").executeTakeFirst();
  const holder = await e.db.selectFrom("snapshots").selectAll().where("vm_id", "=", vm.id).where("type", "=", "preview").executeTakeFirst();
  if (!snap || !holder) throw conflict(`Cannot ${what}: VM ${vm.name} has no snapshot in preview`);
  if (vm.status !== "down") throw conflict(`Cannot ${what}: VM ${vm.name} is ${vm.status === "up" ? "running" : vm.status}; stop it first`);
  const olds = await e.db.selectFrom("images").selectAll().where("snapshot_id", "=", holder.id).execute();
  const disks: EndPlan["disks"] = [];
  for (const old of olds) {
    const disk = await mustById(e, "disks", old.disk_id);
    const preview = await e.db.selectFrom("images").selectAll().where("id", "=", disk.image_id).executeTakeFirst();
    if (!preview || !(await branchAbove(e, disk, old.id, preview.parent_id))) {
      throw conflict(`Cannot ${what}: disk ${disk.alias} is not on a preview branch of its old leaf ${old.id}`);
    }
    disks.push({ ...(await diskCtx(e, disk, what)), old, point: preview.parent_id });
  }
  const snapVols = await e.db.selectFrom("images").select("id").where("snapshot_id", "=", snap.id).execute();
  return { vm, snap, holder, disks, partial: olds.length < snapVols.length };
}

export function endPayload(kind: "commit" | "undo", vm: Vm, snap: Snapshot, holder: Snapshot, disks: EndPlan["disks"]): SnapJobPayload {
  return { kind, vmId: vm.id, snapId: snap.id, holderId: holder.id, disks: disks.map((c) => ({ diskId: c.disk.id, old: c.old.id, point: c.point, leaf: c.disk.image_id })) };
}

/**
 * The snapshots taken after `snap`: a commit or restore drops those left without a volume
 * (`dropEmptySnapshots`). Found from the records rather than from the volumes this attempt
 * deleted, so a retry after a failure also drops those whose volumes the first attempt took.
 */
export async function laterEmptySnapshots(e: Engine, vmId: string, snap: Snapshot): Promise<string[]> {
  const later = await e.db.selectFrom("snapshots").select("id").where("vm_id", "=", vmId).where("type", "=", "regular").where("created_at", ">", snap.created_at).execute();
  return later.map((l) => l.id);
}
