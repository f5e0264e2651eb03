/**
 * Storage domain health from the hosts' domain monitors (getVdsStats' `storageDomains`: valid,
 * code, lastCheck, delay per domain). An active domain that every reporting up host of its data
 * center finds invalid, or has not checked for `STALE_SEC`, becomes inactive (external status
 * error); it is active again as soon as one host finds it valid. Only active/inactive domains
 * are touched: maintenance, locked and domains under a command's lock are left alone.
 */
import { Code } from "../events/codes.js";
import { logEvent } from "../events/index.js";
import type { HostStats } from "@vela/protocol";
import type { Engine } from "../engine.js";
import { dcIdOfHost, hostsOfDc } from "../db/repo/hosts.js";

/** A domain monitor that has not checked for this long is stuck (VDSM's hung storage). */
const STALE_SEC = 60;
/** A host's report older than this no longer counts (the host stopped answering). */
const REPORT_TTL_MS = 60_000;

interface Report {
  valid: boolean;
  lastCheckSec: number;
  delaySec: number;
  at: number;
}

export class DomainHealth {
  /** sdId → hostId → last report. */
  private reports = new Map<string, Map<string, Report>>();

  constructor(private e: Engine) {}

  /** Takes one host's getVdsStats result and updates the statuses of its data center's domains. */
  async record(hostId: string, stats: HostStats | undefined): Promise<void> {
    const sds = stats?.storageDomains;
    if (!sds) return;
    const at = Date.now();
    for (const [sdId, r] of Object.entries(sds)) {
      const lastCheckSec = Number(r.lastCheck);
      const rep: Report = {
        valid: r.valid,
        lastCheckSec: Number.isFinite(lastCheckSec) ? lastCheckSec : 0,
        delaySec: Number(r.delay) || 0,
        at,
      };
      let m = this.reports.get(sdId.toLowerCase());
      if (!m) {
        m = new Map();
        this.reports.set(sdId.toLowerCase(), m);
      }
      m.set(hostId, rep);
    }
    await this.settle(hostId);
  }

  private async settle(hostId: string): Promise<void> {
    const e = this.e;
    const dc = await dcIdOfHost(e, hostId);
    if (!dc) return;
    const ups = new Set((await hostsOfDc(e, dc, "up")).map((h) => h.id));
    const atts = await e.db.selectFrom("storage_domain_attachments").selectAll().where("data_center_id", "=", dc).where("status", "in", ["active", "inactive"]).execute();
    for (const att of atts) {
      if (e.locks.isHeld(`sd:${att.storage_domain_id}`)) continue;
      const now = Date.now();
      const fresh = [...(this.reports.get(att.storage_domain_id) ?? new Map<string, Report>())].filter(([h, r]) => ups.has(h) && now - r.at < REPORT_TTL_MS).map(([, r]) => r);
      if (fresh.length === 0) continue;
      const good = fresh.some((r) => r.valid && r.lastCheckSec < STALE_SEC);
      const newest = fresh.reduce((a, b) => (a.lastCheckSec <= b.lastCheckSec ? a : b));
      const lastCheck = new Date(newest.at - newest.lastCheckSec * 1000).toISOString();
      const status = good ? "active" : "inactive";
      await e.db.updateTable("storage_domains").set({ last_check: lastCheck, external_status: good ? "ok" : "error" }).where("id", "=", att.storage_domain_id).execute();
      if (status !== att.status) {
        await e.db
          .updateTable("storage_domain_attachments")
          .set({ status })
          .where("data_center_id", "=", att.data_center_id)
          .where("storage_domain_id", "=", att.storage_domain_id)
          .where("status", "=", att.status)
          .execute();
        const log = good ? e.log.info.bind(e.log) : e.log.warn.bind(e.log);
        log({ sd: att.storage_domain_id, dc: att.data_center_id, status, was: att.status }, good ? "storage domain answers again" : "storage domain does not answer");
        const sd = await e.db.selectFrom("storage_domains").select("name").where("id", "=", att.storage_domain_id).executeTakeFirst();
        await logEvent(e, {
          storageDomainId: att.storage_domain_id,
          dataCenterId: att.data_center_id,
          code: good ? Code.STORAGE_DOMAIN_ACTIVE : Code.STORAGE_DOMAIN_INACTIVE,
          severity: good ? "normal" : "error",
          description: good ? `Storage domain ${sd?.name ?? att.storage_domain_id} answers again and is active.` : `Storage domain ${sd?.name ?? att.storage_domain_id} does not answer and is inactive.`,
        });
      }
    }
  }
}
