/**
 * Add a template from a down VM (POST /templates): each VM disk's chain is collapsed by the SPM's
 * copyImage into one SHARED volume of a new template disk (same domain, or the one asked); 201
 * with the template locked, ok when the job ends.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { conflict } from "../errors/fault.js";
import { Int, Name, parseInput, Ref, Text } from "../input/input.js";
import { BLANK_TEMPLATE_ID } from "../db/ids.js";
import { type DataCenter, type Disk, type Host, now, type Template, type TemplateDiskAttachment, type Vm } from "../db/schema.js";
import { engineStep, nodeStep } from "../jobs/jobs.js";
import { volumeDescription } from "./AddDisk.js";
import { inBackground, type Started } from "./background.js";
import { actualSizeOf, ensureNotInPreview, ensureUsable, poolOf, setDiskStatus } from "./chains.js";
import type { CommandDef } from "./command.js";
import { activeDomain } from "./lookup.js";
import { byRef } from "../db/repo/entities.js";
import { copyVmNicsToTemplate } from "../db/repo/nics.js";
import { attachedDisksOfVm } from "../db/repo/disks.js";

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
    const rows = await attachedDisksOfVm(e, vm.id);
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
