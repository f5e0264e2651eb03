/**
 * Removes an unattached storage domain from the engine (the data on storage stays: the verb
 * table has no formatStorageDomain yet). Attached domains must be detached first, which needs
 * verbs the node does not have yet: 409.
 */
import { conflict } from "../api/fault.js";
import type { StorageDomain } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { mustById } from "./lookup.js";

export const RemoveStorageDomain: CommandDef<{ id: string }, StorageDomain, void> = {
  name: "remove Storage Domain",
  locks: (i) => [`sd:${i.id}`, "sd:attach"],
  async validate(e, { id }) {
    const sd = await mustById(e, "storage_domains", id);
    const att = await e.db.selectFrom("storage_domain_attachments").select("data_center_id").where("storage_domain_id", "=", id).executeTakeFirst();
    if (att) throw conflict(`Cannot remove Storage Domain ${sd.name}: it is attached to a data center`);
    const disk = await e.db.selectFrom("disks").select("alias").where("storage_domain_id", "=", id).executeTakeFirst();
    if (disk) throw conflict(`Cannot remove Storage Domain ${sd.name}: disk ${disk.alias} is on it`);
    return sd;
  },
  describe: (sd) => `Removing Storage Domain ${sd.name}`,
  async execute(e, sd) {
    await e.db.deleteFrom("storage_domains").where("id", "=", sd.id).execute();
  },
};
