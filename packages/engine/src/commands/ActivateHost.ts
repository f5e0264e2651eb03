/**
 * Activate a host (maintenance → up); once up it joins its data center's pool in the background.
 */
import { conflict } from "../errors/fault.js";
import type { Host } from "../db/schema.js";
import { missingRequiredNetworks } from "../hosts/networks.js";
import type { CommandDef } from "./command.js";
import { mustById } from "../db/repo/entities.js";
import { setStatus, afterUp } from "./hostStatus.js";

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
