/**
 * Force the SPM role onto a chosen host (oVirt's forceselectspm).
 */
import { conflict } from "../errors/fault.js";
import type { DataCenter, Host } from "../db/schema.js";
import { ensureSpm, startSpm } from "../hosts/storage.js";
import { engineStep } from "../jobs/jobs.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";

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
