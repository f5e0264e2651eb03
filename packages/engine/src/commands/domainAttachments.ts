/**
 * What the attached-domain commands share (ActivateStorageDomain, DeactivateStorageDomain,
 * DetachStorageDomain): loading a data center's attachment of a domain, setting its status, and
 * checking no disk on it is in use. All run on the SPM, which alone changes pool metadata; the
 * master domain can be neither deactivated nor detached (Vela cannot move the master role yet).
 */
import { conflict, notFound } from "../errors/fault.js";
import type { DataCenter, Host, StorageDomain, StorageDomainAttachment } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { spmOf } from "./lookup.js";
import { mustById } from "../db/repo/entities.js";
import { vmOnDomain } from "../db/repo/disks.js";

export interface In {
  dcId: string;
  sdId: string;
}

export interface Plan {
  dc: DataCenter;
  sd: StorageDomain;
  att: StorageDomainAttachment;
  spm: Host;
}

export async function load(e: Engine, { dcId, sdId }: In, what: string): Promise<Plan> {
  const dc = await mustById(e, "data_centers", dcId);
  const sd = await mustById(e, "storage_domains", sdId);
  const att = await e.db
    .selectFrom("storage_domain_attachments")
    .selectAll()
    .where("data_center_id", "=", dc.id)
    .where("storage_domain_id", "=", sd.id)
    .executeTakeFirst();
  if (!att) throw notFound("Storage Domain attached to Data Center", sd.id);
  const spm = await spmOf(e, dc, `${what} Storage Domain ${sd.name}`);
  return { dc, sd, att, spm };
}

export async function setStatus(e: Engine, p: Plan, status: string): Promise<StorageDomainAttachment> {
  await e.db
    .updateTable("storage_domain_attachments")
    .set({ status })
    .where("data_center_id", "=", p.dc.id)
    .where("storage_domain_id", "=", p.sd.id)
    .execute();
  return { ...p.att, status };
}

/** Running VMs and operations in progress that use disks on the domain. */
export async function ensureUnused(e: Engine, sd: StorageDomain, what: string): Promise<void> {
  const running = await vmOnDomain(e, sd.id, true);
  if (running) throw conflict(`Cannot ${what} Storage Domain ${sd.name}: VM ${running.name} using a disk on it is ${running.status}`);
  const locked = await e.db.selectFrom("disks").select("alias").where("storage_domain_id", "=", sd.id).where("status", "=", "locked").executeTakeFirst();
  if (locked) throw conflict(`Cannot ${what} Storage Domain ${sd.name}: disk ${locked.alias} on it is locked by an operation in progress`);
}
