/**
 * Domain monitor: every 10 s (VELA_DOMAIN_MONITOR_MS) reads each visible domain's metadata and
 * file-system stats with a timeout, and keeps VDSM's per-domain health record (valid, code,
 * lastCheck, delay) for getStorageDomainStats and getVdsStats' storageDomains. It only reads;
 * it never blocks a verb, and a hung mount shows as a timed-out, invalid domain.
 */
import { VdsmError } from "@vela/protocol";
import type { NodeContext } from "../../api/context.js";
import type { DomainRegistry, StorageDomain } from "./index.js";
import { parsePoolDomains } from "./file.js";
import type { Pools } from "../pool/pool.js";

interface Health {
  valid: boolean;
  code: number;
  message: string;
  checkedAt: number;
  delay: number;
  version: number;
}

export class DomainMonitor {
  private readonly health = new Map<string, Health>();
  private readonly timer: NodeJS.Timeout;
  private running = false;
  private readonly timeoutMs: number;

  constructor(
    private readonly ctx: NodeContext,
    private readonly domains: DomainRegistry,
    private readonly pools: Pools,
    intervalMs = Number(process.env.VELA_DOMAIN_MONITOR_MS ?? 10_000),
  ) {
    this.timeoutMs = Math.max(1000, Math.min(10_000, intervalMs));
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
    setTimeout(() => void this.tick(), 0).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async tick(): Promise<void> {
    if (this.running) return; // a slow round is not stacked on
    this.running = true;
    try {
      const seen = new Set<string>();
      for (const d of await this.domains.all()) {
        seen.add(d.sdUUID);
        await this.check(d);
      }
      // Pool members this host cannot see at all.
      for (const p of this.pools.all()) {
        const master = await this.domains.find(p.masterSdUUID);
        const md = master ? await master.metadata().catch(() => undefined) : undefined;
        const members = md ? parsePoolDomains(md.POOL_DOMAINS) : new Map([[p.masterSdUUID, "Active"]]);
        for (const sd of members.keys()) {
          if (seen.has(sd)) continue;
          this.health.set(sd, { valid: false, code: 358, message: "domain not visible on this host", checkedAt: Date.now(), delay: 0, version: -1 });
        }
      }
    } catch (err) {
      this.ctx.log.warn({ err }, "domain monitor round failed");
    } finally {
      this.running = false;
    }
  }

  private async check(d: StorageDomain): Promise<void> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const read = (async () => {
        const md = await d.metadata({ fresh: true });
        await d.space();
        return md;
      })();
      const md = await Promise.race([
        read,
        new Promise<never>((_, rej) => {
          timer = setTimeout(() => rej(new VdsmError("StorageDomainAccessError", `${d.sdUUID}: no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
      this.health.set(d.sdUUID, { valid: true, code: 0, message: "", checkedAt: Date.now(), delay: (performance.now() - started) / 1000, version: Number(md.VERSION) });
    } catch (err) {
      const code = err instanceof VdsmError ? err.code : 379;
      const prev = this.health.get(d.sdUUID);
      if (prev?.valid !== false) this.ctx.log.warn({ sd: d.sdUUID, err: (err as Error).message }, "storage domain check failed");
      this.health.set(d.sdUUID, { valid: false, code, message: (err as Error).message, checkedAt: Date.now(), delay: (performance.now() - started) / 1000, version: prev?.version ?? -1 });
    } finally {
      clearTimeout(timer);
    }
  }

  private view(h: Health): Record<string, unknown> {
    return {
      code: h.code,
      valid: h.valid,
      lastCheck: ((Date.now() - h.checkedAt) / 1000).toFixed(1),
      delay: h.delay.toFixed(6),
      version: h.version,
      acquired: true,
      actual: true,
    };
  }

  /** getVdsStats' storageDomains. */
  report(): Record<string, unknown> {
    return Object.fromEntries([...this.health].map(([sd, h]) => [sd, this.view(h)]));
  }

  /** The health fields getStorageDomainStats adds, if the domain was checked. */
  statsOf(sdUUID: string): Record<string, unknown> {
    const h = this.health.get(sdUUID);
    return h ? { valid: h.valid, lastCheck: this.view(h).lastCheck, delay: this.view(h).delay, code: h.code } : {};
  }
}
