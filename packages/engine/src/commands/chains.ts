/**
 * Facts about disks' volume chains that the disk, snapshot and template commands share: the
 * chain from the leaf down, the template volume a disk is based on, where a disk's pool and SPM
 * are, and the bookkeeping of a disk's status while an operation holds it. Reads the engine's
 * records only; never calls a node.
 */
import { conflict } from "../errors/fault.js";
import { BLANK_TEMPLATE_ID } from "../db/ids.js";
import type { DataCenter, Disk, Host, Image } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { activeDomain, spmOf } from "./lookup.js";
import { byId } from "../db/repo/entities.js";
import { vmsOfDisk } from "../db/repo/disks.js";

/** The disk's volumes from its leaf down to its base (a template volume is not included). */
export async function chainOf(e: Engine, disk: Disk): Promise<Image[]> {
  const rows = await e.db.selectFrom("images").selectAll().where("disk_id", "=", disk.id).execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const out: Image[] = [];
  for (let v: string | undefined = disk.image_id; v && byId.has(v) && out.length <= rows.length; ) {
    const img = byId.get(v) as Image;
    out.push(img);
    v = img.parent_id;
  }
  return out;
}

/** The template disk whose SHARED volume the disk's base stands on, if any. */
export async function templateBaseOf(e: Engine, disk: Disk): Promise<{ volumeId: string; disk?: Disk } | undefined> {
  const chain = await chainOf(e, disk);
  const base = chain[chain.length - 1];
  if (!base || base.parent_id === BLANK_TEMPLATE_ID) return undefined;
  const tdisk = await e.db.selectFrom("disks").selectAll().where("image_id", "=", base.parent_id).where("template_id", "is not", null).executeTakeFirst();
  return { volumeId: base.parent_id, disk: tdisk };
}

/** The data center and SPM that can change the disk's image: its domain must be active. */
export async function poolOf(e: Engine, disk: Pick<Disk, "storage_domain_id">, what: string): Promise<{ dc: DataCenter; spm: Host }> {
  const sd = await byId(e, "storage_domains", disk.storage_domain_id);
  if (!sd) throw conflict(`Cannot ${what}: the disk's storage domain is unknown`);
  const dc = await activeDomain(e, sd, what);
  const spm = await spmOf(e, dc, what);
  return { dc, spm };
}

/** Refuses a disk that is locked, illegal or under an operation (other than the caller's: `ownLock`). */
export function ensureUsable(e: Engine, disk: Disk, what: string, ownLock = false): void {
  if (disk.status !== "ok" || (!ownLock && e.locks.isHeld(`disk:${disk.id}`))) {
    throw conflict(`Cannot ${what}: disk ${disk.alias} is ${disk.status === "ok" ? "busy with another operation" : disk.status}`);
  }
}

/** VMs (not down) the disk is attached to. */
export async function runningUsers(e: Engine, diskId: string): Promise<{ name: string; status: string }[]> {
  return (await vmsOfDisk(e, diskId)).filter((v) => v.status !== "down");
}

/**
 * VMs among `vmIds` that are previewing a snapshot (one is `in_preview`, or a preview job or an
 * unfinished restore keeps a `preview` holder). oVirt refuses to change such a VM's disks
 * (copy, move, extend, remove, attach, detach) or to make a template or a snapshot of it: the
 * image has two branches until the preview is committed or undone.
 */
export async function previewingVms(e: Engine, vmIds: string[]): Promise<{ id: string; name: string }[]> {
  if (!vmIds.length) return [];
  return e.db
    .selectFrom("vms as v")
    .select(["v.id", "v.name"])
    .where("v.id", "in", vmIds)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom("snapshots as s")
          .select("s.id")
          .whereRef("s.vm_id", "=", "v.id")
          .where((w) => w.or([w("s.status", "=", "in_preview"), w("s.type", "=", "preview")])),
      ),
    )
    .orderBy("v.name")
    .execute();
}

/** Refuses (409) when one of the VMs, or a VM the disk is attached to, previews a snapshot. */
export async function ensureNotInPreview(e: Engine, what: string, on: { vmIds?: string[]; diskId?: string }): Promise<void> {
  const ids = new Set(on.vmIds ?? []);
  if (on.diskId) {
    for (const a of await e.db.selectFrom("disk_attachments").select("vm_id").where("disk_id", "=", on.diskId).execute()) ids.add(a.vm_id);
  }
  const vms = await previewingVms(e, [...ids]);
  if (vms.length) {
    throw conflict(`Cannot ${what}: VM ${vms.map((v) => v.name).join(", ")} is previewing a Snapshot; commit or undo the preview first`);
  }
}

export async function setDiskStatus(e: Engine, diskId: string, status: string): Promise<void> {
  await e.db.updateTable("disks").set({ status }).where("id", "=", diskId).execute();
}

/** The sum of the disk's own volumes' true sizes, as the node reports them (0 when unknown). */
export async function actualSizeOf(e: Engine, host: Host, dcId: string, disk: Pick<Disk, "id" | "storage_domain_id">): Promise<number> {
  const vols = await e.db.selectFrom("images").select("id").where("disk_id", "=", disk.id).execute();
  let n = 0;
  for (const v of vols) {
    const info = await e.nodes
      .for(host)
      .call("getVolumeInfo", { sdUUID: disk.storage_domain_id, spUUID: dcId, imgUUID: disk.id, volUUID: v.id })
      .catch(() => undefined);
    n += Number(info?.truesize) || 0;
  }
  return n;
}
