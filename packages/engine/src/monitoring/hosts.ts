/**
 * Host monitoring: polls getVdsStats on every approved host. A host that misses
 * `hostFailuresBeforeNonResponsive` polls in a row becomes non_responsive (its VMs' state is then
 * unknown, and an SPM it held is given to another host); one that answers again is up and rejoins
 * its pool. Never changes a host an administrator put in maintenance or has not approved.
 */
import { now } from "../db/schema.js";
import type { HostStats } from "@vela/protocol";
import type { Engine } from "../engine.js";
import { ensureSpm, joinPool } from "../hosts/storage.js";
import { DomainHealth } from "./domains.js";
import { Code } from "../events/codes.js";
import { logEvent } from "../events/index.js";
import { ensureManagementNetwork } from "./mgmtnet.js";
import { missingRequiredNetworks } from "../hosts/networks.js";
import { watchSpm } from "./spm.js";
import { recordHostStats } from "./stats.js";

const POLLED = ["up", "non_responsive", "connecting", "initializing"];
/** Every this many good polls, re-check that the host is still in its pool (a node may restart quickly). */
const RECHECK_EVERY = 10;

export class HostMonitor {
  private failures = new Map<string, number>();
  private goodPolls = new Map<string, number>();
  private inFlight = new Set<string>();
  private domains: DomainHealth;

  constructor(private e: Engine) {
    this.domains = new DomainHealth(e);
  }

  async tick(): Promise<void> {
    const hosts = await this.e.db.selectFrom("hosts").selectAll().where("status", "in", POLLED).execute();
    await Promise.all(
      hosts.map(async (h) => {
        if (this.inFlight.has(h.id)) return;
        this.inFlight.add(h.id);
        try {
          await this.poll(h.id, h.address, h.port, h.status, h.name);
        } finally {
          this.inFlight.delete(h.id);
        }
      }),
    );
  }

  private async poll(id: string, address: string, port: number, status: string, name: string): Promise<void> {
    const e = this.e;
    const timeoutMs = Math.max(1000, Math.min(e.cfg.hostPollMs * 2, 10_000));
    let ok = true;
    let stats: HostStats | undefined;
    try {
      stats = await e.nodes.for({ address, port }).call("getVdsStats", {}, { timeoutMs });
    } catch (err) {
      ok = false;
      e.log.debug({ err, host: name }, "host poll failed");
    }
    if (e.locks.isHeld(`host:${id}`)) return;
    const current = await e.db.selectFrom("hosts").select(["status"]).where("id", "=", id).executeTakeFirst();
    if (!current || !POLLED.includes(current.status)) return;
    if (ok) {
      if (stats) recordHostStats(e, id, stats);
      this.failures.delete(id);
      const n = (this.goodPolls.get(id) ?? 0) + 1;
      this.goodPolls.set(id, n);
      // checked on the way up, and on the first good poll (a host registered up, or an engine restart)
      if (current.status !== "up" || n === 1) {
        await ensureManagementNetwork(e, id).catch((err: unknown) => e.log.warn({ err, host: name }, "cannot set up the management network"));
        const missing = await missingRequiredNetworks(e, id).catch((err: unknown) => {
          e.log.warn({ err, host: name }, "cannot read the host's networks");
          return [];
        });
        if (missing.length > 0) {
          const reason = `the host lacks the cluster's required network(s) ${missing.join(", ")}`;
          // compare-and-set: a command (deactivate, remove) may have moved the host meanwhile
          const r = await e.db.updateTable("hosts").set({ last_seen: now(), status: "non_operational", non_operational_reason: reason }).where("id", "=", id).where("status", "=", current.status).executeTakeFirst();
          if (Number(r.numUpdatedRows) === 0) return;
          e.log.warn({ host: name, missing }, "host is non operational");
          if (current.status !== "non_operational") await logEvent(e, { hostId: id, code: Code.HOST_NON_OPERATIONAL, severity: "error", description: `Host ${name} is non operational: ${reason}.` });
          return;
        }
      }
      // Compare-and-set: setting up the management network above takes seconds, during which a
      // command may have put the host in maintenance; that must not be undone here.
      const r = await e.db.updateTable("hosts").set({ last_seen: now(), status: "up", non_operational_reason: null }).where("id", "=", id).where("status", "=", current.status).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return;
      if (current.status !== "up") {
        e.log.info({ host: name, was: current.status }, "host is up again");
        await logEvent(e, { hostId: id, code: Code.HOST_UP, severity: "normal", description: `Status of host ${name} was set to Up.` });
      }
      if (current.status !== "up" || n % RECHECK_EVERY === 1) e.bg.run(`join pool ${id}`, () => joinPool(e, id));
      await this.domains.record(id, stats).catch((err: unknown) => e.log.warn({ err, host: name }, "recording domain health failed"));
      await watchSpm(e, id).catch((err: unknown) => e.log.warn({ err, host: name }, "SPM watch failed"));
      return;
    }
    this.goodPolls.delete(id);
    const f = (this.failures.get(id) ?? 0) + 1;
    this.failures.set(id, f);
    if (f < e.cfg.hostFailuresBeforeNonResponsive || current.status === "non_responsive") return;
    const r = await e.db.updateTable("hosts").set({ status: "non_responsive" }).where("id", "=", id).where("status", "=", current.status).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return;
    e.spmRole.delete(id);
    // What runs there can no longer be observed: say so rather than guess.
    await e.db.updateTable("vms").set({ status: "unknown" }).where("run_on_host_id", "=", id).where("status", "!=", "down").execute();
    e.log.warn({ host: name, failures: f, was: status }, "host is non responsive");
    await logEvent(e, { hostId: id, code: Code.HOST_NON_RESPONSIVE, severity: "error", description: `Host ${name} is non responsive.` });
    const dcs = await e.db.selectFrom("data_centers").select("id").where("spm_host_id", "=", id).execute();
    for (const dc of dcs) e.bg.run(`elect SPM ${dc.id}`, () => ensureSpm(e, dc.id));
  }
}
