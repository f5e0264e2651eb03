/**
 * A template's disks, and the disks of VMs made from templates (used by AddVm): thin (a COW leaf
 * on the template's volume, which the node hard-links into the new image) or cloned (clone=true: a
 * full, independent copy). Never changes a SHARED volume: templates are read-only once made.
 */
import { randomUUID } from "node:crypto";
import { conflict } from "../errors/fault.js";
import { BLANK_TEMPLATE_ID } from "../db/ids.js";
import { type DataCenter, type Disk, type Host, now, num, type Template, type Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { engineStep, nodeStep } from "../jobs/jobs.js";
import { volumeDescription } from "./AddDisk.js";
import { inBackground, type Started } from "./background.js";
import { actualSizeOf, poolOf } from "./chains.js";
import type { Exec } from "./command.js";
import { templateDisks } from "../db/repo/disks.js";

// ------------------------------------------------------------------------------------ remove

export interface VmDiskPlan {
  tdisk: Disk;
  disk: Disk;
  iface: string;
  bootable: number;
  read_only: number;
  dc: DataCenter;
  spm: Host;
}

/** Plans the new VM's disks (validation only: checks the template's disks can be used). */
export async function planVmDisks(e: Engine, template: Template, clone: boolean): Promise<VmDiskPlan[]> {
  if (template.status !== "ok") throw conflict(`Cannot add VM: template ${template.name} is ${template.status}`);
  const out: VmDiskPlan[] = [];
  for (const { interface: iface, bootable, read_only, ...tdisk } of await templateDisks(e, template.id)) {
    if (tdisk.status !== "ok") throw conflict(`Cannot add VM: disk ${tdisk.alias} of template ${template.name} is ${tdisk.status}`);
    const { dc, spm } = await poolOf(e, tdisk, "add VM from a template");
    const disk: Disk = {
      ...tdisk,
      id: randomUUID(),
      image_id: randomUUID(),
      actual_size: 0,
      initial_size: null,
      format: clone ? tdisk.format : "cow",
      sparse: clone ? tdisk.sparse : 1,
      status: "locked",
      template_id: null,
      created_at: now(),
    };
    out.push({ tdisk, disk, iface, bootable, read_only, dc, spm });
  }
  return out;
}

/** Records the VM's new disks (locked) and creates them in the background; the VM is image_locked until then. */
export async function createVmDisks(e: Engine, x: Exec, vm: Vm, plans: VmDiskPlan[], clone: boolean): Promise<Started> {
  for (const d of plans) {
    await e.db.insertInto("disks").values(d.disk).execute();
    await e.db
      .insertInto("images")
      .values({ id: d.disk.image_id, disk_id: d.disk.id, parent_id: clone ? BLANK_TEMPLATE_ID : d.tdisk.image_id, snapshot_id: null, created_at: d.disk.created_at })
      .execute();
    await e.db.insertInto("disk_attachments").values({ vm_id: vm.id, disk_id: d.disk.id, interface: d.iface, bootable: d.bootable, active: 1, read_only: d.read_only, pass_discard: 0 }).execute();
  }
  x.revert.push("forget the VM's disks", async () => {
    for (const d of plans) {
      await e.db.deleteFrom("disk_attachments").where("disk_id", "=", d.disk.id).execute();
      await e.db.deleteFrom("images").where("disk_id", "=", d.disk.id).execute();
      await e.db.deleteFrom("disks").where("id", "=", d.disk.id).execute();
    }
  });
  return inBackground(e, x, "add VM", async () => {
    for (const d of plans) {
      const client = e.nodes.for(d.spm);
      if (clone) {
        await nodeStep(e, x.jobId, d.spm, `Cloning template disk ${d.tdisk.alias} into ${d.disk.id}`, () =>
          client.call("copyImage", {
            sdUUID: d.tdisk.storage_domain_id,
            spUUID: d.dc.id,
            srcImgUUID: d.tdisk.id,
            srcVolUUID: d.tdisk.image_id,
            dstImgUUID: d.disk.id,
            dstVolUUID: d.disk.image_id,
            description: volumeDescription(d.disk.alias, d.disk.description),
            dstSdUUID: d.disk.storage_domain_id,
            volType: "LEAF",
          }),
        );
      } else {
        await nodeStep(e, x.jobId, d.spm, `Creating volume ${d.disk.image_id} on template volume ${d.tdisk.image_id}`, () =>
          client.call("createVolume", {
            sdUUID: d.disk.storage_domain_id,
            spUUID: d.dc.id,
            imgUUID: d.disk.id,
            size: num(d.tdisk.provisioned_size),
            volFormat: "COW",
            preallocate: "SPARSE",
            diskType: "DATA",
            volUUID: d.disk.image_id,
            desc: volumeDescription(d.disk.alias, d.disk.description),
            srcImgUUID: d.tdisk.id,
            srcVolUUID: d.tdisk.image_id,
          }),
        );
      }
      x.revert.push(`delete the image of ${d.disk.alias}`, () =>
        client
          .call("deleteImage", { sdUUID: d.disk.storage_domain_id, spUUID: d.dc.id, imgUUID: d.disk.id })
          .catch((err: unknown) => e.log.warn({ err, disk: d.disk.id }, "deleteImage in compensation failed")),
      );
    }
    await engineStep(e, x.jobId, "finalizing", "Unlocking the VM and its disks", async () => {
      for (const d of plans) {
        const actual = await actualSizeOf(e, d.spm, d.dc.id, d.disk);
        await e.db.updateTable("disks").set({ status: "ok", actual_size: actual }).where("id", "=", d.disk.id).execute();
      }
      await e.db.updateTable("vms").set({ status: "down" }).where("id", "=", vm.id).where("status", "=", "image_locked").execute();
    });
  });
}
