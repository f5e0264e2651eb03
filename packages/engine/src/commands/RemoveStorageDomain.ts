/**
 * Removes an unattached storage domain (`DELETE /storagedomains/{id}?host=…&format=true`). With
 * `format=true` the host connects to the storage and formats the domain (its directory goes);
 * without it the engine only forgets the domain and its data stays, ready to be imported again.
 * An attached domain must be detached first. Never formats through a host that is not up.
 */
import { badRequest, conflict } from "../errors/fault.js";
import { asUuid } from "../db/ids.js";
import type { Host, StorageDomain } from "../db/schema.js";
import { connectServer, disconnectServer } from "../hosts/storage.js";
import { engineStep } from "../jobs/jobs.js";
import type { CommandDef } from "./command.js";
import { byRef, mustById } from "../db/repo/entities.js";
import { BLOCK_VERB_MS } from "./AddStorageDomain.js";

interface In {
  id: string;
  /** Host id or name (oVirt's `host` query parameter). */
  host?: string;
  format: boolean;
}

interface Plan {
  sd: StorageDomain;
  host?: Host;
  format: boolean;
}

export const RemoveStorageDomain: CommandDef<In, Plan, void> = {
  name: "remove Storage Domain",
  locks: (i) => [`sd:${i.id}`, "sd:attach"],
  async validate(e, { id, host: hostKey, format }) {
    const sd = await mustById(e, "storage_domains", id);
    const att = await e.db.selectFrom("storage_domain_attachments").select("data_center_id").where("storage_domain_id", "=", id).executeTakeFirst();
    if (att) throw conflict(`Cannot remove Storage Domain ${sd.name}: it is attached to a data center; detach it first`);
    const disk = await e.db.selectFrom("disks").select("alias").where("storage_domain_id", "=", id).executeTakeFirst();
    if (disk) throw conflict(`Cannot remove Storage Domain ${sd.name}: disk ${disk.alias} is on it`);
    if (format && !hostKey) throw badRequest("Storage Domain [host] required for remove with format=true");
    let host: Host | undefined;
    if (hostKey !== undefined && hostKey !== "") {
      const byId = asUuid(hostKey);
      host = await byRef(e, "hosts", byId ? { id: byId } : { name: hostKey.slice(0, 255) });
      if (format && host.status !== "up") throw conflict(`Cannot format Storage Domain ${sd.name}: host ${host.name} is ${host.status}, not up`);
    }
    return { sd, host, format };
  },
  describe: (p) => `Removing Storage Domain ${p.sd.name}${p.format ? " (format)" : ""}`,
  async execute(e, { sd, host, format }, x) {
    if (format && host) {
      await engineStep(e, x.jobId, "executing", `Formatting the domain on ${host.name}`, async () => {
        await connectServer(e, host, sd);
        try {
          await e.nodes.for(host).call("formatStorageDomain", { sdUUID: sd.id, autoDetach: false }, { timeoutMs: BLOCK_VERB_MS });
        } finally {
          await disconnectServer(e, host, sd).catch((err: unknown) => e.log.warn({ err }, "disconnectStorageServer failed"));
        }
      });
    } else if (host && host.status === "up") {
      await disconnectServer(e, host, sd).catch((err: unknown) => e.log.warn({ err }, "disconnectStorageServer failed"));
    }
    await e.db.deleteFrom("storage_domains").where("id", "=", sd.id).execute();
  },
};
