/**
 * /storagedomains: list, get, add (through a host), remove; the disks on a domain, and those on it
 * the engine does not know (`disks;unregistered`), each of which can be registered.
 */
import { AddStorageDomain } from "../../commands/AddStorageDomain.js";
import { runCommand } from "../../commands/command.js";
import { mustById } from "../../db/repo/entities.js";
import { RemoveStorageDomain } from "../../commands/RemoveStorageDomain.js";
import { RegisterDisk } from "../../commands/RegisterDisk.js";
import { faultOf } from "../../commands/command.js";
import { activeDomain, spmOf } from "../../commands/lookup.js";
import { unregisteredDisks } from "../../commands/registerDisks.js";
import type { StorageDomain, StorageDomainAttachment } from "../../db/schema.js";
import { badRequest } from "../../errors/fault.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { collection } from "../repr.js";
import { refNames } from "../ref-names.js";
import { applySearch } from "../search.js";
import { diskView, storageDomainView, unregisteredDiskView } from "../views.js";

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

/** oVirt's `unregistered` matrix (or query) parameter: true, false, or absent. */
function unregisteredAsked(c: Call): boolean {
  const v = c.query.unregistered;
  if (v === undefined || v.toLowerCase() === "false") return false;
  if (v === "" || v.toLowerCase() === "true") return true;
  throw badRequest(`unregistered: expected true or false, got ${JSON.stringify(v.slice(0, 40))}`);
}

export async function disks(c: Call): Promise<Reply> {
  const sd = await mustById(c.engine, "storage_domains", pathId(c, "id", "Storage Domain"));
  if (unregisteredAsked(c)) {
    // What the domain holds that the engine does not know: read from storage through the SPM.
    const dc = await activeDomain(c.engine, sd, "list unregistered disks");
    const host = await spmOf(c.engine, dc, "list unregistered disks");
    const found = await unregisteredDisks(c.engine, host, dc.id, sd.id).catch((err: unknown) => {
      throw faultOf(err, "list unregistered disks");
    });
    return ok("disks", collection("disk", found.map((f) => unregisteredDiskView(f.disk))));
  }
  const rows = await c.engine.db.selectFrom("disks").selectAll().where("storage_domain_id", "=", sd.id).orderBy("alias").execute();
  return ok("disks", collection("disk", rows.map(diskView)));
}

export async function registerDisk(c: Call): Promise<Reply> {
  const sdId = pathId(c, "id", "Storage Domain");
  const diskId = pathId(c, "disk", "Disk");
  const disk = await runCommand(c.engine, RegisterDisk, { sdId, diskId });
  return ok("action", { status: "complete", disk: diskView(disk) });
}
