/**
 * Activate an attached storage domain (maintenance/inactive → active) on the SPM.
 */
import { conflict } from "../errors/fault.js";
import type { StorageDomainAttachment } from "../db/schema.js";
import { refreshPoolViews } from "../hosts/storage.js";
import { engineStep } from "../jobs/jobs.js";
import type { CommandDef } from "./command.js";
import { hostsOfDc } from "../db/repo/hosts.js";
import { type In, type Plan, load, setStatus } from "./domainAttachments.js";

export const ActivateStorageDomain: CommandDef<In, Plan, StorageDomainAttachment> = {
  name: "activate Storage Domain",
  locks: (i) => [`sd:${i.sdId}`, `dc:${i.dcId}`],
  async validate(e, input) {
    const p = await load(e, input, "activate");
    if (p.att.status === "active") throw conflict(`Cannot activate Storage Domain ${p.sd.name}: it is already active`);
    if (p.att.status === "locked") throw conflict(`Cannot activate Storage Domain ${p.sd.name}: it is locked`);
    return p;
  },
  describe: (p) => `Activating Storage Domain ${p.sd.name} in Data Center ${p.dc.name}`,
  async execute(e, p, x) {
    await engineStep(e, x.jobId, "executing", `Activating the domain on ${p.spm.name}`, () =>
      e.nodes.for(p.spm).call("activateStorageDomain", { sdUUID: p.sd.id, spUUID: p.dc.id }),
    );
    await e.db.updateTable("storage_domains").set({ external_status: "ok" }).where("id", "=", p.sd.id).execute();
    await refreshPoolViews(e, p.dc, await hostsOfDc(e, p.dc.id, "up"));
    return setStatus(e, p, "active");
  },
};
