/**
 * Detach a storage domain in maintenance from its data center: the engine forgets the disks on
 * it; their data stays on the domain and comes back when the domain is attached again.
 */
import { conflict } from "../errors/fault.js";
import { disconnectServer, refreshPoolViews } from "../hosts/storage.js";
import { engineStep } from "../jobs/jobs.js";
import type { CommandDef } from "./command.js";
import { hostsOfDc } from "../db/repo/hosts.js";
import { type In, type Plan, load } from "./domainAttachments.js";
import { vmOnDomain } from "../db/repo/disks.js";

export const DetachStorageDomain: CommandDef<In, Plan, void> = {
  name: "detach Storage Domain",
  locks: (i) => [`sd:${i.sdId}`, `dc:${i.dcId}`, "sd:attach"],
  async validate(e, input) {
    const p = await load(e, input, "detach");
    if (p.att.master || p.dc.master_domain_id === p.sd.id) {
      throw conflict(`Cannot detach Storage Domain ${p.sd.name}: it is the master domain of Data Center ${p.dc.name}`);
    }
    if (p.att.status !== "maintenance") throw conflict(`Cannot detach Storage Domain ${p.sd.name}: it is ${p.att.status}; move it to maintenance first`);
    const used = await vmOnDomain(e, p.sd.id);
    if (used) throw conflict(`Cannot detach Storage Domain ${p.sd.name}: disk ${used.alias} on it is attached to VM ${used.name}`);
    const tmpl = await e.db.selectFrom("disks").select("alias").where("storage_domain_id", "=", p.sd.id).where("template_id", "is not", null).executeTakeFirst();
    if (tmpl) throw conflict(`Cannot detach Storage Domain ${p.sd.name}: template disk ${tmpl.alias} is on it`);
    return p;
  },
  describe: (p) => `Detaching Storage Domain ${p.sd.name} from Data Center ${p.dc.name}`,
  async execute(e, p, x) {
    await engineStep(e, x.jobId, "executing", `Detaching the domain on ${p.spm.name}`, () =>
      e.nodes.for(p.spm).call("detachStorageDomain", { sdUUID: p.sd.id, spUUID: p.dc.id, msdUUID: p.dc.master_domain_id ?? undefined, masterVersion: p.dc.master_version }),
    );
    await engineStep(e, x.jobId, "finalizing", "Forgetting the disks on the domain", async () => {
      const disks = await e.db.selectFrom("disks").select("id").where("storage_domain_id", "=", p.sd.id).execute();
      for (const d of disks) await e.db.deleteFrom("images").where("disk_id", "=", d.id).execute();
      await e.db.deleteFrom("disks").where("storage_domain_id", "=", p.sd.id).execute();
      await e.db.deleteFrom("storage_domain_attachments").where("storage_domain_id", "=", p.sd.id).execute();
    });
    const ups = await hostsOfDc(e, p.dc.id, "up");
    await refreshPoolViews(e, p.dc, ups);
    for (const h of ups) {
      await disconnectServer(e, h, p.sd, p.dc.id).catch((err: unknown) => e.log.warn({ err, host: h.name }, "disconnectStorageServer failed"));
    }
  },
};
