/** /disks: list, get, add (201 locked → ok when the node task ends), update (extend), remove; copy and move. */
import { AddDisk } from "../../commands/AddDisk.js";
import { runCommand } from "../../commands/command.js";
import { CopyDisk } from "../../commands/CopyDisk.js";
import { MoveDisk } from "../../commands/MoveDisk.js";
import { UpdateDisk } from "../../commands/UpdateDisk.js";
import { ImportDisk } from "../../commands/ImportDisk.js";
import { vmNamesByDisk } from "../../db/repo/disks.js";
import { mustById } from "../../db/repo/entities.js";
import { RemoveDisk } from "../../commands/RemoveDisk.js";
import type { Disk } from "../../db/schema.js";
import { longAction } from "../actions.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { ref } from "../href.js";
import { collection } from "../repr.js";
import { refNames } from "../ref-names.js";
import { applySearch } from "../search.js";
import { diskView } from "../views.js";

export async function list(c: Call): Promise<Reply> {
  const rows = await c.engine.db.selectFrom("disks").selectAll().orderBy("alias").execute();
  const n = await refNames(c.engine);
  const vmNames = await vmNamesByDisk(c.engine);
  const found = applySearch(rows, c.query, {
    name: (r: Disk) => r.alias,
    alias: (r) => r.alias,
    id: (r) => r.id,
    status: (r) => r.status,
    format: (r) => r.format,
    storage: (r) => n.storage(r.storage_domain_id),
    provisioned_size: (r) => r.provisioned_size,
    // oVirt's `vm_names`: the VMs a disk is attached to (Ansible's ovirt_disk searches `vm_names=<vm>`)
    vm_names: (r) => vmNames.get(r.id) ?? [],
  });
  return ok("disks", collection("disk", found.map(diskView)));
}

export async function get(c: Call): Promise<Reply> {
  return ok("disk", diskView(await mustById(c.engine, "disks", pathId(c, "id", "Disk"))));
}

export async function add(c: Call): Promise<Reply> {
  return ok("disk", diskView(await runCommand(c.engine, AddDisk, bodyOf(c, ["disk"]))), 201);
}

export async function remove(c: Call): Promise<Reply> {
  await runCommand(c.engine, RemoveDisk, { id: pathId(c, "id", "Disk") });
  return { status: 200 };
}

export async function update(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "Disk");
  return ok("disk", diskView(await runCommand(c.engine, UpdateDisk, { id, body: bodyOf(c, ["disk"]) })));
}

export async function copy(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "Disk");
  const r = await runCommand(c.engine, CopyDisk, { id, body: bodyOf(c, ["action"]) });
  return longAction(c, r, { disk: ref("disks", r.copy.id) });
}

export async function move(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "Disk");
  const r = await runCommand(c.engine, MoveDisk, { id, body: bodyOf(c, ["action"]) });
  return longAction(c, r, { disk: ref("disks", id) });
}

/** Vela extension: fill the disk from an image file the SPM host may read (see ImportDisk). */
export async function importFile(c: Call): Promise<Reply> {
  const id = pathId(c, "id", "Disk");
  const r = await runCommand(c.engine, ImportDisk, { id, body: bodyOf(c, ["action"]) });
  return longAction(c, r, { disk: ref("disks", id) });
}
