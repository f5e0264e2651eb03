/**
 * PUT on data centers, clusters, hosts, storage domains and templates (commands/UpdateEntity.ts)
 * and on a VM's disk attachments (commands/UpdateDiskAttachment.ts); answers the updated object.
 */
import { runCommand } from "../../commands/command.js";
import { UpdateDiskAttachment } from "../../commands/UpdateDiskAttachment.js";
import { KINDS, type Kind, UpdateEntity } from "../../commands/UpdateEntity.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { diskAttachmentView } from "../views.js";
import * as clusters from "./clusters.js";
import * as datacenters from "./datacenters.js";
import * as hosts from "./hosts.js";
import * as storagedomains from "./storagedomains.js";
import * as templates from "./templates.js";

async function update(c: Call, kind: Kind, root: string, get: (c: Call) => Promise<Reply>): Promise<Reply> {
  await runCommand(c.engine, UpdateEntity, { kind, id: pathId(c, "id", kind.what), body: bodyOf(c, [root]) });
  return get(c);
}

export const updateDataCenter = (c: Call) => update(c, KINDS.dataCenter, "data_center", datacenters.get);
export const updateCluster = (c: Call) => update(c, KINDS.cluster, "cluster", clusters.get);
export const updateHost = (c: Call) => update(c, KINDS.host, "host", hosts.get);
export const updateStorageDomain = (c: Call) => update(c, KINDS.storageDomain, "storage_domain", storagedomains.get);
export const updateTemplate = (c: Call) => update(c, KINDS.template, "template", templates.get);

export async function updateDiskAttachment(c: Call): Promise<Reply> {
  const att = await runCommand(c.engine, UpdateDiskAttachment, {
    vmId: pathId(c, "id", "VM"),
    diskId: pathId(c, "disk", "Disk attachment"),
    body: bodyOf(c, ["disk_attachment"]),
  });
  return ok("disk_attachment", diskAttachmentView(att));
}
