/**
 * Registers one disk found on a storage domain (`POST /storagedomains/{sd}/disks/{disk}/register`,
 * oVirt's register action): an image whose volumes are on the domain but that has no disk row
 * (written by another engine, or there before an import) becomes a disk, read from the volumes'
 * own metadata as an attach registers them (registerDisks.ts). The domain must be attached and
 * active; a disk the engine knows, an id the domain does not hold, or a template's image is a
 * fault and changes nothing. Reads storage only; the rows go in in one transaction.
 */
import { conflict, notFound } from "../errors/fault.js";
import type { Disk, Host, StorageDomain } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { faultOf } from "./command.js";
import { mustById } from "../db/repo/entities.js";
import { activeDomain, spmOf } from "./lookup.js";
import { type FoundDisk, readImageDisk, recordFoundDisk } from "./registerDisks.js";

interface Plan {
  sd: StorageDomain;
  host: Host;
  found: FoundDisk;
}

const WHAT = "register Disk";

export const RegisterDisk: CommandDef<{ sdId: string; diskId: string }, Plan, Disk> = {
  name: WHAT,
  locks: (i) => [`disk:${i.diskId}`, `sd:${i.sdId}`],
  async validate(e, { sdId, diskId }) {
    const sd = await mustById(e, "storage_domains", sdId);
    const known = await e.db.selectFrom("disks").select(["alias", "storage_domain_id"]).where("id", "=", diskId).executeTakeFirst();
    if (known) throw conflict(`Cannot ${WHAT}: disk ${known.alias} (${diskId}) is already registered`);
    const dc = await activeDomain(e, sd, WHAT);
    const host = await spmOf(e, dc, WHAT);
    let found: FoundDisk | undefined;
    try {
      const list: string[] = await e.nodes.for(host).call("getImagesList", { sdUUID: sd.id });
      if (!list.includes(diskId)) throw notFound("Disk", diskId);
      found = await readImageDisk(e, host, dc.id, sd.id, diskId);
    } catch (err) {
      throw faultOf(err, WHAT);
    }
    if (!found) throw conflict(`Cannot ${WHAT}: image ${diskId} on storage domain ${sd.name} is a template's image or has no leaf volume`);
    return { sd, host, found };
  },
  describe: (p) => `Registering disk ${p.found.disk.alias} found on storage domain ${p.sd.name}`,
  async execute(e, { found }) {
    await recordFoundDisk(e, found);
    return found.disk;
  },
};
