/**
 * Remove a host that is in maintenance (or never came up) and runs no VM. Its certificates are
 * revoked with it: the engine refuses them from then on (pki/revocation.ts).
 */
import { conflict } from "../errors/fault.js";
import { type Host, now } from "../db/schema.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";

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
    await e.db.updateTable("host_certificates").set({ revoked_at: now() }).where("host_id", "=", host.id).where("revoked_at", "is", null).execute();
  },
};
