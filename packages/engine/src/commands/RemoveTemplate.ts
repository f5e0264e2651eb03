/**
 * Remove a template: refused while a VM's disk stands on one of its volumes (thin VMs); otherwise
 * each template image is deleted; VMs that only name it (clones, disk-less) point to Blank after.
 */
import { conflict } from "../errors/fault.js";
import { BLANK_TEMPLATE_ID } from "../db/ids.js";
import { type Disk, type Template } from "../db/schema.js";
import { nodeStep } from "../jobs/jobs.js";
import { poolOf } from "./chains.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";
import { templateDisks } from "../db/repo/disks.js";
import { childrenOfVolumes } from "../db/repo/disks.js";

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
      const users = await childrenOfVolumes(e, vols);
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
