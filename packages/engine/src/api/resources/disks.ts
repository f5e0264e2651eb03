/** /disks: list, get, add (201 locked → ok when the node task ends), remove. */
import { AddDisk } from "../../commands/AddDisk.js";
import { runCommand } from "../../commands/command.js";
import { mustById } from "../../commands/lookup.js";
import { RemoveDisk } from "../../commands/RemoveDisk.js";
import type { Disk } from "../../db/schema.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { collection } from "../repr.js";
import { applySearch } from "../search.js";
import { diskView } from "../views.js";

export async function list(c: Call): Promise<Reply> {
  const rows = await c.engine.db.selectFrom("disks").selectAll().orderBy("alias").execute();
  const found = applySearch(rows, c.query, {
    name: (r: Disk) => r.alias,
    alias: (r) => r.alias,
    id: (r) => r.id,
    status: (r) => r.status,
    format: (r) => r.format,
    storage: (r) => r.storage_domain_id,
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
