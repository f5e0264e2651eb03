/** /storagedomains: list, get, add (through a host), remove; the disks on a domain. */
import { AddStorageDomain } from "../../commands/AddStorageDomain.js";
import { runCommand } from "../../commands/command.js";
import { mustById } from "../../db/repo/entities.js";
import { RemoveStorageDomain } from "../../commands/RemoveStorageDomain.js";
import type { StorageDomain, StorageDomainAttachment } from "../../db/schema.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { collection } from "../repr.js";
import { refNames } from "../ref-names.js";
import { applySearch } from "../search.js";
import { diskView, storageDomainView } from "../views.js";

async function attachments(c: Call): Promise<Map<string, StorageDomainAttachment>> {
  const rows = await c.engine.db.selectFrom("storage_domain_attachments").selectAll().execute();
  return new Map(rows.map((r) => [r.storage_domain_id, r]));
}

export async function list(c: Call): Promise<Reply> {
  const rows = await c.engine.db.selectFrom("storage_domains").selectAll().orderBy("name").execute();
  const atts = await attachments(c);
  const n = await refNames(c.engine);
  const found = applySearch(rows, c.query, {
    name: (r: StorageDomain) => r.name,
    id: (r) => r.id,
    type: (r) => r.type,
    status: (r) => atts.get(r.id)?.status ?? "unattached",
    datacenter: (r) => n.dc(atts.get(r.id)?.data_center_id),
    storage_type: (r) => r.storage_type,
  });
  return ok("storage_domains", collection("storage_domain", found.map((sd) => storageDomainView(sd, atts.get(sd.id)))));
}

export async function get(c: Call): Promise<Reply> {
  const sd = await mustById(c.engine, "storage_domains", pathId(c, "id", "Storage Domain"));
  return ok("storage_domain", storageDomainView(sd, (await attachments(c)).get(sd.id)));
}

export async function add(c: Call): Promise<Reply> {
  const sd = await runCommand(c.engine, AddStorageDomain, bodyOf(c, ["storage_domain"]));
  return ok("storage_domain", storageDomainView(sd), 201);
}

export async function remove(c: Call): Promise<Reply> {
  const format = (c.query.format ?? "false").toLowerCase() === "true";
  await runCommand(c.engine, RemoveStorageDomain, { id: pathId(c, "id", "Storage Domain"), host: c.query.host, format });
  return { status: 200 };
}

export async function disks(c: Call): Promise<Reply> {
  const sd = await mustById(c.engine, "storage_domains", pathId(c, "id", "Storage Domain"));
  const rows = await c.engine.db.selectFrom("disks").selectAll().where("storage_domain_id", "=", sd.id).orderBy("alias").execute();
  return ok("disks", collection("disk", rows.map(diskView)));
}
