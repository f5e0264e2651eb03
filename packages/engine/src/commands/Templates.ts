/**
 * Templates made from VMs, and the disks of VMs made from templates.
 * - add (`POST /templates` with a down VM): each VM disk's chain is collapsed by the SPM's
 *   copyImage into one SHARED volume of a new template disk (same domain, or the one asked);
 *   201 with the template locked, ok when the job ends.
 * - remove: refused while a VM's disk stands on one of its volumes (thin VMs); otherwise each
 *   template image is deleted; VMs that only name it (clones, disk-less) point to Blank after.
 * - a VM's disks from a template: thin (a COW leaf on the template's volume, which the node
 *   hard-links into the new image) or cloned (`clone=true`: a full, independent copy).
 * Never changes a SHARED volume: templates are read-only once made.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { conflict } from "../errors/fault.js";
import { Int, Name, parseInput, Ref, Text } from "../input/input.js";
import { BLANK_TEMPLATE_ID } from "../db/ids.js";
import { type DataCenter, type Disk, type Host, now, num, type Template, type TemplateDiskAttachment, type Vm } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { engineStep, nodeStep } from "../jobs/jobs.js";
import { volumeDescription } from "./AddDisk.js";
import { inBackground, type Started } from "./background.js";
import { actualSizeOf, ensureNotInPreview, ensureUsable, poolOf, setDiskStatus } from "./chains.js";
import type { CommandDef, Exec } from "./command.js";
import { activeDomain, byRef, mustById } from "./lookup.js";
import { copyVmNicsToTemplate } from "./VmNics.js";

const Input = z.object({
  name: Name.refine((s) => s.length <= 64, "longer than 64 characters"),
  description: Text(4000).optional(),
  comment: Text(4000).optional(),
  vm: Ref,
  /** Vela shorthand: every template disk on this domain (default: where each VM disk is). */
  storage_domain: Ref.optional(),
  version: z.object({ version_name: Text(255).optional(), version_number: Int(1, 10000).optional() }).optional(),
});

interface TDisk {
  src: Disk;
  copy: Disk;
  att: TemplateDiskAttachment;
  dc: DataCenter;
  spm: Host;
}

interface AddPlan {
  vm: Vm;
  template: Template;
  disks: TDisk[];
}

export const AddTemplate: CommandDef<unknown, AddPlan, { template: Template } & Started> = {
  name: "add Template",
  locks: (body) => {
    const ref = (body as { vm?: { id?: unknown } } | null)?.vm;
    return ["template:names", typeof ref?.id === "string" ? `vm:${ref.id.toLowerCase().slice(0, 64)}` : "vm:by-name"];
  },
  async validate(e, body) {
    const p = parseInput(Input, body, "Template");
    const vm = await byRef(e, "vms", p.vm);
    if (e.locks.isHeld(`vm:${vm.id}`) && !p.vm.id) throw conflict(`Cannot add Template: an operation on VM ${vm.name} is in progress`);
    if (vm.status !== "down") throw conflict(`Cannot add Template: VM ${vm.name} is ${vm.status}; it must be down`);
    await ensureNotInPreview(e, "add Template", { vmIds: [vm.id] });
    const clash = await e.db.selectFrom("templates").select("id").where("name", "=", p.name).executeTakeFirst();
    if (clash) throw conflict(`Cannot add Template. The name ${p.name} is already in use.`);
    const target = p.storage_domain ? await byRef(e, "storage_domains", p.storage_domain) : undefined;
    const rows = await e.db
      .selectFrom("disks")
      .innerJoin("disk_attachments", "disk_attachments.disk_id", "disks.id")
      .selectAll("disks")
      .select(["disk_attachments.interface", "disk_attachments.bootable", "disk_attachments.read_only"])
      .where("disk_attachments.vm_id", "=", vm.id)
      .execute();
    const id = randomUUID();
    const disks: TDisk[] = [];
    for (const { interface: iface, bootable, read_only, ...src } of rows) {
      ensureUsable(e, src, "add Template");
      const { dc, spm } = await poolOf(e, src, "add Template");
      if (target) {
        const tdc = await activeDomain(e, target, "add Template");
        if (tdc.id !== dc.id) throw conflict(`Cannot add Template: storage domain ${target.name} is in another data center than disk ${src.alias}`);
      }
      const copy: Disk = {
        ...src,
        id: randomUUID(),
        image_id: randomUUID(),
        storage_domain_id: target?.id ?? src.storage_domain_id,
        alias: src.alias,
        actual_size: 0,
        initial_size: null,
        shareable: 0,
        status: "locked",
        template_id: id,
        created_at: now(),
      };
      disks.push({ src, copy, att: { template_id: id, disk_id: copy.id, interface: iface, bootable, read_only }, dc, spm });
    }
    const template: Template = {
      id,
      name: p.name,
      description: p.description ?? "",
      comment: p.comment ?? "",
      cluster_id: vm.cluster_id,
      memory: vm.memory,
      cpu_sockets: vm.cpu_sockets,
      cpu_cores: vm.cpu_cores,
      cpu_threads: vm.cpu_threads,
      os_type: vm.os_type,
      status: "locked",
      version_number: 1,
      created_at: now(),
    };
    return { vm, template, disks };
  },
  describe: (p) => `Creating Template ${p.template.name} from VM ${p.vm.name}`,
  async execute(e, { vm, template, disks }, x) {
    // The VM stays image_locked (so no command changes it) until the copies end.
    await e.db.insertInto("templates").values(template).execute();
    await copyVmNicsToTemplate(e, vm.id, template.id);
    x.revert.push("forget the template", async () => {
      await e.db.deleteFrom("template_nics").where("owner_id", "=", template.id).execute();
      await e.db.deleteFrom("template_disk_attachments").where("template_id", "=", template.id).execute();
      for (const d of disks) {
        await e.db.deleteFrom("images").where("disk_id", "=", d.copy.id).execute();
        await e.db.deleteFrom("disks").where("id", "=", d.copy.id).execute();
      }
      await e.db.deleteFrom("templates").where("id", "=", template.id).execute();
    });
    for (const d of disks) {
      await e.db.insertInto("disks").values(d.copy).execute();
      await e.db.insertInto("images").values({ id: d.copy.image_id, disk_id: d.copy.id, parent_id: BLANK_TEMPLATE_ID, snapshot_id: null, created_at: d.copy.created_at }).execute();
      await e.db.insertInto("template_disk_attachments").values(d.att).execute();
    }
    await e.db.updateTable("vms").set({ status: "image_locked" }).where("id", "=", vm.id).execute();
    x.revert.push("VM back to down", () => e.db.updateTable("vms").set({ status: "down" }).where("id", "=", vm.id).execute());
    for (const d of disks) {
      await setDiskStatus(e, d.src.id, "locked");
      x.revert.push(`unlock ${d.src.alias}`, () => setDiskStatus(e, d.src.id, d.src.status));
    }
    const started = inBackground(e, x, "add Template", async () => {
      for (const d of disks) {
        await nodeStep(e, x.jobId, d.spm, `Copying disk ${d.src.alias} into template volume ${d.copy.image_id}`, () =>
          e.nodes.for(d.spm).call("copyImage", {
            sdUUID: d.src.storage_domain_id,
            spUUID: d.dc.id,
            srcImgUUID: d.src.id,
            srcVolUUID: d.src.image_id,
            dstImgUUID: d.copy.id,
            dstVolUUID: d.copy.image_id,
            description: volumeDescription(d.copy.alias, d.copy.description),
            dstSdUUID: d.copy.storage_domain_id,
            volType: "SHARED",
          }),
        );
        x.revert.push(`delete template image ${d.copy.id}`, () =>
          e.nodes
            .for(d.spm)
            .call("deleteImage", { sdUUID: d.copy.storage_domain_id, spUUID: d.dc.id, imgUUID: d.copy.id, force: true })
            .catch((err: unknown) => e.log.warn({ err, disk: d.copy.id }, "deleteImage in compensation failed")),
        );
      }
      await engineStep(e, x.jobId, "finalizing", "Unlocking the template, its disks and the VM", async () => {
        for (const d of disks) {
          const actual = await actualSizeOf(e, d.spm, d.dc.id, d.copy);
          await e.db.updateTable("disks").set({ status: "ok", actual_size: actual }).where("id", "=", d.copy.id).execute();
          await setDiskStatus(e, d.src.id, d.src.status);
        }
        await e.db.updateTable("templates").set({ status: "ok" }).where("id", "=", template.id).execute();
        await e.db.updateTable("vms").set({ status: "down" }).where("id", "=", vm.id).where("status", "=", "image_locked").execute();
      });
    });
    return { template, ...started };
  },
};

/** The template's disks, with their attachments. */
export async function templateDisks(e: Engine, templateId: string): Promise<(Disk & { interface: string; bootable: number; read_only: number })[]> {
  return e.db
    .selectFrom("disks")
    .innerJoin("template_disk_attachments as t", "t.disk_id", "disks.id")
    .selectAll("disks")
    .select(["t.interface", "t.bootable", "t.read_only"])
    .where("t.template_id", "=", templateId)
    .orderBy("t.bootable", "desc")
    .execute();
}

// ------------------------------------------------------------------------------------ remove

interface RemovePlan {
  template: Template;
  disks: Disk[];
}

export const RemoveTemplate: CommandDef<{ id: string }, RemovePlan, void> = {
  name: "remove Template",
  locks: (i) => [`template:${i.id}`],
  async validate(e, { id }) {
    const template = await mustById(e, "templates", id);
    if (template.id === BLANK_TEMPLATE_ID) throw conflict("Cannot remove Template: the Blank template is built in");
    if (template.status === "locked") throw conflict(`Cannot remove Template ${template.name}: it is locked by an operation in progress`);
    const making = await e.db.selectFrom("vms").select("name").where("template_id", "=", id).where("status", "=", "image_locked").executeTakeFirst();
    if (making) throw conflict(`Cannot remove Template ${template.name}: VM ${making.name} is being created from it`);
    const disks = await templateDisks(e, id);
    const vols = disks.map((d) => d.image_id);
    if (vols.length) {
      const users = await e.db
        .selectFrom("images")
        .innerJoin("disks", "disks.id", "images.disk_id")
        .leftJoin("disk_attachments", "disk_attachments.disk_id", "disks.id")
        .leftJoin("vms", "vms.id", "disk_attachments.vm_id")
        .select(["disks.alias", "vms.name"])
        .where("images.parent_id", "in", vols)
        .execute();
      if (users.length) {
        const names = [...new Set(users.map((u) => u.name ?? `disk ${u.alias}`))].join(", ");
        throw conflict(`Cannot remove Template ${template.name}: it is used by the following VMs: ${names}`);
      }
    }
    return { template, disks };
  },
  describe: (p) => `Removing Template ${p.template.name}`,
  async execute(e, { template, disks }, x) {
    await e.db.updateTable("templates").set({ status: "locked" }).where("id", "=", template.id).execute();
    x.revert.push("template back to its status", () => e.db.updateTable("templates").set({ status: template.status }).where("id", "=", template.id).execute());
    for (const d of disks) {
      const att = await e.db.selectFrom("storage_domain_attachments").select("status").where("storage_domain_id", "=", d.storage_domain_id).executeTakeFirst();
      if (att) {
        const { dc, spm } = await poolOf(e, d, "remove Template");
        await nodeStep(e, x.jobId, spm, `Deleting template image ${d.id}`, () =>
          e.nodes.for(spm).call("deleteImage", { sdUUID: d.storage_domain_id, spUUID: dc.id, imgUUID: d.id }),
        );
      }
      await e.db.deleteFrom("template_disk_attachments").where("disk_id", "=", d.id).execute();
      await e.db.deleteFrom("images").where("disk_id", "=", d.id).execute();
      await e.db.deleteFrom("disks").where("id", "=", d.id).execute();
    }
    await e.db.updateTable("vms").set({ template_id: BLANK_TEMPLATE_ID }).where("template_id", "=", template.id).execute();
    await e.db.deleteFrom("template_nics").where("owner_id", "=", template.id).execute();
    await e.db.deleteFrom("templates").where("id", "=", template.id).execute();
  },
};

// ------------------------------------------------------------------------------------ VM disks from a template

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
