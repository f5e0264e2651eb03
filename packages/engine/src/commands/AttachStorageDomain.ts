/**
 * Attaches a storage domain to a data center. The first data domain creates the pool with the
 * domain as master, connects every up host of the data center to it and starts the SPM on one of
 * them. A further domain must be of the pool's storage type: every up host connects to its
 * storage server, the SPM attaches and activates it, and the images already on it (a domain
 * imported or detached from elsewhere) are registered as disks. Either way the domain ends active.
 */
import { conflict, invalid } from "../errors/fault.js";
import { parseInput, Ref } from "../input/input.js";
import type { DataCenter, Host, StorageDomain, StorageDomainAttachment } from "../db/schema.js";
import { addStep, endStep, engineStep } from "../jobs/jobs.js";
import { connectPool, connectServer, disconnectServer, refreshPoolViews, startSpm } from "../hosts/storage.js";
import type { CommandDef } from "./command.js";
import { spmOf } from "./lookup.js";
import { byRef, mustById } from "../db/repo/entities.js";
import { hostsOfDc } from "../db/repo/hosts.js";
import { registerDomainDisks } from "./registerDisks.js";

interface Plan {
  dc: DataCenter;
  sd: StorageDomain;
  hosts: Host[];
  spm: Host;
  /** The pool's master domain when the pool exists already (this is a further domain). */
  master?: StorageDomain;
}

export const AttachStorageDomain: CommandDef<{ dcId: string; body: unknown }, Plan, { sd: StorageDomain; att: StorageDomainAttachment }> = {
  name: "attach Storage Domain",
  locks: (i) => [`dc:${i.dcId}`, `spm:${i.dcId}`, "sd:attach"],
  async validate(e, { dcId, body }) {
    const dc = await mustById(e, "data_centers", dcId);
    const ref = parseInput(Ref, body, "StorageDomain", "attach");
    const sd = await byRef(e, "storage_domains", ref);
    const att = await e.db.selectFrom("storage_domain_attachments").selectAll().where("storage_domain_id", "=", sd.id).executeTakeFirst();
    if (att) throw conflict(`Cannot attach Storage Domain ${sd.name}: it is already attached to a data center`);
    if (sd.type !== "data") throw invalid(`Cannot attach Storage Domain ${sd.name}: only data domains are supported`);
    if (dc.local && sd.storage_type !== "localfs") {
      throw conflict(`Cannot attach Storage Domain ${sd.name}: data center ${dc.name} is local and takes only localfs domains, not ${sd.storage_type}`);
    }
    const hosts = await hostsOfDc(e, dc.id, "up");
    if (hosts.length === 0) throw conflict(`Cannot attach Storage Domain ${sd.name}: data center ${dc.name} has no host up`);
    if (dc.master_domain_id) {
      const master = await mustById(e, "storage_domains", dc.master_domain_id);
      if (master.storage_type !== sd.storage_type) {
        throw conflict(
          `Cannot attach Storage Domain ${sd.name}: its storage type ${sd.storage_type} differs from the storage type ${master.storage_type} of data center ${dc.name}`,
        );
      }
      if (master.storage_format !== sd.storage_format) {
        throw conflict(`Cannot attach Storage Domain ${sd.name}: its format ${sd.storage_format} differs from the pool's ${master.storage_format}`);
      }
      const spm = await spmOf(e, dc, `attach Storage Domain ${sd.name}`);
      return { dc, sd, hosts, spm, master };
    }
    // The host that created the domain already reaches its storage: the natural first SPM.
    const spm = hosts.find((h) => h.id === sd.host_id) ?? (hosts[0] as Host);
    return { dc, sd, hosts, spm };
  },
  describe: (p) => `Attaching Storage Domain ${p.sd.name} to Data Center ${p.dc.name}`,
  async execute(e, p, x) {
    if (p.master) return attachFurther(e, p, x.jobId, x.revert);
    const { dc, sd, hosts, spm } = p;
    const { revert, jobId } = x;
    let step = await addStep(e, jobId, "executing", "Connecting hosts to the storage server");
    for (const h of hosts) {
      await connectServer(e, h, sd, dc.id);
      revert.push(`disconnect ${h.name} from storage`, () => disconnectServer(e, h, sd, dc.id));
    }
    await endStep(e, step, "finished");

    step = await addStep(e, jobId, "executing", `Creating storage pool on ${spm.name}`);
    const masterVersion = 1;
    await e.nodes.for(spm).call("createStoragePool", {
      poolType: 0,
      spUUID: dc.id,
      poolName: dc.name.slice(0, 50),
      masterDom: sd.id,
      domList: [sd.id],
      masterVersion,
      lockRenewalIntervalSec: e.cfg.leaseRenewalSec,
      leaseTimeSec: e.cfg.leaseTimeSec,
    });
    await endStep(e, step, "finished");

    const pooled: DataCenter = { ...dc, master_domain_id: sd.id, master_version: masterVersion };
    step = await addStep(e, jobId, "executing", "Connecting hosts to the storage pool");
    for (const h of hosts) {
      await connectPool(e, h, pooled);
      revert.push(`disconnect ${h.name} from pool`, () => e.nodes.for(h).call("disconnectStoragePool", { spUUID: dc.id, hostID: h.spm_id, scsiKey: dc.id }));
    }
    await endStep(e, step, "finished");

    step = await addStep(e, jobId, "executing", `Starting SPM on ${spm.name}`);
    await e.db.updateTable("data_centers").set({ master_domain_id: sd.id, master_version: masterVersion }).where("id", "=", dc.id).execute();
    revert.push("forget pool", () =>
      e.db.updateTable("data_centers").set({ master_domain_id: null, master_version: 0, spm_host_id: null }).where("id", "=", dc.id).execute(),
    );
    await startSpm(e, spm, pooled);
    await endStep(e, step, "finished");

    const att: StorageDomainAttachment = { data_center_id: dc.id, storage_domain_id: sd.id, status: "active", master: 1 };
    await e.db.insertInto("storage_domain_attachments").values(att).execute();
    await engineStep(e, jobId, "finalizing", "Registering the disks found on the domain", () => registerDomainDisks(e, spm, dc.id, sd.id));
    return { sd, att };
  },
};

/** A further domain into an existing pool: connect, attach, activate, register its images. */
async function attachFurther(
  e: Parameters<typeof registerDomainDisks>[0],
  { dc, sd, hosts, spm }: Plan,
  jobId: string,
  revert: { push(what: string, fn: () => Promise<unknown>): void },
): Promise<{ sd: StorageDomain; att: StorageDomainAttachment }> {
  await engineStep(e, jobId, "executing", "Connecting hosts to the storage server", async () => {
    for (const h of hosts) {
      await connectServer(e, h, sd, dc.id);
      revert.push(`disconnect ${h.name} from storage`, () => disconnectServer(e, h, sd, dc.id));
    }
  });
  const client = e.nodes.for(spm);
  await engineStep(e, jobId, "executing", `Attaching the domain to the pool on ${spm.name}`, async () => {
    await client.call("attachStorageDomain", { sdUUID: sd.id, spUUID: dc.id });
    revert.push("detach from pool", () => client.call("detachStorageDomain", { sdUUID: sd.id, spUUID: dc.id, force: true }));
  });
  await engineStep(e, jobId, "executing", `Activating the domain on ${spm.name}`, async () => {
    await client.call("activateStorageDomain", { sdUUID: sd.id, spUUID: dc.id });
    revert.push("deactivate", () => client.call("deactivateStorageDomain", { sdUUID: sd.id, spUUID: dc.id }));
  });
  await engineStep(e, jobId, "executing", "Refreshing the hosts' view of the pool", () => refreshPoolViews(e, dc, hosts));
  const att: StorageDomainAttachment = { data_center_id: dc.id, storage_domain_id: sd.id, status: "active", master: 0 };
  await e.db.insertInto("storage_domain_attachments").values(att).execute();
  revert.push("forget attachment", () => e.db.deleteFrom("storage_domain_attachments").where("storage_domain_id", "=", sd.id).execute());
  await engineStep(e, jobId, "finalizing", "Registering the disks found on the domain", () => registerDomainDisks(e, spm, dc.id, sd.id));
  return { sd, att };
}
