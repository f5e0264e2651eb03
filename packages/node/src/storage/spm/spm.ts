/**
 * The SPM role of one connected pool on this host: contend for the cluster lock on the master
 * domain, bump the pool's lease version (LVER) so a stale SPM's writes are recognisable, record
 * POOL_SPM_ID/POOL_SPM_LVER, build master/{vms,tasks}, and keep renewing. Losing the lease drops
 * the role at once (self-fencing). Never lets a metadata verb run unless the role is SPM.
 *
 * The role is valid only while the lease was renewed within its safe horizon (lease time minus two
 * I/O timeouts) and POOL_SPM_LVER on disk is still ours: `assertSpm`, `status` and the write
 * guard (fence.ts) check both, so a process that was frozen past its lease drops the role when it
 * wakes instead of writing.
 */

import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type SpmStatus, VdsmError } from "@vela/protocol";
import type { NodeContext } from "../../api/context.js";
import type { StorageDomain } from "../domain/driver.js";
import { AuditLog } from "./fence.js";
import type { ClusterLock, HeldLease, LeaseParams } from "../lease/index.js";
import { MIN_OP_MAX_MS } from "../lease/safelease.js";
import { type Md, parseDomainMd } from "../metadata.js";
import type { TaskManager } from "../task/manager.js";

export type SpmRole = "Free" | "Contend" | "SPM";

/** Byte offset of the SPM lease record in `dom_md/leases`. */
export const SPM_LEASE_OFFSET = 0;

/**
 * The SPM lease timings from the master domain's metadata. LEASETIMESEC is the lease (at least
 * 4 s). safelease's op_max (its bound on one 512-byte I/O of the lease record) is always its
 * minimum, 1 s, whatever IOOPTIMEOUTSEC says: VDSM passed IOOPTIMEOUTSEC (10 s) there, which makes
 * a takeover lease + 80 s, while an I/O slower than op_max only makes a renewal fail (the holder
 * then fences itself) or an acquire fail, never a second SPM. LOCKRENEWALINTERVALSEC is the
 * renewal, capped so that two renewals in a row can fail and a third still come inside the
 * holder's safe horizon (lease − 2 × op_max).
 */
export function leaseParamsOf(md: Md, path: string): LeaseParams {
  const int = (k: string, d: number) => (/^[0-9]+$/.test(md[k] ?? "") && Number(md[k]) > 0 ? Number(md[k]) : d);
  const leaseMs = Math.max(4 * MIN_OP_MAX_MS, int("LEASETIMESEC", 60) * 1000);
  const opMaxMs = MIN_OP_MAX_MS;
  const horizon = leaseMs - 2 * opMaxMs;
  return {
    path,
    offset: SPM_LEASE_OFFSET,
    leaseMs,
    opMaxMs,
    renewMs: Math.max(250, Math.min(int("LOCKRENEWALINTERVALSEC", 5) * 1000, Math.floor(horizon / 3))),
  };
}

/** getSpmStatus's answer, as the verb table declares it (`spmStatus` is a SpmRole). */
export type { SpmStatus };

export type SpmEvent = "contend" | "started" | "stopped" | "lost" | "failed";

/** A lease owner id: `h<hostID>.<per-process nonce>` (≤ 16 chars, safelease's limit). */
export function ownerOf(hostID: number, nonce: string): string {
  return `h${hostID}.${nonce}`.slice(0, 16);
}

/** The host id in a lease owner id, or undefined for another kind of owner. */
export function hostOfOwner(owner: string | null): number | undefined {
  const m = /^h([0-9]+)[.-]/.exec(owner ?? "");
  return m ? Number(m[1]) : undefined;
}

/** A process's own nonce: a restarted agent must wait out its previous incarnation's lease. */
const NONCE = randomBytes(6).toString("hex");

const int = (s: string | undefined) => (/^-?[0-9]+$/.test(s ?? "") ? Number(s) : -1);

export class Spm {
  role: SpmRole = "Free";
  lver = -1;
  private lease: HeldLease | undefined;
  /** The lease's timings as acquired (the safe horizon is computed from them). */
  private params: LeaseParams | undefined;
  /** LVER being written by start() while the role is not yet SPM (the guard lets that write pass). */
  private startingLver: number | undefined;
  /**
   * Between the LVER write and the role: the new SPM rolls back what the previous one left
   * (tasks, interrupted deletes). Its own writes pass the guard; metadata verbs still wait.
   */
  private recovering = false;
  /** The start in progress (spmStart and self-election join it). */
  private contention: Promise<void> | undefined;
  private masterMdPath: string | undefined;
  /** POOL_SPM_ID/LVER as last read, keyed by the file's identity (every writer renames a new file in). */
  private mdSeen: { ino: number; size: number; mtimeMs: number; ctimeMs: number; id: number; lver: number } | undefined;
  private audit: AuditLog | undefined;
  private readonly listeners: ((e: SpmEvent, lver: number) => void)[] = [];
  /** Called after the role is taken and before it is reported (task recovery). */
  onStarted: (() => Promise<void>) | undefined;
  /**
   * Set by the pool's election (cluster.ts): the standby acquire already waiting out the holder on
   * this host, for a start (an engine's spmStart) to use instead of a second acquire with the same
   * owner id. Resolves with the lease it won, "held" when the holder renewed meanwhile, or
   * undefined when the start should acquire by itself; undefined when no standby runs.
   */
  joinStandby: (() => Promise<HeldLease | "held" | undefined> | undefined) | undefined;

  constructor(
    private readonly ctx: NodeContext,
    private readonly lock: ClusterLock,
    readonly spUUID: string,
    readonly hostID: number,
    private readonly master: () => Promise<StorageDomain>,
    private readonly tasks: TaskManager,
  ) {}

  get owner(): string {
    return ownerOf(this.hostID, NONCE);
  }

  /** Subscribes to role changes (mailbox monitor, host id record, election). */
  on(cb: (e: SpmEvent, lver: number) => void): void {
    this.listeners.push(cb);
  }

  private emit(e: SpmEvent, lver: number): void {
    for (const cb of this.listeners) {
      try {
        cb(e, lver);
      } catch (err) {
        this.ctx.log.error({ err, event: e }, "SPM event listener failed");
      }
    }
  }

  /** Whether the lease was renewed recently enough that no other host can have taken it. */
  leaseFresh(): boolean {
    const p = this.params;
    if (!this.lease || !p) return false;
    return Date.now() - this.lease.lastRenewal() < p.leaseMs - 2 * p.opMaxMs;
  }

  /** ms left in the safe horizon (negative once past it). */
  horizonMs(): number {
    const p = this.params;
    if (!this.lease || !p) return -1;
    return p.leaseMs - 2 * p.opMaxMs - (Date.now() - this.lease.lastRenewal());
  }

  isSpm(): boolean {
    return this.role === "SPM" && this.checkFresh();
  }

  /** SPM with a fresh lease; a stale lease fences at once (e.g. after waking from SIGSTOP). */
  private checkFresh(): boolean {
    if (this.role !== "SPM" && !this.recovering) return false;
    if (this.leaseFresh()) return true;
    this.fence(`lease not renewed for ${Date.now() - (this.lease?.lastRenewal() ?? 0)} ms`);
    return false;
  }

  assertSpm(): void {
    if (!this.isSpm()) throw new VdsmError("SpmStatusError", `this host is not the SPM of pool ${this.spUUID} (${this.role})`);
  }

  async status(): Promise<SpmStatus> {
    if (this.isSpm()) return { spmStatus: "SPM", spmLver: this.lver, spmId: this.hostID };
    const md = await (await this.master()).metadata({ fresh: true });
    if (int(md.POOL_SPM_LVER) > this.lver) {
      const gone = this.tasks.forgetFenced();
      if (gone.length) this.ctx.log.info({ tasks: gone, lver: int(md.POOL_SPM_LVER) }, "a newer SPM owns the tasks fenced with our term");
    }
    return { spmStatus: this.role, spmLver: int(md.POOL_SPM_LVER), spmId: int(md.POOL_SPM_ID) };
  }

  /**
   * spmStart's compare-and-swap: a caller that names the LVER it last saw (not -1) is refused
   * when the pool has moved on since (another host became SPM meanwhile).
   */
  async checkPrevious(prevID: number, prevLVER: string): Promise<void> {
    if (prevLVER === "-1" || prevLVER === "") return;
    const md = await (await this.master()).metadata({ fresh: true });
    const lver = int(md.POOL_SPM_LVER);
    if (String(lver) !== prevLVER.trim()) {
      throw new VdsmError(
        "SpmParamsMismatch",
        `expected previd:${int(md.POOL_SPM_ID)} lver:${lver} got request for previd:${prevID} lver:${prevLVER}`,
      );
    }
  }

  /**
   * The write guard for the pool's domains (fence.ts): passes only a valid SPM's writes (and
   * start()'s own LVER write under a just-acquired lease), and audits each one.
   */
  guard(path: string, what: string): void {
    // The audit records when a write was allowed: the time of this check. A process frozen after
    // the check (here, or before its write syscall) still writes late when it thaws; that window
    // is what lease-based fencing leaves open (VDSM's SafeLease too) and only storage-side fencing
    // (sanlock, SCSI reservations) closes. Stamping the entry after the checks made a freeze that
    // landed between them look like a write allowed after the takeover (seen in cluster-freeze).
    const at = Date.now();
    if (this.startingLver !== undefined && this.role === "Contend") {
      if (!this.leaseFresh()) throw new VdsmError("SpmStatusError", `lease lost while starting: refusing ${what}`);
      this.audit?.record(this.startingLver, what, path, at);
      return;
    }
    if (!this.checkFresh()) throw new VdsmError("SpmStatusError", `not SPM of ${this.spUUID}: refusing ${what} of ${path}`);
    let onDisk: { id: number; lver: number };
    try {
      onDisk = this.spmOnDisk();
    } catch (err) {
      this.fence(`master metadata unreadable: ${(err as Error).message}`);
      throw new VdsmError("SpmStatusError", `cannot verify the SPM generation: refusing ${what}`);
    }
    if (onDisk.lver !== this.lver || onDisk.id !== this.hostID) {
      this.fence(`pool moved to SPM ${onDisk.id} LVER ${onDisk.lver}`);
      throw new VdsmError("SpmStatusError", `stale SPM (LVER ${this.lver}, pool at ${onDisk.lver}): refusing ${what}`);
    }
    this.audit?.record(this.lver, what, path, at);
  }

  /**
   * POOL_SPM_ID/LVER from the master metadata, synchronously (the guard runs right before a
   * write). A stat (~10 µs) decides whether the parsed copy is still the file on disk: a new SPM
   * writes its LVER by renaming a new file in, which changes the inode. (Local and shared-cache
   * POSIX domains; NFS would need attribute revalidation here, as the O_DIRECT readers do.)
   */
  private spmOnDisk(): { id: number; lver: number } {
    // A block master keeps its metadata in VG tags: no file to check, the lease fences alone.
    if (!this.masterMdPath) return { id: this.hostID, lver: this.lver };
    const st = statSync(this.masterMdPath!);
    const c = this.mdSeen;
    if (c && c.ino === st.ino && c.size === st.size && c.mtimeMs === st.mtimeMs && c.ctimeMs === st.ctimeMs) return c;
    const md: Md = parseDomainMd(readFileSync(this.masterMdPath!, "latin1"), "master metadata").md;
    this.mdSeen = { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, id: int(md.POOL_SPM_ID), lver: int(md.POOL_SPM_LVER) };
    return this.mdSeen;
  }

  /**
   * Starts contending, or joins the contention already under way; resolves once SPM. `won` is a
   * lease already taken by the election's standby acquire (cluster.ts): the role is then built on
   * it without acquiring again. A standby lease that comes too late (the role is taken or being
   * taken on this host) is abandoned, never released: it has this host's owner id, and a release
   * would free whichever of our stamps is in the record.
   */
  contend(won?: HeldLease): Promise<void> {
    if (this.role === "SPM" || this.contention) {
      won?.abandon("standby lease won while this host was already starting or holding the role");
      return this.contention ?? Promise.resolve();
    }
    this.beginContend();
    this.emit("contend", this.lver);
    this.contention = this.start(won).then(
      () => {
        this.contention = undefined;
      },
      (err: unknown) => {
        this.contention = undefined;
        this.emit("failed", this.lver);
        throw err;
      },
    );
    return this.contention;
  }

  /** Marks the start of contention synchronously, so a second spmStart is refused at once. */
  beginContend(): void {
    if (this.role === "Contend") throw new VdsmError("MiscOperationInProgress", `spm start ${this.spUUID}`);
    this.role = "Contend";
  }

  /** The body of the spmStart task (on a lease already `won` by the election, if given). */
  async start(won?: HeldLease): Promise<void> {
    let lease: HeldLease | undefined = won;
    try {
      const master = await this.master();
      if (!lease) {
        const joined = await this.joinStandby?.();
        if (joined === "held") throw new VdsmError("AcquireLockFailure", `${master.leasesPath()}: the SPM lease holder is renewing`);
        lease = joined;
      }
      if (!lease) {
        const md0 = await master.metadata({ fresh: true });
        lease = await this.lock.acquire(leaseParamsOf(md0, master.leasesPath()), this.owner);
      }
      const params = lease.params;
      this.lease = lease;
      this.params = params;
      // Fresh read: the previous SPM may have written until it lost the lease.
      const md = await master.metadata({ fresh: true });
      // A host still connected through a domain that switchMaster demoted finds its lease free:
      // that domain is no master any more, and an SPM there would be a second one.
      if (md.ROLE !== "Master") throw new VdsmError("StoragePoolWrongMaster", `${master.sdUUID} is no longer the master of ${this.spUUID}: refresh the pool`);
      const old = /^-?[0-9]+$/.test(md.POOL_SPM_LVER ?? "") ? Number(md.POOL_SPM_LVER) : -1;
      const lver = Math.max(old, -1) + 1;
      this.masterMdPath = master.mdPath;
      // A block master's area is a file system on its `master` LV: mounted by the SPM only.
      await master.prepareMaster?.();
      this.audit = new AuditLog(master.masterDir(), dirname(master.dir), this.hostID);
      this.startingLver = lver;
      await master.update({ POOL_SPM_ID: String(this.hostID), POOL_SPM_LVER: String(lver) });
      await mkdir(join(master.masterDir(), "vms"), { recursive: true, mode: 0o755 });
      await mkdir(join(master.masterDir(), "tasks"), { recursive: true, mode: 0o755 });
      this.lver = lver;
      this.startingLver = undefined;
      this.recovering = true;
      lease.onLost((reason) => this.fence(reason));
      if (this.onStarted) await this.onStarted();
      if (!this.recovering) throw new VdsmError("SpmStartError", "lease lost while recovering the previous SPM's tasks");
      this.recovering = false;
      this.role = "SPM";
      this.emit("started", lver);
      this.ctx.log.info({ spUUID: this.spUUID, lver, hostID: this.hostID }, "SPM started");
    } catch (err) {
      const wasSpm = this.role === "SPM";
      this.role = "Free";
      this.lease = undefined;
      this.startingLver = undefined;
      this.recovering = false;
      this.audit?.close();
      this.audit = undefined;
      if (wasSpm) this.emit("stopped", this.lver);
      await lease?.release().catch(() => {});
      if (err instanceof VdsmError) throw err;
      throw new VdsmError("SpmStartError", (err as Error).message, { cause: err });
    }
  }

  /** Lease lost: stop acting as SPM now; running tasks are left for the next SPM. */
  fence(reason: string): void {
    if (this.role !== "SPM" && !this.recovering) return;
    this.recovering = false;
    this.role = "Free";
    const lease = this.lease;
    this.lease = undefined;
    this.audit?.close();
    this.audit = undefined;
    for (const t of this.tasks.running()) {
      t.fenced = true;
      t.aborted = true;
    }
    this.ctx.log.error({ spUUID: this.spUUID, lver: this.lver, reason }, "SPM role dropped: self-fencing");
    // Stop renewing; a lost lease is never released (another host may hold it by now).
    lease?.abandon(reason);
    this.emit("lost", this.lver);
  }

  /**
   * Gives the role up without writing POOL_SPM_ID: for switchMaster and destroyStoragePool, whose
   * last write has just taken the master role (and its lease) away from this domain.
   */
  async handOver(): Promise<void> {
    if (this.role !== "SPM") return;
    const lease = this.lease;
    this.role = "Free";
    this.lease = undefined;
    this.audit?.close();
    this.audit = undefined;
    this.emit("stopped", this.lver);
    await lease?.release();
    this.ctx.log.info({ spUUID: this.spUUID }, "SPM role handed over");
  }

  async stop(force = false): Promise<void> {
    if (this.role === "Free") return;
    if (this.role === "Contend") throw new VdsmError("MiscOperationInProgress", `spm start ${this.spUUID}`);
    const busy = this.tasks.running();
    if (busy.length && !force) throw new VdsmError("SpmStopError", busy.map((t) => t.id).join(","));
    const lease = this.lease;
    try {
      const master = await this.master();
      await master.update({ POOL_SPM_ID: "-1" });
    } finally {
      this.role = "Free";
      this.lease = undefined;
      this.audit?.close();
      this.audit = undefined;
      this.emit("stopped", this.lver);
      await lease?.release();
      await (await this.master().catch(() => undefined))?.releaseMaster?.().catch((err: unknown) => this.ctx.log.warn({ err: String(err) }, "master area release failed"));
    }
    this.ctx.log.info({ spUUID: this.spUUID }, "SPM stopped");
  }

  /**
   * switchMaster without losing the role (VDSM takes the cluster lock on the new master, then
   * frees the old one): the lease on `nu` is taken while the old one is still held; `seal` makes
   * `nu` the master, with this host's POOL_SPM_ID/LVER (its writes are checked against the old
   * master); from then on the guard and audit follow `nu`; `retire` demotes the old master, whose
   * lease is then released; `rejoin` re-points the pool's services, and the role is announced
   * again ("started") for them. If the role or the new lease is lost on the way, it fences as
   * usual. Added for switchMaster (pool/master-verbs.ts).
   */
  async moveMaster(nu: StorageDomain, steps: { seal(): Promise<void>; retire(): Promise<void>; rejoin(): Promise<void> }): Promise<void> {
    this.assertSpm();
    const params = { ...this.params!, path: nu.leasesPath() };
    const lease = await this.lock.acquire(params, this.owner);
    try {
      this.assertSpm();
      await steps.seal();
    } catch (err) {
      await lease.release().catch(() => {});
      throw err;
    }
    const old = this.lease;
    this.lease = lease;
    this.params = params;
    this.masterMdPath = nu.mdPath;
    await nu.prepareMaster?.();
    this.mdSeen = undefined;
    this.audit?.close();
    this.audit = new AuditLog(nu.masterDir(), dirname(nu.dir), this.hostID);
    lease.onLost((reason) => this.fence(reason));
    try {
      await steps.retire();
    } finally {
      await old?.release().catch((err) => this.ctx.log.warn({ err: String(err) }, "releasing the old master's SPM lease failed"));
    }
    await steps.rejoin();
    if (this.role === "SPM") this.emit("started", this.lver);
    this.ctx.log.info({ spUUID: this.spUUID, master: nu.sdUUID, lver: this.lver }, "SPM role moved to the new master");
  }
}
