/**
 * Move a host to maintenance, giving up the SPM role (another host is elected).
 */
import { conflict } from "../errors/fault.js";
import type { Host } from "../db/schema.js";
import { ensureSpm } from "../hosts/storage.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";
import { setStatus } from "./hostStatus.js";

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
