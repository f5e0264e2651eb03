/**
 * VM snapshots (`/vms/{id}/snapshots`), cold only (the VM is down):
 * - create: on each disk the leaf is frozen (the node makes it INTERNAL) under a new COW leaf;
 *   the frozen volume belongs to the snapshot;
 * - delete: cold merge — the snapshot's volume takes in its child (mergeSnapshots) and the child
 *   goes; the next snapshot (or the active layer) now owns the merged volume;
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
import { z } from "zod";
import { Code } from "@vela/protocol/errors";
import { badRequest, conflict, invalid, notFound } from "../errors/fault.js";
import { Bool, ListOf, parseInput, Text, Uuid } from "../input/input.js";
import { type DataCenter, type Disk, type Host, type Image, now, num, type Snapshot, type Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { NodeError } from "../hosts/client.js";
import { engineStep, nodeStep, setJobPayload } from "../jobs/jobs.js";
import { inBackground, type Started } from "./background.js";
import { chainOf, ensureUsable, poolOf, setDiskStatus } from "./chains.js";
import type { CommandDef, Exec } from "./command.js";
import { mustById } from "./lookup.js";
import { askStorage } from "./storageTruth.js";

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
async function ensureVmQuiet(e: Engine, vm: Vm, what: string): Promise<void> {
  if (vm.status !== "down") throw conflict(`Cannot ${what}: VM ${vm.name} is ${vm.status === "up" ? "running" : vm.status}; Vela works on snapshots of VMs that are down only`);
  const busy = await e.db.selectFrom("snapshots").select(["description", "status"]).where("vm_id", "=", vm.id).where("status", "!=", "ok").executeTakeFirst();
  if (busy) {
    throw conflict(`Cannot ${what}: snapshot '${busy.description}' of VM ${vm.name} is ${busy.status === "in_preview" ? "in preview; commit or undo it first" : busy.status}`);
  }
}

async function diskCtx(e: Engine, disk: Disk, what: string): Promise<DiskCtx> {
  ensureUsable(e, disk, what);
  if (disk.template_id) throw conflict(`Cannot ${what}: disk ${disk.alias} is a template disk (a SHARED volume cannot have snapshots)`);
  const { dc, spm } = await poolOf(e, disk, what);
  return { disk, dc, spm };
}

/** Disk locks a snapshot job holds, by VM (the VM's lock allows one snapshot job per VM at a time). */
const diskLocks = new Map<string, () => void>();

/** Locks the disks and the VM's image for the time of the job; the undos put them back. */
async function lockAll(e: Engine, x: Exec, vm: Vm, disks: Disk[]): Promise<void> {
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
  await e.db.updateTable("vms").set({ status: "image_locked" }).where("id", "=", vm.id).execute();
  x.revert.push("VM back to down", () => e.db.updateTable("vms").set({ status: vm.status }).where("id", "=", vm.id).execute());
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

// ------------------------------------------------------------------------------------ create

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
    const attached = await e.db
      .selectFrom("disks")
      .innerJoin("disk_attachments", "disk_attachments.disk_id", "disks.id")
      .selectAll("disks")
      .where("disk_attachments.vm_id", "=", vm.id)
      .execute();
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

// ------------------------------------------------------------------------------------ shared by delete/restore/preview

interface SnapPlan {
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

async function snapPlan(e: Engine, vmId: string, snapId: string, what: string): Promise<SnapPlan> {
  const vm = await mustById(e, "vms", vmId);
  const snap = await snapshotOf(e, vm.id, snapId);
  if (snap.type === "active") throw conflict(`Cannot ${what}: '${snap.description}' is the VM's active snapshot`);
  if (snap.type === "preview") throw conflict(`Cannot ${what}: '${snap.description}' is kept for an undo of the preview; commit or undo the preview`);
  await ensureVmQuiet(e, vm, what);
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

interface Branch {
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
async function branchOut(e: Engine, x: Exec, disks: SnapPlan["disks"], holder: string | null, phase: { destructive: boolean }): Promise<Branch[]> {
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
async function dropOldBranch(e: Engine, jobId: string, c: DiskCtx, oldLeaf: string, point: string): Promise<string[]> {
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

async function recordPayload(e: Engine, jobId: string, payload: SnapJobPayload): Promise<void> {
  await setJobPayload(e, jobId, payload);
}

// ------------------------------------------------------------------------------------ delete (cold merge)

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

export const RemoveSnapshot: CommandDef<{ vmId: string; snapId: string }, SnapPlan & { children: Image[] }, Started> = {
  name: "remove Snapshot",
  locks: (i) => [`vm:${i.vmId}`],
  async validate(e, { vmId, snapId }) {
    const p = await snapPlan(e, vmId, snapId, "remove Snapshot");
    const children: Image[] = [];
    for (const c of p.disks) {
      const kids = await e.db.selectFrom("images").selectAll().where("disk_id", "=", c.disk.id).where("parent_id", "=", c.vol.id).execute();
      if (kids.length !== 1) throw conflict(`Cannot remove Snapshot: volume ${c.vol.id} of disk ${c.disk.alias} has ${kids.length} children, not one`);
      children.push(kids[0] as Image);
    }
    return { ...p, children };
  },
  describe: (p) => `Removing Snapshot '${p.snap.description.slice(0, 100)}' of VM ${p.vm.name}`,
  async execute(e, { vm, snap, disks, children }, x) {
    await e.db.updateTable("snapshots").set({ status: "locked" }).where("id", "=", snap.id).execute();
    x.revert.push("snapshot back to ok", () => e.db.updateTable("snapshots").set({ status: "ok" }).where("id", "=", snap.id).execute());
    await lockAll(e, x, vm, disks.map((d) => d.disk));
    return inBackground(e, x, "remove Snapshot", async () => {
      for (const [i, c] of disks.entries()) {
        const child = children[i] as Image;
        await nodeStep(e, x.jobId, c.spm, `Merging volume ${child.id} into ${c.vol.id} of disk ${c.disk.alias}`, () =>
          e.nodes.for(c.spm).call("mergeSnapshots", { sdUUID: c.disk.storage_domain_id, spUUID: c.dc.id, imgUUID: c.disk.id, ancestor: c.vol.id, successor: child.id }),
        ).catch(async (err: unknown) => {
          if (!(await mergedOnStorage(e, c, child.id))) throw err;
          e.log.warn({ err, disk: c.disk.id, base: c.vol.id, top: child.id }, "merge task did not succeed, but storage shows it done (rolled forward)");
        });
        // The node kept the snapshot's volume: it now holds the child's data and takes its place.
        await e.db.updateTable("images").set({ snapshot_id: child.snapshot_id }).where("id", "=", c.vol.id).execute();
        await e.db.updateTable("images").set({ parent_id: c.vol.id }).where("parent_id", "=", child.id).where("disk_id", "=", c.disk.id).execute();
        await e.db.deleteFrom("images").where("id", "=", child.id).execute();
        await e.db.updateTable("disks").set({ image_id: c.vol.id }).where("id", "=", c.disk.id).where("image_id", "=", child.id).execute();
      }
      await engineStep(e, x.jobId, "finalizing", "Removing the snapshot record", async () => {
        await e.db.deleteFrom("snapshots").where("id", "=", snap.id).execute();
        await unlockAll(e, vm, disks.map((d) => d.disk));
      });
    });
  },
};

// ------------------------------------------------------------------------------------ restore

/** The `preview` snapshot that keeps the old leaf while a preview (or a restore) is under way. */
function newHolder(vmId: string): Snapshot {
  return { id: randomUUID(), vm_id: vmId, description: PREVIEW_DESCRIPTION, type: "preview", status: "ok", persist_memorystate: 0, created_at: now() };
}

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

// ------------------------------------------------------------------------------------ preview / commit / undo

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

interface EndPlan {
  vm: Vm;
  snap: Snapshot;
  holder: Snapshot;
  /** Per disk: the old leaf kept by the holder, and the volume the preview leaf stands on. */
  disks: (DiskCtx & { old: Image; point: string })[];
  /** Some disks of the previewed snapshot are no longer in preview: a commit or undo stopped half-way. */
  partial: boolean;
}

async function endPlan(e: Engine, vmId: string, what: string): Promise<EndPlan> {
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

function endPayload(kind: "commit" | "undo", vm: Vm, snap: Snapshot, holder: Snapshot, disks: EndPlan["disks"]): SnapJobPayload {
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
