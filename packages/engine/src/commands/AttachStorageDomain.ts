/**
 * Attaches a storage domain to a data center. For the first domain this creates the pool with
 * the domain as master, connects every up host of the data center to it and starts the SPM on
 * one of them; the domain is then active. Attaching further domains needs the node's
 * attach/activate verbs, which the verb table does not have yet: refused with 409.
 */
import { conflict, invalid } from "../api/fault.js";
import { parseInput, Ref } from "../api/input.js";
import type { DataCenter, Host, StorageDomain, StorageDomainAttachment } from "../db/schema.js";
import { addStep, endStep } from "../jobs/jobs.js";
import { connectPool, connectServer, disconnectServer, startSpm } from "../hosts/storage.js";
import type { CommandDef } from "./command.js";
import { byRef, hostsOfDc, mustById } from "./lookup.js";


interface Plan {
  dc: DataCenter;
  sd: StorageDomain;
  hosts: Host[];
  spm: Host;
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
    if (dc.master_domain_id) {
      throw conflict(`Cannot attach Storage Domain ${sd.name}: data center ${dc.name} already has a master domain; attaching more domains is not supported yet`);
    }
    const hosts = await hostsOfDc(e, dc.id, "up");
    if (hosts.length === 0) throw conflict(`Cannot attach Storage Domain ${sd.name}: data center ${dc.name} has no host up`);
    // The host that created the domain already reaches its storage: the natural first SPM.
    const spm = hosts.find((h) => h.id === sd.host_id) ?? (hosts[0] as Host);
    return { dc, sd, hosts, spm };
  },
  describe: (p) => `Attaching Storage Domain ${p.sd.name} to Data Center ${p.dc.name}`,
  async execute(e, { dc, sd, hosts, spm }, { revert, jobId }) {
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
    return { sd, att };
  },
};
