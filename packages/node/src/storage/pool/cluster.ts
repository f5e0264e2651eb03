/**
 * The cluster side of a connected pool (VDSM's domain monitor + SPM watch, in one loop): while a
 * host is connected it renews its host id record in the master's dom_md/ids, keeps a host mailbox,
 * fences the pool's domain directories against writes by a non-SPM (fence.ts), watches the SPM
 * lease and the pool's SPM/LVER, resends mailbox requests when the SPM changes, and contends for
 * the SPM role by itself when nobody holds it (election.ts). Also the Vela verbs that expose this
 * (hosts status, SPM priority, mailbox requests).
 * Never writes pool metadata itself: taking the role goes through Spm.contend().
 */
import { BLANK_UUID, type PoolHostsStatus, VdsmError } from "@vela/protocol";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { NodeContext } from "../../api/context.js";
import type { PartialHandlers } from "../../api/handlers.js";
import type { DomainRegistry, StorageDomain } from "../domain/index.js";
import { parsePoolDomains } from "../domain/file.js";
import { type Decision, decide, type ElectionTimings, holderAlive, LeaseWatch } from "../spm/election.js";
import { fenceZone } from "../spm/fence.js";
import { HostIds, type HostView } from "../lease/hostid.js";
import type { ClusterLock, HeldLease, LeaseParams, LeaseRecord } from "../lease/index.js";
import type { Md } from "../metadata.js";
import type { ConnectedPool, Pools } from "./pool.js";
import { extendVolume, PoolMailbox } from "../mailbox/pool-mailbox.js";
import { leaseParamsOf, SPM_LEASE_OFFSET } from "../spm/spm.js";

/** Host records read per tick (VDSM's default maxHostID). */
const DEFAULT_MAX_HOST_ID = 250;
/** How often a standby host reads the lease record (32 bytes) to restart its acquire on a renewal. */
const STANDBY_POLL_MS = 100;

/** A standby acquire in flight; `joiner` is a start that waits for its outcome (Spm.joinStandby). */
interface Standby {
  key: string;
  ctl: AbortController;
  joiner?: (r: HeldLease | "held" | undefined) => void;
}

const int = (s: string | undefined) => (/^-?[0-9]+$/.test(s ?? "") ? Number(s) : -1);

export class PoolCluster {
  ids!: HostIds;
  mailbox!: PoolMailbox;
  /** The pool's domains as of the last tick (the SPM's mailbox checks requests against them). */
  private members?: Set<string>;
  private zone: ReturnType<typeof fenceZone> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly watch = new LeaseWatch();
  private noSpmSince: number | undefined;
  private holdUntil = 0;
  private lastSpm: string | undefined;
  private hosts: HostView[] = [];
  private lease: (LeaseRecord & { unchangedMs: number }) | undefined;
  private decision: Decision = { action: "wait", reason: "starting" };
  private t!: ElectionTimings & { tickMs: number };
  private lp!: LeaseParams;
  /** The standby acquire (election.ts) and the lease record it was started against. */
  private standby: Standby | undefined;
  private standbyTimer: NodeJS.Timeout | undefined;
  private standbyRetryAt = 0;
  /** Bumped at each standby start, so a poll of an earlier one does not reschedule itself. */
  private standbyGen = 0;
  /** Standby acquires started / won (status, tests). */
  private standbyStats = { started: 0, won: 0 };
  priority: number;
  autoElect: boolean;
  maxHostID = DEFAULT_MAX_HOST_ID;

  constructor(
    private readonly ctx: NodeContext,
    readonly pool: ConnectedPool,
    private readonly master: StorageDomain,
    private readonly lock: ClusterLock,
    private readonly domains: DomainRegistry,
  ) {
    this.priority = ctx.config.spmPriority;
    this.autoElect = ctx.config.spmAutoElect;
  }

  private get log() {
    return this.ctx.log;
  }

  async start(): Promise<void> {
    const md = await this.master.metadata({ fresh: true });
    const lp = leaseParamsOf(md, this.master.leasesPath());
    this.lp = lp;
    this.t = {
      renewMs: lp.renewMs,
      opMaxMs: lp.opMaxMs,
      leaseMs: lp.leaseMs,
      backoffMs: 2 * lp.renewMs,
      tickMs: Math.min(1000, Math.max(250, Math.floor(lp.renewMs / 2))),
    };
    const spm = this.pool.spm;
    this.ids = new HostIds(
      join(this.master.mdDir, "ids"),
      this.pool.hostID,
      this.ctx.config.hostUuid,
      { renewMs: lp.renewMs, timeoutMs: lp.leaseMs, log: this.log },
      { state: spm.role === "SPM" ? "spm" : "free", priority: this.priority, autoElect: this.autoElect, lver: spm.lver },
    );
    await this.ids.start();
    try {
      this.mailbox = new PoolMailbox({
        master: this.master,
        hostID: this.pool.hostID,
        log: this.log.child({ mailbox: this.pool.spUUID }),
        // Members as of the last tick; a domain not among them is looked up fresh (just attached).
        poolDomains: async (sd) => (this.members?.has(sd) ? this.members : new Set(this.memberIds(await this.master.metadata()))),
        assertSpm: () => spm.assertSpm(),
        extend: async (sd, vol, mib, times) => extendVolume(await this.domains.get(sd), vol, mib, times),
      });
      this.zone = fenceZone(await this.memberDirs(md), (path, what) => spm.guard(path, what));
    } catch (err) {
      await this.ids.stop().catch(() => {});
      throw err;
    }
    spm.on((e, lver) => this.onSpmEvent(e, lver));
    spm.joinStandby = () => this.joinStandby();
    this.lastSpm = `${md.POOL_SPM_ID}/${md.POOL_SPM_LVER}`;
    this.schedule(0);
    this.log.info({ spUUID: this.pool.spUUID, hostID: this.pool.hostID, priority: this.priority, autoElect: this.autoElect, ...this.t }, "pool cluster services started");
  }

  private onSpmEvent(e: string, lver: number): void {
    if (this.stopped) return;
    switch (e) {
      case "contend":
        void this.ids.publish({ state: "contend" });
        break;
      case "started":
        this.mailbox.startSpm(this.maxHostID);
        void this.ids.publish({ state: "spm", lver });
        break;
      case "stopped":
        // An explicit spmStop: let the engine (or another host) take the role before we retry.
        this.holdUntil = Date.now() + Math.max(30_000, 3 * this.t.leaseMs);
        this.mailbox.stopSpm();
        void this.ids.publish({ state: "free" });
        break;
      case "lost":
      case "failed":
        this.mailbox.stopSpm();
        void this.ids.publish({ state: "free" });
        break;
    }
  }

  private memberIds(md: Md): string[] {
    const m = parsePoolDomains(md.POOL_DOMAINS);
    m.set(this.master.sdUUID, "Active");
    return [...m.keys()];
  }

  private async memberDirs(md: Md): Promise<string[]> {
    const dirs: string[] = [];
    for (const sd of this.memberIds(md)) {
      const d = await this.domains.find(sd);
      if (d) dirs.push(d.dir);
    }
    return dirs;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick()
        .catch((err) => this.log.warn({ err: String(err) }, "pool monitor tick failed"))
        .finally(() => this.schedule(this.t.tickMs));
    }, ms);
    this.timer.unref();
  }

  /** One look at the pool: SPM changes, members, hosts, the lease; then maybe contend. */
  async tick(): Promise<void> {
    const spm = this.pool.spm;
    const md = await this.master.metadata();
    this.members = new Set(this.memberIds(md));
    const cur = `${md.POOL_SPM_ID}/${md.POOL_SPM_LVER}`;
    if (cur !== this.lastSpm) {
      this.log.info({ from: this.lastSpm, to: cur }, "pool SPM changed");
      this.lastSpm = cur;
      if (int(md.POOL_SPM_ID) > 0) this.mailbox.resend();
    }
    this.zone?.update(await this.memberDirs(md));
    // The role's own check: fences at once if this host's lease went stale (e.g. after SIGSTOP).
    spm.isSpm();
    const want = spm.role === "SPM" ? "spm" : spm.role === "Contend" ? "contend" : "free";
    const pub = this.ids.published;
    if (pub.state !== want || pub.priority !== this.priority || pub.autoElect !== this.autoElect) {
      await this.ids.publish({ state: want, priority: this.priority, autoElect: this.autoElect });
    }
    this.hosts = await this.ids.readAll(this.maxHostID);
    this.lease = this.watch.observe(await this.lock.inspect(this.master.leasesPath(), SPM_LEASE_OFFSET));
    const now = Date.now();
    const alive = holderAlive(this.lease, this.t);
    if (alive || spm.role !== "Free") this.noSpmSince = undefined;
    else this.noSpmSince ??= now;
    this.decision = decide({
      now,
      me: { hostID: this.pool.hostID, priority: this.priority, autoElect: this.autoElect, role: spm.role },
      lease: this.lease,
      hosts: this.hosts,
      noSpmSince: this.noSpmSince,
      holdUntil: this.holdUntil,
      t: this.t,
    });
    this.lp = leaseParamsOf(md, this.master.leasesPath());
    this.setStandby((this.decision.action === "standby" || this.standby?.joiner !== undefined) && !this.stopped);
    if (this.decision.action === "contend" && !this.stopped) {
      this.log.info({ spUUID: this.pool.spUUID, reason: this.decision.reason }, "contending for the SPM role");
      spm.contend().then(
        () => this.log.info({ spUUID: this.pool.spUUID, lver: spm.lver }, "elected SPM"),
        (err) => this.log.info({ spUUID: this.pool.spUUID, err: (err as Error).message }, "SPM contention lost"),
      );
    }
  }

  /**
   * Standby (election.ts): while this host is first in line behind the lease holder, one safelease
   * acquire runs against the holder's latest stamp. The record is read every STANDBY_POLL_MS; at
   * each renewal the acquire in flight (which would fail at its end anyway) is aborted, which
   * SafeLease.acquire only does while it has written nothing, and a new one starts against the
   * new stamp. So the one running when the holder dies started right after its last renewal.
   */
  private setStandby(on: boolean): void {
    if (on && !this.standbyTimer) {
      const gen = ++this.standbyGen;
      const poll = () => {
        this.standbyPoll()
          .catch((err) => this.log.warn({ err: String(err) }, "standby poll failed"))
          .finally(() => {
            if (this.standbyTimer && gen === this.standbyGen) this.standbyTimer = setTimeout(poll, STANDBY_POLL_MS).unref();
          });
      };
      this.standbyTimer = setTimeout(poll, 0).unref();
    } else if (!on && this.standbyTimer) {
      clearTimeout(this.standbyTimer);
      this.standbyTimer = undefined;
      this.dropStandby(undefined);
    }
  }

  /** Aborts the standby (a no-op once it may be writing) and tells a joined start what to do. */
  private dropStandby(verdict: "held" | undefined): void {
    const s = this.standby;
    this.standby = undefined;
    s?.ctl.abort();
    s?.joiner?.(verdict);
    if (s) s.joiner = undefined;
  }

  /** Spm.joinStandby: the standby in flight, if any and not joined yet. */
  private joinStandby(): Promise<HeldLease | "held" | undefined> | undefined {
    const s = this.standby;
    if (!s || s.joiner || this.stopped) return undefined;
    this.log.info({ spUUID: this.pool.spUUID, against: s.key }, "spmStart joins the standby acquire");
    return new Promise((res) => {
      s.joiner = res;
    });
  }

  private async standbyPoll(): Promise<void> {
    const rec = await this.lock.inspect(this.master.leasesPath(), SPM_LEASE_OFFSET);
    if (!this.standbyTimer) return;
    this.lease = this.watch.observe(rec);
    // Our own stamp while our standby contends or this host holds or takes the role: nothing to
    // restart. Our own stamp otherwise is a lease this process lost (fenced): waited out like any.
    if (rec.owner === this.pool.spm.owner && (this.standby || this.pool.spm.role !== "Free")) return;
    const key = `${rec.owner}/${rec.stampUs}`;
    // The holder renewed (the standby would fail at its end) or freed the lease (a joined start
    // then acquires by itself).
    if (this.standby && this.standby.key !== key) this.dropStandby(rec.owner === null ? undefined : "held");
    // A free record is the tick's to contend for (with its grace for an engine-driven spmStart).
    if (rec.owner === null || this.standby || Date.now() < this.standbyRetryAt || this.pool.spm.role !== "Free") return;
    const s: Standby = { key, ctl: new AbortController() };
    this.standby = s;
    this.standbyStats.started++;
    const startedAt = Date.now();
    this.lock.acquire(this.lp, this.pool.spm.owner, { signal: s.ctl.signal }).then(
      (lease) => {
        if (this.standby === s) this.standby = undefined;
        if (s.joiner) {
          this.standbyStats.won++;
          this.log.info({ spUUID: this.pool.spUUID, against: key }, "standby acquire won the SPM lease for the joined spmStart");
          s.joiner(lease);
          s.joiner = undefined;
        } else this.standbyWon(lease, key);
      },
      (err: unknown) => {
        s.joiner?.("held");
        s.joiner = undefined;
        if (this.standby !== s) return;
        this.standby = undefined;
        // Failed on its own: the holder renewed at the last moment, or an I/O error; a quick
        // failure is not retried in a tight loop.
        if (Date.now() - startedAt < this.lp.leaseMs) this.standbyRetryAt = Date.now() + 1000;
        this.log.debug({ err: (err as Error).message }, "standby acquire ended");
      },
    );
  }

  private standbyWon(lease: HeldLease, against: string): void {
    const spm = this.pool.spm;
    if (this.stopped && spm.role === "Free") {
      // Disconnecting meanwhile: nothing else of ours can be in the record, so it is freed.
      lease.release().catch((err) => this.log.warn({ err: String(err) }, "standby lease release failed"));
      return;
    }
    this.standbyStats.won++;
    this.log.info({ spUUID: this.pool.spUUID, against }, "standby acquire won the SPM lease: taking the role");
    spm.contend(lease).then(
      () => this.log.info({ spUUID: this.pool.spUUID, lver: spm.lver }, "elected SPM"),
      (err) => this.log.info({ spUUID: this.pool.spUUID, err: (err as Error).message }, "SPM start on the standby lease failed"),
    );
  }

  /** Host ids alive at the last look. */
  liveHosts(): number[] {
    return this.hosts.filter((h) => h.live).map((h) => h.hostID);
  }

  setPriority(priority: number, autoElect?: boolean): void {
    this.priority = priority;
    if (autoElect !== undefined) this.autoElect = autoElect;
    void this.ids.publish({ priority: this.priority, autoElect: this.autoElect });
  }

  /** The pool as this host sees it; host records are read afresh. */
  async status(): Promise<PoolHostsStatus> {
    this.hosts = await this.ids.readAll(this.maxHostID);
    const spm = this.pool.spm;
    return {
      hostId: this.pool.hostID,
      hostUuid: this.ctx.config.hostUuid,
      role: spm.role,
      lver: spm.lver,
      priority: this.priority,
      autoElect: this.autoElect,
      holdOffMs: Math.max(0, this.holdUntil - Date.now()),
      election: this.decision.reason,
      standby: { running: this.standby !== undefined, ...this.standbyStats },
      leaseHorizonMs: spm.role === "SPM" ? spm.horizonMs() : null,
      lease: this.lease ? { owner: this.lease.owner, unchangedMs: this.lease.unchangedMs } : null,
      timings: { leaseMs: this.t.leaseMs, renewMs: this.t.renewMs, opMaxMs: this.t.opMaxMs, backoffMs: this.t.backoffMs },
      mailbox: { spmMonitor: this.mailbox.spmRunning, handled: this.mailbox.handled, ignored: this.mailbox.ignored().length },
      hosts: this.hosts.map((h) => ({
        hostId: h.hostID,
        hostUuid: h.uuid,
        live: h.live,
        state: h.state,
        ageMs: h.ageMs,
        generation: h.generation,
        priority: h.priority,
        autoElect: h.autoElect,
        lver: h.lver,
      })),
    };
  }

  /** Stops the loop and the services; the SPM role itself is the caller's to stop first. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.setStandby(false);
    this.mailbox?.close();
    this.zone?.close();
    await this.ids?.stop().catch((err) => this.log.warn({ err: String(err) }, "host id release failed"));
  }
}

/** One PoolCluster per connected pool, hooked into Pools, plus the verbs. */
export class Clusters {
  private readonly byPool = new Map<string, PoolCluster>();

  constructor(
    private readonly ctx: NodeContext,
    private readonly pools: Pools,
    private readonly domains: DomainRegistry,
    private readonly lock: ClusterLock,
  ) {
    pools.hooks = {
      connected: (p) => this.connected(p),
      disconnecting: (p) => this.disconnecting(p),
      infoExtras: (p) => this.infoExtras(p),
    };
  }

  private async connected(p: ConnectedPool): Promise<void> {
    const old = this.byPool.get(p.spUUID);
    if (old?.pool === p) return;
    if (old) {
      this.byPool.delete(p.spUUID);
      await old.stop();
    }
    const c = new PoolCluster(this.ctx, p, await this.domains.get(p.masterSdUUID), this.lock, this.domains);
    await c.start();
    this.byPool.set(p.spUUID, c);
  }

  private async disconnecting(p: ConnectedPool): Promise<void> {
    const c = this.byPool.get(p.spUUID);
    this.byPool.delete(p.spUUID);
    await c?.stop();
  }

  private infoExtras(p: ConnectedPool): Record<string, unknown> {
    const c = this.byPool.get(p.spUUID);
    if (!c) return {};
    return { host_id: p.hostID, spm_priority: c.priority, live_hosts: c.liveHosts() };
  }

  get(spUUID: string): PoolCluster {
    this.pools.get(spUUID);
    const c = this.byPool.get(spUUID);
    if (!c) throw new VdsmError("StoragePoolNotConnected", spUUID);
    return c;
  }

  find(spUUID: string): PoolCluster | undefined {
    return this.byPool.get(spUUID);
  }

  /** Agent shutdown: no more contention, the SPM role given back, host ids marked gone. */
  async close(): Promise<void> {
    for (const c of this.byPool.values()) {
      await c.stop();
      if (c.pool.spm.role === "SPM") await c.pool.spm.stop(true).catch((err) => this.ctx.log.warn({ err: String(err) }, "spmStop at shutdown failed"));
    }
    this.byPool.clear();
  }

  handlers(): PartialHandlers {
    return {
      getPoolHostsStatus: async ({ spUUID }) => ({ hostsStatus: await this.get(spUUID).status() }),
      setSpmPriority: async ({ spUUID, priority, autoElect }) => {
        this.get(spUUID).setPriority(priority, autoElect);
        return {};
      },
      sendMailboxRequest: async ({ spUUID, op, sdUUID, volUUID, sizeMiB, timeoutMs }) => {
        const c = this.get(spUUID);
        if (op === "xtnd" && (sdUUID === BLANK_UUID || volUUID === BLANK_UUID || sizeMiB < 1)) {
          throw new VdsmError("InvalidParameter", "xtnd needs storagedomainID, volumeID and sizeMiB >= 1");
        }
        const req = op === "ping" ? ({ op, nonce: randomUUID() } as const) : ({ op, domainID: sdUUID, volumeID: volUUID, sizeMiB } as const);
        const r = await c.mailbox.send(req, timeoutMs);
        return { mailboxReply: { ...r.reply, elapsedMs: Number(r.elapsedMs.toFixed(2)) } };
      },
    };
  }
}
