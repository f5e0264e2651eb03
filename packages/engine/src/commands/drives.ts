/**
 * A VM's drives as the node sees them (pool/domain/image/volume UUIDs), and their release after
 * the VM stops. Shared by RunVm, StopVm and the VM monitor.
 */
import type { DriveSpec } from "@vela/protocol";
import type { Disk, DiskAttachment, Host } from "../db/schema.js";
import type { Engine } from "../engine.js";

export interface VmDrive {
  disk: Disk;
  att: DiskAttachment;
  dcId: string | null;
  domainStatus: string | null;
}

/** Active attachments, bootable first, in a stable order. */
export async function drivesOf(e: Engine, vmId: string): Promise<VmDrive[]> {
  const rows = await e.db
    .selectFrom("disk_attachments as a")
    .innerJoin("disks as d", "d.id", "a.disk_id")
    .leftJoin("storage_domain_attachments as s", "s.storage_domain_id", "d.storage_domain_id")
    .selectAll("d")
    .select(["a.vm_id", "a.interface", "a.bootable", "a.active", "a.read_only", "a.pass_discard", "s.data_center_id", "s.status as sd_status"])
    .where("a.vm_id", "=", vmId)
    .where("a.active", "=", 1)
    .orderBy("a.bootable", "desc")
    .orderBy("d.created_at")
    .execute();
  return rows.map((r) => ({
    disk: {
      id: r.id,
      image_id: r.image_id,
      storage_domain_id: r.storage_domain_id,
      alias: r.alias,
      description: r.description,
      provisioned_size: r.provisioned_size,
      actual_size: r.actual_size,
      initial_size: r.initial_size,
      format: r.format,
      sparse: r.sparse,
      shareable: r.shareable,
      wipe_after_delete: r.wipe_after_delete,
      status: r.status,
      content_type: r.content_type,
      template_id: r.template_id,
      created_at: r.created_at,
      quota_id: r.quota_id,
    },
    att: { vm_id: r.vm_id, disk_id: r.id, interface: r.interface, bootable: r.bootable, active: r.active, read_only: r.read_only, pass_discard: r.pass_discard },
    dcId: r.data_center_id,
    domainStatus: r.sd_status,
  }));
}

const IFACE: Record<string, DriveSpec["iface"]> = { virtio: "virtio", virtio_scsi: "scsi", sata: "sata", ide: "ide" };

export function driveSpec(d: VmDrive, index: number): DriveSpec {
  return {
    poolID: d.dcId as string,
    domainID: d.disk.storage_domain_id,
    imageID: d.disk.id,
    volumeID: d.disk.image_id,
    iface: IFACE[d.att.interface] ?? "virtio",
    index,
    readonly: d.att.read_only !== 0,
    bootOrder: d.att.bootable !== 0 ? index + 1 : undefined,
  };
}

/** Best effort: a teardown that fails leaves the image prepared on the node, which is harmless. */
export async function teardownDrives(e: Engine, host: Host, drives: VmDrive[]): Promise<void> {
  for (const d of drives) {
    if (!d.dcId) continue;
    await e.nodes
      .for(host)
      .call("teardownImage", { sdUUID: d.disk.storage_domain_id, spUUID: d.dcId, imgUUID: d.disk.id, volUUID: d.disk.image_id })
      .catch((err: unknown) => e.log.warn({ err, disk: d.disk.id, host: host.name }, "teardownImage failed"));
  }
}
