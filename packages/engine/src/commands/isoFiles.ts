/**
 * The ISO files a VM's CD-ROM may hold: those of the file-based ISO and data domains active in a
 * data center, as a host of that data center lists them (the node's `getFileStats` reads the
 * domain's ISO directory and keeps only ISO9660 images). The engine keeps no catalogue of its own:
 * an administrator copies ISOs onto the domain's storage, and the next listing shows them.
 */
import { badRequest, conflict } from "../errors/fault.js";
import type { Engine } from "../engine.js";
import type { Host, StorageDomain } from "../db/schema.js";
import { isBlockType } from "../hosts/storage.js";
import { mustById } from "../db/repo/entities.js";
import { hostsOfDc } from "../db/repo/hosts.js";
import { attachmentOf } from "./lookup.js";

export interface IsoFile {
  name: string;
  size: number;
  domain: StorageDomain;
}

/** Domain types that can hold ISO files (export domains hold VMs, block domains have no files). */
function holdsIsos(sd: StorageDomain): boolean {
  return (sd.type === "iso" || sd.type === "data") && !isBlockType(sd.storage_type);
}

/** The ISO files of one domain, as `host` (or an up host of its data center) lists them; none unless it is active. */
export async function isoFilesOf(e: Engine, sd: StorageDomain, host?: Host): Promise<IsoFile[]> {
  if (!holdsIsos(sd)) return [];
  const att = await attachmentOf(e, sd.id);
  // only an active domain's storage is known to be reachable by the data center's hosts
  if (att?.status !== "active") return [];
  const dc = await mustById(e, "data_centers", att.data_center_id);
  const via = host ?? (await hostsOfDc(e, dc.id, "up"))[0];
  if (!via) throw conflict(`Cannot list the files of storage domain ${sd.name}: data center ${dc.name} has no host up`);
  const stats = await e.nodes.for(via).call("getFileStats", { sdUUID: sd.id });
  return Object.entries(stats)
    .map(([name, st]) => ({ name, size: Number(st.size), domain: sd }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Finds an ISO file for a CD-ROM: in the given domain, or else in the data center's active ISO
 * domains first, then its data domains. Unknown files are a 400 naming where they were looked for.
 */
export async function findIsoFile(e: Engine, dcId: string, file: string, domainId: string | undefined, host?: Host): Promise<IsoFile> {
  const q = e.db
    .selectFrom("storage_domains")
    .innerJoin("storage_domain_attachments", "storage_domain_attachments.storage_domain_id", "storage_domains.id")
    .selectAll("storage_domains")
    .where("storage_domain_attachments.data_center_id", "=", dcId)
    .where("storage_domain_attachments.status", "=", "active");
  const domains = (await (domainId ? q.where("storage_domains.id", "=", domainId) : q).execute()).filter(holdsIsos);
  if (domainId && domains.length === 0) throw badRequest(`Storage domain ${domainId} is not an active ISO or data file domain of the VM's data center`);
  domains.sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type === "iso" ? -1 : 1));
  for (const sd of domains) {
    const found = (await isoFilesOf(e, sd, host)).find((f) => f.name === file);
    if (found) return found;
  }
  throw badRequest(`ISO file ${file} is not in ${domainId ? "storage domain " + domains[0].name : "any active ISO or data domain of the VM's data center"}`);
}
