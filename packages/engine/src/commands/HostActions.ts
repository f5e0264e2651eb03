/**
 * Host state changes asked by an administrator: approve (pending_approval → up), activate
 * (maintenance → up), deactivate (→ maintenance, giving up the SPM role), remove. A host that
 * comes up joins its data center's pool in the background.
 */
import { z } from "zod";
import { conflict } from "../errors/fault.js";
import { parseInput, Ref } from "../input/input.js";
import type { DataCenter, Host } from "../db/schema.js";
import type { Engine } from "../engine.js";
import { ensureSpm, joinPool, startSpm } from "../hosts/storage.js";
import { engineStep } from "../jobs/jobs.js";
import { missingRequiredNetworks } from "../monitoring/networks.js";
import type { CommandDef } from "./command.js";
import { byRef, mustById } from "./lookup.js";

async function setStatus(e: Engine, id: string, status: string): Promise<Host> {
  await e.db.updateTable("hosts").set({ status }).where("id", "=", id).execute();
  return mustById(e, "hosts", id);
}

function afterUp(e: Engine, hostId: string): void {
  e.bg.run(`join pool ${hostId}`, () => joinPool(e, hostId));
}

const ApproveInput = z.object({ cluster: Ref.optional() });

export const ApproveHost: CommandDef<{ id: string; body: unknown }, { host: Host; clusterId?: string }, Host> = {
  name: "approve Host",
  locks: (i) => [`host:${i.id}`],
  async validate(e, { id, body }) {
    const host = await mustById(e, "hosts", id);
    const input = parseInput(ApproveInput, body, "action", "approve");
    if (host.status !== "pending_approval" && host.status !== "installing") throw conflict(`Cannot approve Host ${host.name}: it is ${host.status}, not pending approval`);
    const clusterId = input.cluster ? (await byRef(e, "clusters", input.cluster)).id : undefined;
    return { host, clusterId };
  },
  describe: (p) => `Approving Host ${p.host.name}`,
  async execute(e, { host, clusterId }) {
    if (clusterId) await e.db.updateTable("hosts").set({ cluster_id: clusterId }).where("id", "=", host.id).execute();
    const h = await setStatus(e, host.id, "up");
    afterUp(e, h.id);
    return h;
  },
};

export const ActivateHost: CommandDef<{ id: string }, Host, Host> = {
  name: "activate Host",
  locks: (i) => [`host:${i.id}`],
  async validate(e, { id }) {
    const host = await mustById(e, "hosts", id);
    if (host.status === "pending_approval") throw conflict(`Cannot activate Host ${host.name}: it must be approved first`);
    if (host.status === "up") throw conflict(`Cannot activate Host ${host.name}: Host is already up`);
    if (host.status !== "maintenance" && host.status !== "non_operational") throw conflict(`Cannot activate Host ${host.name}: it is ${host.status}`);
    return host;
  },
  describe: (h) => `Activating Host ${h.name}`,
  async execute(e, host) {
    // as oVirt on activation: a host without the cluster's required networks is non_operational
    const missing = await missingRequiredNetworks(e, host.id).catch(() => []);
    if (missing.length > 0) {
      const reason = `the host lacks the cluster's required network(s) ${missing.join(", ")}`;
      await e.db.updateTable("hosts").set({ status: "non_operational", non_operational_reason: reason }).where("id", "=", host.id).execute();
      e.log.warn({ host: host.name, missing }, "host is non operational");
      return mustById(e, "hosts", host.id);
    }
    const h = await setStatus(e, host.id, "up");
    afterUp(e, h.id);
    return h;
  },
};

export const DeactivateHost: CommandDef<{ id: string }, Host, Host> = {
  name: "deactivate Host",
  locks: (i) => [`host:${i.id}`],
  async validate(e, { id }) {
    const host = await mustById(e, "hosts", id);
    if (host.status === "maintenance") throw conflict(`Cannot deactivate Host ${host.name}: it is already in maintenance`);
    if (host.status === "pending_approval") throw conflict(`Cannot deactivate Host ${host.name}: it is pending approval`);
    const vm = await e.db.selectFrom("vms").select("name").where("run_on_host_id", "=", host.id).where("status", "!=", "down").executeTakeFirst();
    if (vm) throw conflict(`Cannot switch Host ${host.name} to Maintenance mode: VM ${vm.name} is running on it`);
    return host;
  },
  describe: (h) => `Moving Host ${h.name} to maintenance`,
  async execute(e, host) {
    const dcs = await e.db.selectFrom("data_centers").selectAll().where("spm_host_id", "=", host.id).execute();
    const client = e.nodes.for(host);
    for (const dc of dcs) {
      await client.call("spmStop", { spUUID: dc.id }).catch((err: unknown) => e.log.warn({ err, host: host.name }, "spmStop failed"));
      e.spmRole.set(host.id, "none");
      await e.db.updateTable("data_centers").set({ spm_host_id: null }).where("id", "=", dc.id).execute();
    }
    const cluster = await mustById(e, "clusters", host.cluster_id);
    if (cluster.data_center_id) {
      const dc = await mustById(e, "data_centers", cluster.data_center_id);
      if (dc.master_domain_id) {
        await client
          .call("disconnectStoragePool", { spUUID: dc.id, hostID: host.spm_id, scsiKey: dc.id })
          .catch((err: unknown) => e.log.warn({ err, host: host.name }, "disconnectStoragePool failed"));
      }
    }
    const h = await setStatus(e, host.id, "maintenance");
    for (const dc of dcs) e.bg.run(`elect SPM ${dc.id}`, () => ensureSpm(e, dc.id));
    return h;
  },
};

export const RemoveHost: CommandDef<{ id: string }, Host, void> = {
  name: "remove Host",
  locks: (i) => [`host:${i.id}`],
  async validate(e, { id }) {
    const host = await mustById(e, "hosts", id);
    if (!["maintenance", "pending_approval", "installing", "non_responsive"].includes(host.status)) {
      throw conflict(`Cannot remove Host ${host.name}: it is ${host.status}; move it to maintenance first`);
    }
    const vm = await e.db.selectFrom("vms").select("name").where("run_on_host_id", "=", host.id).where("status", "!=", "down").executeTakeFirst();
    if (vm) throw conflict(`Cannot remove Host ${host.name}: VM ${vm.name} is running on it`);
    return host;
  },
  describe: (h) => `Removing Host ${h.name}`,
  async execute(e, host) {
    await e.db.updateTable("data_centers").set({ spm_host_id: null }).where("spm_host_id", "=", host.id).execute();
    await e.db.deleteFrom("hosts").where("id", "=", host.id).execute();
  },
};

interface SelectPlan {
  host: Host;
  dc: DataCenter;
  current?: Host;
}

/**
 * Moves the SPM role to the chosen host (oVirt's forceselectspm): spmStop on the current SPM,
 * then spmStart on the chosen one, which takes the free lease at once (nodes hold off their own
 * election after an explicit spmStop). If the chosen host fails, an election gives the role to
 * whoever can take it.
 */
export const ForceSelectSpm: CommandDef<{ id: string }, SelectPlan, Host> = {
  name: "force select SPM",
  locks: (i) => [`host:${i.id}`],
  async validate(e, { id }) {
    const host = await mustById(e, "hosts", id);
    if (host.status !== "up") throw conflict(`Cannot force select SPM: host ${host.name} is ${host.status}, not up`);
    if (host.spm_priority <= 0) throw conflict(`Cannot force select SPM: host ${host.name} has SPM priority ${host.spm_priority} (never SPM)`);
    const cluster = await mustById(e, "clusters", host.cluster_id);
    const dc = cluster.data_center_id ? await mustById(e, "data_centers", cluster.data_center_id) : undefined;
    if (!dc?.master_domain_id) throw conflict(`Cannot force select SPM: host ${host.name} is in no data center with a storage pool`);
    if (dc.spm_host_id === host.id) throw conflict(`Cannot force select SPM: host ${host.name} is already the SPM of data center ${dc.name}`);
    if (e.locks.isHeld(`spm:${dc.id}`)) throw conflict(`Cannot force select SPM: an SPM election in data center ${dc.name} is in progress`);
    const current = dc.spm_host_id ? await mustById(e, "hosts", dc.spm_host_id) : undefined;
    return { host, dc, current };
  },
  describe: (p) => `Force selecting Host ${p.host.name} as SPM of Data Center ${p.dc.name}`,
  async execute(e, { host, dc, current }, x) {
    const release = e.locks.acquire([`spm:${dc.id}`], "force select SPM");
    let ok = false;
    try {
      if (current) {
        await engineStep(e, x.jobId, "executing", `Stopping SPM on ${current.name}`, async () => {
          if (current.status === "up") await e.nodes.for(current).call("spmStop", { spUUID: dc.id });
          e.spmRole.set(current.id, "none");
          await e.db.updateTable("data_centers").set({ spm_host_id: null }).where("id", "=", dc.id).execute();
        });
      }
      await engineStep(e, x.jobId, "executing", `Starting SPM on ${host.name}`, () => startSpm(e, host, { ...dc, spm_host_id: null }, 60_000));
      ok = true;
    } finally {
      release();
      if (!ok) e.bg.run(`elect SPM ${dc.id}`, () => ensureSpm(e, dc.id));
    }
    return mustById(e, "hosts", host.id);
  },
};
