/** /templates: list, get, add from a VM (201 locked → ok when the copies end), remove; their disk attachments. */
import { runCommand } from "../../commands/command.js";
import { mustById } from "../../db/repo/entities.js";
import { AddTemplate } from "../../commands/AddTemplate.js";
import { RemoveTemplate } from "../../commands/RemoveTemplate.js";
import { templateDisks } from "../../db/repo/disks.js";
import type { Template } from "../../db/schema.js";
import { settleIfAsked } from "../actions.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { notFound } from "../../errors/fault.js";
import { href, ref } from "../href.js";
import { collection, type Rep } from "../repr.js";
import { isBlankTemplate, refNames } from "../ref-names.js";
import { applySearch } from "../search.js";
import { templateView } from "../views.js";

export async function list(c: Call): Promise<Reply> {
  const rows = await c.engine.db.selectFrom("templates").selectAll().orderBy("name").execute();
  const n = await refNames(c.engine);
  const found = applySearch(rows, c.query, {
    name: (r: Template) => r.name,
    id: (r) => r.id,
    status: (r) => r.status,
    cluster: (r) => n.cluster(r.cluster_id),
    // The Blank template is in every data center (`name=Blank and datacenter=Default` finds it).
    datacenter: (r) => (isBlankTemplate(r.id) ? n.allDcs() : n.dcOfCluster(r.cluster_id)),
  });
  return ok("templates", collection("template", found.map(templateView)));
}

export async function get(c: Call): Promise<Reply> {
  return ok("template", templateView(await mustById(c.engine, "templates", pathId(c, "id", "Template"))));
}

export async function add(c: Call): Promise<Reply> {
  const r = await runCommand(c.engine, AddTemplate, bodyOf(c, ["template"]));
  await settleIfAsked(c, r);
  const row = await c.engine.db.selectFrom("templates").selectAll().where("id", "=", r.template.id).executeTakeFirst();
  return ok("template", templateView(row ?? r.template), 201);
}

export async function remove(c: Call): Promise<Reply> {
  await runCommand(c.engine, RemoveTemplate, { id: pathId(c, "id", "Template") });
  return { status: 200 };
}

function attachmentView(templateId: string, d: { id: string; interface: string; bootable: number; read_only: number }): Rep {
  return {
    href: href("templates", templateId, "diskattachments", d.id),
    id: d.id,
    active: true,
    bootable: d.bootable !== 0,
    interface: d.interface,
    pass_discard: false,
    read_only: d.read_only !== 0,
    uses_scsi_reservation: false,
    disk: ref("disks", d.id),
    template: ref("templates", templateId),
  };
}

export async function diskAttachments(c: Call): Promise<Reply> {
  const t = await mustById(c.engine, "templates", pathId(c, "id", "Template"));
  const rows = await templateDisks(c.engine, t.id);
  return ok("disk_attachments", collection("disk_attachment", rows.map((d) => attachmentView(t.id, d))));
}

export async function diskAttachment(c: Call): Promise<Reply> {
  const t = await mustById(c.engine, "templates", pathId(c, "id", "Template"));
  const diskId = pathId(c, "disk", "Disk attachment");
  const d = (await templateDisks(c.engine, t.id)).find((x) => x.id === diskId);
  if (!d) throw notFound("Disk attachment", diskId);
  return ok("disk_attachment", attachmentView(t.id, d));
}
