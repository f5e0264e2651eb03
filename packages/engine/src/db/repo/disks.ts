/**
 * Disks by their users: the disks attached to a VM (through `disk_attachments`) or a template,
 * and the disks a snapshot holds a volume of (through `images`). Commands, views and templates all need them.
 */
import type { Engine } from "../../engine.js";
import type { Disk, DiskAttachment } from "../schema.js";

/** The disks attached to a VM. */
export async function disksOfVm(e: Engine, vmId: string): Promise<Disk[]> {
  return e.db.selectFrom("disks").innerJoin("disk_attachments", "disk_attachments.disk_id", "disks.id").selectAll("disks").where("disk_attachments.vm_id", "=", vmId).execute();
}

export type AttachedDisk = Disk & Pick<DiskAttachment, "interface" | "bootable" | "read_only">;

/** The disks attached to a VM, with how each is attached. */
export async function attachedDisksOfVm(e: Engine, vmId: string): Promise<AttachedDisk[]> {
  return e.db
    .selectFrom("disks")
    .innerJoin("disk_attachments", "disk_attachments.disk_id", "disks.id")
    .selectAll("disks")
    .select(["disk_attachments.interface", "disk_attachments.bootable", "disk_attachments.read_only"])
    .where("disk_attachments.vm_id", "=", vmId)
    .execute();
}

/** A template's disks, with how each is attached, bootable first. */
export async function templateDisks(e: Engine, templateId: string): Promise<AttachedDisk[]> {
  return e.db
    .selectFrom("disks")
    .innerJoin("template_disk_attachments as t", "t.disk_id", "disks.id")
    .selectAll("disks")
    .select(["t.interface", "t.bootable", "t.read_only"])
    .where("t.template_id", "=", templateId)
    .orderBy("t.bootable", "desc")
    .execute();
}

/** The disks a snapshot holds a volume of, each with that volume's id. */
export async function volumesOfSnapshot(e: Engine, snapshotId: string): Promise<{ disk: Disk; vol: string }[]> {
  const rows = await e.db.selectFrom("images").innerJoin("disks", "disks.id", "images.disk_id").selectAll("disks").select("images.id as vol").where("images.snapshot_id", "=", snapshotId).execute();
  return rows.map(({ vol, ...d }) => ({ disk: d as Disk, vol }));
}

/** Volumes whose parent is one of `parents`, with their disk's alias and the VM using it (if any). */
export async function childrenOfVolumes(e: Engine, parents: string[]): Promise<{ alias: string; name: string | null }[]> {
  if (parents.length === 0) return [];
  return e.db
    .selectFrom("images")
    .innerJoin("disks", "disks.id", "images.disk_id")
    .leftJoin("disk_attachments", "disk_attachments.disk_id", "disks.id")
    .leftJoin("vms", "vms.id", "disk_attachments.vm_id")
    .select(["disks.alias", "vms.name"])
    .where("images.parent_id", "in", parents)
    .execute();
}

/** The VMs a disk is attached to. */
export async function vmsOfDisk(e: Engine, diskId: string): Promise<{ id: string; name: string; status: string }[]> {
  return e.db.selectFrom("disk_attachments as a").innerJoin("vms as v", "v.id", "a.vm_id").select(["v.id", "v.name", "v.status"]).where("a.disk_id", "=", diskId).execute();
}

/** Every attached disk's id → the names of the VMs it is attached to (searches by `vm_names`). */
export async function vmNamesByDisk(e: Engine): Promise<Map<string, string[]>> {
  const rows = await e.db.selectFrom("disk_attachments as a").innerJoin("vms as v", "v.id", "a.vm_id").select(["a.disk_id", "v.name"]).execute();
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(r.disk_id, [...(out.get(r.disk_id) ?? []), r.name]);
  return out;
}

/** A VM (with the disk) using a disk on the domain, if any; with `running`, only a VM not down. */
export async function vmOnDomain(e: Engine, sdId: string, running = false): Promise<{ alias: string; name: string; status: string } | undefined> {
  let q = e.db
    .selectFrom("disks as d")
    .innerJoin("disk_attachments as a", "a.disk_id", "d.id")
    .innerJoin("vms as v", "v.id", "a.vm_id")
    .select(["d.alias", "v.name", "v.status"])
    .where("d.storage_domain_id", "=", sdId);
  if (running) q = q.where("v.status", "!=", "down");
  return q.executeTakeFirst();
}
