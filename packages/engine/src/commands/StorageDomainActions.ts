/**
 * A data center's domains after attachment: activate (maintenance/inactive → active), deactivate
 * (active → maintenance) and detach (maintenance → unattached, the engine forgets the disks on it;
 * their data stays on the domain and comes back when the domain is attached again). All run on
 * the SPM, which alone changes pool metadata. The master domain can be neither deactivated nor
 * detached: Vela cannot move the master role yet (no reconstructMaster).
 */
import { conflict, notFound } from "../errors/fault.js";
import type { DataCenter, Host, StorageDomain, StorageDomainAttachment } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { disconnectServer, refreshPoolViews } from "../hosts/storage.js";
import { engineStep } from "../jobs/jobs.js";
import type { CommandDef } from "./command.js";
import { hostsOfDc, mustById, spmOf } from "./lookup.js";

interface In {
  dcId: string;
  sdId: string;
}

interface Plan {
  dc: DataCenter;
  sd: StorageDomain;
  att: StorageDomainAttachment;
  spm: Host;
}

async function load(e: Engine, { dcId, sdId }: In, what: string): Promise<Plan> {
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

async function setStatus(e: Engine, p: Plan, status: string): Promise<StorageDomainAttachment> {
  await e.db
    .updateTable("storage_domain_attachments")
    .set({ status })
    .where("data_center_id", "=", p.dc.id)
    .where("storage_domain_id", "=", p.sd.id)
    .execute();
  return { ...p.att, status };
}

/** Running VMs and operations in progress that use disks on the domain. */
async function ensureUnused(e: Engine, sd: StorageDomain, what: string): Promise<void> {
  const running = await e.db
    .selectFrom("disks as d")
    .innerJoin("disk_attachments as a", "a.disk_id", "d.id")
    .innerJoin("vms as v", "v.id", "a.vm_id")
    .select(["v.name", "v.status"])
    .where("d.storage_domain_id", "=", sd.id)
    .where("v.status", "!=", "down")
    .executeTakeFirst();
  if (running) throw conflict(`Cannot ${what} Storage Domain ${sd.name}: VM ${running.name} using a disk on it is ${running.status}`);
  const locked = await e.db.selectFrom("disks").select("alias").where("storage_domain_id", "=", sd.id).where("status", "=", "locked").executeTakeFirst();
  if (locked) throw conflict(`Cannot ${what} Storage Domain ${sd.name}: disk ${locked.alias} on it is locked by an operation in progress`);
}

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

export const DetachStorageDomain: CommandDef<In, Plan, void> = {
  name: "detach Storage Domain",
  locks: (i) => [`sd:${i.sdId}`, `dc:${i.dcId}`, "sd:attach"],
  async validate(e, input) {
    const p = await load(e, input, "detach");
    if (p.att.master || p.dc.master_domain_id === p.sd.id) {
      throw conflict(`Cannot detach Storage Domain ${p.sd.name}: it is the master domain of Data Center ${p.dc.name}`);
    }
    if (p.att.status !== "maintenance") throw conflict(`Cannot detach Storage Domain ${p.sd.name}: it is ${p.att.status}; move it to maintenance first`);
    const used = await e.db
      .selectFrom("disks as d")
      .innerJoin("disk_attachments as a", "a.disk_id", "d.id")
      .innerJoin("vms as v", "v.id", "a.vm_id")
      .select(["d.alias", "v.name"])
      .where("d.storage_domain_id", "=", p.sd.id)
      .executeTakeFirst();
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
