/** /datacenters: list, get, add, remove; and the domains attached to a data center. */
import { AddDataCenter } from "../../commands/AddDataCenter.js";
import { AttachStorageDomain } from "../../commands/AttachStorageDomain.js";
import { runCommand } from "../../commands/command.js";
import { mustById } from "../../db/repo/entities.js";
import { RemoveDataCenter } from "../../commands/RemoveDataCenter.js";
import { ActivateStorageDomain } from "../../commands/ActivateStorageDomain.js";
import { DeactivateStorageDomain } from "../../commands/DeactivateStorageDomain.js";
import { DetachStorageDomain } from "../../commands/DetachStorageDomain.js";
import { ref } from "../href.js";
import type { DataCenter, Host } from "../../db/schema.js";
import type { Engine } from "../../engine.js";
import { bodyOf, type Call, ok, pathId, type Reply } from "../call.js";
import { notFound } from "../../errors/fault.js";
import { collection } from "../repr.js";
import { applySearch } from "../search.js";
import { clusterView, dataCenterView, dcStatus, storageDomainView } from "../views.js";

async function spmHosts(e: Engine): Promise<Map<string, Host>> {
  const rows = await e.db.selectFrom("hosts").innerJoin("data_centers", "data_centers.spm_host_id", "hosts.id").selectAll("hosts").select("data_centers.id as dc_id").execute();
  return new Map(rows.map((r) => [r.dc_id, r]));
}

export async function list(c: Call): Promise<Reply> {
  const rows = await c.engine.db.selectFrom("data_centers").selectAll().orderBy("name").execute();
  const spm = await spmHosts(c.engine);
  const found = applySearch(rows, c.query, {
    name: (r: DataCenter) => r.name,
    id: (r) => r.id,
    status: (r) => dcStatus(r, spm.get(r.id)),
    local: (r) => String(r.local !== 0),
  });
  return ok("data_centers", collection("data_center", found.map((dc) => dataCenterView(dc, spm.get(dc.id)))));
}

export async function get(c: Call): Promise<Reply> {
  const dc = await mustById(c.engine, "data_centers", pathId(c, "id", "Data Center"));
  const spm = await spmHosts(c.engine);
  return ok("data_center", dataCenterView(dc, spm.get(dc.id)));
}

export async function add(c: Call): Promise<Reply> {
  const dc = await runCommand(c.engine, AddDataCenter, bodyOf(c, ["data_center"]));
  return ok("data_center", dataCenterView(dc), 201);
}

export async function remove(c: Call): Promise<Reply> {
  await runCommand(c.engine, RemoveDataCenter, { id: pathId(c, "id", "Data Center") });
  return { status: 200 };
}

export async function clusters(c: Call): Promise<Reply> {
  const dc = await mustById(c.engine, "data_centers", pathId(c, "id", "Data Center"));
  const rows = await c.engine.db.selectFrom("clusters").selectAll().where("data_center_id", "=", dc.id).orderBy("name").execute();
  return ok("clusters", collection("cluster", rows.map(clusterView)));
}

export async function storageDomains(c: Call): Promise<Reply> {
  const dc = await mustById(c.engine, "data_centers", pathId(c, "id", "Data Center"));
  const rows = await c.engine.db
    .selectFrom("storage_domain_attachments as a")
    .innerJoin("storage_domains as sd", "sd.id", "a.storage_domain_id")
    .selectAll("sd")
    .select(["a.status as att_status", "a.master as att_master", "a.data_center_id as att_dc"])
    .where("a.data_center_id", "=", dc.id)
    .orderBy("sd.name")
    .execute();
  const reps = rows.map((r) =>
    storageDomainView(r, { data_center_id: r.att_dc, storage_domain_id: r.id, status: r.att_status, master: r.att_master }, true),
  );
  return ok("storage_domains", collection("storage_domain", reps));
}

export async function storageDomain(c: Call): Promise<Reply> {
  const dcId = pathId(c, "id", "Data Center");
  await mustById(c.engine, "data_centers", dcId);
  const sd = await mustById(c.engine, "storage_domains", pathId(c, "sd", "Storage Domain"));
  const att = await c.engine.db
    .selectFrom("storage_domain_attachments")
    .selectAll()
    .where("data_center_id", "=", dcId)
    .where("storage_domain_id", "=", sd.id)
    .executeTakeFirst();
  if (!att) throw notFound("Storage Domain attached to Data Center", sd.id);
  return ok("storage_domain", storageDomainView(sd, att, true));
}

export async function attach(c: Call): Promise<Reply> {
  const dcId = pathId(c, "id", "Data Center");
  const { sd, att } = await runCommand(c.engine, AttachStorageDomain, { dcId, body: bodyOf(c, ["storage_domain"]) });
  return ok("storage_domain", storageDomainView(sd, att, true), 201);
}

async function attachedAction(c: Call, cmd: typeof ActivateStorageDomain): Promise<Reply> {
  bodyOf(c, ["action"]);
  const dcId = pathId(c, "id", "Data Center");
  const sdId = pathId(c, "sd", "Storage Domain");
  await runCommand(c.engine, cmd, { dcId, sdId });
  return ok("action", { status: "complete", storage_domain: ref("storagedomains", sdId) });
}

export function activateStorageDomain(c: Call): Promise<Reply> {
  return attachedAction(c, ActivateStorageDomain);
}

export function deactivateStorageDomain(c: Call): Promise<Reply> {
  return attachedAction(c, DeactivateStorageDomain);
}

export async function detach(c: Call): Promise<Reply> {
  const dcId = pathId(c, "id", "Data Center");
  const sdId = pathId(c, "sd", "Storage Domain");
  await runCommand(c.engine, DetachStorageDomain, { dcId, sdId });
  return { status: 200 };
}
