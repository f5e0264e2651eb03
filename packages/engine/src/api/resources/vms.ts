/** /vms: list, get, add, remove; start/stop/shutdown; disk attachments. */
import { AddDiskAttachment } from "../../commands/AddDiskAttachment.js";
import { AddVm } from "../../commands/AddVm.js";
import { runCommand } from "../../commands/command.js";
import { AttachDisk, DetachDisk } from "../../commands/DiskAttachments.js";
import { mustById } from "../../commands/lookup.js";
import { RemoveVm } from "../../commands/RemoveVm.js";
import { RunVm } from "../../commands/RunVm.js";
import { ShutdownVm, StopVm } from "../../commands/StopVm.js";
import { UpdateVm } from "../../commands/UpdateVm.js";
import type { Vm } from "../../db/schema.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { notFound } from "../fault.js";
import { ref } from "../href.js";
import { collection } from "../repr.js";
import { applySearch } from "../search.js";
import { diskAttachmentView, vmView } from "../views.js";

export async function list(c: Call): Promise<Reply> {
  const rows = await c.engine.db.selectFrom("vms").selectAll().orderBy("name").execute();
  const found = applySearch(rows, c.query, {
    name: (r: Vm) => r.name,
    id: (r) => r.id,
    status: (r) => r.status,
    cluster: (r) => r.cluster_id,
    host: (r) => r.run_on_host_id,
  });
  return ok("vms", collection("vm", found.map(vmView)));
}

export async function get(c: Call): Promise<Reply> {
  return ok("vm", vmView(await mustById(c.engine, "vms", pathId(c, "id", "VM"))));
}

export async function add(c: Call): Promise<Reply> {
  return ok("vm", vmView(await runCommand(c.engine, AddVm, bodyOf(c, ["vm"]))), 201);
}

export async function update(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  return ok("vm", vmView(await runCommand(c.engine, UpdateVm, { id, body: bodyOf(c, ["vm"]) })));
}

export async function remove(c: Call): Promise<Reply> {
  const detachOnly = (c.query.detach_only ?? "false").toLowerCase() === "true";
  await runCommand(c.engine, RemoveVm, { id: pathId(c, "id", "VM"), detachOnly });
  return { status: 200 };
}

function actionReply(vm: Vm): Reply {
  return ok("action", { status: "complete", vm: ref("vms", vm.id) });
}

export async function start(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  return actionReply(await runCommand(c.engine, RunVm, { id, body: bodyOf(c, ["action"]) }));
}

export async function stop(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  bodyOf(c, ["action"]);
  return actionReply(await runCommand(c.engine, StopVm, { id }));
}

export async function shutdown(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "VM");
  bodyOf(c, ["action"]);
  return actionReply(await runCommand(c.engine, ShutdownVm, { id }));
}

export async function diskAttachments(c: Call): Promise<Reply> {
  const vm = await mustById(c.engine, "vms", pathId(c, "id", "VM"));
  const rows = await c.engine.db.selectFrom("disk_attachments").selectAll().where("vm_id", "=", vm.id).execute();
  return ok("disk_attachments", collection("disk_attachment", rows.map(diskAttachmentView)));
}

export async function diskAttachment(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  await mustById(c.engine, "vms", vmId);
  const diskId = pathId(c, "disk", "Disk attachment");
  const att = await c.engine.db.selectFrom("disk_attachments").selectAll().where("vm_id", "=", vmId).where("disk_id", "=", diskId).executeTakeFirst();
  if (!att) throw notFound("Disk attachment", diskId);
  return ok("disk_attachment", diskAttachmentView(att));
}

export async function attachDisk(c: Call): Promise<Reply> {
  const vmId = pathId(c, "id", "VM");
  const body = bodyOf(c, ["disk_attachment"]);
  const disk = (body as { disk?: unknown }).disk;
  // A disk without an id but with a size is a new disk to create and attach (as oVirt allows).
  const isNew = typeof disk === "object" && disk !== null && !("id" in disk) && "provisioned_size" in disk;
  const att = isNew ? await runCommand(c.engine, AddDiskAttachment, { vmId, body }) : await runCommand(c.engine, AttachDisk, { vmId, body });
  return ok("disk_attachment", diskAttachmentView(att), 201);
}

export async function detachDisk(c: Call): Promise<Reply> {
  await runCommand(c.engine, DetachDisk, { vmId: pathId(c, "id", "VM"), diskId: pathId(c, "disk", "Disk attachment") });
  return { status: 200 };
}

