/**
 * Deactivate an attached storage domain (active → maintenance) on the SPM; never the master.
 */
import { conflict } from "../errors/fault.js";
import type { StorageDomainAttachment } from "../db/schema.js";
import { engineStep } from "../jobs/jobs.js";
import type { CommandDef } from "./command.js";
import { type In, type Plan, load, setStatus, ensureUnused } from "./domainAttachments.js";

export const DeactivateStorageDomain: CommandDef<In, Plan, StorageDomainAttachment> = {
  name: "deactivate Storage Domain",
  locks: (i) => [`sd:${i.sdId}`, `dc:${i.dcId}`],
  async validate(e, input) {
    const p = await load(e, input, "deactivate");
    if (p.att.status === "maintenance") throw conflict(`Cannot deactivate Storage Domain ${p.sd.name}: it is already in maintenance`);
    if (p.att.status === "locked") throw conflict(`Cannot deactivate Storage Domain ${p.sd.name}: it is locked`);
    if (p.att.master || p.dc.master_domain_id === p.sd.id) {
      throw conflict(`Cannot deactivate Storage Domain ${p.sd.name}: it is the master domain of Data Center ${p.dc.name} and Vela cannot move the master role yet`);
    }
    await ensureUnused(e, p.sd, "deactivate");
    return p;
  },
  describe: (p) => `Deactivating Storage Domain ${p.sd.name} in Data Center ${p.dc.name}`,
  async execute(e, p, x) {
    await engineStep(e, x.jobId, "executing", `Deactivating the domain on ${p.spm.name}`, () =>
      e.nodes.for(p.spm).call("deactivateStorageDomain", { sdUUID: p.sd.id, spUUID: p.dc.id }),
    );
    return setStatus(e, p, "maintenance");
  },
};
